using System.Globalization;
using Asdt.Training;

namespace Asdt.Bench;

/// <summary>
/// What the online CAM scales behind B^ct cost: a stage-1 ASDT iteration of a preset with the preset's CAM scales and
/// with the paper's (1, 0.5, 1.5, 2; the <c>cpu</c> preset drops 2 to save time), measured side by side in one process,
/// alternating the two in every round so that a machine that slows down or speeds up shifts both alike.
/// </summary>
static class CamScalesBenchmark
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(string[] args)
    {
        int iterations = args.Length > 0 ? int.Parse(args[0], Inv) : 10;
        int rounds = args.Length > 1 ? int.Parse(args[1], Inv) : 2;
        string preset = args.Length > 2 ? args[2] : "cpu";
        var config = TrainingBenchmark.IterationConfig(preset, iterations);
        double[] paper = new Stage1Config().CamScales;
        var variants = new (string Name, double[] Scales)[]
        {
            ($"{preset} preset ({Scales(config.CamScales)})", config.CamScales),
            ($"paper ({Scales(paper)})", paper),
        };
        Console.WriteLine($"# Online CAM scales behind B^ct ({preset} preset, {iterations} iterations × {rounds} rounds each)\n\n" +
                          $"{BenchMachine.Describe()}; torch threads {TorchSharp.torch.get_num_threads()}\n");

        var iteration = variants.Select(_ => new List<double>()).ToArray();
        var cam = variants.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < rounds; round++)
            for (int v = 0; v < variants.Length; v++)
            {
                var steady = TrainingBenchmark.Train(config with { CamScales = variants[v].Scales }).Skip(TrainingBenchmark.UnsteadyIterations).ToList();
                iteration[v].Add(steady.Average(r => r.Seconds));
                cam[v].Add(steady.Average(r => r.Timings.GetValueOrDefault("cam")));
            }

        Console.WriteLine("| CAM scales | s / iteration (per round) | mean | CAM passes, s | × the preset's iteration |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        double reference = iteration[0].Average();
        for (int v = 0; v < variants.Length; v++)
            Console.WriteLine(string.Create(Inv,
                $"| {variants[v].Name} | {string.Join(" / ", iteration[v].Select(s => s.ToString("F3", Inv)))} | **{iteration[v].Average():F3}** | {cam[v].Average():F3} | {iteration[v].Average() / reference:F2} |"));
        return 0;
    }

    static string Scales(double[] scales) => string.Join(", ", scales.Select(s => s.ToString(Inv)));
}
