using System.Globalization;
using System.Text;

namespace Asdt.Evaluation;

/// <summary>
/// Per-class IoU of several scores of the same classes side by side, each column after the first with its
/// difference to the first (the baseline): what <c>asdt compare</c> prints. Answers "which classes did this
/// change win or lose" without a spreadsheet. Numbers in [0, 1]; Markdown shows percentage points.
/// </summary>
public sealed record ScoreComparison
{
    /// <summary>Column names, baseline first.</summary>
    public string[] Labels { get; init; } = [];
    /// <summary>The score file behind each column.</summary>
    public string[] Sources { get; init; } = [];
    /// <summary>Each column's <see cref="SegmentationScore.What"/>.</summary>
    public string[] What { get; init; } = [];
    public string[] Datasets { get; init; } = [];
    public string[] Splits { get; init; } = [];
    public int[] Images { get; init; } = [];
    public string[] ClassNames { get; init; } = [];
    /// <summary>[column][class]; null where the class occurs neither in ground truth nor in predictions.</summary>
    public double?[][] ClassIoU { get; init; } = [];
    public double[] MeanIoU { get; init; } = [];
    public double[] PixelAccuracy { get; init; } = [];

    /// <summary>Lines up scores of the same class list; the first is the baseline. Refuses a shard's score (its
    /// mIoU is not the split's) and scores of other classes, naming the file.</summary>
    public static ScoreComparison Of(IReadOnlyList<(string Label, string Source, SegmentationScore Score)> columns)
    {
        if (columns.Count < 2) throw new AsdtException("compare needs at least two scores (the first is the baseline)");
        var first = columns[0];
        foreach (var (_, source, s) in columns)
        {
            if (s.Shard != null)
                throw new AsdtException(source, $"is shard {s.Shard} of a split, not the whole split: merge the shards first (asdt eval --merge)");
            if (s.ClassIoU.Length != s.ClassNames.Length)
                throw new AsdtException(source, $"has {s.ClassIoU.Length} class IoUs for {s.ClassNames.Length} class names");
            if (!s.ClassNames.SequenceEqual(first.Score.ClassNames))
                throw new AsdtException(source, $"scores the classes [{string.Join(", ", s.ClassNames)}], not those of {first.Source} ([{string.Join(", ", first.Score.ClassNames)}])");
        }
        return new ScoreComparison
        {
            Labels = columns.Select(c => c.Label).ToArray(),
            Sources = columns.Select(c => c.Source).ToArray(),
            What = columns.Select(c => c.Score.What).ToArray(),
            Datasets = columns.Select(c => c.Score.Dataset).ToArray(),
            Splits = columns.Select(c => c.Score.Split).ToArray(),
            Images = columns.Select(c => c.Score.Images).ToArray(),
            ClassNames = first.Score.ClassNames.ToArray(),
            ClassIoU = columns.Select(c => c.Score.ClassIoU.ToArray()).ToArray(),
            MeanIoU = columns.Select(c => c.Score.MeanIoU).ToArray(),
            PixelAccuracy = columns.Select(c => c.Score.PixelAccuracy).ToArray(),
        };
    }

    /// <summary>IoU of column <paramref name="column"/> minus the baseline's for one class (null when either is null).</summary>
    public double? Delta(int column, int cls) =>
        ClassIoU[column][cls] is double v && ClassIoU[0][cls] is double b ? v - b : null;

    /// <summary>The classes that moved most against the baseline in one column, largest |Δ| first.</summary>
    public IEnumerable<(string Class, double Delta)> LargestChanges(int column, int count) =>
        Enumerable.Range(0, ClassNames.Length)
            .Where(c => Delta(column, c) != null)
            .Select(c => (ClassNames[c], Delta(column, c)!.Value))
            .OrderByDescending(t => Math.Abs(t.Item2))
            .Take(count);

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        string Pp(double? v) => v is double x ? (100 * x).ToString("F2", inv) : "–";
        string Signed(double? v) => v is double x ? (100 * x).ToString("+0.00;−0.00;0.00", inv) : "–";
        int k = Labels.Length;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"## Per-class IoU against {Labels[0]}");
        sb.AppendLine();
        for (int c = 0; c < k; c++)
            sb.AppendLine(inv, $"- **{Labels[c]}**: {Datasets[c]} / {Splits[c]}, {Images[c]} images — {What[c]} (`{Sources[c]}`)");
        if (Splits.Distinct().Count() > 1 || Datasets.Distinct().Count() > 1)
            sb.AppendLine("- Note: the columns score different splits or datasets.");
        sb.AppendLine();
        sb.Append("| class | ").Append(Labels[0]);
        for (int c = 1; c < k; c++) sb.Append(" | ").Append(Labels[c]).Append(" | Δ");
        sb.AppendLine(" |");
        sb.Append("|---|---:");
        for (int c = 1; c < k; c++) sb.Append("|---:|---:");
        sb.AppendLine("|");
        for (int cls = 0; cls < ClassNames.Length; cls++)
        {
            sb.Append("| ").Append(ClassNames[cls]).Append(" | ").Append(Pp(ClassIoU[0][cls]));
            for (int c = 1; c < k; c++) sb.Append(" | ").Append(Pp(ClassIoU[c][cls])).Append(" | ").Append(Signed(Delta(c, cls)));
            sb.AppendLine(" |");
        }
        sb.Append("| **mIoU** | **").Append(Pp(MeanIoU[0])).Append("**");
        for (int c = 1; c < k; c++) sb.Append(" | **").Append(Pp(MeanIoU[c])).Append("** | **").Append(Signed(MeanIoU[c] - MeanIoU[0])).Append("**");
        sb.AppendLine(" |");
        sb.Append("| pixel accuracy | ").Append(Pp(PixelAccuracy[0]));
        for (int c = 1; c < k; c++) sb.Append(" | ").Append(Pp(PixelAccuracy[c])).Append(" | ").Append(Signed(PixelAccuracy[c] - PixelAccuracy[0]));
        sb.AppendLine(" |");
        sb.AppendLine();
        for (int c = 1; c < k; c++)
        {
            string changes = string.Join(", ", LargestChanges(c, 5).Select(t => t.Class + " " + Signed(t.Delta)));
            sb.Append("Largest changes of ").Append(Labels[c]).Append(" against ").Append(Labels[0]).Append(": ").AppendLine(changes);
        }
        return sb.ToString();
    }
}
