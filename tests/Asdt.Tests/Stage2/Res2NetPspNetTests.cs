using Asdt.Models.Weights;
using Asdt.Stage2;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Asdt.Tests.Stage2;

/// <summary>Res2Net-101 layout and key names (official res2net101_26w_4s convention), a .pth round trip, PSPNet shapes.</summary>
public class Res2NetPspNetTests(ITestOutputHelper output)
{
    [Fact]
    public void Res2Net101_HasTheOfficialKeysAndWidths()
    {
        using var net = Res2Net.Create101(outputStride: 8);
        var sd = net.state_dict();
        // Stem and blocks: conv1/bn1, layer1..4 with 3, 4, 23, 3 blocks; scale 4 → three 3×3 convs per block (convs.0..2, bns.0..2).
        Assert.Equal(new long[] { 64, 3, 7, 7 }, sd["conv1.weight"].shape);
        Assert.Equal(new long[] { 104, 64, 1, 1 }, sd["layer1.0.conv1.weight"].shape);   // width 26 × scale 4
        Assert.Equal(new long[] { 26, 26, 3, 3 }, sd["layer1.0.convs.0.weight"].shape);
        Assert.True(sd.ContainsKey("layer1.0.bns.2.running_var"));
        Assert.False(sd.ContainsKey("layer1.0.convs.3.weight"));
        Assert.Equal(new long[] { 256, 104, 1, 1 }, sd["layer1.0.conv3.weight"].shape);
        Assert.Equal(new long[] { 256, 64, 1, 1 }, sd["layer1.0.downsample.0.weight"].shape);
        Assert.True(sd.ContainsKey("layer1.0.downsample.1.running_mean"));
        Assert.Equal(new long[] { 52, 52, 3, 3 }, sd["layer2.0.convs.0.weight"].shape);   // floor(128·26/64) = 52
        Assert.Equal(new long[] { 104, 104, 3, 3 }, sd["layer3.22.convs.2.weight"].shape);
        Assert.False(sd.ContainsKey("layer3.23.conv1.weight"));
        Assert.Equal(new long[] { 208, 208, 3, 3 }, sd["layer4.2.convs.2.weight"].shape);
        Assert.Equal(new long[] { 2048, 832, 1, 1 }, sd["layer4.2.conv3.weight"].shape);
        long parameters = net.parameters().Sum(p => p.numel());
        output.WriteLine($"Res2Net-101 26w×4s backbone: {sd.Count} state-dict entries, {parameters:N0} parameters");
        // The official model has 45.21 M parameters with its 2048→1000 fc (2.05 M).
        Assert.InRange(parameters + 2048 * 1000 + 1000, 45.15e6, 45.25e6);
        Assert.Equal(2048, net.OutChannels);
    }

    static Res2Net Tiny(int os = 8) => new([1, 2, 1, 1], os, frozenBatchNorm: true, baseWidth: 26, scale: 4, stemWidth: 16);

    [Fact]
    public void DilatedRes2Net_KeepsOutputStride_AndPspNetGivesLogitsThere()
    {
        manual_seed(1);
        using var backbone = Tiny(8);
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 64, 48);
        var f = backbone.call(x);
        Assert.Equal(new long[] { 1, 512, 8, 6 }, f.shape);
        var psp = new PspNet(backbone, backbone.OutChannels, 8, 5, new PspSettings { BranchChannels = 8, HiddenChannels = 16 });
        psp.eval();
        var y = psp.call(x);
        Assert.Equal(new long[] { 1, 5, 8, 6 }, y.shape);
        var keys = psp.state_dict().Keys.ToHashSet();
        foreach (var k in new[] { "backbone.layer2.1.convs.0.weight", "ppm.stages.3.conv.weight", "ppm.stages.0.bn.running_mean", "fuse.weight", "fuse_bn.weight", "cls.bias" })
            Assert.Contains(k, keys);
        Assert.Equal(512 + 4 * 8, (int)psp.state_dict()["fuse.weight"].shape[1]);
        // Head groups: every PPM / fuse / classifier parameter, split into weights and biases.
        Assert.Equal(4 + 4 + 1 + 1 + 1, psp.HeadWeights().Count()); // 4 branch convs, 4 branch BN weights, fuse, fuse_bn, cls
        Assert.Equal(4 + 1 + 1, psp.HeadBiases().Count());          // 4 branch BN biases, fuse_bn, cls
    }

    [Fact]
    public void PyramidPooling_BranchesMatchAdaptivePoolingByHand()
    {
        manual_seed(2);
        using var ppm = new PyramidPooling("ppm", 4, [1, 2, 3, 6], 2);
        ppm.eval();
        using var scope = NewDisposeScope();
        var x = randn(1, 4, 7, 7);
        var y = ppm.call(x);
        Assert.Equal(new long[] { 1, 12, 7, 7 }, y.shape);
        Assert.True(y.narrow(1, 0, 4).eq(x).all().item<bool>());
        // Bin 1 is the global mean through conv+BN+ReLU, constant over the map.
        var b = ppm.Stages[0];
        var expected = nn.functional.relu(b.Bn.call(b.Conv.call(x.mean([2L, 3L], keepdim: true))));
        Assert.True(allclose(y.narrow(1, 4, 2), expected.expand(1, 2, 7, 7), 1e-5, 1e-6));
    }

    [Fact]
    public void Weights_RoundTripThroughAPthFile()
    {
        using var tmp = TestData.NewTempFolder();
        manual_seed(3);
        using var a = Tiny();
        // Make the BN statistics non-trivial so they matter.
        using (no_grad()) foreach (var (name, t) in a.state_dict()) if (name.EndsWith("running_var") || name.EndsWith("running_mean")) t.uniform_(0.5, 1.5);
        string path = tmp.File("res2net.pth");
        StateDicts.SavePyTorch(a, path);
        manual_seed(99);
        using var b = Tiny();
        StateDicts.Load(b, path);
        a.eval(); b.eval();
        using var x = randn(1, 3, 40, 40);
        using var ya = a.call(x);
        using var yb = b.call(x);
        Assert.True(ya.eq(yb).all().item<bool>());
    }
}
