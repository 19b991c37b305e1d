using System.Globalization;
using Asdt.Data;
using Asdt.Training;

namespace Asdt.Bench;

/// <summary>
/// Stress harness for the timing-dependent NaN of stage-1 training (docs/robustness.md, "NaN or infinite loss"; the cause
/// was oneDNN's unzeroed block channels, see <see cref="Models.BlockAlignedConv"/> and the conv-padding benchmark):
/// the tiny run of TrainKillResumeTests (24 demo images, crop 64, batch 2, 2 warm-up + 6 ASDT iterations,
/// momentum 0.9, seed 7, 2 threads; [iterations] and [momentum] change the last two), repeated in fresh processes,
/// each variant side by side (run it beside two busy loops to see the load's effect):
/// <c>idle</c> (nothing else), <c>gc</c> (another thread forces garbage collections and runs finalizers
/// as fast as it can). Every run of one variant must give the same losses; the table counts runs that
/// stopped on a non-finite loss and runs whose losses differ from the variant's first finished run.
/// </summary>
static class TrainingRaceBenchmark
{
    public const string ChildCommand = "training-race-child";

    public static int Run(string[] args)
    {
        int repeats = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 8;
        var variants = args.Length > 1 ? args[1].Split(',') : ["idle", "gc"];
        string iterations = args.Length > 2 ? args[2] : "8", momentum = args.Length > 3 ? args[3] : "0.9";
        using var data = new BenchMachine.TempFolder("asdt-race-");
        DemoDataset.Generate(data.Path, count: 24);
        Console.WriteLine($"# Training race stress, {repeats} fresh processes per variant");
        Console.WriteLine(BenchMachine.Describe());
        Console.WriteLine("| variant | runs | non-finite stops | finished, other losses than the first | first failure |");
        Console.WriteLine("|---|---:|---:|---:|---|");
        foreach (var variant in variants)
        {
            int stops = 0, differing = 0;
            string? reference = null, firstFailure = null;
            for (int r = 0; r < repeats; r++)
            {
                var (code, stdout, stderr) = BenchMachine.RunChild(ChildCommand, variant, data.Path, iterations, momentum);
                string output = stdout.Trim();
                if (code != 0)
                {
                    stops++;
                    firstFailure ??= FirstLine(stderr + output);
                    Console.Error.WriteLine($"{variant} run {r + 1}: {FirstLine(stderr + output)}");
                    continue;
                }
                reference ??= output;
                if (output != reference) differing++;
            }
            Console.WriteLine($"| {variant} | {repeats} | {stops} | {differing} | {firstFailure?.Replace("|", "/")} |");
        }
        return 0;
    }

    static string FirstLine(string s) => s.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "";

    public static int RunChild(string[] args)
    {
        string variant = args[0], data = args[1];
        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        }) { IsBackground = true };
        if (variant == "gc") collector.Start();
        using var run = new BenchMachine.TempFolder("asdt-race-");
        var config = Stage1Presets.Quick with
        {
            Data = Stage1Presets.Quick.Data with { Dataset = Path.Combine(data, "dataset.json"), CropSize = 64 },
            BatchSize = 2,
            Iterations = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 8,
            ClassifierWarmup = 2,
            PulseWidth = Stage1Presets.Quick.PulseWidth with { Period = 4 },
            Optimizer = Stage1Presets.Quick.Optimizer with { Momentum = args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 0.9 },
            CheckpointEvery = 2,
            Seed = 7,
            Threads = 2,
        };
        var losses = new List<string>();
        try
        {
            new Stage1Trainer(config, run.Path).Run(false, onIteration: m => losses.Add(m.Loss.ToString("R", CultureInfo.InvariantCulture)));
        }
        catch (Exception e)
        {
            Console.Error.WriteLine(e.Message.Split('\n')[0]);
            return 1;
        }
        finally { stop.Cancel(); }
        Console.WriteLine(string.Join(" ", losses));
        return 0;
    }
}
