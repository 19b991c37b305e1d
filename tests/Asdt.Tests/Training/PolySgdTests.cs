using Asdt.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Tests.Training;

public class PolySgdTests
{
    static PolySgd Make(int iterations, PolyWarmup? warmup, int step = 1)
    {
        var backbone = new TorchSharp.Modules.Parameter(zeros(3));
        var weights = new TorchSharp.Modules.Parameter(zeros(2));
        var biases = new TorchSharp.Modules.Parameter(zeros(1));
        return new PolySgd([backbone], [weights], [biases], 7e-4, 10, 20, 1e-5, 0, iterations, 0.9, step, warmup);
    }

    [Fact]
    public void SingleScheduleIsRrmPoly()
    {
        var sgd = Make(1000, null);
        for (int t = 0; t < 1000; t += 37)
            Assert.Equal(7e-4 * Math.Pow(1 - t / 1000.0, 0.9), sgd.LearningRateAt(t), 15);
    }

    [Fact]
    public void WarmupRunsItsOwnScheduleThenTheMainOneRestarts()
    {
        var sgd = Make(1000, new PolyWarmup(300, 0.01));
        for (int t = 0; t < 300; t++)
            Assert.Equal(0.01 * Math.Pow(1 - t / 300.0, 0.9), sgd.LearningRateAt(t), 15);
        Assert.Equal(7e-4, sgd.LearningRateAt(300), 15);
        Assert.Equal(7e-4 * Math.Pow(0.5, 0.9), sgd.LearningRateAt(650), 15);
        // The groups get their multipliers of whichever schedule is active.
        double lr = sgd.SetLearningRate(150);
        var groups = sgd.Optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        Assert.Equal([lr, lr * 10, lr * 20], groups, new ToleranceComparer(1e-15));
        Assert.Equal(0.01 * Math.Pow(0.5, 0.9), lr, 15);
    }

    [Fact]
    public void StepRoundsDownWithinEachSegment()
    {
        var sgd = Make(1000, new PolyWarmup(100, 0.01), step: 10);
        Assert.Equal(sgd.LearningRateAt(20), sgd.LearningRateAt(29));
        Assert.Equal(7e-4 * Math.Pow(1 - 10 / 900.0, 0.9), sgd.LearningRateAt(119), 15);
    }

    [Fact]
    public void WarmupMayBeTheWholeRunButNotMore()
    {
        var classifierOnly = Make(300, new PolyWarmup(300, 0.01));
        Assert.Equal(0.01 * Math.Pow(1 - 299 / 300.0, 0.9), classifierOnly.LearningRateAt(299), 15);
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(300, new PolyWarmup(301, 0.01)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Make(300, new PolyWarmup(100, 0)));
    }

    sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;
        public int GetHashCode(double v) => 0;
    }
}
