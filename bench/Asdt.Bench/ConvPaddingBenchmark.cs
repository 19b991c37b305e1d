using System.Diagnostics;
using System.Globalization;
using Asdt.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Bench;

/// <summary>
/// libtorch's conv2d against <see cref="BlockAlignedConv"/> on the geometries our networks use, side by side in one
/// process: forward + backward to the input and the weights, [repeats] times, each time with the allocator's free
/// memory left as it is ("as is") or filled with NaN first. Per variant: how many repeats gave a non-finite result,
/// the largest relative error of the output and of the input and weight gradients against the same convolution in
/// float64 (which does not go through oneDNN), and the median time of one forward + backward.
/// With "inputs" as the second argument it scans instead the input channel counts 3 … 32 into 16 outputs (only the
/// input side can then be unaligned): which counts oneDNN takes in a blocked layout and reads the padding of
/// (<see cref="BlockAlignedConv.PlainInputChannels"/>). Run it with ONEDNN_MAX_CPU_ISA=AVX2 to see an AVX2 host's
/// kernels (blocks of 8) on an AVX-512 one.
/// </summary>
static class ConvPaddingBenchmark
{
    sealed record Geometry(string Name, int Batch, int In, int Out, int Size, int Kernel, int Dilation);

    static readonly Geometry[] Geometries =
    [
        new("stage-1 head conv2, quick (256→6, 14×14, d4)", 2, 256, 6, 14, 3, 4),
        new("stage-1 head conv2, cpu on MSRC (256→22, 14×14, d4)", 2, 256, 22, 14, 3, 4),
        new("stage-1 head conv2, tiny tests (256→6, 4×4, d4)", 2, 256, 6, 4, 3, 4),
        new("Res2Net-101 split conv (26→26, 41×41, d1)", 2, 26, 26, 41, 3, 1),
        new("ASPP branch, VOC (512→21, 41×41, d6)", 2, 512, 21, 41, 3, 6),
        new("aligned control (256→16, 14×14, d4)", 2, 256, 16, 14, 3, 4),
    ];

    /// <summary>Input channel counts around the AVX2 (8) and AVX-512 (16) block sizes, into 16 outputs, 3×3 on 14×14.</summary>
    static readonly Geometry[] InputScan = [.. new[] { 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 17, 20, 24, 26, 32 }
        .Select(c => new Geometry($"{c}→16, 14×14, d1", 2, c, 16, 14, 3, 1))];

    public static int Run(string[] args)
    {
        int repeats = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        bool inputs = args.Length > 1 && args[1] == "inputs";
        if (args.Length > 1 && !inputs) throw new ArgumentException($"conv-padding: the second argument can only be \"inputs\" (got \"{args[1]}\")");
        set_num_threads(2);
        string isa = Environment.GetEnvironmentVariable("ONEDNN_MAX_CPU_ISA") is { Length: > 0 } max ? $", ONEDNN_MAX_CPU_ISA={max}" : "";
        Console.WriteLine($"# Convolutions over oneDNN's block channels, {repeats} repeats per cell, 2 libtorch threads{isa}");
        Console.WriteLine(BenchMachine.Describe());
        Console.WriteLine("| geometry | free memory | conv | non-finite | max rel. error y | max rel. error dL/dx | max rel. error dL/dw | ms per fwd+bwd |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---:|---:|");
        var cells = inputs
            ? from g in InputScan from aligned in new[] { false, true } select (g, Poison: true, aligned)
            : from g in Geometries from poison in new[] { false, true } from aligned in new[] { false, true } select (g, Poison: poison, aligned);
        foreach (var (g, poison, aligned) in cells)
            Console.WriteLine(Measure(g, poison, aligned, repeats));
        return 0;
    }

    static string Measure(Geometry g, bool poison, bool aligned, int repeats)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(17);
        int p = g.Dilation * (g.Kernel - 1) / 2;
        var x = rand(g.Batch, g.In, g.Size, g.Size, generator: gen);
        var w = randn(g.Out, g.In, g.Kernel, g.Kernel, generator: gen).Times(0.05);
        var b = randn(g.Out, generator: gen);
        var gy = randn(g.Batch, g.Out, g.Size, g.Size, generator: gen);
        long[] stride = [1, 1], padding = [p, p], dilation = [g.Dilation, g.Dilation];

        // The float64 reference (libtorch's own convolution: oneDNN has no float64 kernels).
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
            var y = aligned ? BlockAlignedConv.Forward(xi, wi, b, stride, padding, dilation) : F.conv2d(xi, wi, b, stride, padding, dilation);
            if (poison) { clock.Stop(); PoisonFreedMemory(); clock.Start(); }
            y.backward([gy]);
            times.Add(clock.Elapsed.TotalMilliseconds);
            var yv = y.detach().data<float>().ToArray();
            var dx = xi.grad!.data<float>().ToArray();
            var dw = wi.grad!.data<float>().ToArray();
            if (yv.Any(v => !float.IsFinite(v)) || dx.Any(v => !float.IsFinite(v)) || dw.Any(v => !float.IsFinite(v))) { nonFinite++; continue; }
            errY = Math.Max(errY, RelativeError(yRef, yv));
            errDx = Math.Max(errDx, RelativeError(dxRef, dx));
            errDw = Math.Max(errDw, RelativeError(dwRef, dw));
        }
        times.Sort();
        string Err(double e) => nonFinite == repeats ? "–" : e.ToString("0.0e0", CultureInfo.InvariantCulture);
        return $"| {g.Name} | {(poison ? "NaN-filled" : "as is")} | {(aligned ? "BlockAlignedConv" : "conv2d")} | {nonFinite}/{repeats} | {Err(errY)} | {Err(errDx)} | {Err(errDw)} | {times[times.Count / 2]:0.00} |";
    }

    static double RelativeError(double[] expected, float[] actual)
    {
        double scale = Math.Max(1e-6, expected.Max(Math.Abs)), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / scale);
        return worst;
    }

    /// <summary>Frees blocks of NaN of many sizes, so libtorch's next allocations reuse memory full of NaN.</summary>
    static void PoisonFreedMemory()
    {
        for (long n = 256; n <= 1 << 22; n *= 2)
        {
            full(n, float.NaN).Dispose();
            full(n * 3 / 2, float.NaN).Dispose();
        }
    }
}
