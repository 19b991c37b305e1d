using Asdt.Data;
using Asdt.Evaluation;

namespace Asdt.Tests.Evaluation;

/// <summary>mIoU on real VOC 2012 masks (../shared/data/voc2012-masks) against an independent brute-force count.</summary>
public class EvaluationTests
{
    static SegmentationDataset Voc() => SegmentationDataset.Open("voc2012-masks", TestData.Voc2012Masks);

    /// <summary>Deterministic damage: shift every mask right by 3 pixels and relabel one class in some images.</summary>
    internal static LabelMask Perturb(LabelMask gt, int seed)
    {
        var rng = new Random(seed);
        var labels = new byte[gt.Labels.Length];
        int w = gt.Width;
        for (int i = 0; i < labels.Length; i++)
        {
            int x = i % w;
            byte v = gt.Labels[i - Math.Min(x, 3)];
            labels[i] = v == 255 ? (byte)0 : v;                 // predictions never carry 255
        }
        if (rng.NextDouble() < 0.3)
        {
            byte from = (byte)rng.Next(1, 21), to = (byte)rng.Next(0, 21);
            for (int i = 0; i < labels.Length; i++) if (labels[i] == from) labels[i] = to;
        }
        return new LabelMask(gt.Width, gt.Height, labels);
    }

    [Fact]
    public void AllVocValMasksAgainstThemselvesAndAPerturbedCopyMatchBruteForce()
    {
        var ds = Voc();
        var ids = ds.Ids("val");
        Assert.Equal(1449, ids.Count);
        using var temp = TestData.NewTempFolder();
        string self = Path.Combine(temp.Path, "self"), perturbed = Path.Combine(temp.Path, "perturbed");
        Directory.CreateDirectory(self); Directory.CreateDirectory(perturbed);
        var tp = new long[21]; var gtCount = new long[21]; var predCount = new long[21];
        long correct = 0, labelled = 0;
        var gate = new object();
        Parallel.For(0, ids.Count, k =>
        {
            var gt = ds.LoadMask(ids[k]);
            var selfMask = new LabelMask(gt.Width, gt.Height, gt.Labels.Select(v => v == 255 ? (byte)0 : v).ToArray());
            PalettePng.Write(Path.Combine(self, ids[k] + ".png"), selfMask);
            var p = Perturb(gt, k);
            PalettePng.Write(Path.Combine(perturbed, ids[k] + ".png"), p);
            // Brute force, written independently of ConfusionMatrix.
            var ltp = new long[21]; var lg = new long[21]; var lp = new long[21]; long lc = 0, ll = 0;
            for (int i = 0; i < gt.Labels.Length; i++)
            {
                int g = gt.Labels[i];
                if (g == 255) continue;
                ll++; lg[g]++; lp[p.Labels[i]]++;
                if (g == p.Labels[i]) { ltp[g]++; lc++; }
            }
            lock (gate)
            {
                for (int c = 0; c < 21; c++) { tp[c] += ltp[c]; gtCount[c] += lg[c]; predCount[c] += lp[c]; }
                correct += lc; labelled += ll;
            }
        });

        var (selfMatrix, n) = SegmentationEvaluator.EvaluateFolder(ds, "val", self, Shard.All);
        Assert.Equal(1449, n);
        Assert.Equal(1.0, selfMatrix.MeanIoU(), 12);
        Assert.Equal(1.0, selfMatrix.PixelAccuracy(), 12);
        Assert.Equal(labelled, selfMatrix.Total);

        var (m, _) = SegmentationEvaluator.EvaluateFolder(ds, "val", perturbed, Shard.All);
        var iou = m.IoU();
        var expected = Enumerable.Range(0, 21).Select(c => (double)tp[c] / (gtCount[c] + predCount[c] - tp[c])).ToArray();
        for (int c = 0; c < 21; c++) Assert.Equal(expected[c], iou[c], 12);
        Assert.Equal(expected.Average(), m.MeanIoU(), 12);
        Assert.Equal((double)correct / labelled, m.PixelAccuracy(), 12);
        Assert.InRange(m.MeanIoU(), 0.3, 0.99);

        // Shards of the same folder add up to exactly the whole.
        var merged = new ConfusionMatrix(21);
        int images = 0;
        for (int i = 0; i < 3; i++)
        {
            var (part, k) = SegmentationEvaluator.EvaluateFolder(ds, "val", perturbed, new Shard(i, 3));
            merged.Add(part); images += k;
        }
        Assert.Equal(1449, images);
        Assert.Equal(m.Rows(), merged.Rows());
    }

    [Fact]
    public void ScoreJsonShardsMergeExactlyAndRefuseMismatches()
    {
        var a = new ConfusionMatrix(3); a.Add(new byte[] { 0, 1, 2, 255 }, new byte[] { 0, 2, 2, 1 });
        var b = new ConfusionMatrix(3); b.Add(new byte[] { 1, 1 }, new byte[] { 1, 0 });
        var whole = new ConfusionMatrix(3); whole.Add(new byte[] { 0, 1, 2, 255, 1, 1 }, new byte[] { 0, 2, 2, 1, 1, 0 });
        using var temp = TestData.NewTempFolder();
        string fa = temp.File("a.json"), fb = temp.File("b.json");
        string[] names = ["bg", "x", "y"];
        Asdt.IO.AtomicFile.WriteAllText(fa, Asdt.Runs.AsdtJson.Serialize(SegmentationScore.From(a, names, "t", "d", "val", 1, "0/2")));
        Asdt.IO.AtomicFile.WriteAllText(fb, Asdt.Runs.AsdtJson.Serialize(SegmentationScore.From(b, names, "t", "d", "val", 1, "1/2")));
        var merged = Asdt.Cli.Commands.EvalCommand.MergeScores([fa, fb]);
        Assert.Equal(whole.Rows(), merged.Confusion);
        Assert.Equal(whole.MeanIoU(), merged.MeanIoU, 12);
        Assert.Equal(2, merged.Images);
        var e = Assert.Throws<AsdtException>(() => Asdt.Cli.Commands.EvalCommand.MergeScores([fa, fa]));
        Assert.Contains("given twice", e.Message);
    }

    [Fact]
    public void IoUByHandAndBadPredictions()
    {
        var m = new ConfusionMatrix(3);
        m.Add(new byte[] { 0, 0, 1, 1, 2, 255 }, new byte[] { 0, 1, 1, 1, 0, 2 });
        // class 0: tp 1, gt 2, pred 2 → 1/3; class 1: tp 2, gt 2, pred 3 → 2/3; class 2: tp 0, gt 1, pred 0 → 0.
        Assert.Equal(new[] { 1 / 3.0, 2 / 3.0, 0 }, m.IoU());
        Assert.Equal(3 / 5.0, m.PixelAccuracy(), 12);
        var absent = new ConfusionMatrix(4);
        absent.Add(new byte[] { 0, 1 }, new byte[] { 0, 1 });
        Assert.True(double.IsNaN(absent.IoU()[3]));
        Assert.Equal(1.0, absent.MeanIoU());                      // classes absent from both are skipped
        Assert.Throws<ArgumentException>(() => m.Add(new byte[] { 0 }, new byte[] { 7 }));
        Assert.Throws<ArgumentException>(() => m.Add(new byte[] { 0, 1 }, new byte[] { 0 }));
        Assert.Equal(new Shard(2, 5), Shard.Parse("2/5"));
        Assert.Throws<AsdtException>(() => Shard.Parse("5/5"));
        Assert.Equal([1, 4, 7], new Shard(1, 3).Select(Enumerable.Range(0, 9).ToArray()));
    }
}
