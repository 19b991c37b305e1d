using Asdt.Models;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

/// <summary>The kept-alive scalar operations compute exactly what the implicit-Scalar operators compute.</summary>
public class KeptScalarTests
{
    [Fact]
    public void MatchTheOperatorsBitForBit()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { -2.5f, 0f, 0.3f, 1f, 7.25f });
        var labels = tensor(new long[] { 0, 255, 3, 0, 7 });
        Assert.Equal((x * 0.37).data<float>().ToArray(), x.Times(0.37).data<float>().ToArray());
        Assert.Equal((x + 1e-5).data<float>().ToArray(), x.Plus(1e-5).data<float>().ToArray());
        Assert.Equal(x.clamp_min(0.1).data<float>().ToArray(), x.AtLeast(0.1).data<float>().ToArray());
        Assert.Equal(x.abs().pow(4).data<float>().ToArray(), x.abs().Power(4).data<float>().ToArray());
        Assert.Equal((1 - x).data<float>().ToArray(), x.SubtractedFrom(1).data<float>().ToArray());
        Assert.Equal(labels.eq(255).data<bool>().ToArray(), labels.Equal(255).data<bool>().ToArray());
        Assert.Equal(labels.ne(0).data<bool>().ToArray(), labels.NotEqual(0).data<bool>().ToArray());
        Assert.Equal(labels.masked_fill(labels.eq(0), 255).data<long>().ToArray(), labels.MaskedFill(labels.Equal(0), 255).data<long>().ToArray());
    }
}
