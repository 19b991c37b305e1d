using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Runs;

namespace Asdt.Training;

/// <summary>
/// Checkpoint selection (<see cref="CheckpointSelection"/>): keep the weights of every <see cref="Every"/>-th iteration from
/// <see cref="From"/> on, score each on a split that is not reported, and use the best instead of the last weights.
/// Null in <see cref="Stage1Config.CheckpointSelection"/> = the last weights (the paper).
/// </summary>
/// <remarks>
/// Not in the paper or ALGORITHM.md: early stopping on a validation split, as supervised training does it. Built for
/// MSRC-21, where a run's weakest class (face, or body) flips on and off between 100-iteration checkpoints, so the last
/// weights are wherever the flipping stopped. Tested with rules fixed before the scores (docs/results.md, "Is the
/// checkpoint chosen on val better than the last one?" and "Keeping the checkpoint chosen on val, inside asdt train").
/// </remarks>
public sealed record CheckpointSelectionSettings
{
    /// <summary>First iteration whose weights are kept (e.g. 200 ASDT iterations after the warm-up).</summary>
    public long From { get; init; }
    /// <summary>Iterations between kept weights (From, From + Every, …; the last iteration is always kept).</summary>
    public int Every { get; init; } = 100;
    /// <summary>The split whose score chooses (the run's pseudo masks + CRF, labels restricted: P̄, P^s in row I, <see cref="StudentStrategyOutput.Output"/>). Never the one you report.</summary>
    public string Split { get; init; } = "val";

    /// <summary>True when the weights after <paramref name="iteration"/> finished iterations are kept (<paramref name="end"/>: the run's last).</summary>
    public bool Keeps(long iteration, long end) =>
        iteration == end || (iteration >= From && iteration < end && (iteration - From) % Every == 0);

    public void Validate(long iterations)
    {
        if (Every < 1) throw new AsdtException($"checkpoint selection: keep every N iterations needs N ≥ 1 (got {Every})");
        if (From < 1 || From > iterations) throw new AsdtException($"checkpoint selection: the first kept iteration must be in 1 … {iterations} (got {From})");
        if (string.IsNullOrWhiteSpace(Split)) throw new AsdtException("checkpoint selection: the selection split is empty");
    }
}

/// <summary>One kept checkpoint's score on the two halves of the selection split (images k with k mod 2 = 0 and 1).</summary>
public sealed record CheckpointScore
{
    public long Iteration { get; init; }
    /// <summary>mIoU on the whole split (the halves' confusion matrices added), in [0, 1].</summary>
    public double MeanIoU { get; init; }
    /// <summary>mIoU on half 0 and half 1.</summary>
    public double[] Halves { get; init; } = [];
    /// <summary>Per-class IoU on the whole split (null: class absent from truth and prediction).</summary>
    public double?[] ClassIoU { get; init; } = [];
    /// <summary>The halves' confusion matrices (rows: ground truth), so the record can be checked and merged again.</summary>
    public long[][][] Confusion { get; init; } = [];
}

/// <summary>
/// How well choosing on one half of the split does on the other: the checkpoint chosen on half h, scored on half 1 − h, minus
/// the last weights there; the gain is the mean over h. The selection's own score is the best of many and so biased upwards;
/// this is not.
/// </summary>
public sealed record CrossValidatedGain
{
    /// <summary>Iteration chosen on half 0 and half 1.</summary>
    public long[] Chosen { get; init; } = [];
    /// <summary>Held-out gain over the last weights: chosen on half 0 scored on half 1, and the other way round.</summary>
    public double[] Gains { get; init; } = [];
    public double Gain { get; init; }
}

/// <summary>checkpoint-selection.json in the run folder: every kept checkpoint's score, and the one chosen.</summary>
public sealed record CheckpointSelectionRecord
{
    public string Split { get; init; } = "";
    public string Protocol { get; init; } = "";
    public string[] ClassNames { get; init; } = [];
    /// <summary>Scored so far, by iteration (a killed selection resumes with the rest).</summary>
    public CheckpointScore[] Scores { get; init; } = [];
    /// <summary>The kept checkpoint with the best score on the whole split (ties go to the later); null until all are scored.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Chosen { get; init; }
    /// <summary>The run's last iteration.</summary>
    public long Last { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CrossValidatedGain? CrossValidated { get; init; }

    public const string FileName = "checkpoint-selection.json";
    public const string MarkdownFileName = "checkpoint-selection.md";

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"## Checkpoint selection on {Split}");
        sb.AppendLine();
        sb.AppendLine(Protocol);
        sb.AppendLine();
        sb.AppendLine("| iteration | mIoU | half 0 | half 1 | " + string.Join(" | ", ClassNames) + " |");
        sb.AppendLine("|---:|---:|---:|---:|" + string.Concat(ClassNames.Select(_ => "---:|")));
        foreach (var s in Scores)
        {
            string mark = s.Iteration == Chosen ? " (chosen)" : s.Iteration == Last ? " (last)" : "";
            string classes = string.Join(" | ", s.ClassIoU.Select(v => v is double x ? (100 * x).ToString("F1", inv) : "–"));
            sb.AppendLine(inv, $"| {s.Iteration}{mark} | {100 * s.MeanIoU:F2} | {100 * s.Halves[0]:F2} | {100 * s.Halves[1]:F2} | {classes} |");
        }
        if (CrossValidated is { } cv)
        {
            sb.AppendLine();
            sb.Append(inv, $"Cross-validated on the halves: chosen on half 0 → {cv.Chosen[0]}, {100 * cv.Gains[0]:+0.00;−0.00} on half 1; ");
            sb.AppendLine(inv, $"chosen on half 1 → {cv.Chosen[1]}, {100 * cv.Gains[1]:+0.00;−0.00} on half 0; **gain {100 * cv.Gain:+0.00;−0.00}** over the last weights.");
            sb.AppendLine("The chosen checkpoint's own score on this split is the best of many and biased upwards; report another split.");
        }
        return sb.ToString();
    }
}

/// <summary>
/// Keeps, scores and chooses checkpoints (<see cref="CheckpointSelectionSettings"/>). The weights of iteration N are kept in
/// &lt;run&gt;/checkpoints/iteration-N (weights only, atomic like every checkpoint); <see cref="Stage1Run.Open"/> uses the
/// chosen ones once checkpoint-selection.json names them.
/// </summary>
public static class CheckpointSelection
{
    public const string FolderName = "checkpoints";
    const string Prefix = "iteration-";

    public static string Folder(string runFolder, long iteration) => Path.Combine(runFolder, FolderName, Prefix + iteration.ToString(CultureInfo.InvariantCulture));

    /// <summary>The kept checkpoints of a run folder, by iteration (folders with a finished checkpoint only).</summary>
    public static IReadOnlyList<(long Iteration, string Folder)> Kept(string runFolder)
    {
        string root = Path.Combine(runFolder, FolderName);
        if (!Directory.Exists(root)) return [];
        var kept = new List<(long, string)>();
        foreach (string dir in Directory.GetDirectories(root))
        {
            string name = Path.GetFileName(dir);
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)
                || !long.TryParse(name.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long iteration)) continue;
            if (File.Exists(Path.Combine(dir, TrainingCheckpoint.StateFile))) kept.Add((iteration, dir));
        }
        return kept.OrderBy(k => k.Item1).ToArray();
    }

    /// <summary>The run's selection record, or null when none was started.</summary>
    public static CheckpointSelectionRecord? Read(string runFolder)
    {
        string file = Path.Combine(runFolder, CheckpointSelectionRecord.FileName);
        return File.Exists(file) ? AsdtJson.Read<CheckpointSelectionRecord>(file) : null;
    }

    /// <summary>The index of the best score (ties go to the later one).</summary>
    public static int Best(IReadOnlyList<double> scores)
    {
        if (scores.Count == 0) throw new ArgumentException("no scores to choose from", nameof(scores));
        int best = 0;
        for (int i = 1; i < scores.Count; i++)
            if (scores[i] >= scores[best]) best = i;
        return best;
    }

    /// <summary>Two-fold cross-validation over the halves (<see cref="CrossValidatedGain"/>); the last score is the last weights'.</summary>
    public static CrossValidatedGain CrossValidate(IReadOnlyList<CheckpointScore> scores)
    {
        if (scores.Count == 0) throw new ArgumentException("no scores", nameof(scores));
        var chosen = new long[2];
        var gains = new double[2];
        var last = scores[^1];
        for (int h = 0; h < 2; h++)
        {
            int best = Best(scores.Select(s => s.Halves[h]).ToArray());
            chosen[h] = scores[best].Iteration;
            gains[h] = scores[best].Halves[1 - h] - last.Halves[1 - h];
        }
        return new CrossValidatedGain { Chosen = chosen, Gains = gains, Gain = (gains[0] + gains[1]) / 2 };
    }

    /// <summary>A checkpoint's score from its two halves' confusion matrices.</summary>
    public static CheckpointScore Score(long iteration, ConfusionMatrix half0, ConfusionMatrix half1)
    {
        var all = new ConfusionMatrix(half0.Classes);
        all.Add(half0);
        all.Add(half1);
        return new CheckpointScore
        {
            Iteration = iteration,
            MeanIoU = all.MeanIoU(),
            Halves = [half0.MeanIoU(), half1.MeanIoU()],
            ClassIoU = all.IoU().Select(v => double.IsNaN(v) ? (double?)null : v).ToArray(),
            Confusion = [half0.Rows(), half1.Rows()],
        };
    }

    /// <summary>
    /// Scores every kept checkpoint not yet in checkpoint-selection.json (<paramref name="score"/>: checkpoint folder → the
    /// confusion matrices of half 0 and half 1), writing the record after each so a killed selection resumes, then chooses.
    /// The last weights must be among the kept (the trainer always keeps them).
    /// </summary>
    public static CheckpointSelectionRecord Run(string runFolder, string split, string protocol, IReadOnlyList<string> classNames,
        Func<long, string, (ConfusionMatrix Half0, ConfusionMatrix Half1)> score, Action<long, CheckpointScore>? scored = null)
    {
        var kept = Kept(runFolder);
        long last = TrainingCheckpoint.FinishedIterations(runFolder);
        if (kept.Count == 0) throw new AsdtException(Path.Combine(runFolder, FolderName), "the run kept no checkpoints to choose from (train it with --keep-checkpoints-from)");
        if (kept[^1].Iteration != last)
            throw new AsdtException(Path.Combine(runFolder, FolderName), $"the last kept checkpoint is iteration {kept[^1].Iteration} but the run finished {last}; the last weights must be among those compared");
        var previous = Read(runFolder);
        if (previous != null && (previous.Split != split || previous.Protocol != protocol))
            throw new AsdtException(Path.Combine(runFolder, CheckpointSelectionRecord.FileName),
                $"a selection on {previous.Split} with other settings exists; remove it to choose again");
        var scores = (previous?.Scores ?? []).Where(s => kept.Any(k => k.Iteration == s.Iteration)).ToDictionary(s => s.Iteration);
        var record = new CheckpointSelectionRecord { Split = split, Protocol = protocol, ClassNames = [.. classNames], Last = last };
        foreach (var (iteration, folder) in kept)
        {
            if (scores.ContainsKey(iteration)) continue;
            var (h0, h1) = score(iteration, folder);
            scores[iteration] = Score(iteration, h0, h1);
            scored?.Invoke(iteration, scores[iteration]);
            record = record with { Scores = [.. scores.Values.OrderBy(s => s.Iteration)] };
            Write(runFolder, record);
        }
        var ordered = scores.Values.OrderBy(s => s.Iteration).ToArray();
        record = record with
        {
            Scores = ordered,
            Chosen = ordered[Best(ordered.Select(s => s.MeanIoU).ToArray())].Iteration,
            CrossValidated = CrossValidate(ordered),
        };
        Write(runFolder, record);
        return record;
    }

    static void Write(string runFolder, CheckpointSelectionRecord record)
    {
        AtomicFile.WriteAllText(Path.Combine(runFolder, CheckpointSelectionRecord.FileName), AsdtJson.Serialize(record));
        AtomicFile.WriteAllText(Path.Combine(runFolder, CheckpointSelectionRecord.MarkdownFileName), record.ToMarkdown());
    }
}
