using System.Globalization;
using Asdt.Models;
using static TorchSharp.torch;

namespace Asdt.Bench;

/// <summary>
/// libtorch's conv2d against <see cref="BlockAlignedConv"/> on the geometries our networks use, side by side in one
/// process: forward + backward to the input and the weights, [repeats] times, each time with the allocator's free
/// memory left as it is ("as is") or filled with NaN first. Per variant: how many repeats gave a non-finite result,
/// the largest relative error of the output and of the input and weight gradients against the same convolution in
/// float64 (which does not go through oneDNN), and the median time of one forward + backward (<see cref="ConvSelfCheck"/>;
/// `asdt doctor` runs the same check with a pass/fail verdict).
/// With "inputs" as the second argument it scans instead the input channel counts 3 … 32 into 16 outputs (only the
/// input side can then be unaligned): which counts oneDNN takes in a blocked layout and reads the padding of
/// (<see cref="BlockAlignedConv.PlainInputChannels"/>). Run it with ONEDNN_MAX_CPU_ISA=AVX2 to see an AVX2 host's
/// kernels (blocks of 8) on an AVX-512 one.
/// </summary>
static class ConvPaddingBenchmark
{
    public static int Run(string[] args)
    {
        int repeats = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        bool inputs = args.Length > 1 && args[1] == "inputs";
        if (args.Length > 1 && !inputs) throw new ArgumentException($"conv-padding: the second argument can only be \"inputs\" (got \"{args[1]}\")");
        set_num_threads(2);
        string isa = ConvSelfCheck.IsaCap is string max ? $", ONEDNN_MAX_CPU_ISA={max}" : "";
        Console.WriteLine($"# Convolutions over oneDNN's block channels, {repeats} repeats per cell, 2 libtorch threads{isa}");
        Console.WriteLine(BenchMachine.Describe());
        Console.WriteLine("| geometry | free memory | conv | non-finite | max rel. error y | max rel. error dL/dx | max rel. error dL/dw | ms per fwd+bwd |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---:|---:|");
        var cells = inputs
            ? from g in ConvSelfCheck.InputScan from aligned in new[] { false, true } select (g, Poison: true, aligned)
            : from g in ConvSelfCheck.Networks from poison in new[] { false, true } from aligned in new[] { false, true } select (g, Poison: poison, aligned);
        foreach (var (g, poison, aligned) in cells)
            Console.WriteLine(Row(ConvSelfCheck.Measure(g, poison, aligned, repeats)));
        return 0;
    }

    static string Row(ConvSelfCheck.Result r)
    {
        string Err(double e) => r.NonFinite == r.Repeats ? "–" : e.ToString("0.0e0", CultureInfo.InvariantCulture);
        return $"| {r.Geometry.Name} | {(r.Poisoned ? "NaN-filled" : "as is")} | {(r.BlockAligned ? "BlockAlignedConv" : "conv2d")} | {r.NonFinite}/{r.Repeats} | {Err(r.ErrorY)} | {Err(r.ErrorDx)} | {Err(r.ErrorDw)} | {r.MedianMs:0.00} |";
    }
}
