using System.CommandLine;
using System.Globalization;
using System.Text;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Stage2;

namespace Asdt.Cli.Commands;

/// <summary>`asdt seg-eval`: a stage-2 model on a split, single scale and MSC, each without and with the test-time CRF.</summary>
public static class SegEvalCommand
{
    static readonly Option<string> Model = new("--model") { Description = "Stage-2 run folder (from asdt seg-train)", Required = true };
    static readonly Option<string?> Split = new("--split") { Description = "Split to score [default: val]" };
    static readonly Option<string?> Dataset = new("--dataset") { Description = "Dataset (built-in name or descriptor) [default: the run's]" };
    static readonly Option<string?> Root = new("--root") { Description = "Dataset root folder [default: the run's]" };
    static readonly Option<string?> Out = new("--out") { Description = "Output folder for score-<variant>.json/.md and summary.md [default: <model>/eval-<split>]" };
    static readonly Option<bool> SingleScale = new("--single-scale") { Description = "Only the single-scale variants (faster)" };
    static readonly Option<bool> NoCrf = new("--no-crf") { Description = "Only the variants without CRF (faster)" };
    static readonly Option<string?> ShardOption = new("--shard") { Description = "i/n: only images k with k mod n = i; merge each variant with asdt eval --merge" };
    static readonly Option<bool> NoReport = new("--no-report") { Description = "Do not write <model>/report.html after scoring" };
    static readonly Option<int> Threads = new("--threads") { Description = "CPU threads for libtorch and the CRFs (0 = all cores)", DefaultValueFactory = _ => 0 };

    public static Command Create()
    {
        var command = new Command("seg-eval", "Score a stage-2 model on a split: single scale and MSC, without and with the test-time CRF → JSON + Markdown per variant.")
        {
            Model, Split, Dataset, Root, Out, SingleScale, NoCrf, ShardOption, NoReport, Threads,
        };
        command.SetAction(parse =>
        {
            using var run = Stage2Run.Open(parse.GetValue(Model)!);
            var ds = SegmentationDataset.Open(parse.GetValue(Dataset) ?? run.Config.Data.Dataset,
                parse.GetValue(Dataset) == null ? parse.GetValue(Root) ?? run.Config.Data.Root : parse.GetValue(Root));
            string split = parse.GetValue(Split) ?? "val";
            var shard = Shard.Parse(parse.GetValue(ShardOption));
            string output = parse.GetValue(Out) ?? Path.Combine(run.Folder, $"eval-{split}");
            var variants = Enum.GetValues<Stage2Variant>()
                .Where(v => !parse.GetValue(SingleScale) || v is Stage2Variant.SingleScale or Stage2Variant.SingleScaleCrf)
                .Where(v => !parse.GetValue(NoCrf) || v is Stage2Variant.SingleScale or Stage2Variant.MultiScale)
                .Where(v => run.Network.Scales.Count > 1 || v is Stage2Variant.SingleScale or Stage2Variant.SingleScaleCrf)
                .ToArray();
            Evaluate(run, ds, split, shard, variants, output, parse.GetValue(Threads));
            if (!parse.GetValue(NoReport) && shard.Count == 1 && parse.GetValue(Dataset) == null)
                ReportCommand.WriteStage2(run.Folder, new Asdt.Reports.Stage2Report.Settings { Split = split, ScoreFolders = [output] });
            return 0;
        });
        return command;
    }

    public static IReadOnlyDictionary<Stage2Variant, SegmentationScore> Evaluate(Stage2Run run, SegmentationDataset ds, string split, Shard shard,
        IReadOnlyCollection<Stage2Variant> variants, string output, int threads = 0)
    {
        Directory.CreateDirectory(output);
        int total = shard.Select(ds.Ids(split)).Count;
        Dictionary<Stage2Variant, ConfusionMatrix> matrices = [];
        Runs.ProgressDisplay.Run($"seg-eval {split}", total, 0, sink =>
            matrices = Stage2Evaluator.Evaluate(run, ds, split, shard, variants, (done, _) => sink.Report(done, ""), threads));
        string suffix = shard.Count == 1 ? "" : $"-shard{shard.Index}of{shard.Count}";
        var scores = new Dictionary<Stage2Variant, SegmentationScore>();
        var inv = CultureInfo.InvariantCulture;
        var summary = new StringBuilder();
        summary.AppendLine(inv, $"## Stage 2: {run.Config.Network} ({run.Config.Backbone.Kind}), {Path.GetFullPath(run.Folder)} after {run.Iteration} iterations");
        summary.AppendLine();
        summary.AppendLine(inv, $"{ds.Name} / {split}{(shard.Count == 1 ? "" : $" (shard {shard})")}: {total} images; CRF {run.Config.TestCrf}");
        summary.AppendLine();
        summary.AppendLine("| variant | mIoU | pixel acc. |");
        summary.AppendLine("|---|---:|---:|");
        foreach (var v in variants)
        {
            var score = SegmentationScore.From(matrices[v], ds.ClassNames, $"stage 2 {run.Config.Network}, {Stage2Evaluator.Describe(v)}",
                ds.Name, split, total, shard.Count == 1 ? null : shard.ToString());
            scores[v] = score;
            EvalCommand.Write(score, Path.Combine(output, $"score-{Stage2Evaluator.FileSuffix(v)}{suffix}"));
            summary.AppendLine(inv, $"| {Stage2Evaluator.Describe(v)} | {100 * score.MeanIoU:F2} | {100 * score.PixelAccuracy:F2} |");
        }
        AtomicFile.WriteAllText(Path.Combine(output, $"summary{suffix}.md"), summary.ToString());
        Console.Write(summary.ToString());
        Console.WriteLine($"wrote {output}");
        return scores;
    }
}
