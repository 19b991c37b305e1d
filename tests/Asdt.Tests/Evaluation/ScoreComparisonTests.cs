using Asdt.Cli;
using Asdt.Cli.Commands;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Reports;
using Asdt.Runs;

namespace Asdt.Tests.Evaluation;

/// <summary>`asdt compare` on scores of real VOC 2012 val masks, checked against per-class IoUs counted by hand.</summary>
public class ScoreComparisonTests
{
    /// <summary>Two predictions for the first 300 VOC val masks: the masks shifted by 3 pixels (baseline), and the
    /// same with one class relabelled in some images (<see cref="EvaluationTests.Perturb"/>). Returns their scores
    /// and the per-class IoUs counted independently of <see cref="ConfusionMatrix"/>.</summary>
    static (SegmentationScore Shifted, SegmentationScore Damaged, double[] ShiftedIoU, double[] DamagedIoU) RealScores() => Scores.Value;

    // Scored once for the class's tests (300 real masks read and counted twice over).
    static readonly Lazy<(SegmentationScore, SegmentationScore, double[], double[])> Scores = new(ScoreRealMasks);

    static (SegmentationScore, SegmentationScore, double[], double[]) ScoreRealMasks()
    {
        var ds = SegmentationDataset.Open("voc2012-masks", TestData.Voc2012Masks);
        var ids = ds.Ids("val").Take(300).ToArray();
        var ma = new ConfusionMatrix(21); var mb = new ConfusionMatrix(21);
        var count = new long[2, 3, 21];   // [prediction][tp, gt, pred][class]
        foreach (var (id, k) in ids.Select((id, k) => (id, k)))
        {
            var gt = ds.LoadMask(id);
            var damaged = EvaluationTests.Perturb(gt, k);
            var shifted = EvaluationTests.Perturb(gt, 1_000_003);   // this seed relabels nothing: shift only
            ma.Add(gt.Labels, shifted.Labels); mb.Add(gt.Labels, damaged.Labels);
            for (int i = 0; i < gt.Labels.Length; i++)
            {
                int g = gt.Labels[i];
                if (g == 255) continue;
                foreach (var (p, pred) in new[] { (0, shifted.Labels[i]), (1, damaged.Labels[i]) })
                {
                    count[p, 1, g]++; count[p, 2, pred]++;
                    if (pred == g) count[p, 0, g]++;
                }
            }
        }
        double[] Iou(int p) => Enumerable.Range(0, 21).Select(c => (double)count[p, 0, c] / (count[p, 1, c] + count[p, 2, c] - count[p, 0, c])).ToArray();
        return (SegmentationScore.From(ma, ds.ClassNames, "shifted", ds.Name, "val300", ids.Length),
                SegmentationScore.From(mb, ds.ClassNames, "damaged", ds.Name, "val300", ids.Length), Iou(0), Iou(1));
    }

    [Fact]
    public void PerClassDifferencesMatchCountsByHand_ThroughTheCommand()
    {
        var (shifted, damaged, iouA, iouB) = RealScores();
        Assert.True(new Random(1_000_003).NextDouble() >= 0.3, "the baseline's seed must not relabel a class");
        Assert.True(iouA.Zip(iouB).Count(t => Math.Abs(t.First - t.Second) > 1e-3) >= 3, "the damage should move several classes");

        using var temp = TestData.NewTempFolder();
        // One score as asdt eval writes it (a PSM folder's score.json), one as asdt eval-run does (a variant beside heads.json).
        string psm = Path.Combine(temp.Path, "runs", "a", "psm-val"), evalRun = Path.Combine(temp.Path, "runs", "b", "eval-val");
        Directory.CreateDirectory(psm); Directory.CreateDirectory(evalRun);
        AtomicFile.WriteAllText(Path.Combine(psm, "score.json"), AsdtJson.Serialize(shifted));
        AtomicFile.WriteAllText(Path.Combine(evalRun, "pbar-crf.json"), AsdtJson.Serialize(damaged));
        AtomicFile.WriteAllText(Path.Combine(evalRun, "ps-crf.json"), AsdtJson.Serialize(shifted));
        AtomicFile.WriteAllText(Path.Combine(evalRun, HeadEvaluation.FileName), AsdtJson.Serialize(new HeadEvaluation { Split = "val300" }));

        string outBase = temp.File("cmp");
        Assert.Equal(0, AsdtCommandLine.Run(["compare", psm, evalRun, "--labels", "shifted,damaged", "--out", outBase]));
        var cmp = AsdtJson.Read<ScoreComparison>(outBase + ".json");
        Assert.Equal(["shifted", "damaged"], cmp.Labels);
        Assert.Equal(Path.Combine(evalRun, "pbar-crf.json"), cmp.Sources[1]);
        for (int c = 0; c < 21; c++)
        {
            Assert.Equal(iouA[c], cmp.ClassIoU[0][c]!.Value, 12);
            Assert.Equal(iouB[c], cmp.ClassIoU[1][c]!.Value, 12);
            Assert.Equal(iouB[c] - iouA[c], cmp.Delta(1, c)!.Value, 12);
        }
        Assert.Equal(iouA.Average(), cmp.MeanIoU[0], 12);
        Assert.Equal(iouB.Average(), cmp.MeanIoU[1], 12);
        int worst = Enumerable.Range(0, 21).MaxBy(c => Math.Abs(iouB[c] - iouA[c]));
        Assert.Equal(cmp.ClassNames[worst], cmp.LargestChanges(1, 5).First().Class);

        // The Markdown shows the same numbers in percentage points, the mIoU difference signed.
        string md = File.ReadAllText(outBase + ".md");
        string mDelta = (100 * (iouB.Average() - iouA.Average())).ToString("+0.00;−0.00;0.00", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains(FormattableString.Invariant($"| **mIoU** | **{100 * iouA.Average():F2}** | **{100 * iouB.Average():F2}** | **{mDelta}** |"), md);
        Assert.Contains(FormattableString.Invariant($"| {cmp.ClassNames[worst]} | {100 * iouA[worst]:F2} | {100 * iouB[worst]:F2} |"), md);

        // --variant picks another score of the eval-run folder; the heads.json file stands for its folder.
        Assert.Equal(Path.Combine(evalRun, "ps-crf.json"), CompareCommand.ScoreFile(Path.Combine(evalRun, HeadEvaluation.FileName), "ps-crf"));
        Assert.Equal(0, AsdtCommandLine.Run(["compare", psm, evalRun, "--variant", "ps-crf", "--out", outBase]));
        cmp = AsdtJson.Read<ScoreComparison>(outBase + ".json");
        Assert.All(Enumerable.Range(0, 21), c => Assert.Equal(0.0, cmp.Delta(1, c)!.Value));
        Assert.Equal(["a/psm-val/score.json", "b/eval-val/ps-crf.json"], cmp.Labels);   // default names: the differing path parts
    }

    [Fact]
    public void DefaultLabelsAreThePathPartsThatDiffer()
    {
        Assert.Equal(["row-I", "row-V"], CompareCommand.DistinctParts(["runs/t4/row-I/eval-val/pbar-crf.json", "runs/t4/row-V/eval-val/pbar-crf.json"]));
        Assert.Equal(["eval-train", "eval-val"], CompareCommand.DistinctParts(["r/eval-train/pbar-crf.json", "r/eval-val/pbar-crf.json"]));
        Assert.Equal(["x/score.json", "x/score.json"], CompareCommand.DistinctParts(["x/score.json", "x/score.json"]));   // the same file twice: full paths
    }

    [Fact]
    public void RefusesShardsOtherClassesAndFoldersWithoutScores_NamingTheFile()
    {
        var (shifted, _, _, _) = RealScores();
        using var temp = TestData.NewTempFolder();
        string a = temp.File("a.json"), shard = temp.File("shard.json"), other = temp.File("other.json");
        AtomicFile.WriteAllText(a, AsdtJson.Serialize(shifted));
        AtomicFile.WriteAllText(shard, AsdtJson.Serialize(shifted with { Shard = "0/2" }));
        AtomicFile.WriteAllText(other, AsdtJson.Serialize(shifted with { ClassNames = Enumerable.Reverse(shifted.ClassNames).ToArray() }));

        var e = Assert.Throws<AsdtException>(() => ScoreComparison.Of([("a", a, shifted), ("s", shard, shifted with { Shard = "0/2" })]));
        Assert.StartsWith(shard + ": is shard 0/2", e.Message);
        e = Assert.Throws<AsdtException>(() => ScoreComparison.Of([("a", a, shifted), ("o", other, AsdtJson.Read<SegmentationScore>(other))]));
        Assert.StartsWith(other + ": scores the classes", e.Message);
        Assert.Throws<AsdtException>(() => ScoreComparison.Of([("a", a, shifted)]));

        string empty = Path.Combine(temp.Path, "empty"); Directory.CreateDirectory(empty);
        e = Assert.Throws<AsdtException>(() => CompareCommand.ScoreFile(empty, "pbar-crf"));
        Assert.Contains("neither score.json", e.Message);
        string heads = Path.Combine(temp.Path, "eval-val"); Directory.CreateDirectory(heads);
        AtomicFile.WriteAllText(Path.Combine(heads, HeadEvaluation.FileName), "{}");
        AtomicFile.WriteAllText(Path.Combine(heads, "pst.json"), AsdtJson.Serialize(shifted));
        e = Assert.Throws<AsdtException>(() => CompareCommand.ScoreFile(heads, "pbar-crf"));
        Assert.Contains("has no score 'pbar-crf' (it has: pst)", e.Message);

        // Through the command: exit code 2, no stack trace.
        Assert.Equal(2, AsdtCommandLine.Run(["compare", a, shard]));
        Assert.Equal(2, AsdtCommandLine.Run(["compare", a, temp.File("missing.json")]));
        Assert.Equal(2, AsdtCommandLine.Run(["compare", a, a, "--labels", "one"]));
    }
}
