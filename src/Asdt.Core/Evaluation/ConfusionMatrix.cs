using System.Text;

namespace Asdt.Evaluation;

/// <summary>
/// One confusion matrix over a whole split (ALGORITHM.md §8.1): H[gt, pred] += 1 for every pixel with
/// a ground-truth class (255 ignored). IoU_c = H[c,c] / (row_c + col_c − H[c,c]); mIoU is the mean
/// over classes that occur in the ground truth or the predictions (the nan-mean of deeplab-pytorch).
/// Matrices of disjoint shards add up exactly (<see cref="Add"/>).
/// </summary>
public sealed class ConfusionMatrix
{
    public const byte Ignore = 255;
    readonly long[] counts;

    public int Classes { get; }

    public ConfusionMatrix(int classes)
    {
        if (classes < 1 || classes > 255) throw new ArgumentOutOfRangeException(nameof(classes));
        Classes = classes;
        counts = new long[classes * classes];
    }

    public long this[int gt, int pred] => counts[gt * Classes + pred];

    /// <summary>Rows = ground truth, columns = prediction (for JSON).</summary>
    public long[][] Rows() => Enumerable.Range(0, Classes).Select(r => counts.AsSpan(r * Classes, Classes).ToArray()).ToArray();

    public static ConfusionMatrix FromRows(long[][] rows)
    {
        var m = new ConfusionMatrix(rows.Length);
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r].Length != rows.Length) throw new ArgumentException("confusion matrix must be square");
            rows[r].CopyTo(m.counts, r * rows.Length);
        }
        return m;
    }

    /// <summary>Adds one image. A prediction outside 0..C−1 on a labelled pixel is an error (it would silently vanish).</summary>
    public void Add(ReadOnlySpan<byte> groundTruth, ReadOnlySpan<byte> prediction)
    {
        if (groundTruth.Length != prediction.Length) throw new ArgumentException($"ground truth has {groundTruth.Length} pixels, prediction {prediction.Length}");
        int c = Classes;
        // A per-call local histogram (int: an image has < 2^31 pixels) keeps the lock out of the pixel loop.
        Span<int> local = c * c <= 1024 ? stackalloc int[c * c] : new int[c * c];
        local.Clear();
        for (int i = 0; i < groundTruth.Length; i++)
        {
            int g = groundTruth[i];
            if (g == Ignore) continue;
            int p = prediction[i];
            if (g >= c) throw new ArgumentException($"ground-truth label {g} at pixel {i} is not a class (0..{c - 1}) or 255");
            if (p >= c) throw new ArgumentException($"predicted label {p} at pixel {i} is not a class (0..{c - 1})");
            local[g * c + p]++;
        }
        Flush(local);
    }

    void Flush(Span<int> local)
    {
        lock (counts)
            for (int k = 0; k < local.Length; k++) { counts[k] += local[k]; local[k] = 0; }
    }

    public void Add(ConfusionMatrix other)
    {
        if (other.Classes != Classes) throw new ArgumentException($"cannot add a {other.Classes}-class matrix to a {Classes}-class one");
        lock (counts) for (int k = 0; k < counts.Length; k++) counts[k] += other.counts[k];
    }

    public long Total => counts.Sum();

    /// <summary>Per-class IoU; NaN for a class absent from both ground truth and predictions.</summary>
    public double[] IoU()
    {
        var iou = new double[Classes];
        for (int k = 0; k < Classes; k++)
        {
            long tp = this[k, k], row = 0, col = 0;
            for (int j = 0; j < Classes; j++) { row += this[k, j]; col += this[j, k]; }
            long union = row + col - tp;
            iou[k] = union == 0 ? double.NaN : (double)tp / union;
        }
        return iou;
    }

    public double MeanIoU()
    {
        var valid = IoU().Where(v => !double.IsNaN(v)).ToArray();
        return valid.Length == 0 ? double.NaN : valid.Average();
    }

    public double PixelAccuracy()
    {
        long correct = 0;
        for (int k = 0; k < Classes; k++) correct += this[k, k];
        long total = Total;
        return total == 0 ? double.NaN : (double)correct / total;
    }
}
