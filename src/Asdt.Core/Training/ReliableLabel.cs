using Asdt.Crf;

namespace Asdt.Training;

/// <summary>Thresholds of RRM's reliable region mining (ALGORITHM.md §4.3).</summary>
public sealed record ReliableLabelSettings
{
    /// <summary>α of the "low alpha" background (1 − m)^α: large background score, only strong foreground survives.</summary>
    public double AlphaLow { get; init; } = 4;
    /// <summary>α of the "high alpha" background: small background score, only clear background survives.</summary>
    public double AlphaHigh { get; init; } = 32;
    /// <summary>CAM values above this enter a class's percentile test.</summary>
    public float CamMinimum { get; init; } = 0.1f;
    /// <summary>Keep a class's pixels above this percentile of its confidently activated, argmax-winning pixels.</summary>
    public double CamPercentile { get; init; } = 0.6;
    /// <summary>Background is CAM-sure where the high-alpha background score exceeds this.</summary>
    public float BackgroundSure { get; init; } = 0.8f;
    /// <summary>CRF-sure: max(Q_32[bg], max_c Q_4[c]) at least this.</summary>
    public float CrfSure { get; init; } = 0.8f;
    /// <summary>The label CRF (RRM/PSA: gaussian 3/3, bilateral 80/13/10, 10 iterations).</summary>
    public CrfParameters Crf { get; init; } = CrfParameters.LabelCrf;
}

/// <summary>
/// The class-teacher's reliable label B^ct and reliability mask R^ct (paper §3.1, following RRM;
/// ALGORITHM.md §4.3), per image at crop resolution. Output: labels in {0} ∪ {c+1 : c ∈ C⁺} and
/// 255 where unreliable (R^ct = [Y ≠ 255]).
/// </summary>
public static class ReliableLabel
{
    public const byte Ignore = 255;

    /// <param name="rgb">The crop, uint8 RGB interleaved (height × width × 3).</param>
    /// <param name="cams">Max-normalised CAMs in [0,1], class-major [foregroundClasses][height·width]; absent classes are ignored.</param>
    /// <param name="presentClasses">Foreground class indices c (0-based; segmentation label c + 1) present in the image.</param>
    /// <param name="threads">1: the two CRFs run one after the other; 2: side by side.</param>
    public static byte[] Compute(ReadOnlySpan<byte> rgb, int width, int height, ReadOnlySpan<float> cams, int foregroundClasses,
        IReadOnlyList<int> presentClasses, ReliableLabelSettings settings, int threads = 1)
    {
        int n = width * height;
        if (rgb.Length != n * 3) throw new ArgumentException("rgb size does not match width × height × 3");
        if (cams.Length != foregroundClasses * n) throw new ArgumentException("cams size does not match classes × width × height");
        var present = presentClasses.Distinct().Order().ToArray();
        if (present.Any(c => c < 0 || c >= foregroundClasses)) throw new ArgumentOutOfRangeException(nameof(presentClasses));
        int k = present.Length + 1;

        // 1. m(i) = max over present classes.
        var m = new float[n];
        foreach (int c in present)
        {
            var cam = cams.Slice(c * n, n);
            for (int i = 0; i < n; i++) if (cam[i] > m[i]) m[i] = cam[i];
        }

        // 2. S_α = [(1 − m)^α ; M_c for c ∈ C⁺] → label CRF, for α = 4 and 32.
        var sLow = new float[k * n];
        var sHigh = new float[k * n];
        for (int i = 0; i < n; i++)
        {
            sLow[i] = (float)Math.Pow(1 - m[i], settings.AlphaLow);
            sHigh[i] = (float)Math.Pow(1 - m[i], settings.AlphaHigh);
        }
        for (int j = 0; j < present.Length; j++)
        {
            cams.Slice(present[j] * n, n).CopyTo(sLow.AsSpan((j + 1) * n, n));
            cams.Slice(present[j] * n, n).CopyTo(sHigh.AsSpan((j + 1) * n, n));
        }
        float[] qLow = [], qHigh = [];
        byte[] rgbCopy = rgb.ToArray();
        if (threads >= 2)
            Parallel.Invoke(
                () => qLow = DenseCrf.Infer(rgbCopy, width, height, sLow, k, settings.Crf),
                () => qHigh = DenseCrf.Infer(rgbCopy, width, height, sHigh, k, settings.Crf));
        else
        {
            qLow = DenseCrf.Infer(rgbCopy, width, height, sLow, k, settings.Crf);
            qHigh = DenseCrf.Infer(rgbCopy, width, height, sHigh, k, settings.Crf);
        }

        // 3. Label maps in segmentation labels (0 = background, c + 1 = class c).
        var lowLabel = ArgmaxLabels(qLow, k, n, present);
        var highLabel = ArgmaxLabels(qHigh, k, n, present);

        // 4. CAM hard map A = argmax over [bg_32 ; M_1..M_C] (absent classes are 0 and never beat bg_32 > 0 … unless m = 1).
        var camArgmax = new byte[n];
        for (int i = 0; i < n; i++)
        {
            float best = sHigh[i]; byte label = 0;
            foreach (int c in present)
            {
                float v = cams[c * n + i];
                if (v > best) { best = v; label = (byte)(c + 1); }
            }
            camArgmax[i] = label;
        }

        // 5. CAM-sure set U, for every label that appears in L_la.
        var camSure = new bool[n];
        var appears = new bool[foregroundClasses + 1];
        foreach (var l in lowLabel) appears[l] = true;
        if (appears[0])
            for (int i = 0; i < n; i++)
                if (camArgmax[i] == 0 && sHigh[i] > settings.BackgroundSure) camSure[i] = true;
        var values = new List<float>();
        foreach (int c in present)
        {
            if (!appears[c + 1]) continue;
            var cam = cams.Slice(c * n, n);
            values.Clear();
            for (int i = 0; i < n; i++)
                if (camArgmax[i] == c + 1 && cam[i] > settings.CamMinimum) values.Add(cam[i]);
            if (values.Count == 0) continue; // guard: RRM's code would index an empty array here
            values.Sort();
            float threshold = values[(int)Math.Floor(settings.CamPercentile * values.Count)];
            for (int i = 0; i < n; i++)
                if (camArgmax[i] == c + 1 && cam[i] > threshold) camSure[i] = true;
        }

        // 6.–7. Compose: fg from L_la, bg from L_ha, ignore unless CAM-sure and CRF-sure.
        var y = new byte[n];
        for (int i = 0; i < n; i++)
        {
            byte label = lowLabel[i] >= 1 ? lowLabel[i] : Ignore;
            if (highLabel[i] == 0) label = 0;
            float fgConfidence = 0;
            for (int j = 1; j < k; j++) fgConfidence = Math.Max(fgConfidence, qLow[j * n + i]);
            bool crfSure = Math.Max(qHigh[i], fgConfidence) >= settings.CrfSure;
            if (!camSure[i] || !crfSure) label = Ignore;
            y[i] = label;
        }
        return y;
    }

    /// <summary>Per-pixel argmax over k stacked channels (bg first, then present classes), as segmentation labels.</summary>
    static byte[] ArgmaxLabels(float[] q, int k, int n, int[] present)
    {
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0; float bestValue = q[i];
            for (int j = 1; j < k; j++)
                if (q[j * n + i] > bestValue) { bestValue = q[j * n + i]; best = j; }
            labels[i] = best == 0 ? (byte)0 : (byte)(present[best - 1] + 1);
        }
        return labels;
    }
}
