using System.Diagnostics;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Models;

/// <summary>
/// Measures a CPU convolution against the same convolution in float64 (which does not go through oneDNN): forward and
/// backward to the input and the weights, repeated, each time with the allocator's free memory left as it is or filled
/// with NaN first (how oneDNN's unzeroed block channels turn results into NaN, see <see cref="BlockAlignedConv"/>).
/// Used by <c>asdt doctor</c> (does <see cref="BlockAlignedConv"/> hold on this machine's kernels?) and by
/// <c>bench conv-padding</c> (the full table and the cost).
/// </summary>
public static class ConvSelfCheck
{
    /// <summary>One convolution shape: batch, input and output channels, a square map, kernel, dilation (stride 1, "same" padding).</summary>
    public sealed record Geometry(string Name, int Batch, int In, int Out, int Size, int Kernel, int Dilation);

    /// <summary>What <see cref="Measure"/> found: how many repeats gave a non-finite number, the largest relative
    /// errors (of the finite repeats) and the median time of one forward + backward.</summary>
    public sealed record Result(Geometry Geometry, bool Poisoned, bool BlockAligned, int Repeats, int NonFinite,
        double ErrorY, double ErrorDx, double ErrorDw, double MedianMs)
    {
        public double MaxError => Math.Max(ErrorY, Math.Max(ErrorDx, ErrorDw));

        /// <summary>Every repeat finite and within <paramref name="tolerance"/> of float64, relative to the largest value.</summary>
        public bool Within(double tolerance) => NonFinite == 0 && MaxError <= tolerance;
    }

    /// <summary>A float32 convolution is this close to float64 when nothing but rounding differs (measured: ≤ 2.4e-6).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>The convolutions of our networks whose channel counts are not whole oneDNN blocks, and an aligned control.</summary>
    public static readonly Geometry[] Networks =
    [
        new("stage-1 head conv2, quick (256→6, 14×14, d4)", 2, 256, 6, 14, 3, 4),
        new("stage-1 head conv2, cpu on MSRC (256→22, 14×14, d4)", 2, 256, 22, 14, 3, 4),
        new("stage-1 head conv2, tiny tests (256→6, 4×4, d4)", 2, 256, 6, 4, 3, 4),
        new("Res2Net-101 split conv (26→26, 41×41, d1)", 2, 26, 26, 41, 3, 1),
        new("ASPP branch, VOC (512→21, 41×41, d6)", 2, 512, 21, 41, 3, 6),
        new("aligned control (256→16, 14×14, d4)", 2, 256, 16, 14, 3, 4),
    ];

    /// <summary>Input channel counts around the AVX2 (8) and AVX-512 (16) block sizes, into 16 outputs (so only the
    /// input side can be unaligned), 3×3 on 14×14.</summary>
    public static readonly Geometry[] InputScan = [.. new[] { 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 17, 20, 24, 26, 32 }
        .Select(c => new Geometry($"{c}→16, 14×14, d1", 2, c, 16, 14, 3, 1))];

    /// <summary>The oneDNN instruction set cap the process runs under (ONEDNN_MAX_CPU_ISA), or null for the host's own.</summary>
    public static string? IsaCap => Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") is { Length: > 0 } isa ? isa : null;

    /// <summary>Runs <paramref name="g"/> <paramref name="repeats"/> times with libtorch's conv2d or with
    /// <see cref="BlockAlignedConv"/>, over free memory as is or filled with NaN.</summary>
    public static Result Measure(Geometry g, bool poison, bool blockAligned, int repeats)
    {
        NnpackSwitch.EnsureOff();
        using var scope = NewDisposeScope();
        using var gen = new Generator(17);
        int p = g.Dilation * (g.Kernel - 1) / 2;
        var x = rand(g.Batch, g.In, g.Size, g.Size, generator: gen);
        var w = randn(g.Out, g.In, g.Kernel, g.Kernel, generator: gen).Times(0.05);
        var b = randn(g.Out, generator: gen);
        var gy = randn(g.Batch, g.Out, g.Size, g.Size, generator: gen);
        long[] stride = [1, 1], padding = [p, p], dilation = [g.Dilation, g.Dilation];

        var xd = x.to(float64).requires_grad_(true);
        var wd = w.to(float64).requires_grad_(true);
        var yd = F.conv2d(xd, wd, b.to(float64), stride, padding, dilation);
        yd.backward([gy.to(float64)]);
        var yRef = yd.detach().data<double>().ToArray();
        var dxRef = xd.grad!.data<double>().ToArray();
        var dwRef = wd.grad!.data<double>().ToArray();

        int nonFinite = 0;
        double errY = 0, errDx = 0, errDw = 0;
        var times = new List<double>();
        for (int r = 0; r < repeats; r++)
        {
            using var inner = NewDisposeScope();
            if (poison) PoisonFreedMemory();
            var xi = x.detach().clone().requires_grad_(true);
            var wi = w.detach().clone().requires_grad_(true);
            var clock = Stopwatch.StartNew();
            var y = blockAligned ? BlockAlignedConv.Forward(xi, wi, b, stride, padding, dilation) : F.conv2d(xi, wi, b, stride, padding, dilation);
            if (poison) { clock.Stop(); PoisonFreedMemory(); clock.Start(); }
            y.backward([gy]);
            times.Add(clock.Elapsed.TotalMilliseconds);
            var yv = y.detach().data<float>().ToArray();
            var dx = xi.grad!.data<float>().ToArray();
            var dw = wi.grad!.data<float>().ToArray();
            if (!AllFinite(yv) || !AllFinite(dx) || !AllFinite(dw)) { nonFinite++; continue; }
            errY = Math.Max(errY, RelativeError(yRef, yv));
            errDx = Math.Max(errDx, RelativeError(dxRef, dx));
            errDw = Math.Max(errDw, RelativeError(dwRef, dw));
        }
        times.Sort();
        return new Result(g, poison, blockAligned, repeats, nonFinite, errY, errDx, errDw, times.Count > 0 ? times[times.Count / 2] : 0);
    }

    static bool AllFinite(float[] values) => Array.TrueForAll(values, float.IsFinite);

    /// <summary>The largest |expected − actual| over the largest |expected|.</summary>
    static double RelativeError(double[] expected, float[] actual)
    {
        double scale = Math.Max(1e-6, expected.Max(Math.Abs)), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / scale);
        return worst;
    }

    /// <summary>Frees blocks of NaN of many sizes, so libtorch's next allocations reuse memory full of NaN.</summary>
    public static void PoisonFreedMemory()
    {
        for (long n = 256; n <= 1 << 22; n *= 2)
        {
            KeptScalar.Full(n, float.NaN).Dispose();
            KeptScalar.Full(n * 3 / 2, float.NaN).Dispose();
        }
    }
}
