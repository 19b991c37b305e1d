using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

public class ResNetTests
{
    static long Count(nn.Module m) => m.parameters().Sum(p => p.numel());

    [Fact]
    public void ParameterCountsMatchTorchvision()
    {
        // torchvision's published sizes (with the 1000-class fc): resnet18 11,689,512; resnet34 21,797,672;
        // resnet50 25,557,032; resnet101 44,549,160.
        var expected = new Dictionary<int, long> { [18] = 11_689_512, [34] = 21_797_672, [50] = 25_557_032, [101] = 44_549_160 };
        foreach (var (depth, count) in expected)
        {
            using var net = ResNet.Create(depth, new ResNetOptions { NumClasses = 1000 });
            Assert.Equal(count, Count(net));
        }
    }

    [Fact]
    public void StateDictKeysFollowTorchvision()
    {
        using var net = ResNet.Create(50, new ResNetOptions { NumClasses = 10, BaseWidth = 8 });
        var keys = net.state_dict().Keys.ToHashSet();
        foreach (var k in new[] { "conv1.weight", "bn1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer1.0.downsample.0.weight",
                     "layer1.0.downsample.1.running_mean", "layer3.5.conv3.weight", "layer4.2.bn3.bias", "fc.weight", "fc.bias" })
            Assert.Contains(k, keys);
        Assert.DoesNotContain(keys, k => k.Contains("maxpool") || k.Contains("relu"));
        Assert.DoesNotContain("layer1.1.downsample.0.weight", keys);
        // Conv weights are bias-free like torchvision's.
        Assert.DoesNotContain("conv1.bias", keys);
        Assert.DoesNotContain("layer1.0.conv2.bias", keys);
    }

    [Theory]
    [InlineData(18, 8, 321, 321, 41, 41)]
    [InlineData(18, 16, 321, 200, 21, 13)]
    [InlineData(18, 32, 225, 97, 8, 4)]
    [InlineData(50, 8, 65, 33, 9, 5)]
    public void FeatureMapShapesAreCeilOfInputOverStride(int depth, int os, int h, int w, int fh, int fw)
    {
        using var scope = NewDisposeScope();
        using var net = ResNet.Create(depth, new ResNetOptions { OutputStride = os, BaseWidth = depth == 50 ? 8 : 16 });
        net.eval();
        using var _ = no_grad();
        var y = net.call(randn(1, 3, h, w));
        Assert.Equal(new long[] { 1, net.OutChannels, fh, fw }, y.shape);
        Assert.Equal(depth == 50 ? 8 * 8 * 4 : 16 * 8, net.OutChannels);
    }

    /// <summary>
    /// Dilation = dense evaluation of the strided network ("à trous"): with the same weights, the OS-8/16
    /// feature map sampled every 32/os pixels must equal the OS-32 map exactly (both padding modes, odd sizes).
    /// </summary>
    [Theory]
    [InlineData(PaddingMode.Symmetric, 18, 97, 75)]
    [InlineData(PaddingMode.SameLower, 18, 96, 75)]
    [InlineData(PaddingMode.Symmetric, 50, 69, 64)]
    public void DilatedNetworksSubsampledEqualOutputStride32(PaddingMode mode, int depth, int h, int w)
    {
        using var scope = NewDisposeScope();
        var o = new ResNetOptions { Padding = mode, BaseWidth = 8 };
        using var net32 = ResNet.Create(depth, o with { OutputStride = 32 });
        using var net16 = ResNet.Create(depth, o with { OutputStride = 16 });
        using var net8 = ResNet.Create(depth, o with { OutputStride = 8 });
        // Random but non-trivial BN statistics so every layer matters.
        using (no_grad())
            foreach (var bn in FrozenBatchNorm.BatchNorms(net32))
            {
                bn.running_mean!.uniform_(-0.2, 0.2); bn.running_var!.uniform_(0.5, 2);
                bn.weight!.uniform_(0.5, 1.5); bn.bias!.uniform_(-0.2, 0.2);
            }
        var sd = net32.state_dict();
        net16.load_state_dict(sd); net8.load_state_dict(sd);
        foreach (var n in new[] { net32, net16, net8 }) n.eval();
        using var _ = no_grad();
        var x = randn(2, 3, h, w);
        var y32 = net32.call(x);
        var y16 = net16.call(x);
        var y8 = net8.call(x);
        Assert.Equal(new[] { 1, 1, 1, 1 }, net32.LayerDilations);
        Assert.Equal(new[] { 1, 1, 1, 2 }, net16.LayerDilations);
        Assert.Equal(new[] { 1, 1, 2, 4 }, net8.LayerDilations);
        var s16 = y16[.., .., TensorIndex.Slice(null, null, 2), TensorIndex.Slice(null, null, 2)];
        var s8 = y8[.., .., TensorIndex.Slice(null, null, 4), TensorIndex.Slice(null, null, 4)];
        Assert.Equal(y32.shape, s16.shape);
        Assert.Equal(y32.shape, s8.shape);
        double scale = y32.abs().max().item<float>();
        Assert.True(scale > 0);
        Assert.True((s16 - y32).abs().max().item<float>() / scale < 1e-5);
        Assert.True((s8 - y32).abs().max().item<float>() / scale < 1e-5);
        // ...and the dense maps are really denser: the odd positions carry other values.
        Assert.True((y8[.., .., TensorIndex.Slice(1, null, 4), TensorIndex.Slice(1, null, 4)]).abs().max().item<float>() > 0);
    }

    [Fact]
    public void FrozenBatchNormStaysFrozenAfterTrainAndIsExcludedFromTrainableParameters()
    {
        using var scope = NewDisposeScope();
        using var net = ResNet.Create(18, new ResNetOptions { FrozenBatchNorm = true, BaseWidth = 8, OutputStride = 8 });
        using var parent = nn.Sequential(("backbone", net), ("head", nn.Conv2d(net.OutChannels, 3, 1)));
        parent.train();
        Assert.True(net.training);
        var bns = FrozenBatchNorm.BatchNorms(net).ToList();
        Assert.Equal(20, bns.Count);
        Assert.All(bns, bn => Assert.False(bn.training));
        Assert.All(bns, bn => Assert.All(bn.parameters(), p => Assert.False(p.requires_grad)));
        var trainable = net.TrainableParameters().ToList();
        Assert.Equal(20, trainable.Count); // the 20 conv weights of ResNet-18 (incl. 3 downsample convs)
        var bnParams = bns.SelectMany(b => b.parameters()).Select(p => p.Handle).ToHashSet();
        Assert.DoesNotContain(trainable, p => bnParams.Contains(p.Handle));

        // A training step leaves the running statistics untouched and the output equals eval mode's.
        var before = bns[0].running_mean!.clone();
        var x = randn(2, 3, 40, 40);
        var yTrain = parent.call(x);
        yTrain.sum().backward();
        Assert.True(before.allclose(bns[0].running_mean!, 0, 0));
        parent.eval();
        using (no_grad()) Assert.True(parent.call(x).allclose(yTrain.detach(), 1e-5, 1e-6));
        Assert.All(bns, bn => Assert.Null(bn.weight!.grad));

        // Without freezing, train() really switches BatchNorm to batch statistics (the test can fail).
        using var free = ResNet.Create(18, new ResNetOptions { BaseWidth = 8 });
        free.train();
        Assert.All(FrozenBatchNorm.BatchNorms(free), bn => Assert.True(bn.training));
        Assert.Equal(free.parameters().Count(), free.TrainableParameters().Count());
    }

    [Fact]
    public void UnsupportedDepthOrStrideIsAUserError()
    {
        Assert.Throws<AsdtException>(() => ResNet.Create(152));
        Assert.Throws<AsdtException>(() => ResNet.Create(18, new ResNetOptions { OutputStride = 4 }));
    }
}
