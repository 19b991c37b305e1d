using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// The SGD setup both stages share (ALGORITHM.md §6.6, §9): three parameter groups — backbone 1×lr,
/// new-layer weights ×<c>weightMultiplier</c>, new-layer biases ×<c>biasMultiplier</c> without weight
/// decay — and the poly schedule lr_g(t) = lr_g(0)·(1 − t'/T)^power, where t' is t rounded down to a
/// multiple of <c>step</c> (1 for RRM, 10 for deeplab-pytorch).
/// </summary>
public sealed class PolySgd
{
    readonly double baseLearningRate, power;
    readonly double[] multipliers;
    readonly int iterations, step;

    public SGD Optimizer { get; }

    public PolySgd(IEnumerable<Parameter> backbone, IEnumerable<Parameter> newWeights, IEnumerable<Parameter> newBiases,
        double learningRate, double weightMultiplier, double biasMultiplier, double weightDecay, double momentum,
        int iterations, double power, int step = 1)
    {
        baseLearningRate = learningRate; this.power = power; this.iterations = iterations; this.step = Math.Max(1, step);
        multipliers = [1, weightMultiplier, biasMultiplier];
        var groups = new List<SGD.ParamGroup>
        {
            new(backbone, new SGD.Options { LearningRate = learningRate, weight_decay = weightDecay, momentum = momentum }),
            new(newWeights, new SGD.Options { LearningRate = learningRate * weightMultiplier, weight_decay = weightDecay, momentum = momentum }),
            new(newBiases, new SGD.Options { LearningRate = learningRate * biasMultiplier, weight_decay = 0, momentum = momentum }),
        };
        Optimizer = optim.SGD(groups, learningRate, momentum, weight_decay: weightDecay);
    }

    public static double Factor(long t, int iterations, double power, int step)
    {
        long stepped = step > 1 ? t - t % step : t;
        return Math.Pow(1 - (double)stepped / iterations, power);
    }

    /// <summary>Sets every group's learning rate for iteration t (before its step); returns the backbone's.</summary>
    public double SetLearningRate(long t)
    {
        double factor = Factor(t, iterations, power, step);
        int g = 0;
        foreach (var group in Optimizer.ParamGroups)
            group.LearningRate = baseLearningRate * multipliers[Math.Min(g++, multipliers.Length - 1)] * factor;
        return baseLearningRate * factor;
    }

    /// <summary>The name of the first parameter holding a NaN or infinity, or null (checked before every checkpoint).</summary>
    public static string? NonFiniteParameter(nn.Module network)
    {
        using var scope = NewDisposeScope();
        foreach (var (name, p) in network.named_parameters())
            if (!p.isfinite().all().item<bool>()) return name;
        return null;
    }
}
