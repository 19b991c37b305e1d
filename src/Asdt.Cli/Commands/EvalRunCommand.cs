using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Asdt.Evaluation;
using Asdt.Psm;
using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>
/// `asdt eval-run`: scores a trained run's outputs directly, without PSM files: P^st, P^s and P̄ (Table 4's
/// columns), each with and without the dense CRF, and the offline CAMs over a background-threshold sweep.
/// </summary>
public static class EvalRunCommand
{
    static readonly Option<string> Run = new("--run") { Description = "Stage-1 run folder (from asdt train)", Required = true };
    static readonly Option<string?> Split = new("--split") { Description = "Split to score [default: the run's training split]" };
    static readonly Option<string?> Dataset = new("--dataset") { Description = "Another dataset with the same classes (built-in name or descriptor)" };
    static readonly Option<string?> Root = new("--root") { Description = "Dataset root folder" };
    static readonly Option<string?> Out = new("--out") { Description = "Output folder [default: <run>/eval-<split>, with --average <run>/eval-<split>-average<d>, with --checkpoint <run>/eval-<split>-iteration<N> or -last]" };
    static readonly Option<string> Restrict = new("--restrict") { Description = "Restrict head outputs to the image labels: auto (only on the run's training split), yes, no (RRM's val protocol, A17)", DefaultValueFactory = _ => "auto" };
    static readonly Option<bool> NoCrf = new("--no-crf") { Description = "Only the plain argmax variants (no dense CRF)" };
    static readonly Option<bool> CrfOnly = new("--crf-only") { Description = "Only the CRF variants (skip plain argmax)" };
    static readonly Option<string?> Heads = new("--heads") { Description = "Which outputs: any of st,s,max (comma-separated), or none [default: all three]" };
    static readonly Option<bool> Bct = new("--bct") { Description = "Also score the class-teacher's reliable label B^ct on whole images (with the run's settings, or --alpha-low … to try others)" };
    static readonly ReliableLabelFlags ReliableLabelOptions = new();
    // A warm-up folder's config holds the paper's CAM scales whatever run made it (runs with any scales share it), so
    // B^ct of a warm-up with the scales a run trains on needs them given here.
    static readonly Option<string?> BctCamScales = new("--bct-cam-scales") { Description = "B^ct: the online CAM scales behind it [default: the run's config; a shared warm-up folder's says the paper's 1,0.5,1.5,2]" };
    static readonly Option<bool> NoCam = new("--no-cam") { Description = "Skip the CAM threshold sweep" };
    static readonly Option<string?> CamScales = new("--cam-scales") { Description = "CAM scales (PSA: 1,0.5,1.5,2)" };
    static readonly Option<bool> CamNoFlip = new("--cam-no-flip") { Description = "CAMs without the horizontal flip" };
    static readonly Option<string?> CamThresholds = new("--cam-thresholds") { Description = "Background thresholds to sweep: list (0.1,0.2) or from:to:step (0.05:0.95:0.05)" };
    static readonly Option<double?> CamThreshold = new("--cam-threshold") { Description = "A threshold chosen on another split, reported beside the sweep" };
    static readonly Option<int?> Limit = new("--limit") { Description = "Score only the first N images (quick look)" };
    static readonly Option<string?> ShardOption = new("--shard") { Description = "i/n: only images k with k mod n = i" };
    static readonly Option<double?> Average = InferenceFlags.AverageOption();
    static readonly Option<string?> Checkpoint = InferenceFlags.CheckpointOption();
    static readonly InferenceFlags Inference = new();
    static readonly CrfFlag CrfOption = new();
    static readonly Option<int> Threads = new("--threads") { Description = "CPU threads for libtorch and the CRFs (0 = all cores)", DefaultValueFactory = _ => 0 };

    public static Command Create()
    {
        var command = new Command("eval-run", "Score a trained run directly: P^st, P^s, P̄ (Table 4) with and without CRF, and CAMs with a background-threshold sweep → <run>/eval-<split>/ (JSON + Markdown per variant).")
        {
            Run, Split, Dataset, Root, Out, Average, Checkpoint, Restrict, NoCrf, CrfOnly, Heads, NoCam, CamScales, CamNoFlip, CamThresholds, CamThreshold, Limit, ShardOption, Threads,
        };
        foreach (var o in Inference.Options) command.Options.Add(o);
        command.Options.Add(Bct);
        command.Options.Add(BctCamScales);
        foreach (var o in ReliableLabelOptions.Options) command.Options.Add(o);
        command.Options.Add(CrfOption.Option);
        command.SetAction(parse =>
        {
            string runFolder = parse.GetValue(Run)!;
            if (!parse.GetValue(Bct) && TrainCommand.GivenOptions(parse, [.. ReliableLabelOptions.Options, BctCamScales]).ToArray() is { Length: > 0 } given)
                throw new AsdtException($"{string.Join(", ", given)} only apply with --bct (they change how B^ct is made)");
            using var run = Stage1Run.Open(runFolder, parse.GetValue(Dataset), parse.GetValue(Root), parse.GetValue(Average), parse.GetValue(Checkpoint));
            string split = parse.GetValue(Split) ?? run.Config.Data.Split;
            bool restrict = parse.GetValue(Restrict)!.ToLowerInvariant() switch
            {
                "auto" => split == run.Config.Data.Split && parse.GetValue(Dataset) == null,
                "yes" or "true" => true,
                "no" or "false" => false,
                var other => throw new AsdtException($"--restrict must be auto, yes or no (got '{other}')"),
            };
            if (parse.GetValue(NoCrf) && parse.GetValue(CrfOnly)) throw new AsdtException("--no-crf and --crf-only exclude each other");
            var settings = new HeadEvaluationSettings
            {
                Sources = ParseHeads(parse.GetValue(Heads)),
                RestrictToImageLabels = restrict,
                Crf = CrfOption.Resolve(parse, run.Config.SegTeacherCrf, parse.GetValue(NoCrf)),
                Augmentation = Inference.Resolve(parse, run.Config.Inference),
                WithoutCrf = !parse.GetValue(CrfOnly),
                Cam = !parse.GetValue(NoCam),
                CamScales = parse.GetValue(CamScales) is string s ? ParseScales(s, "--cam-scales") : OfflineCam.PsaScales,
                CamFlip = !parse.GetValue(CamNoFlip),
                CamThresholds = parse.GetValue(CamThresholds) is string t ? ParseThresholds(t) : CamThresholdSweep.DefaultThresholds,
                CamThreshold = parse.GetValue(CamThreshold),
                Limit = parse.GetValue(Limit),
                Shard = Shard.Parse(parse.GetValue(ShardOption)),
                Threads = parse.GetValue(Threads),
                ReliableLabel = parse.GetValue(Bct) ? ReliableLabelOptions.Apply(new FlagOverrides(parse), run.Config.ReliableLabel) : null,
                ReliableLabelCamScales = parse.GetValue(BctCamScales) is string b ? ParseScales(b, "--bct-cam-scales") : run.Config.CamScales,
            };
            var shard = settings.Shard;
            string output = parse.GetValue(Out) ?? Path.Combine(runFolder, $"eval-{split}{run.WeightsSuffix}" + (shard.Count == 1 ? "" : $"-shard{shard.Index}of{shard.Count}"));
            var summary = Evaluate(run, split, settings, output);
            Console.Write(summary.ToMarkdown());
            return 0;
        });
        return command;
    }

    /// <summary>Evaluates with a progress display and writes heads.json/.md and one score per variant into <paramref name="output"/>.</summary>
    public static HeadEvaluation Evaluate(Stage1Run run, string split, HeadEvaluationSettings settings, string output)
    {
        var clock = Stopwatch.StartNew();
        int total = settings.Shard.Select(run.Dataset.Ids(split)).Count;
        if (settings.Limit is int limit) total = Math.Min(total, limit);
        HeadEvaluation summary = null!;
        IReadOnlyDictionary<string, SegmentationScore> scores = null!;
        ProgressDisplay.Run($"eval-run {split}", total, 0, sink =>
            (summary, scores) = HeadEvaluator.Evaluate(run, split, settings, (done, _) => sink.Report(done, "")));
        HeadEvaluator.Write(output, summary, scores);
        Console.WriteLine($"eval-run: {summary.Images} images in {clock.Elapsed.TotalSeconds:0.0} s → {output}");
        return summary;
    }

    public static PsmSource[] ParseHeads(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [PsmSource.SegTeacher, PsmSource.Student, PsmSource.Max];
        if (text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)) return [];
        return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(h => h.ToLowerInvariant() switch
        {
            "st" or "pst" or "segteacher" => PsmSource.SegTeacher,
            "s" or "ps" or "student" => PsmSource.Student,
            "max" or "pbar" => PsmSource.Max,
            _ => throw new AsdtException($"--heads: unknown output '{h}' (use st, s, max)"),
        }).Distinct().ToArray();
    }

    /// <summary>Image scales: comma-separated numbers in (0, 8].</summary>
    public static double[] ParseScales(string text, string option)
    {
        var values = ParseList(text, option);
        if (values.Any(v => !(v > 0) || v > 8)) throw new AsdtException($"{option}: every scale must be in (0, 8] (got '{text}')");
        return values;
    }

    public static double[] ParseList(string text, string option)
    {
        try
        {
            var values = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
            if (values.Length == 0 || values.Any(double.IsNaN)) throw new FormatException();
            return values;
        }
        catch (FormatException) { throw new AsdtException($"{option}: expected comma-separated numbers (got '{text}')"); }
    }

    /// <summary>"0.1,0.2,0.3" or "from:to:step" (inclusive), sorted and de-duplicated.</summary>
    public static double[] ParseThresholds(string text)
    {
        double[] values;
        if (text.Contains(':'))
        {
            var p = ParseList(text.Replace(':', ','), "--cam-thresholds");
            if (p.Length != 3 || !(p[2] > 0) || p[1] < p[0]) throw new AsdtException($"--cam-thresholds: from:to:step with step > 0 and to ≥ from (got '{text}')");
            int count = (int)Math.Floor((p[1] - p[0]) / p[2] + 1e-9) + 1;
            values = Enumerable.Range(0, count).Select(i => Math.Round(p[0] + i * p[2], 6)).ToArray();
        }
        else values = ParseList(text, "--cam-thresholds");
        return values.Distinct().Order().ToArray();
    }
}
