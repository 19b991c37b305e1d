using Asdt.Data;
using Asdt.Models;
using Asdt.Runs;
using TorchSharp;

namespace Asdt.Training;

/// <summary>A finished (or checkpointed) stage-1 run folder, opened for inference: its config, network with trained weights, and dataset.</summary>
public sealed class Stage1Run : IDisposable
{
    public string Folder { get; }
    public Stage1Config Config { get; }
    public AsdtNetwork Network { get; }
    public ImageNormalization Normalization { get; }
    public SegmentationDataset Dataset { get; }
    /// <summary>The decay of the weight average the network holds (<see cref="WeightAverage"/>); null = the last weights.</summary>
    public double? Average { get; }

    /// <summary>The iteration whose weights the network holds.</summary>
    public long Iteration { get; }
    /// <summary>True when those are not the run's default weights (<see cref="DefaultIteration"/>), i.e. asked for with a checkpoint choice.</summary>
    public bool OtherThanDefault { get; }

    Stage1Run(string folder, Stage1Config config, AsdtNetwork network, ImageNormalization normalization, SegmentationDataset dataset, double? average,
        long iteration, bool otherThanDefault)
    {
        Folder = folder; Config = config; Network = network; Normalization = normalization; Dataset = dataset; Average = average;
        Iteration = iteration; OtherThanDefault = otherThanDefault;
    }

    /// <summary>"last": the run's last weights, whatever a checkpoint selection chose.</summary>
    public const string LastCheckpoint = "last";

    /// <summary>
    /// The iteration whose weights a run uses by default: the one its checkpoint selection chose
    /// (<see cref="CheckpointSelection"/>, checkpoint-selection.json), else the last.
    /// </summary>
    public static long DefaultIteration(string folder) =>
        CheckpointSelection.Read(folder)?.Chosen ?? TrainingCheckpoint.FinishedIterations(folder);

    /// <param name="datasetOverride">Another dataset (built-in name or descriptor) with the same classes, e.g. to label new images.</param>
    /// <param name="average">Use the checkpoint's weights averaged with this decay (<see cref="Stage1Config.AverageDecays"/>) instead of the last ones.</param>
    /// <param name="checkpoint">
    /// Which weights: null = the default (<see cref="DefaultIteration"/>), "last" = the last, or the iteration of a kept checkpoint.
    /// </param>
    public static Stage1Run Open(string folder, string? datasetOverride = null, string? rootOverride = null, double? average = null, string? checkpoint = null)
    {
        string configPath = Path.Combine(folder, Stage1Trainer.ConfigFile);
        var config = AsdtJson.Read<Stage1Config>(configPath);
        string last = Path.Combine(folder, Stage1Trainer.CheckpointFolder);
        if (!Directory.Exists(last)) throw new AsdtException(folder, "the run has no checkpoint yet (train it first: asdt train)");
        long lastIteration = TrainingCheckpoint.FinishedIterations(folder), defaultIteration = DefaultIteration(folder);
        long iteration = checkpoint switch
        {
            null => defaultIteration,
            LastCheckpoint => lastIteration,
            _ when long.TryParse(checkpoint, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n) => n,
            _ => throw new AsdtException($"--checkpoint: expected 'last' or an iteration number (got '{checkpoint}')"),
        };
        string weights = iteration == lastIteration ? last : CheckpointSelection.Folder(folder, iteration);
        if (!Directory.Exists(weights))
        {
            var kept = CheckpointSelection.Kept(folder).Select(k => k.Iteration).ToArray();
            throw new AsdtException(folder, $"the run kept no checkpoint of iteration {iteration} (kept: {(kept.Length > 0 ? string.Join(", ", kept) : "none")}; last: {lastIteration})");
        }
        if (average != null && weights != last)
            throw new AsdtException(folder, $"weight averages are kept with the last checkpoint only, not with iteration {iteration} (add --checkpoint last)");
        var dataset = SegmentationDataset.Open(datasetOverride ?? config.Data.Dataset,
            datasetOverride == null ? rootOverride ?? config.Data.Root : rootOverride);
        var (network, normalization) = Stage1Model.CreateNetwork(config, dataset.NumForegroundClasses);
        try
        {
            long loaded = TrainingCheckpoint.LoadWeights(weights, network);
            if (loaded != iteration) throw new AsdtException(weights, $"the checkpoint holds iteration {loaded}, not {iteration}");
            if (average is double decay) WeightAverage.Apply(last, network, decay);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        network.to(TorchSharp.torch.device(config.Device));
        network.eval();
        return new Stage1Run(folder, config, network, normalization, dataset, average, iteration, iteration != defaultIteration);
    }

    /// <summary>
    /// "" for the default weights, "-iteration2700" for other kept ones, "-last" for the last when a selection chose others,
    /// "-average0.995" for an average: appended to default output folder names.
    /// </summary>
    public string WeightsSuffix =>
        (OtherThanDefault ? (Iteration == TrainingCheckpoint.FinishedIterations(Folder) ? "-last" : $"-iteration{Iteration}") : "")
        + (Average is double d ? "-average" + WeightAverage.Format(d) : "");

    public void Dispose() => Network.Dispose();
}
