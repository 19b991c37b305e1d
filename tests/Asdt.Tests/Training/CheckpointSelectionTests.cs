using System.Text.Json;
using Asdt.Evaluation;
using Asdt.Models.Weights;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Tests.Training;

/// <summary>
/// Checkpoint selection: which iterations are kept, the choice and its two-fold cross-validation against brute force,
/// the resumable record, and (with a real tiny training) that the kept weights are those of their iteration and that a
/// run opens with the chosen ones.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class CheckpointSelectionTests
{
    [Fact]
    public void KeptIterationsAreFromEveryNthAndTheLastOne()
    {
        foreach (var (from, every, end) in new[] { (3L, 2, 10L), (2200L, 100, 3500L), (10L, 4, 10L), (1L, 1, 5L), (7L, 3, 20L) })
        {
            var s = new CheckpointSelectionSettings { From = from, Every = every };
            var expected = new SortedSet<long> { end };
            for (long i = from; i < end; i += every) expected.Add(i);
            Assert.Equal(expected, Enumerable.Range(1, (int)end + 3).Select(i => (long)i).Where(i => s.Keeps(i, end)));
        }
        Assert.Equal(14, Enumerable.Range(1, 3500).Count(i => new CheckpointSelectionSettings { From = 2200 }.Keeps(i, 3500)));
        Assert.Throws<AsdtException>(() => new CheckpointSelectionSettings { From = 0 }.Validate(100));
        Assert.Throws<AsdtException>(() => new CheckpointSelectionSettings { From = 101 }.Validate(100));
        Assert.Throws<AsdtException>(() => new CheckpointSelectionSettings { From = 5, Every = 0 }.Validate(100));
    }

    /// <summary>Random labels for <paramref name="n"/> pixels of <paramref name="classes"/> classes, some ignored.</summary>
    static (byte[] Truth, byte[] Prediction) Pixels(Random random, int n, int classes)
    {
        var truth = new byte[n];
        var prediction = new byte[n];
        for (int i = 0; i < n; i++)
        {
            truth[i] = random.Next(10) == 0 ? ConfusionMatrix.Ignore : (byte)random.Next(classes);
            // Right more often than chance, so the IoUs differ between classes and runs.
            prediction[i] = random.Next(3) == 0 ? truth[i] == ConfusionMatrix.Ignore ? (byte)0 : truth[i] : (byte)random.Next(classes);
        }
        return (truth, prediction);
    }

    /// <summary>mIoU straight from the pixels: per class |pred ∩ truth| / |pred ∪ truth| over non-ignored pixels, classes absent from both left out.</summary>
    static double BruteMeanIoU(byte[] truth, byte[] prediction, int classes)
    {
        var ious = new List<double>();
        for (int c = 0; c < classes; c++)
        {
            long inter = 0, union = 0;
            for (int i = 0; i < truth.Length; i++)
            {
                if (truth[i] == ConfusionMatrix.Ignore) continue;
                bool t = truth[i] == c, p = prediction[i] == c;
                if (t && p) inter++;
                if (t || p) union++;
            }
            if (union > 0) ious.Add(inter / (double)union);
        }
        return ious.Average();
    }

    static ConfusionMatrix Matrix(byte[] truth, byte[] prediction, int classes)
    {
        var m = new ConfusionMatrix(classes);
        m.Add(truth, prediction);
        return m;
    }

    [Fact]
    public void TheWholeSplitScoreIsThatOfAllPixelsOfBothHalvesAndEachHalfIsItsOwn()
    {
        var random = new Random(5);
        const int classes = 6;
        var (t0, p0) = Pixels(random, 3000, classes);
        var (t1, p1) = Pixels(random, 2000, classes);
        var score = CheckpointSelection.Score(42, Matrix(t0, p0, classes), Matrix(t1, p1, classes));
        Assert.Equal(42, score.Iteration);
        Assert.Equal(BruteMeanIoU([.. t0, .. t1], [.. p0, .. p1], classes), score.MeanIoU, 12);
        Assert.Equal(BruteMeanIoU(t0, p0, classes), score.Halves[0], 12);
        Assert.Equal(BruteMeanIoU(t1, p1, classes), score.Halves[1], 12);
        Assert.NotEqual(score.Halves[0], score.Halves[1]);
        Assert.Equal(Matrix(t0, p0, classes).Rows(), score.Confusion[0]);
    }

    static CheckpointScore Fake(long iteration, double half0, double half1) =>
        new() { Iteration = iteration, Halves = [half0, half1], MeanIoU = (half0 + half1) / 2 };

    [Fact]
    public void CrossValidationChoosesOnOneHalfAndScoresTheOtherAgainstTheLastWeightsTiesGoingToTheLater()
    {
        var random = new Random(11);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = random.Next(1, 16);
            // Coarse values so that ties happen.
            var scores = Enumerable.Range(0, n).Select(i => Fake(100 * (i + 1), random.Next(8) / 8.0, random.Next(8) / 8.0)).ToArray();
            var cv = CheckpointSelection.CrossValidate(scores);
            for (int h = 0; h < 2; h++)
            {
                // Brute force: the latest checkpoint among those with the highest score on half h.
                double top = scores.Max(s => s.Halves[h]);
                var chosen = scores.Last(s => s.Halves[h] == top);
                Assert.Equal(chosen.Iteration, cv.Chosen[h]);
                Assert.Equal(chosen.Halves[1 - h] - scores[^1].Halves[1 - h], cv.Gains[h], 12);
            }
            Assert.Equal((cv.Gains[0] + cv.Gains[1]) / 2, cv.Gain, 12);
        }
        // Choosing the last weights on both halves gains nothing.
        Assert.Equal(0, CheckpointSelection.CrossValidate([Fake(1, 0.2, 0.3), Fake(2, 0.5, 0.6)]).Gain);
        Assert.Equal(2, CheckpointSelection.Best([0.5, 0.7, 0.7, 0.1]));
    }

    /// <summary>A run folder with a finished checkpoint at <paramref name="last"/> and kept ones (state files only) at <paramref name="kept"/>.</summary>
    static string FakeRun(string folder, long last, params long[] kept)
    {
        string State(long i) => JsonSerializer.Serialize(new { Iteration = i });
        Directory.CreateDirectory(Path.Combine(folder, "checkpoint"));
        File.WriteAllText(Path.Combine(folder, "checkpoint", TrainingCheckpoint.StateFile), State(last));
        foreach (long i in kept)
        {
            Directory.CreateDirectory(CheckpointSelection.Folder(folder, i));
            File.WriteAllText(Path.Combine(CheckpointSelection.Folder(folder, i), TrainingCheckpoint.StateFile), State(i));
        }
        Directory.CreateDirectory(Path.Combine(folder, CheckpointSelection.FolderName, "iteration-300.tmp-123"));   // an unfinished write: not a kept one
        return folder;
    }

    [Fact]
    public void TheSelectionRecordsEveryScoreResumesAfterAKillAndChoosesTheBestOnTheWholeSplit()
    {
        using var temp = TestData.NewTempFolder();
        string run = FakeRun(Path.Combine(temp.Path, "run"), 500, 100, 200, 300, 400, 500);
        Assert.Equal([100L, 200, 300, 400, 500], CheckpointSelection.Kept(run).Select(k => k.Iteration));
        Assert.Equal(500, Stage1Run.DefaultIteration(run));

        // Predictions that are right with a probability depending on the iteration: 300 best, then 500 (the last), …
        var right = new Dictionary<long, double> { [100] = 0.2, [200] = 0.5, [300] = 0.8, [400] = 0.3, [500] = 0.6 };
        const int classes = 4;
        (ConfusionMatrix, ConfusionMatrix) Score(long iteration)
        {
            var random = new Random((int)iteration);
            ConfusionMatrix Half(int n)
            {
                var truth = Enumerable.Range(0, n).Select(_ => (byte)random.Next(classes)).ToArray();
                var prediction = truth.Select(t => random.NextDouble() < right[iteration] ? t : (byte)random.Next(classes)).ToArray();
                return Matrix(truth, prediction, classes);
            }
            return (Half(4000), Half(3000));
        }
        var seen = new List<long>();
        string[] names = ["background", "a", "b", "c"];
        // Killed while scoring the third checkpoint: the first two are on disk.
        Assert.Throws<InvalidOperationException>(() => CheckpointSelection.Run(run, "val", "protocol", names, (iteration, folder) =>
        {
            Assert.Equal(CheckpointSelection.Folder(run, iteration), folder);
            if (iteration == 300) throw new InvalidOperationException("killed");
            seen.Add(iteration);
            return Score(iteration);
        }));
        var partial = CheckpointSelection.Read(run)!;
        Assert.Equal([100L, 200], partial.Scores.Select(s => s.Iteration));
        Assert.Null(partial.Chosen);
        Assert.Equal(500, Stage1Run.DefaultIteration(run));   // nothing chosen yet: the last weights

        var record = CheckpointSelection.Run(run, "val", "protocol", names, (iteration, _) => { seen.Add(iteration); return Score(iteration); });
        Assert.Equal([100L, 200, 300, 400, 500], seen);   // each scored once
        Assert.Equal(300, record.Chosen);
        Assert.Equal(300, Stage1Run.DefaultIteration(run));
        for (int k = 0; k < 5; k++)
        {
            var (h0, h1) = Score(record.Scores[k].Iteration);
            Assert.Equal(CheckpointSelection.Score(record.Scores[k].Iteration, h0, h1).MeanIoU, record.Scores[k].MeanIoU, 12);
        }
        Assert.Equal(record.Scores.Max(s => s.MeanIoU), record.Scores.Single(s => s.Iteration == 300).MeanIoU);
        Assert.Equal([300L, 300], record.CrossValidated!.Chosen);
        Assert.True(record.CrossValidated.Gain > 0);
        string md = File.ReadAllText(Path.Combine(run, CheckpointSelectionRecord.MarkdownFileName));
        Assert.Contains("| 300 (chosen) |", md);
        Assert.Contains("| 500 (last) |", md);

        // Another split or protocol does not overwrite the choice; a run whose last weights were not kept cannot choose.
        var e = Assert.Throws<AsdtException>(() => CheckpointSelection.Run(run, "train", "protocol", names, (i, _) => Score(i)));
        Assert.Contains("a selection on val with other settings exists", e.Message);
        string unkept = FakeRun(Path.Combine(temp.Path, "unkept"), 500, 100, 200);
        e = Assert.Throws<AsdtException>(() => CheckpointSelection.Run(unkept, "val", "protocol", names, (i, _) => Score(i)));
        Assert.Contains("the last kept checkpoint is iteration 200 but the run finished 500", e.Message);
        string none = FakeRun(Path.Combine(temp.Path, "none"), 500);
        e = Assert.Throws<AsdtException>(() => CheckpointSelection.Run(none, "val", "protocol", names, (i, _) => Score(i)));
        Assert.Contains("kept no checkpoints", e.Message);
    }

    /// <summary>Nine iterations (five of warm-up) on ten demo images generated in &lt;folder&gt;/data.</summary>
    static Stage1Config TinyConfig(string folder)
    {
        string data = Path.Combine(folder, "data");
        Asdt.Data.DemoDataset.Generate(data, count: 10);
        return Stage1Presets.Quick with
        {
            Data = Stage1Presets.Quick.Data with { Dataset = Path.Combine(data, "dataset.json"), CropSize = 64 },
            BatchSize = 4,
            Iterations = 9,
            ClassifierWarmup = 5,
            PulseWidth = new PulseWidthSettings { Period = 8, Tau = 4 },
            CheckpointEvery = 0,
            Optimizer = Stage1Presets.Quick.Optimizer with { LearningRate = 2e-3 },
            Threads = 2,
        };
    }

    static Asdt.Reports.HeadEvaluationSettings Scoring(Stage1Config config, Asdt.Psm.PsmSource source) => new()
    {
        Sources = [source], RestrictToImageLabels = true, Crf = config.SegTeacherCrf, Augmentation = config.Inference,
        WithoutCrf = false, Cam = false, Threads = 2,
    };

    [Fact]
    public void RowIChoosesOnItsOnlySegmentationOutputPsAndWritesItsMasksFromIt()
    {
        using var temp = TestData.NewTempFolder();
        // Row I never trains its seg-teacher: P̄ = max(P^st, P^s) would mix in a head left at its initial weights.
        var rowI = TinyConfig(temp.Path) with
        {
            Strategy = StudentStrategy.ClassTeacherOnly,
            CheckpointSelection = new CheckpointSelectionSettings { From = 6, Every = 2 },
        };
        Assert.Equal(Asdt.Psm.PsmSource.Student, rowI.Strategy.Output());
        Assert.All(Enum.GetValues<StudentStrategy>().Where(s => s != StudentStrategy.ClassTeacherOnly), s => Assert.Equal(Asdt.Psm.PsmSource.Max, s.Output()));
        string run = Path.Combine(temp.Path, "row-I");
        new Stage1Trainer(rowI, run).Run(resume: false);
        // Whatever the untrained seg-teacher says must not matter: make it say "background" everywhere, loudly.
        foreach (var (_, folder) in CheckpointSelection.Kept(run).Append((0, Path.Combine(run, "checkpoint"))))
        {
            string model = Path.Combine(folder, "model.safetensors");
            var tensors = Safetensors.Read(model, out var metadata);
            tensors["fc8_seg.conv2.bias"][0] = TorchSharp.torch.tensor(50f);
            Safetensors.Write(model, tensors, metadata);
        }

        var record = Asdt.Cli.Commands.SelectCheckpointCommand.Select("test", rowI, run, "val");
        Assert.StartsWith("P^s + CRF, ", record.Protocol);
        bool maxDiffers = false;
        foreach (var s in record.Scores)
        {
            using var r = Stage1Run.Open(run, checkpoint: s.Iteration.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var (student, _) = Asdt.Reports.HeadEvaluator.Evaluate(r, "val", Scoring(rowI, Asdt.Psm.PsmSource.Student));
            var (max, _) = Asdt.Reports.HeadEvaluator.Evaluate(r, "val", Scoring(rowI, Asdt.Psm.PsmSource.Max));
            Assert.Equal(student.Variants.Single().MeanIoU, s.MeanIoU, 12);
            maxDiffers |= Math.Abs(max.Variants.Single().MeanIoU - s.MeanIoU) > 1e-9;
        }
        Assert.True(maxDiffers, "P̄ scored like P^s at every checkpoint although the seg-teacher says background everywhere");

        // asdt psm without --source writes row I's masks from P^s (and says so in psm.json).
        string masks = Path.Combine(temp.Path, "psm");
        int code = Asdt.Cli.Commands.PsmCommand.Create().Parse(["--run", run, "--split", "val", "--out", masks, "--threads", "2"]).Invoke();
        Assert.Equal(0, code);
        Assert.Equal(Asdt.Psm.PsmSource.Student, AsdtJson.Read<Asdt.Cli.Commands.PsmCommand.PsmRecord>(Path.Combine(masks, Asdt.Cli.Commands.PsmCommand.SettingsFile)).Source);
    }

    [Fact]
    public void KeptWeightsAreThoseOfTheirIterationTrainingIsUntouchedAndTheRunOpensWithTheChosenOnes()
    {
        using var temp = TestData.NewTempFolder();
        var plain = TinyConfig(temp.Path);
        var selecting = plain with { CheckpointSelection = new CheckpointSelectionSettings { From = 6, Every = 2 } };
        Assert.Equal(SharedWarmup.Folder(temp.Path, plain), SharedWarmup.Folder(temp.Path, selecting));   // the warm-up is shared
        Assert.DoesNotContain("checkpointSelection", AsdtJson.Serialize(plain));                         // older configs read the same

        string run = Path.Combine(temp.Path, "selecting");
        new Stage1Trainer(selecting, run).Run(resume: false, stopAfter: 7);   // killed after iteration 7, resumed
        new Stage1Trainer(selecting, run).Run(resume: true);
        Assert.Equal([6L, 8, 9], CheckpointSelection.Kept(run).Select(k => k.Iteration));

        // The plain run stopped at 6 and 8 holds exactly the kept weights of those iterations, and ends like the selecting run.
        string reference = Path.Combine(temp.Path, "plain");
        string Model(string folder) => Path.Combine(folder, "model.safetensors");
        foreach (long stop in new long[] { 6, 8, 9 })
        {
            new Stage1Trainer(plain, reference).Run(resume: stop > 6, stopAfter: stop);
            Robust.TrainKillResumeTests.AssertSameTensors(Model(Path.Combine(reference, "checkpoint")), Model(CheckpointSelection.Folder(run, stop)));
        }
        Robust.TrainKillResumeTests.AssertSameTensors(Model(Path.Combine(reference, "checkpoint")), Model(Path.Combine(run, "checkpoint")));

        const string fc = "fc8_seg.conv2.weight";
        var at6 = Safetensors.Read(Model(CheckpointSelection.Folder(run, 6)))[fc];
        var at9 = Safetensors.Read(Model(Path.Combine(run, "checkpoint")))[fc];
        Assert.False(at6.eq(at9).all().item<bool>());
        bool Holds(Stage1Run r, TorchSharp.torch.Tensor w) => r.Network.state_dict()[fc].eq(w).all().item<bool>();
        using (var r = Stage1Run.Open(run)) { Assert.True(Holds(r, at9)); Assert.Equal(9, r.Iteration); Assert.Equal("", r.WeightsSuffix); }
        using (var r = Stage1Run.Open(run, checkpoint: "6")) { Assert.True(Holds(r, at6)); Assert.Equal("-iteration6", r.WeightsSuffix); }

        // The selection `asdt train` runs when training ends: P̄ + CRF on each half of val. Every checkpoint's whole-split
        // score is exactly what scoring the whole split at once gives.
        var real = Asdt.Cli.Commands.SelectCheckpointCommand.Select("test", selecting, run, "val");
        Assert.Equal([6L, 8, 9], real.Scores.Select(s => s.Iteration));
        foreach (var s in real.Scores)
        {
            using var r = Stage1Run.Open(run, checkpoint: s.Iteration.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var (whole, _) = Asdt.Reports.HeadEvaluator.Evaluate(r, "val", Scoring(selecting, Asdt.Psm.PsmSource.Max));
            Assert.Equal(whole.Variants.Single().MeanIoU, s.MeanIoU, 12);
            Assert.Equal(s.Iteration, whole.Iteration);
        }
        Assert.Equal(real.Scores[CheckpointSelection.Best(real.Scores.Select(s => s.MeanIoU).ToArray())].Iteration, real.Chosen);
        // Asked again (a resumed `asdt train`), the choice made is kept.
        string recordFile = Path.Combine(run, CheckpointSelectionRecord.FileName);
        var written = File.GetLastWriteTimeUtc(recordFile);
        Asdt.Cli.Commands.SelectCheckpointCommand.SelectIfAsked("test", selecting, run);
        Assert.Equal(written, File.GetLastWriteTimeUtc(recordFile));
        // The run's report shows the choice (a plot of every kept checkpoint's score) and says which weights it shows.
        string html = File.ReadAllText(Asdt.Reports.RunReport.Write(run));
        Assert.Contains("Checkpoint selection on val", html);
        Assert.Contains($"The run's weights are now those of iteration {real.Chosen}, not the last (9)", html);
        File.Delete(Path.Combine(run, CheckpointSelectionRecord.FileName));

        // Once iteration 6 is chosen it is the run's default; "last" still opens the last weights.
        CheckpointSelection.Run(run, "val", "p", ["background", "a"], (iteration, _) =>
        {
            var m = new ConfusionMatrix(2);
            m.Add(new byte[] { 0, 1 }, iteration == 6 ? new byte[] { 0, 1 } : new byte[] { 0, 0 });
            return (m, m);
        });
        using (var r = Stage1Run.Open(run)) { Assert.True(Holds(r, at6)); Assert.Equal(6, r.Iteration); Assert.Equal("", r.WeightsSuffix); }
        using (var r = Stage1Run.Open(run, checkpoint: "last")) { Assert.True(Holds(r, at9)); Assert.Equal("-last", r.WeightsSuffix); }
        var e = Assert.Throws<AsdtException>(() => Stage1Run.Open(run, checkpoint: "7"));
        Assert.Contains("kept no checkpoint of iteration 7 (kept: 6, 8, 9; last: 9)", e.Message);
        e = Assert.Throws<AsdtException>(() => Stage1Run.Open(run, checkpoint: "best"));
        Assert.Contains("--checkpoint: expected 'last' or an iteration number", e.Message);
    }
}
