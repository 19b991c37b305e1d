using System.CommandLine;
using System.Globalization;
using Asdt.Data;
using Spectre.Console;

namespace Asdt.Cli.Commands;

/// <summary><c>asdt dataset stats --dataset D [--root DIR] [--split S]</c>: loads a dataset and prints its statistics.</summary>
public static class DatasetCommand
{
    public static Command Create()
    {
        var command = new Command("dataset", "Inspect datasets (VOC layout or COCO-Stuff 10K, through a JSON descriptor or a built-in name).");
        command.Subcommands.Add(CreateStats());
        return command;
    }

    static Command CreateStats()
    {
        var dataset = new Option<string>("--dataset", "-d")
        {
            Description = $"A dataset descriptor (.json) or a built-in dataset: {string.Join(", ", BuiltinDatasets.Names)}.",
            DefaultValueFactory = _ => "demo",
        };
        var root = new Option<string?>("--root")
        {
            Description = "Dataset root folder; overrides the descriptor's root (relative to the current folder).",
        };
        var split = new Option<string?>("--split", "-s")
        {
            Description = "Split to read (ImageSets/Segmentation/<split>.txt); default: the descriptor's training split.",
        };
        var command = new Command("stats", "Load a dataset split, check every mask (and image size), and print image counts, sizes, per-class image counts and pixel fractions, and the ignore fraction.")
        {
            dataset, root, split,
        };
        command.SetAction(parse =>
        {
            var ds = SegmentationDataset.Open(parse.GetValue(dataset)!, parse.GetValue(root));
            string s = parse.GetValue(split) ?? ds.Descriptor.TrainSplit;
            var stats = DatasetStatistics.Compute(ds, s);
            Print(ds, stats);
            return 0;
        });
        return command;
    }

    internal static void Print(SegmentationDataset ds, DatasetStatistics st)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"dataset {st.Dataset} ({ds.Layout.ToString().ToLowerInvariant()} layout) at {ds.Root}");
        Console.WriteLine($"split {st.Split}: {st.Images} images, {ds.NumForegroundClasses} object classes + background"
            + (st.CheckedImages ? "; every image size matches its mask" : "; masks only (no image folder)"));
        Console.WriteLine("sizes: " + string.Join(", ", st.Sizes.Take(6).Select(z => $"{z.Width}x{z.Height} ({z.Count})")) + (st.Sizes.Count > 6 ? $", ... ({st.Sizes.Count} distinct)" : ""));
        Console.WriteLine(string.Create(inv, $"labels per image: {st.MeanLabelsPerImage:F2} on average; {st.ImagesWithoutForeground} images without any object class"));
        var table = new Table().AddColumn("#").AddColumn("class")
            .AddColumn(new TableColumn("images").RightAligned()).AddColumn(new TableColumn("% images").RightAligned())
            .AddColumn(new TableColumn("% pixels").RightAligned());
        for (int c = 0; c < st.ClassNames.Count; c++)
            table.AddRow(c.ToString(inv), Markup.Escape(st.ClassNames[c]), st.ImagesWithClass[c].ToString(inv),
                (100.0 * st.ImagesWithClass[c] / Math.Max(1, st.Images)).ToString("F1", inv), (100 * st.PixelFraction(c)).ToString("F2", inv));
        table.AddRow("255", "ignore", "", "", (100 * st.IgnoreFraction).ToString("F2", inv));
        console.Write(table);
        foreach (var (a, b, both, either) in st.EntangledPairs())
            Console.WriteLine($"note: {st.ClassNames[a]} and {st.ClassNames[b]} appear together in {both} of the {either} images with either " +
                $"(only {either - both} tell them apart): image labels barely separate them, so which CAM takes which region can depend on the seed");
    }
}
