using Asdt.Models;
using Asdt.Models.Weights;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

public class ResNet38dTests
{
    [Fact]
    public void FullSizeKeysAndShapesFollowThePsaCheckpoint()
    {
        using var net = new ResNet38d();
        var sd = net.state_dict();
        var shapes = sd.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        // ALGORITHM.md §2 layer table.
        Assert.Equal(new long[] { 64, 3, 3, 3 }, shapes["conv1a.weight"]);
        Assert.Equal(new long[] { 128, 64, 3, 3 }, shapes["b2.conv_branch2a.weight"]);
        Assert.Equal(new long[] { 128, 64, 1, 1 }, shapes["b2.conv_branch1.weight"]);
        Assert.Equal(new long[] { 64 }, shapes["b2.bn_branch2a.running_mean"]);
        Assert.Equal(new long[] { 1024, 512, 3, 3 }, shapes["b5.conv_branch2b1.weight"]);
        Assert.Equal(new long[] { 1024, 512, 1, 1 }, shapes["b5.conv_branch1.weight"]);
        Assert.Equal(new long[] { 512, 1024, 1, 1 }, shapes["b6.conv_branch2a.weight"]);
        Assert.Equal(new long[] { 1024, 512, 3, 3 }, shapes["b6.conv_branch2b1.weight"]);
        Assert.Equal(new long[] { 2048, 1024, 1, 1 }, shapes["b6.conv_branch2b2.weight"]);
        Assert.Equal(new long[] { 2048, 1024, 3, 3 }, shapes["b7.conv_branch2b1.weight"]);
        Assert.Equal(new long[] { 4096, 2048, 1, 1 }, shapes["b7.conv_branch1.weight"]);
        Assert.Equal(new long[] { 4096 }, shapes["bn7.running_var"]);
        foreach (var same in new[] { "b2_1", "b2_2", "b3_1", "b3_2", "b4_1", "b4_5", "b5_1", "b5_2" })
            Assert.DoesNotContain(same + ".conv_branch1.weight", shapes.Keys);
        Assert.DoesNotContain(shapes.Keys, k => k.Contains("dropout") || k.EndsWith(".bias") && k.Contains("conv"));
        var blocks = shapes.Keys.Where(k => k.Contains('.')).Select(k => k[..k.IndexOf('.')]).Distinct().Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "b2", "b2_1", "b2_2", "b3", "b3_1", "b3_2", "b4", "b4_1", "b4_2", "b4_3", "b4_4", "b4_5", "b5", "b5_1", "b5_2", "b6", "b7", "bn7", "conv1a" }, blocks);
        long count = net.parameters().Sum(p => p.numel());
        // Summed by hand from the §2 table (convs + BN affine): 105,070,912. ASDT quotes "~104.1 M" for ResNet-38.
        Assert.Equal(105_070_912, count);
    }

    [Fact]
    public void OutputStrideIs8WithCeilSizesAndDilatedStagesKeepResolution()
    {
        using var scope = NewDisposeScope();
        using var net = new ResNet38d(new ResNet38Options { WidthDivisor = 16 });
        net.eval();
        using var _ = no_grad();
        var y = net.call(randn(1, 3, 321, 250));
        Assert.Equal(new long[] { 1, 4096 / 16, 41, 32 }, y.shape);
        Assert.True(y.min().item<float>() >= 0); // ReLU(bn7(...))
    }

    [Fact]
    public void DropoutIsActiveInTrainModeWhileBatchNormStaysFrozen()
    {
        using var scope = NewDisposeScope();
        using var net = new ResNet38d(new ResNet38Options { WidthDivisor = 16 });
        var x = randn(1, 3, 48, 48);
        using var _ = no_grad();
        net.train();
        Assert.All(FrozenBatchNorm.BatchNorms(net), bn => Assert.False(bn.training));
        Assert.False(net.call(x).allclose(net.call(x)));            // Dropout2d in b6/b7
        net.eval();
        Assert.True(net.call(x).allclose(net.call(x), 0, 0));
        Assert.DoesNotContain(net.TrainableParameters(), p => p.dim() == 1); // only conv weights are trainable
        Assert.Equal(net.parameters().Count(p => p.dim() == 4), net.TrainableParameters().Count());
    }

    [Fact]
    public void Res38ClsStyleStateDictLoadsFromPthAndSafetensorsWithFc8Ignored()
    {
        using var tmp = TestData.NewTempFolder();
        using var scope = NewDisposeScope();
        var options = new ResNet38Options { WidthDivisor = 16 };
        using var source = new ResNet38d(options);
        using (no_grad())
            foreach (var (_, t) in source.state_dict()) if (t.is_floating_point()) t.copy_(rand_like(t) + 0.5);
        // res38_cls.pth also holds the classifier fc8 (20 × 4096 1×1 conv) and, from old PyTorch, no num_batches_tracked.
        var dict = source.state_dict().Where(kv => !kv.Key.EndsWith("num_batches_tracked")).ToDictionary(kv => kv.Key, kv => kv.Value);
        dict["fc8.weight"] = randn(20, source.OutChannels, 1, 1);
        using (var f = File.Create(tmp.File("res38_cls.pth"))) PyTorchPickler.PickleStateDict(f, dict);
        Asdt.Models.Weights.Safetensors.Write(tmp.File("res38_cls.safetensors"), dict);

        var x = randn(1, 3, 40, 40);
        source.eval();
        using var __ = no_grad();
        var expected = source.call(x);
        foreach (var file in new[] { "res38_cls.pth", "res38_cls.safetensors" })
        {
            using var target = new ResNet38d(options);
            var ex = Assert.Throws<AsdtException>(() => StateDicts.Load(target, tmp.File(file)));
            Assert.Contains("1 unexpected: fc8.weight", ex.Message);
            StateDicts.Load(target, tmp.File(file), ignorePrefixes: ["fc8."]);
            target.eval();
            Assert.True(target.call(x).allclose(expected, 0, 0), file);
        }
    }
}
