using Asdt.Models;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

/// <summary>
/// The FLOP count the training benchmark turns into GFLOP/s: forward 2 · output elements · C_in · k², backward that again
/// per gradient actually computed (weight if trained, input if it carries a gradient), nothing backward under no_grad.
/// </summary>
public class FlopCounterTests
{
    // conv a: 3 → 8, 3×3, stride 1 on 10×12 → 8×10×12; conv b: 8 → 4, 3×3, stride 2 → 4×5×6 (batch 1).
    const double FlopsA = 2.0 * (8 * 10 * 12) * 3 * 3 * 3;
    const double FlopsB = 2.0 * (4 * 5 * 6) * 8 * 3 * 3;

    static (double Forward, double Backward) Count(bool trainA, bool noGrad)
    {
        using var a = new PaddedConv2d("a", 3, 8, 3);
        using var b = new PaddedConv2d("b", 8, 4, 3, stride: 2);
        a.Weight.requires_grad = trainA;
        using var x = randn(1, 3, 10, 12);
        using var counter = FlopCounter.Start();
        using (noGrad ? no_grad() : null)
        {
            using var hidden = a.forward(x);
            using var output = b.forward(hidden);
            Assert.Equal(new long[] { 1, 4, 5, 6 }, output.shape);
        }
        return (counter.Flops, counter.BackwardFlops);
    }

    [Fact]
    public void FrozenFirstConvCostsOnlyTheTrainedWeightGradientBackward()
    {
        var (forward, backward) = Count(trainA: false, noGrad: false);
        Assert.Equal(FlopsA + FlopsB, forward);
        // b's weight gradient only: a is frozen and x carries no gradient, so b's input gradient is never computed.
        Assert.Equal(FlopsB, backward);
    }

    [Fact]
    public void TrainedFirstConvAddsItsWeightGradientAndTheSecondConvsInputGradient()
    {
        var (forward, backward) = Count(trainA: true, noGrad: false);
        Assert.Equal(FlopsA + FlopsB, forward);
        Assert.Equal(FlopsA + 2 * FlopsB, backward);
    }

    [Fact]
    public void NoGradPassCountsForwardOnly()
    {
        var (forward, backward) = Count(trainA: true, noGrad: true);
        Assert.Equal(FlopsA + FlopsB, forward);
        Assert.Equal(0, backward);
    }

    [Fact]
    public void NothingIsCountedOutsideAnOpenCounter()
    {
        using var conv = new PaddedConv2d("c", 3, 8, 3);
        using var x = randn(1, 3, 10, 12);
        using var counter = FlopCounter.Start();
        counter.Dispose();
        using var y = conv.forward(x);
        Assert.Equal(0, counter.Flops);
    }
}
