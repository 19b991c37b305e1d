using System.Globalization;
using System.Text;

namespace Asdt.Evaluation;

/// <summary>The numbers of one evaluation, as written to JSON (score.json) and Markdown (score.md).</summary>
public sealed record SegmentationScore
{
    public string What { get; init; } = "";
    public string Dataset { get; init; } = "";
    public string Split { get; init; } = "";
    public int Images { get; init; }
    public double MeanIoU { get; init; }
    public double PixelAccuracy { get; init; }
    public string[] ClassNames { get; init; } = [];
    /// <summary>Per-class IoU (null where the class occurs neither in ground truth nor in predictions).</summary>
    public double?[] ClassIoU { get; init; } = [];
    public long[][] Confusion { get; init; } = [];
    /// <summary>"i/n" when this is one shard of a split.</summary>
    public string? Shard { get; init; }

    public static SegmentationScore From(ConfusionMatrix m, IReadOnlyList<string> classNames, string what, string dataset, string split, int images, string? shard = null) => new()
    {
        What = what,
        Dataset = dataset,
        Split = split,
        Images = images,
        MeanIoU = m.MeanIoU(),
        PixelAccuracy = m.PixelAccuracy(),
        ClassNames = classNames.ToArray(),
        ClassIoU = m.IoU().Select(v => double.IsNaN(v) ? (double?)null : v).ToArray(),
        Confusion = m.Rows(),
        Shard = shard,
    };

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"## {What}");
        sb.AppendLine();
        sb.AppendLine(inv, $"{Dataset} / {Split}{(Shard != null ? $" (shard {Shard})" : "")}: {Images} images, **mIoU {100 * MeanIoU:F2}**, pixel accuracy {100 * PixelAccuracy:F2}");
        sb.AppendLine();
        sb.AppendLine("| class | IoU |");
        sb.AppendLine("|---|---:|");
        for (int c = 0; c < ClassNames.Length; c++)
            sb.AppendLine(inv, $"| {ClassNames[c]} | {(ClassIoU[c] is double v ? (100 * v).ToString("F2", inv) : "–")} |");
        return sb.ToString();
    }
}
