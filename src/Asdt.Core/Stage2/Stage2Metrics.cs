namespace Asdt.Stage2;

/// <summary>One line of a stage-2 run's metrics.jsonl.</summary>
public sealed record Stage2Metrics
{
    public long Iteration { get; init; }
    public double LearningRate { get; init; }
    /// <summary>Sum of the MSC cross-entropies, averaged over the iter_size sub-batches.</summary>
    public double Loss { get; init; }
    /// <summary>Per MSC output (scale 1, other scales, max), averaged over the sub-batches.</summary>
    public double[] ScaleLosses { get; init; } = [];
    public double Seconds { get; init; }
    public double ImagesPerSecond { get; init; }
}
