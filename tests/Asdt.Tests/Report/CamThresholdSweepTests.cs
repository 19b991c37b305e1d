using Asdt.Evaluation;
using Asdt.Reports;

namespace Asdt.Tests.Report;

public class CamThresholdSweepTests
{
    /// <summary>The PSA rule written out plainly: argmax over [θ ; CAM_c for allowed c], the first of equal scores wins.</summary>
    static byte[] BruteForce(float[] cams, int fg, int n, int[] present, double threshold)
    {
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            var scores = new List<(double Score, byte Label)> { (threshold, 0) };
            foreach (int c in present.Order()) scores.Add((cams[c * n + i], (byte)(c + 1)));
            var best = scores[0];
            foreach (var s in scores.Skip(1)) if (s.Score > best.Score) best = s;
            labels[i] = best.Label;
        }
        return labels;
    }

    static (byte[] Gt, float[] Cams, int[] Present) RandomImage(Random rng, int fg, int n, double[] thresholds)
    {
        var present = Enumerable.Range(0, fg).Where(_ => rng.NextDouble() < 0.5).ToArray();
        var gt = new byte[n];
        for (int i = 0; i < n; i++)
            gt[i] = rng.NextDouble() < 0.1 ? (byte)255 : rng.NextDouble() < 0.5 ? (byte)0 : (byte)(present.Length > 0 ? present[rng.Next(present.Length)] + 1 : rng.Next(fg + 1));
        var cams = new float[fg * n];
        foreach (int c in present)
            for (int i = 0; i < n; i++)
                // A third of the values sit exactly on a threshold (ties must go to background), some are equal across classes.
                cams[c * n + i] = rng.Next(3) switch
                {
                    0 => (float)thresholds[rng.Next(thresholds.Length)],
                    1 => (float)Math.Round(rng.NextDouble(), 1),
                    _ => (float)rng.NextDouble(),
                };
        // Absent classes may carry values too: they must never win.
        for (int c = 0; c < fg; c++)
            if (!present.Contains(c) && rng.NextDouble() < 0.5)
                for (int i = 0; i < n; i++) cams[c * n + i] = 1f;
        return (gt, cams, present);
    }

    [Fact]
    public void Every_threshold_matches_brute_force_argmax_exactly()
    {
        var rng = new Random(7);
        int fg = 4, classes = fg + 1, n = 300;
        // Thresholds exactly representable as floats so ties are real ties.
        double[] thresholds = [0.0, 0.125, 0.25, 0.5, 0.75, 1.0];
        var sweep = new CamThresholdSweep(classes, thresholds);
        var brute = thresholds.Select(_ => new ConfusionMatrix(classes)).ToArray();
        for (int image = 0; image < 12; image++)
        {
            var (gt, cams, present) = RandomImage(rng, fg, n, thresholds);
            sweep.Add(gt, cams, present);
            for (int t = 0; t < thresholds.Length; t++) brute[t].Add(gt, BruteForce(cams, fg, n, present, thresholds[t]));
        }
        for (int t = 0; t < thresholds.Length; t++)
            Assert.Equal(brute[t].Rows(), sweep.Matrix(t).Rows());
        var (curve, best) = sweep.Curve();
        var bruteCurve = brute.Select(m => m.MeanIoU()).ToArray();
        Assert.Equal(bruteCurve, curve);
        Assert.Equal(Array.IndexOf(bruteCurve, bruteCurve.Max()), best);
    }

    [Fact]
    public void Fixed_threshold_labels_match_brute_force()
    {
        var rng = new Random(3);
        double[] thresholds = [0.25, 0.5];
        var (_, cams, present) = RandomImage(rng, 3, 200, thresholds);
        foreach (double t in thresholds)
            Assert.Equal(BruteForce(cams, 3, 200, present, t), HeadEvaluator.CamLabels(cams, present, 4, t));
    }

    [Fact]
    public void Crafted_cams_have_their_best_threshold_between_object_and_background_values()
    {
        // 1 foreground class; object pixels have CAM 0.6–0.9, background pixels 0.1–0.3: any θ in [0.3, 0.6) is perfect.
        int n = 8;
        byte[] gt = [1, 1, 1, 1, 0, 0, 0, 0];
        float[] cams = [0.9f, 0.8f, 0.7f, 0.6f, 0.3f, 0.2f, 0.1f, 0.1f];
        var sweep = new CamThresholdSweep(2, [0.05, 0.2, 0.3, 0.45, 0.6, 0.95]);
        sweep.Add(gt, cams, [0]);
        var (curve, best) = sweep.Curve();
        Assert.Equal(0.3, sweep.Thresholds[best]); // lowest perfect threshold (0.3 itself: equal → background)
        Assert.Equal(1.0, curve[best], 12);
        Assert.Equal(1.0, curve[3], 12);
        Assert.True(curve[4] < 1.0); // θ = 0.6: the 0.6 pixel becomes background
        Assert.True(curve[0] < 1.0);
        var low = sweep.Matrix(0); // θ = 0.05: every pixel is the object
        Assert.Equal(4, low[1, 1]);
        Assert.Equal(4, low[0, 1]);
        Assert.Equal(n, low.Total);
    }

    [Fact]
    public void Sweeps_of_disjoint_images_add_up_to_the_sweep_of_all()
    {
        var rng = new Random(11);
        double[] thresholds = CamThresholdSweep.DefaultThresholds;
        var all = new CamThresholdSweep(4, thresholds);
        var a = new CamThresholdSweep(4, thresholds);
        var b = new CamThresholdSweep(4, thresholds);
        for (int image = 0; image < 6; image++)
        {
            var (gt, cams, present) = RandomImage(rng, 3, 100, thresholds);
            all.Add(gt, cams, present);
            (image % 2 == 0 ? a : b).Add(gt, cams, present);
        }
        a.Add(b);
        for (int t = 0; t < thresholds.Length; t++) Assert.Equal(all.Matrix(t).Rows(), a.Matrix(t).Rows());
    }

    [Fact]
    public void Rejects_unsorted_thresholds_and_wrong_sizes()
    {
        Assert.Throws<ArgumentException>(() => new CamThresholdSweep(3, [0.5, 0.2]));
        var sweep = new CamThresholdSweep(3, [0.5]);
        Assert.Throws<ArgumentException>(() => sweep.Add(new byte[4], new float[7], [0]));
        Assert.Throws<ArgumentException>(() => sweep.Add([9, 0], new float[4], [0]));
    }
}
