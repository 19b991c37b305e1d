// Benchmark runner: `dotnet run -c Release --project bench/Asdt.Bench -- <benchmark> [args]`.
// Each benchmark is a class in its own file with a static Run(string[] args) → exit code; register it below.
using Asdt.Bench;

var benchmarks = new Dictionary<string, (string Help, Func<string[], int> Run)>(StringComparer.OrdinalIgnoreCase)
{
    ["crf"] = ("dense CRF and permutohedral lattice: speed and peak memory", CrfBenchmark.Run),
    ["training"] = ("stage-1 iteration: time per part, images/s, network GFLOP/s vs matmul ([iterations] [preset])", TrainingBenchmark.Run),
    ["cam-scales"] = ("stage-1 iteration with the preset's CAM scales against the paper's, side by side ([iterations] [rounds] [preset])", CamScalesBenchmark.Run),
    ["memory"] = ("stage-1 RSS after 100 vs 1,000 iterations (quick preset, demo data)", TrainingBenchmark.Memory),
    ["psm"] = ("PSM generation throughput and peak RSS on MSRC-21 train at full resolution", PsmEvalBenchmark.Psm),
    ["eval"] = ("evaluation throughput: MSRC-21 train and the 1,449 VOC val masks", PsmEvalBenchmark.Eval),
    ["exp"] = ("exp of the mean-field softmax: ours vs .NET Vector256.Exp vs MathF.Exp, ns/value and error ([repeats])", ExpBenchmark.Run),
    ["scalar-race"] = ("TorchSharp Scalar finalizer race: implicit vs kept Scalars under a GC storm ([seconds] [repeats])", ScalarRaceBenchmark.Run),
    ["training-race"] = ("stage-1 NaN race: the tiny training in fresh processes, idle vs under a GC storm ([repeats] [variants] [iterations] [momentum])", TrainingRaceBenchmark.Run),
    [TrainingRaceBenchmark.ChildCommand] = ("(internal) one tiny training in a fresh process", TrainingRaceBenchmark.RunChild),
    ["conv-padding"] = ("oneDNN's unzeroed block channels: libtorch conv2d vs BlockAlignedConv against float64, over NaN-filled free memory, and the cost ([repeats] [inputs: scan the input channel counts])", ConvPaddingBenchmark.Run),
    [ScalarRaceBenchmark.ChildCommand] = ("(internal) one scalar-race variant in a fresh process", ScalarRaceBenchmark.RunChild),
    [CrfBenchmark.ChildCommand] = ("(internal) one CRF measurement in a fresh process", CrfBenchmark.RunChild),
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var bench))
{
    Console.Error.WriteLine("usage: Asdt.Bench <benchmark> [args]");
    foreach (var (name, b) in benchmarks)
        if (!name.EndsWith("-child")) Console.Error.WriteLine($"  {name,-12} {b.Help}");
    return args.Length == 0 ? 0 : 2;
}
return bench.Run(args[1..]);
