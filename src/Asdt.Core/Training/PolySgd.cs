using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// The SGD setup both stages share (ALGORITHM.md §6.6, §9): three parameter groups — backbone 1×lr,
/// new-layer weights ×<c>weightMultiplier</c>, new-layer biases ×<c>biasMultiplier</c> without weight
/// decay — and the poly schedule lr_g(t) = lr_g(0)·(1 − t'/T)^power, where t' is t rounded down to a
/// multiple of <c>step</c> (1 for RRM, 10 for deeplab-pytorch). With a <see cref="PolyWarmup"/>, the first
/// W iterations run their own poly schedule from the warm-up's learning rate and the rest restart the
/// schedule from the main one: lr_g(t) = lr_g(0)·(1 − (t − W)/(T − W))^power.
/// </summary>
public sealed class PolySgd
{
    readonly double baseLearningRate, power;
    readonly double[] multipliers;
    readonly int iterations, step;
    readonly PolyWarmup? warmup;

    public KeptScalarSgd Optimizer { get; }

    public PolySgd(IEnumerable<Parameter> backbone, IEnumerable<Parameter> newWeights, IEnumerable<Parameter> newBiases,
        double learningRate, double weightMultiplier, double biasMultiplier, double weightDecay, double momentum,
        int iterations, double power, int step = 1, PolyWarmup? warmup = null)
    {
        if (warmup is { } w && (w.Iterations < 0 || w.Iterations > iterations || !(w.LearningRate > 0)))
            throw new ArgumentOutOfRangeException(nameof(warmup), $"a warm-up of {w.Iterations} iterations at lr {w.LearningRate} does not fit {iterations} iterations");
        baseLearningRate = learningRate; this.power = power; this.iterations = iterations; this.step = Math.Max(1, step);
        this.warmup = warmup is { Iterations: > 0 } ? warmup : null;
        multipliers = [1, weightMultiplier, biasMultiplier];
        var groups = new List<SGD.ParamGroup>
        {
            new(backbone, new SGD.Options { LearningRate = learningRate, weight_decay = weightDecay, momentum = momentum }),
            new(newWeights, new SGD.Options { LearningRate = learningRate * weightMultiplier, weight_decay = weightDecay, momentum = momentum }),
            new(newBiases, new SGD.Options { LearningRate = learningRate * biasMultiplier, weight_decay = 0, momentum = momentum }),
        };
        Optimizer = new KeptScalarSgd(groups, learningRate, momentum, weightDecay);
    }

    /// <summary>One SGD step (<see cref="KeptScalarSgd"/>: its Scalars live through the whole update).</summary>
    public void Step() => Optimizer.step();

    public static double Factor(long t, int iterations, double power, int step)
    {
        long stepped = step > 1 ? t - t % step : t;
        return Math.Pow(1 - (double)stepped / iterations, power);
    }

    /// <summary>Sets every group's learning rate for iteration t (before its step); returns the backbone's.</summary>
    public double SetLearningRate(long t)
    {
        double lr = LearningRateAt(t);
        int g = 0;
        foreach (var group in Optimizer.ParamGroups)
            group.LearningRate = lr * multipliers[Math.Min(g++, multipliers.Length - 1)];
        return lr;
    }

    /// <summary>The backbone group's learning rate at iteration t.</summary>
    public double LearningRateAt(long t) => warmup switch
    {
        { } w when t < w.Iterations => w.LearningRate * Factor(t, w.Iterations, power, step),
        { } w => baseLearningRate * Factor(t - w.Iterations, iterations - w.Iterations, power, step),
        null => baseLearningRate * Factor(t, iterations, power, step),
    };

    /// <summary>The name of the first parameter holding a NaN or infinity, or null (checked before every checkpoint).</summary>
    public static string? NonFiniteParameter(nn.Module network)
    {
        using var scope = NewDisposeScope();
        foreach (var (name, p) in network.named_parameters())
            if (!p.isfinite().all().item<bool>()) return name;
        return null;
    }
}

/// <summary>A leading segment of a <see cref="PolySgd"/> run with its own base learning rate and poly schedule.</summary>
public sealed record PolyWarmup(int Iterations, double LearningRate);
