using System.CommandLine;
using Asdt.Data;

namespace Asdt.Cli.Commands;

/// <summary><c>asdt demo-data --out DIR [--count N] [--seed S]</c>: writes the built-in demo dataset in VOC layout.</summary>
public static class DemoDataCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o")
        {
            Description = "Folder to write the dataset to (VOC layout: JPEGImages/, SegmentationClass/, ImageSets/Segmentation/, classes.txt, dataset.json).",
            DefaultValueFactory = _ => "demo-data",
        };
        var count = new Option<int>("--count", "-n")
        {
            Description = "Number of images (every fifth one goes to val).",
            DefaultValueFactory = _ => DemoDataset.DefaultCount,
        };
        var seed = new Option<int>("--seed")
        {
            Description = "Random seed; the same count and seed give bit-identical files.",
            DefaultValueFactory = _ => DemoDataset.DefaultSeed,
        };
        count.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 2 or > 100_000) r.AddError("--count must be between 2 and 100000"); });
        var command = new Command("demo-data", "Generate the built-in demo dataset: 5 object classes, each a small distinctive part on a body whose texture all classes (and background decoys) share, on cluttered backgrounds.")
        {
            output, count, seed,
        };
        command.SetAction(parse =>
        {
            string dir = Path.GetFullPath(parse.GetValue(output)!);
            int n = parse.GetValue(count), s = parse.GetValue(seed);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            DemoDataset.Generate(dir, n, s);
            int val = Enumerable.Range(0, n).Count(i => i % 5 == 4);
            Console.WriteLine($"wrote {n} demo images ({n - val} train, {val} val) to {dir} in {watch.Elapsed.TotalSeconds:F1} s");
            Console.WriteLine($"descriptor: {Path.Combine(dir, "dataset.json")}");
            return 0;
        });
        return command;
    }
}
