using Asdt.Data;
using Asdt.Models;
using Asdt.Stage2;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Tests.Stage2;

/// <summary>ASPP, MSC and the summed MSC loss against brute-force computations on a tiny network.</summary>
public class DeepLabV2Tests
{
    static DeepLabV2 Tiny(int classes = 3, int os = 8)
    {
        manual_seed(7);
        var backbone = ResNet.Create(18, new ResNetOptions { OutputStride = os, BaseWidth = 8, FrozenBatchNorm = true });
        return new DeepLabV2(backbone, backbone.OutChannels, os, classes, [6, 12, 18, 24]);
    }

    [Fact]
    public void Aspp_IsTheSumOfFourDilatedConvolutions()
    {
        manual_seed(3);
        using var aspp = new AsppV2("aspp", 16, 5, [6, 12, 18, 24]);
        using var x = randn(2, 16, 13, 11);
        using var y = aspp.call(x);
        Assert.Equal(new long[] { 2, 5, 13, 11 }, y.shape);
        using var expected = zeros(2, 5, 13, 11);
        int[] rates = [6, 12, 18, 24];
        for (int i = 0; i < 4; i++)
        {
            var c = aspp.Branches[i];
            Assert.Equal(rates[i], c.dilation[0]);
            using var part = F.conv2d(x, c.weight!, c.bias!, padding: [rates[i], rates[i]], dilation: [rates[i], rates[i]]);
            expected.add_(part);
        }
        Assert.True(allclose(y, expected, 1e-5, 1e-6));
        // Init: N(0, 0.01) weights, zero biases.
        var w = aspp.Branches[0].weight!;
        Assert.InRange(w.std().item<float>(), 0.008, 0.012);
        Assert.Equal(0f, aspp.Branches[0].bias!.abs().max().item<float>());
        Assert.Equal(new[] { "c0.bias", "c0.weight", "c1.bias", "c1.weight", "c2.bias", "c2.weight", "c3.bias", "c3.weight" },
            aspp.state_dict().Keys.Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Msc_ReturnsEveryScaleResizedToScaleOneAndTheirMax()
    {
        using var net = Tiny();
        using var msc = new MultiScaleNetwork(net, [1.0, 0.5, 0.75]);
        msc.eval();
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 67, 53);
        var all = msc.ForwardAll(x);
        Assert.Equal(4, all.Length);
        var full = net.call(x);
        Assert.Equal(new long[] { 2, 3, 9, 7 }, full.shape); // ceil(67/8), ceil(53/8)
        Assert.True(allclose(all[0], full, 1e-5, 1e-6));
        var brute = full.clone();
        int k = 1;
        foreach (double s in new[] { 0.5, 0.75 })
        {
            var scaled = F.interpolate(x, scale_factor: [s, s], mode: InterpolationMode.Bilinear, align_corners: false);
            Assert.Equal(new long[] { 2, 3, (long)Math.Floor(67 * s), (long)Math.Floor(53 * s) }, scaled.shape);
            var l = F.interpolate(net.call(scaled), size: [9, 7], mode: InterpolationMode.Bilinear, align_corners: false);
            Assert.Equal(l.shape, all[k].shape);
            Assert.True(allclose(l, all[k], 1e-5, 1e-6));
            brute = maximum(brute, all[k]);
            k++;
        }
        // Element-wise max, checked value by value.
        var a = all.Take(3).Select(t => t.contiguous().data<float>().ToArray()).ToArray();
        var m = all[3].contiguous().data<float>().ToArray();
        for (int i = 0; i < m.Length; i++) Assert.Equal(Math.Max(a[0][i], Math.Max(a[1][i], a[2][i])), m[i]);
        Assert.True(msc.forward(x).eq(all[3]).all().item<bool>());
    }

    [Fact]
    public void MscLoss_IsTheSumOfPerOutputCrossEntropiesWithNearestLabels()
    {
        manual_seed(5);
        using var scope = NewDisposeScope();
        var labels = randint(0, 4, [2, 20, 18]).to_type(ScalarType.Int64);
        labels[0, 0, TensorIndex.Colon] = tensor(255L); // an ignored row
        var logits = new[] { randn(2, 4, 5, 5), randn(2, 4, 3, 3), randn(2, 4, 5, 5) };
        var (total, terms) = MscLoss.Compute(logits, labels);

        var lab = labels.data<long>().ToArray();
        double expectedTotal = 0;
        for (int o = 0; o < logits.Length; o++)
        {
            var l = logits[o].data<float>().ToArray();
            int h = (int)logits[o].shape[2], w = (int)logits[o].shape[3];
            double sum = 0; int count = 0;
            for (int n = 0; n < 2; n++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        int sy = Math.Min(19, (int)((y + 0.5) * 20 / h)), sx = Math.Min(17, (int)((x + 0.5) * 18 / w));
                        long target = lab[(n * 20 + sy) * 18 + sx];
                        if (target == 255) continue;
                        double max = double.NegativeInfinity;
                        for (int c = 0; c < 4; c++) max = Math.Max(max, l[((n * 4 + c) * h + y) * w + x]);
                        double z = 0;
                        for (int c = 0; c < 4; c++) z += Math.Exp(l[((n * 4 + c) * h + y) * w + x] - max);
                        sum += -(l[((n * 4 + (int)target) * h + y) * w + x] - max - Math.Log(z));
                        count++;
                    }
            Assert.Equal(sum / count, terms[o], 4);
            expectedTotal += sum / count;
        }
        Assert.Equal(expectedTotal, total.item<float>(), 3);
    }

    [Fact]
    public void ResizeLabels_MatchesTheImageNearestResize()
    {
        var mask = new LabelMask(23, 17);
        var rng = new Random(1);
        for (int i = 0; i < mask.Labels.Length; i++) mask.Labels[i] = (byte)rng.Next(0, 6);
        var expected = ImageResize.Nearest(mask, 7, 5);
        using var t = tensor(mask.Labels).reshape(1, 17, 23);
        using var r = MscLoss.ResizeLabels(t, 5, 7);
        Assert.Equal(expected.Labels.Select(b => (long)b).ToArray(), r.data<long>().ToArray());
    }

    [Fact]
    public void AllIgnoredLabels_AddZeroNotNaN()
    {
        using var scope = NewDisposeScope();
        var labels = full(new long[] { 1, 8, 8 }, 255L, ScalarType.Int64);
        var (total, _) = MscLoss.Compute([randn(1, 3, 4, 4)], labels);
        Assert.Equal(0f, total.item<float>());
    }

    [Fact]
    public void ParameterGroups_SplitBackboneAsppWeightsAndBiases()
    {
        using var net = Tiny();
        Assert.Equal(4, net.HeadWeights().Count());
        Assert.Equal(4, net.HeadBiases().Count());
        // Frozen BatchNorm parameters are in no group.
        int trainable = net.parameters().Count(p => p.requires_grad);
        Assert.Equal(trainable, net.BackboneParameters().Count() + 8);
        Assert.All(net.BackboneParameters(), p => Assert.Equal(4, p.dim())); // convolution weights only
    }
}
