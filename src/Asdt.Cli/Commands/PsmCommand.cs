using System.CommandLine;
using System.Diagnostics;
using Asdt.Evaluation;
using Asdt.Psm;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>`asdt psm`: pseudo segmentation masks from a trained stage-1 run.</summary>
public static class PsmCommand
{
    static readonly Option<string> Run = new("--run") { Description = "Stage-1 run folder (from asdt train)", Required = true };
    static readonly Option<string?> Out = new("--out") { Description = "Output folder for <id>.png palette masks [default: <run>/psm-<split>, with --average <run>/psm-<split>-average<d>]" };
    static readonly Option<string?> Split = new("--split") { Description = "Split to label [default: the run's training split]" };
    static readonly Option<string?> Dataset = new("--dataset") { Description = "Another dataset with the same classes (built-in name or descriptor)" };
    static readonly Option<string?> Root = new("--root") { Description = "Dataset root folder" };
    static readonly Option<PsmSource?> Source = new("--source") { Description = "Max (P̄ = max(P^st, P^s), ASDT), SegTeacher (P^st) or Student (P^s) [default: Max; Student for a row-I run, whose seg-teacher is never trained]" };
    static readonly Option<bool> NoRestrict = new("--no-restrict") { Description = "Do not restrict classes to the image-level labels (RRM's val protocol)" };
    static readonly Option<bool> NoCrf = new("--no-crf") { Description = "Plain argmax, no dense CRF" };
    static readonly Option<string?> ShardOption = new("--shard") { Description = "i/n: only images k with k mod n = i (for job arrays)" };
    static readonly Option<double?> Average = InferenceFlags.AverageOption();
    static readonly Option<string?> Checkpoint = InferenceFlags.CheckpointOption();
    static readonly InferenceFlags Inference = new();
    static readonly CrfFlag CrfOption = new();
    static readonly Option<int> Threads = new("--threads") { Description = "CPU threads for libtorch and the CRFs (0 = all cores)", DefaultValueFactory = _ => 0 };

    public static Command Create()
    {
        var command = new Command("psm", "Write pseudo segmentation masks (P̄ → dense CRF → argmax) for a split as VOC palette PNGs; resumable, shardable.")
        {
            Run, Out, Split, Dataset, Root, Average, Checkpoint, Source, NoRestrict, NoCrf, ShardOption, Threads,
        };
        foreach (var o in Inference.Options) command.Options.Add(o);
        command.Options.Add(CrfOption.Option);
        command.SetAction(parse =>
        {
            string run = parse.GetValue(Run)!;
            using var stage1 = Stage1Run.Open(run, parse.GetValue(Dataset), parse.GetValue(Root), parse.GetValue(Average), parse.GetValue(Checkpoint));
            string split = parse.GetValue(Split) ?? stage1.Config.Data.Split;
            string output = parse.GetValue(Out) ?? Path.Combine(run, $"psm-{split}{stage1.WeightsSuffix}");
            var settings = new PsmSettings
            {
                Source = parse.GetValue(Source) ?? stage1.Config.Strategy.Output(),
                RestrictToImageLabels = !parse.GetValue(NoRestrict),
                Crf = CrfOption.Resolve(parse, stage1.Config.SegTeacherCrf, parse.GetValue(NoCrf)),
                Augmentation = Inference.Resolve(parse, stage1.Config.Inference),
                Threads = parse.GetValue(Threads),
            };
            Generate(stage1, split, output, settings, Shard.Parse(parse.GetValue(ShardOption)));
            return 0;
        });
        return command;
    }

    /// <summary>The settings a PSM folder was made with, written beside the masks.</summary>
    public const string SettingsFile = "psm.json";

    /// <summary>psm.json: which run, split and inference made the masks of a folder.</summary>
    /// <param name="Average">The weight average's decay (<see cref="WeightAverage"/>); null = the last weights (and left out of the file).</param>
    /// <param name="Iteration">The iteration whose weights made the masks (<see cref="CheckpointSelection"/>); null in folders written before it was recorded: the last.</param>
    public sealed record PsmRecord(string Run, string Split, PsmSource Source, bool RestrictToImageLabels, string? Crf,
        TestTimeAugmentation Inference, string Shard,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] double? Average = null,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] long? Iteration = null);

    public static void Generate(Stage1Run stage1, string split, string output, PsmSettings settings, Shard shard)
    {
        var clock = Stopwatch.StartNew();
        IO.AtomicFile.CreateFolder(output);
        // What made these masks, beside them (a rerun with other settings into the same folder would mix masks).
        string record = Path.Combine(output, SettingsFile);
        var made = new PsmRecord(stage1.Folder, split, settings.Source, settings.RestrictToImageLabels, settings.Crf?.ToString(), settings.Augmentation, shard.ToString(), stage1.Average, stage1.Iteration);
        if (File.Exists(record) && AsdtJson.Read<PsmRecord>(record) is var before
            && AsdtJson.Serialize(before with { Run = made.Run, Shard = made.Shard, Iteration = before.Iteration ?? TrainingCheckpoint.FinishedIterations(stage1.Folder) }) != AsdtJson.Serialize(made))
            throw new AsdtException(record, "this folder holds masks made with other settings (split, source, restriction, CRF, inference or weights); use another --out");
        if (!File.Exists(record)) IO.AtomicFile.WriteAllText(record, AsdtJson.Serialize(made));
        int written = 0, total = shard.Select(stage1.Dataset.Ids(split)).Count;
        ProgressDisplay.Run($"psm {split}", total, 0, sink =>
            written = PseudoMaskGenerator.Run(stage1.Network, stage1.Normalization, stage1.Dataset, split, output, settings, shard,
                (done, all) => sink.Report(done, "")));
        Console.WriteLine($"psm: {written} masks written, {total - written} already there, to {output} in {clock.Elapsed.TotalSeconds:0.0} s");
    }
}
