using Asdt.Evaluation;

namespace Asdt.Reports;

/// <summary>
/// CAM segmentation at many background thresholds in one pass (PSA convention, ALGORITHM.md §3.4):
/// a constant background score θ is prepended to the max-normalised CAMs and the argmax taken, so a
/// pixel is its strongest class a when max CAM m &gt; θ and background otherwise (argmax keeps the
/// first of equal scores: m = θ is background). As in PSA's numpy code, θ and the CAMs are compared
/// as float32 (a CAM of 0.3f equals θ = 0.3). Each labelled pixel is counted once as
/// (ground truth, a, number of thresholds below m); the confusion matrix of every threshold follows
/// exactly from those counts. Thread-safe; sweeps of disjoint image sets add up (<see cref="Add(CamThresholdSweep)"/>).
/// </summary>
public sealed class CamThresholdSweep
{
    readonly double[] thresholds;
    readonly float[] floatThresholds;
    readonly int classes;
    // counts[(gt * classes + fg) * (T + 1) + k]: k = number of thresholds strictly below the pixel's max CAM.
    readonly long[] counts;

    public IReadOnlyList<double> Thresholds => thresholds;
    public int Classes => classes;

    /// <param name="classes">Segmentation classes including background (0).</param>
    /// <param name="thresholds">Background scores to try, strictly increasing.</param>
    public CamThresholdSweep(int classes, IReadOnlyList<double> thresholds)
    {
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes));
        if (thresholds.Count == 0) throw new ArgumentException("give at least one threshold", nameof(thresholds));
        for (int i = 1; i < thresholds.Count; i++)
            if (!(thresholds[i] > thresholds[i - 1])) throw new ArgumentException("thresholds must be strictly increasing", nameof(thresholds));
        this.classes = classes;
        this.thresholds = thresholds.ToArray();
        floatThresholds = this.thresholds.Select(t => (float)t).ToArray();
        counts = new long[classes * classes * (thresholds.Count + 1)];
    }

    /// <summary>Standard sweep 0.05, 0.10, …, 0.95.</summary>
    public static double[] DefaultThresholds { get; } = Enumerable.Range(1, 19).Select(i => Math.Round(i * 0.05, 2)).ToArray();

    /// <summary>Adds one image.</summary>
    /// <param name="groundTruth">Labels per pixel (255 ignored).</param>
    /// <param name="cams">Max-normalised CAMs, class-major [foregroundClasses][pixels]; absent classes all zero.</param>
    /// <param name="presentClasses">Foreground classes (0-based, label c + 1) that may win; null = all.</param>
    public void Add(ReadOnlySpan<byte> groundTruth, ReadOnlySpan<float> cams, IReadOnlyList<int>? presentClasses)
    {
        int n = groundTruth.Length, fg = classes - 1, t = thresholds.Length;
        if (cams.Length != fg * n) throw new ArgumentException($"cams hold {cams.Length} values, expected {fg} × {n}");
        int[] allowed = presentClasses?.Distinct().Order().ToArray() ?? Enumerable.Range(0, fg).ToArray();
        var local = new long[counts.Length];
        for (int i = 0; i < n; i++)
        {
            int g = groundTruth[i];
            if (g == ConfusionMatrix.Ignore) continue;
            if (g >= classes) throw new ArgumentException($"ground-truth label {g} at pixel {i} is not a class (0..{classes - 1}) or 255");
            float best = float.NegativeInfinity; int a = 0;
            foreach (int c in allowed)
            {
                float v = cams[c * n + i];
                if (v > best) { best = v; a = c + 1; }
            }
            int k = allowed.Length == 0 ? 0 : Below(best);
            local[(g * classes + a) * (t + 1) + k]++;
        }
        lock (counts) for (int j = 0; j < counts.Length; j++) counts[j] += local[j];
    }

    /// <summary>Number of thresholds strictly below <paramref name="value"/>.</summary>
    int Below(float value)
    {
        int lo = 0, hi = floatThresholds.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (floatThresholds[mid] < value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    public void Add(CamThresholdSweep other)
    {
        if (other.classes != classes || !other.thresholds.SequenceEqual(thresholds)) throw new ArgumentException("sweeps differ in classes or thresholds");
        lock (counts) for (int j = 0; j < counts.Length; j++) counts[j] += other.counts[j];
    }

    /// <summary>The confusion matrix of CAM segmentation at threshold index <paramref name="index"/>.</summary>
    public ConfusionMatrix Matrix(int index)
    {
        if (index < 0 || index >= thresholds.Length) throw new ArgumentOutOfRangeException(nameof(index));
        int t = thresholds.Length;
        var rows = new long[classes][];
        for (int g = 0; g < classes; g++) rows[g] = new long[classes];
        lock (counts)
            for (int g = 0; g < classes; g++)
                for (int a = 0; a < classes; a++)
                    for (int k = 0; k <= t; k++)
                    {
                        long c = counts[(g * classes + a) * (t + 1) + k];
                        if (c == 0) continue;
                        // Pixel is foreground a at threshold `index` iff thresholds[index] < m, i.e. k > index.
                        rows[g][k > index ? a : 0] += c;
                    }
        return ConfusionMatrix.FromRows(rows);
    }

    /// <summary>mIoU per threshold, and the index of the best (the lowest threshold among equals).</summary>
    public (double[] MeanIoU, int Best) Curve()
    {
        var miou = Enumerable.Range(0, thresholds.Length).Select(i => Matrix(i).MeanIoU()).ToArray();
        int best = 0;
        for (int i = 1; i < miou.Length; i++) if (miou[i] > miou[best]) best = i;
        return (miou, best);
    }
}
