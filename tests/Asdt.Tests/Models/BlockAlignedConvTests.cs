using Asdt.Models;
using Asdt.Stage2;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Tests.Models;

/// <summary>
/// <see cref="BlockAlignedConv"/> against brute-force convolution sums and against float64 copies of our networks
/// (float64 convolutions do not go through oneDNN), with the allocator's free memory filled with NaN first, which is
/// how libtorch's oneDNN convolutions on AVX-512 turn into NaN (docs/robustness.md).
/// </summary>
public class BlockAlignedConvTests(ITestOutputHelper output)
{
    /// <summary>Forward pass and gradients of Σ y ⊙ gy by direct sums in double (zero padding p, dilation d, stride 1).</summary>
    static (double[] Y, double[] Dx, double[] Dw, double[] Db) BruteForce(float[] x, float[] w, float[] b, float[] gy,
        int n, int ic, int oc, int h, int wd, int k, int p, int d)
    {
        int oh = h + 2 * p - d * (k - 1), ow = wd + 2 * p - d * (k - 1);
        var y = new double[n * oc * oh * ow];
        var dx = new double[x.Length];
        var dw = new double[w.Length];
        var db = new double[oc];
        for (int s = 0; s < n; s++)
            for (int o = 0; o < oc; o++)
                for (int r = 0; r < oh; r++)
                    for (int c = 0; c < ow; c++)
                    {
                        int yi = ((s * oc + o) * oh + r) * ow + c;
                        double sum = b[o], g = gy[yi];
                        db[o] += g;
                        for (int i = 0; i < ic; i++)
                            for (int u = 0; u < k; u++)
                            {
                                int iy = r - p + u * d;
                                if (iy < 0 || iy >= h) continue;
                                for (int v = 0; v < k; v++)
                                {
                                    int ix = c - p + v * d;
                                    if (ix < 0 || ix >= wd) continue;
                                    int xi = ((s * ic + i) * h + iy) * wd + ix, wi = ((o * ic + i) * k + u) * k + v;
                                    sum += w[wi] * (double)x[xi];
                                    dx[xi] += w[wi] * g;
                                    dw[wi] += x[xi] * g;
                                }
                            }
                        y[yi] = sum;
                    }
        return (y, dx, dw, db);
    }

    static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1e-3, expected.Max(Math.Abs));
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(float.IsFinite(actual[i]), $"{what}[{i}] is {actual[i]}");
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-4 * scale, $"{what}[{i}]: {actual[i]} against the exact {expected[i]}");
        }
    }

    static double MaxError(double[] expected, float[] actual) =>
        expected.Zip(actual, (e, a) => float.IsFinite(a) ? Math.Abs(e - a) : double.PositiveInfinity).Max() / Math.Max(1e-3, expected.Max(Math.Abs));

    [Theory]
    [InlineData(6, 256, 14, 3, 4)]    // the quick preset's heads: 256 → 6 on a 14 × 14 map, dilation 4
    [InlineData(22, 256, 14, 3, 4)]   // the cpu preset's heads on MSRC (21 classes + background)
    [InlineData(26, 26, 14, 3, 1)]    // a Res2Net-101 26w×4s split conv: both channel counts unaligned
    [InlineData(20, 512, 14, 1, 1)]   // the class-teacher's 1×1 classifier on MSRC's 20 object classes
    public void Output_and_gradients_are_the_exact_sums_even_over_NaN_filled_memory(int oc, int ic, int size, int k, int dilation)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)(oc * 1000 + ic));
        const int n = 2;
        int p = dilation * (k - 1) / 2;
        var x = rand(n, ic, size, size, generator: gen).requires_grad_(true);
        var w = randn(oc, ic, k, k, generator: gen).Times(0.05).requires_grad_(true);
        var b = randn(oc, generator: gen).requires_grad_(true);
        var gy = randn(n, oc, size, size, generator: gen);
        var exact = BruteForce(x.detach().data<float>().ToArray(), w.detach().data<float>().ToArray(), b.detach().data<float>().ToArray(),
            gy.data<float>().ToArray(), n, ic, oc, size, size, k, p, dilation);

        ConvSelfCheck.PoisonFreedMemory();
        var y = BlockAlignedConv.Forward(x, w, b, [1, 1], [p, p], [dilation, dilation]);
        ConvSelfCheck.PoisonFreedMemory();
        y.backward([gy]);
        AssertClose(exact.Y, y.detach().data<float>().ToArray(), "y");
        AssertClose(exact.Dx, x.grad!.data<float>().ToArray(), "dL/dx");
        AssertClose(exact.Dw, w.grad!.data<float>().ToArray(), "dL/dw");
        AssertClose(exact.Db, b.grad!.data<float>().ToArray(), "dL/db");

        // For the record (not asserted: it depends on the CPU): libtorch's own conv2d on the same numbers.
        var x2 = x.detach().clone().requires_grad_(true);
        ConvSelfCheck.PoisonFreedMemory();
        var y2 = F.conv2d(x2, w.detach(), b.detach(), [1, 1], [p, p], [dilation, dilation]);
        ConvSelfCheck.PoisonFreedMemory();
        y2.backward([gy]);
        output.WriteLine($"plain conv2d: relative max error y {MaxError(exact.Y, y2.detach().data<float>().ToArray()):G3}, dL/dx {MaxError(exact.Dx, x2.grad!.data<float>().ToArray()):G3}");
    }

    [Fact]
    public void Is_exactly_conv2d_where_no_channel_count_needs_padding()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(5);
        // Aligned channel counts with a gradient; an unaligned output count in inference (no gradient to the input).
        foreach (var (oc, ic, grad) in new[] { (16L, 32L, true), (6L, 256L, false), (6L, 16L, false) })
        {
            var x = rand(2, ic, 14, 14, generator: gen).requires_grad_(grad);
            var w = randn(oc, ic, 3, 3, generator: gen);
            var b = randn(oc, generator: gen);
            var ours = BlockAlignedConv.Forward(x, w, b, [1, 1], [4, 4], [4, 4]).detach().data<float>().ToArray();
            var plain = F.conv2d(x, w, b, [1, 1], [4, 4], [4, 4]).detach().data<float>().ToArray();
            Assert.Equal(plain, ours);
        }
        Assert.False(BlockAlignedConv.PadsInput(16));
        Assert.False(BlockAlignedConv.PadsInput(3));
        Assert.True(BlockAlignedConv.PadsInput(12));
        Assert.True(BlockAlignedConv.PadsInput(26));
        Assert.False(BlockAlignedConv.PadsInput(512));
        Assert.True(BlockAlignedConv.PadsOutput(6, inputNeedsGradient: true));
        Assert.False(BlockAlignedConv.PadsOutput(6, inputNeedsGradient: false));
        Assert.False(BlockAlignedConv.PadsOutput(256, inputNeedsGradient: true));
    }

    /// <summary>Every parameter's gradient (and the output) of <paramref name="build"/>'s module against a float64 copy.</summary>
    static void AssertMatchesFloat64Copy(Func<nn.Module<Tensor, Tensor>> build, long[] inputShape, int seed)
    {
        using var scope = NewDisposeScope();
        manual_seed(seed);
        using var single = build();
        manual_seed(seed);
        using var reference = build();
        reference.to(float64);
        single.eval(); reference.eval();
        var x = rand(inputShape, generator: new Generator((ulong)seed)).requires_grad_(true);
        var xd = x.detach().to(float64).requires_grad_(true);
        ConvSelfCheck.PoisonFreedMemory();
        var y = single.forward(x);
        var gy = randn(y.shape, generator: new Generator((ulong)seed + 1));
        ConvSelfCheck.PoisonFreedMemory();
        y.backward([gy]);
        var yd = reference.forward(xd);
        yd.backward([gy.to(float64)]);

        void Compare(Tensor actual, Tensor expected, string what)
        {
            var a = actual.data<float>().ToArray();
            var e = expected.data<double>().ToArray();
            AssertClose(e, a, what);
        }
        Compare(y.detach(), yd.detach(), "output");
        Compare(x.grad!, xd.grad!, "input gradient");
        var expectedGrads = reference.named_parameters().ToDictionary(np => np.name, np => np.parameter.grad);
        foreach (var (name, parameter) in single.named_parameters())
            if (parameter.grad is { } g) Compare(g, expectedGrads[name]!, name);
    }

    sealed class TinyBackbone : nn.Module<Tensor, Tensor>
    {
        readonly TorchSharp.Modules.Conv2d patchify = nn.Conv2d(3, 512, 16, stride: 16);
        public TinyBackbone() : base("backbone") => RegisterComponents();
        public override Tensor forward(Tensor x) => F.relu(patchify.forward(x));
    }

    /// <summary>The network's three outputs as one tensor.</summary>
    sealed class AllOutputs : nn.Module<Tensor, Tensor>
    {
        readonly AsdtNetwork network;
        public AllOutputs(AsdtNetwork network) : base("outputs") { this.network = network; RegisterComponents(); }
        public override Tensor forward(Tensor x)
        {
            var o = network.forward(x);
            return cat([o.SegTeacherLogits.flatten(1), o.StudentLogits.flatten(1), o.ClassLogits], 1);
        }
    }

    [Fact]
    public void The_stage1_network_learns_from_exact_gradients_on_a_14x14_map()
    {
        // The cpu preset's geometry: 224 px crops at output stride 16, heads 512 → 256 → 22 with dilation 4, classifier 21;
        // a trainable stand-in backbone so that every conv also passes a gradient back to its input.
        AssertMatchesFloat64Copy(() => new AllOutputs(new AsdtNetwork(new TinyBackbone(), 512, 21, 256, 4, 0)), [2, 3, 224, 224], 11);
    }

    [Fact]
    public void Stage2_heads_and_Res2Net_blocks_learn_from_exact_gradients()
    {
        AssertMatchesFloat64Copy(() => new AsppV2("aspp", 64, 21, [6, 12]), [2, 64, 21, 21], 12);
        AssertMatchesFloat64Copy(() => new Res2NetBottleneck("block", 64, 64, 1, 1, true, 26, 4, 1e-5), [2, 64, 14, 14], 13);
    }
}
