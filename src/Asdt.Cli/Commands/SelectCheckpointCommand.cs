using System.CommandLine;
using System.Globalization;
using Asdt.Evaluation;
using Asdt.Psm;
using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>
/// `asdt select-checkpoint`: scores a run's kept checkpoints (&lt;run&gt;/checkpoints/iteration-N) on a selection split
/// and makes the best the run's default weights (<see cref="CheckpointSelection"/>). `asdt train` with
/// --keep-checkpoints-from does this itself when training ends; the command is for a run trained without it whose
/// checkpoints were kept another way, or to redo a choice.
/// </summary>
public static class SelectCheckpointCommand
{
    static readonly Option<string> Run = new("--run") { Description = "Stage-1 run folder with kept checkpoints (checkpoints/iteration-N)", Required = true };
    static readonly Option<string?> Split = new("--split") { Description = "Split whose P̄ + CRF mIoU (P^s + CRF in row I) chooses (never the one you report) [default: the run's --checkpoint-selection-split, else val]" };
    static readonly Option<int?> Threads = new("--threads") { Description = "CPU threads for libtorch and the CRFs (0 = all cores) [default: the run's]" };

    public static Command Create()
    {
        var command = new Command("select-checkpoint",
            "Score a run's kept checkpoints on a selection split (P̄ + CRF, P^s + CRF in row I; labels restricted; each half of the split apart, so the choice is also cross-validated) and use the best as the run's weights → <run>/checkpoint-selection.json + .md.")
        {
            Run, Split, Threads,
        };
        command.SetAction(parse =>
        {
            string run = parse.GetValue(Run)!;
            var config = AsdtJson.Read<Stage1Config>(Path.Combine(run, Stage1Trainer.ConfigFile));
            if (parse.GetValue(Threads) is int threads) config = config with { Threads = threads };
            string split = parse.GetValue(Split) ?? config.CheckpointSelection?.Split ?? "val";
            Select("select-checkpoint", config, run, split);
            return 0;
        });
        return command;
    }

    /// <summary>The selection a config asks for, once the run is trained (already chosen: nothing to do).</summary>
    public static void SelectIfAsked(string label, Stage1Config config, string runFolder)
    {
        if (config.CheckpointSelection is not { } selection) return;
        if (CheckpointSelection.Read(runFolder) is { Chosen: long chosen } done && done.Split == selection.Split)
        {
            Console.WriteLine($"{label}: checkpoint already chosen on {done.Split}: iteration {chosen}");
            return;
        }
        Select(label, config, runFolder, selection.Split);
    }

    /// <summary>Scores every kept checkpoint on both halves of <paramref name="split"/> (resumable) and records the choice.</summary>
    public static CheckpointSelectionRecord Select(string label, Stage1Config config, string runFolder, string split)
    {
        if (split == config.Data.Split)
            Console.WriteLine($"{label}: warning: choosing on {split}, the training split; a score reported on it is then biased upwards");
        var kept = CheckpointSelection.Kept(runFolder);
        var settings = new HeadEvaluationSettings
        {
            // The run's pseudo masks: P̄, or P^s in row I, whose seg-teacher is never trained.
            Sources = [config.Strategy.Output()],
            RestrictToImageLabels = true,
            Crf = config.SegTeacherCrf,
            Augmentation = config.Inference,
            WithoutCrf = false,
            Cam = false,
            Threads = config.Threads,
        };
        string protocol = $"{HeadEvaluation.Symbol(config.Strategy.Output())} + CRF, " + StudyRunner.Protocol(split, true, true, config.Inference)
                          + "; each half of the split (images k with k mod 2 = 0 and 1) scored apart, the whole split = their confusion matrices added";
        int index = 0;
        var record = CheckpointSelection.Run(runFolder, split, protocol, Data.SegmentationDataset.Open(config.Data.Dataset, config.Data.Root).ClassNames, (iteration, folder) =>
        {
            index++;
            using var run = Stage1Run.Open(runFolder, checkpoint: iteration.ToString(CultureInfo.InvariantCulture));
            var halves = new ConfusionMatrix[2];
            for (int h = 0; h < 2; h++)
            {
                var s = settings with { Shard = new Shard(h, 2) };
                int total = s.Shard.Select(run.Dataset.Ids(split)).Count;
                IReadOnlyDictionary<string, SegmentationScore> scores = null!;
                ProgressDisplay.Run($"{label}: iteration {iteration} ({index}/{kept.Count}), {split} half {h}", total, 0, sink =>
                    (_, scores) = HeadEvaluator.Evaluate(run, split, s, (done, _) => sink.Report(done, "")));
                halves[h] = ConfusionMatrix.FromRows(scores.Values.Single().Confusion);
            }
            return (halves[0], halves[1]);
        }, (iteration, score) => Console.WriteLine(
            $"{label}: iteration {iteration}: {split} mIoU {100 * score.MeanIoU:F2} (halves {100 * score.Halves[0]:F2} / {100 * score.Halves[1]:F2})"));
        var cv = record.CrossValidated!;
        var last = record.Scores[^1];
        var best = record.Scores.Single(s => s.Iteration == record.Chosen);
        Console.WriteLine(FormattableString.Invariant(
            $"{label}: chose iteration {record.Chosen} on {split} ({100 * best.MeanIoU:F2} against the last weights' {100 * last.MeanIoU:F2}, biased upwards: the best of {record.Scores.Length}); ") +
            FormattableString.Invariant($"cross-validated on the halves {100 * cv.Gain:+0.00;-0.00} (chosen on one half, scored on the other) → {Path.Combine(runFolder, CheckpointSelectionRecord.MarkdownFileName)}"));
        return record;
    }
}
