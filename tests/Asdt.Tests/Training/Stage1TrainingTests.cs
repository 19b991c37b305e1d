using Asdt.Data;
using Asdt.Models.Weights;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Tests.Training;

/// <summary>A short real stage-1 training (ImageNet ResNet-18 from the NuGet ONNX file) on generated demo data.</summary>
[Collection(TorchRandomCollection.Name)]
public class Stage1TrainingTests
{
    static Stage1Config TinyConfig(string data, int iterations) => Stage1Presets.Quick with
    {
        Data = Stage1Presets.Quick.Data with { Dataset = Path.Combine(data, "dataset.json"), CropSize = 64 },
        BatchSize = 4,
        Iterations = iterations,
        ClassifierWarmup = 10,
        PulseWidth = new PulseWidthSettings { Period = 8, Tau = 4 },
        CheckpointEvery = 0,
        Optimizer = Stage1Presets.Quick.Optimizer with { LearningRate = 2e-3 },
        Threads = 2,
    };

    /// <summary>Twelve generated demo images in &lt;folder&gt;/data; returns that folder.</summary>
    static string DemoData(string folder)
    {
        string data = Path.Combine(folder, "data");
        DemoDataset.Generate(data, count: 12);
        return data;
    }

    [Fact]
    public void ClassificationAndSegmentationLossesFallAndMetricsDescribeEveryIteration()
    {
        using var temp = TestData.NewTempFolder();
        string data = Path.Combine(temp.Path, "data"), run = Path.Combine(temp.Path, "run");
        DemoDataset.Generate(data, count: 40);
        var config = TinyConfig(data, iterations: 70);
        var records = new List<IterationMetrics>();
        new Stage1Trainer(config, run).Run(resume: false, onIteration: records.Add);

        var rows = MetricsLog.Read(Path.Combine(run, Stage1Trainer.MetricsFile)).ToList();
        Assert.Equal(Enumerable.Range(0, 70).Select(i => (long)i), rows.Select(r => r.GetProperty("iteration").GetInt64()));
        Assert.All(rows.Take(10), r => Assert.Equal("warmup", r.GetProperty("phase").GetString()));
        // The PW wave after warm-up: T = 8, τ = 4 → 2 class-teacher iterations, then 6 seg-teacher ones.
        var phases = rows.Skip(10).Select(r => r.GetProperty("phase").GetString()).ToList();
        for (int t = 0; t < phases.Count; t++) Assert.Equal(t % 8 < 2 ? "classTeacher" : "segTeacher", phases[t]);

        double Mean(IEnumerable<System.Text.Json.JsonElement> r, string field) => r.Average(x => x.GetProperty(field).GetDouble());
        var seg = rows.Skip(10).ToList();
        Assert.True(Mean(rows.Skip(60), "classLoss") < Mean(rows.Take(10), "classLoss"), "classification loss did not fall");
        Assert.True(Mean(seg.TakeLast(15), "segTeacherCe") < Mean(seg.Take(15), "segTeacherCe"), "seg-teacher CE did not fall");
        Assert.True(Mean(seg.TakeLast(15), "studentCe") < Mean(seg.Take(15), "studentCe"), "student CE did not fall");
        Assert.All(seg, r => Assert.True(r.GetProperty("segTeacherEnergy").GetDouble() <= 0));
        // The progress line splits the total into the terms it is the sum of (that is why it can go below 0).
        Assert.All(records.Skip(10), r =>
        {
            var m = System.Text.RegularExpressions.Regex.Match(r.ProgressText(),
                @"^(classTeacher|segTeacher) loss (-?[\d.]+) = cls (-?[\d.]+) \+ CE (-?[\d.]+) \+ L_str (-?[\d.]+)$");
            Assert.True(m.Success, r.ProgressText());
            double Term(int g) => double.Parse(m.Groups[g].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(Term(2), Term(3) + Term(4) + Term(5), 0.003);
            Assert.True(Term(5) <= 0, r.ProgressText());
        });
        Assert.All(records.Take(10), r => Assert.Matches(@"^warmup loss [\d.]+ cls [\d.]+$", r.ProgressText()));
        Assert.True(File.Exists(Path.Combine(run, Stage1Trainer.CheckpointFolder, "model.safetensors")), "final checkpoint missing");
        var saved = AsdtJson.Read<Stage1Config>(Path.Combine(run, Stage1Trainer.ConfigFile));
        Assert.Equal(config.Iterations, saved.Iterations);
        Assert.Equal(config.Deviations, saved.Deviations);
    }

    /// <summary>Eight demo images in <paramref name="temp"/>, a 2-iteration warm-up, and the run folder to train in.</summary>
    static (Stage1Config Config, string Run) EightImageRun(TempFolder temp, int iterations)
    {
        string data = Path.Combine(temp.Path, "data");
        DemoDataset.Generate(data, count: 8);
        return (TinyConfig(data, iterations) with { ClassifierWarmup = 2 }, Path.Combine(temp.Path, "run"));
    }

    [Fact]
    public void StartingOverAFinishedRunWithoutResumeIsRefused()
    {
        using var temp = TestData.NewTempFolder();
        var (config, run) = EightImageRun(temp, iterations: 2);
        new Stage1Trainer(config, run).Run(resume: false);
        var e = Assert.Throws<AsdtException>(() => new Stage1Trainer(config, run).Run(resume: false));
        Assert.Contains("--resume", e.Message);
        var changed = config with { Seed = 99 };
        var e2 = Assert.Throws<AsdtException>(() => new Stage1Trainer(changed, run).Run(resume: true));
        Assert.Contains("seed", e2.Message);
    }

    [Fact]
    public void AResumeMayChangeTheThreadCountAndTheDescriptionsButNothingElse()
    {
        using var temp = TestData.NewTempFolder();
        var (config, run) = EightImageRun(temp, iterations: 4);
        int before = TorchSharp.torch.get_num_threads();
        try
        {
            new Stage1Trainer(config, run).Run(resume: false, stopAfter: 2);
            Assert.Equal(2, TorchSharp.torch.get_num_threads()); // Threads = 2 caps libtorch too
            new Stage1Trainer(config with { Threads = 1 }, run).Run(resume: true);
            Assert.Equal(1, TorchSharp.torch.get_num_threads());
            Assert.Equal(4, TrainingCheckpoint.FinishedIterations(run));
            // The run folder keeps the config it was started with.
            Assert.Equal(2, AsdtJson.Read<Stage1Config>(Path.Combine(run, Stage1Trainer.ConfigFile)).Threads);
            // Reworded deviations and differently recorded flags describe the same values: the run resumes and keeps its own text.
            var reworded = config with { Iterations = 6, Deviations = [.. config.Deviations, "reworded"], Overrides = ["--seed=1"] };
            new Stage1Trainer(reworded with { Iterations = 4 }, run).Run(resume: true);
            Assert.Equal(AsdtJson.Serialize(config), File.ReadAllText(Path.Combine(run, Stage1Trainer.ConfigFile)));
            var longer = Assert.Throws<AsdtException>(() => new Stage1Trainer(reworded, run).Run(resume: true));
            Assert.Contains("iterations: checkpoint 4, expected 6", longer.Message);
            Assert.DoesNotContain("deviations", longer.Message);
            var e = Assert.Throws<AsdtException>(() => new Stage1Trainer(config with { Threads = 1, BatchSize = 2 }, run).Run(resume: true));
            Assert.Contains("batchSize", e.Message);
            Assert.DoesNotContain("threads", e.Message);
        }
        finally { TorchSharp.torch.set_num_threads(before); }
    }

    [Fact]
    public void AStudyFolderMadeBeforeTheWarmupNameLeftOutTheRunLengthKeepsUsingItsWarmup()
    {
        using var temp = TestData.NewTempFolder();
        var config = TinyConfig(Path.Combine(temp.Path, "data"), iterations: 14) with { ClassifierWarmup = 6 };
        Assert.NotNull(config.ClassifierWarmupLearningRate);
        string study = Path.Combine(temp.Path, "study"), current = SharedWarmup.Folder(study, config);
        // The old name hashed the same warm-up config with the run's total iteration count.
        var old = SharedWarmup.WarmupConfig(config) with { Iterations = config.Iterations };
        string legacy = Path.Combine(study, "warmup-" + Convert.ToHexStringLower(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(AsdtJson.Serialize(old))))[..10]);
        Assert.NotEqual(current, legacy);

        Directory.CreateDirectory(legacy);
        Assert.Equal(legacy, SharedWarmup.Folder(study, config));
        // Only runs of that length had that name; another length gets the current name, and a current folder wins.
        Assert.Equal(current, SharedWarmup.Folder(study, config with { Iterations = 20 }));
        Directory.CreateDirectory(current);
        Assert.Equal(current, SharedWarmup.Folder(study, config));
        // A warm-up on the run's own schedule always had the run length in its name: another length's folder is not its own.
        var oneSchedule = config with { ClassifierWarmupLearningRate = null };
        string longer = SharedWarmup.Folder(study, oneSchedule with { Iterations = 20 });
        Directory.CreateDirectory(longer);
        Assert.NotEqual(longer, SharedWarmup.Folder(study, oneSchedule));
    }

    [Fact]
    public void RunsStartedFromTheSharedWarmupContinueExactlyLikeWholeRuns()
    {
        using var temp = TestData.NewTempFolder();
        string data = DemoData(temp.Path);
        var alternate = TinyConfig(data, iterations: 14) with { ClassifierWarmup = 6 };
        // Row I also differs in what only the iterations after the warm-up use (B^ct's α, L_str's weight): it still shares the warm-up.
        var rowI = alternate with
        {
            Strategy = StudentStrategy.ClassTeacherOnly, PulseWidth = new PulseWidthSettings { Period = 4, Tau = 2 },
            ReliableLabel = alternate.ReliableLabel with { AlphaLow = 6 }, EnergyLoss = alternate.EnergyLoss with { Weight = 2 * alternate.EnergyLoss.Weight },
        };
        string study = Path.Combine(temp.Path, "study");
        Assert.Equal(SharedWarmup.Folder(study, alternate), SharedWarmup.Folder(study, rowI));
        Assert.NotEqual(SharedWarmup.Folder(study, alternate), SharedWarmup.Folder(study, alternate with { ClassifierWarmup = 5 }));
        // A warm-up with its own learning rate has its own poly schedule: longer runs share it (the seeded runs below, whose
        // warm-up was trained by a 6-iteration config, end like the 14-iteration whole runs); one on the run's schedule does not.
        Assert.NotNull(alternate.ClassifierWarmupLearningRate);
        Assert.Equal(SharedWarmup.Folder(study, alternate), SharedWarmup.Folder(study, alternate with { Iterations = 40 }));
        Assert.Equal(6, SharedWarmup.WarmupConfig(alternate).Iterations);
        var oneSchedule = alternate with { ClassifierWarmupLearningRate = null };
        Assert.NotEqual(SharedWarmup.Folder(study, oneSchedule), SharedWarmup.Folder(study, oneSchedule with { Iterations = 40 }));
        string warmup = SharedWarmup.Folder(study, alternate);

        int warmupTrainings = 0;
        void Train(Stage1Config c, string folder, bool resume, long stopAfter)
        {
            warmupTrainings++;
            new Stage1Trainer(c, folder).Run(resume, stopAfter: stopAfter);
        }
        foreach (var config in new[] { alternate, rowI })
        {
            string whole = Path.Combine(temp.Path, $"whole-{config.Strategy}"), seeded = Path.Combine(study, $"seeded-{config.Strategy}");
            new Stage1Trainer(config, whole).Run(resume: false);
            Assert.True(SharedWarmup.Seed(config, seeded, warmup, Train));
            Assert.False(SharedWarmup.Seed(config, seeded, warmup, Train)); // has its config now
            Assert.Equal(6, TrainingCheckpoint.FinishedIterations(seeded));
            new Stage1Trainer(config, seeded).Run(resume: true);

            Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(whole, "checkpoint", "model.safetensors"), Path.Combine(seeded, "checkpoint", "model.safetensors"));
            Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(whole, "checkpoint", "extra.safetensors"), Path.Combine(seeded, "checkpoint", "extra.safetensors"));
            var a = MetricsLog.Read(Path.Combine(whole, Stage1Trainer.MetricsFile)).ToList();
            var b = MetricsLog.Read(Path.Combine(seeded, Stage1Trainer.MetricsFile)).ToList();
            Assert.Equal(Enumerable.Range(0, 14).Select(i => (long)i), b.Select(e => e.GetProperty("iteration").GetInt64()));
            foreach (var field in new[] { "phase", "loss", "classLoss", "learningRate", "studentCe", "segTeacherCe" })
                Assert.Equal(a.Select(e => e.TryGetProperty(field, out var v) ? v.GetRawText() : "-"), b.Select(e => e.TryGetProperty(field, out var v) ? v.GetRawText() : "-"));
            Assert.Equal(AsdtJson.Serialize(config), File.ReadAllText(Path.Combine(seeded, Stage1Trainer.ConfigFile)));
            Assert.Equal(AsdtJson.Serialize(config), File.ReadAllText(Path.Combine(seeded, "checkpoint", "config.json")));
        }
        Assert.Equal(1, warmupTrainings); // the second row reused the warm-up
        Assert.Equal(6, TrainingCheckpoint.FinishedIterations(warmup));
        // Nothing to share without ASDT iterations after the warm-up.
        Assert.False(SharedWarmup.Seed(alternate with { ClassifierWarmup = 14 }, Path.Combine(study, "none"), warmup, Train));
    }

    [Fact]
    public void ASharedWarmupKilledPartWayResumesFromItsLastCheckpointUnderTheNameItAlwaysHad()
    {
        using var temp = TestData.NewTempFolder();
        string data = DemoData(temp.Path);
        var config = TinyConfig(data, iterations: 10) with { ClassifierWarmup = 6, CheckpointEvery = 2 };
        string study = Path.Combine(temp.Path, "study"), warmup = SharedWarmup.Folder(study, config);
        // Saved as often as the run; the interval is not in the name, which hashes 0, the interval of every warm-up made before.
        Assert.Equal(2, SharedWarmup.WarmupConfig(config).CheckpointEvery);
        Assert.Equal(warmup, SharedWarmup.Folder(study, config with { CheckpointEvery = 0 }));
        Assert.Equal(warmup, SharedWarmup.Folder(study, config with { CheckpointEvery = 5 }));

        var starts = new List<long>();
        long? killAt = 4;
        void Train(Stage1Config c, string folder, bool resume, long stopAfter)
        {
            starts.Add(TrainingCheckpoint.FinishedIterations(folder));
            new Stage1Trainer(c, folder).Run(resume, stopAfter: stopAfter,
                onIteration: r => { if (r.Iteration == killAt) throw new OperationCanceledException("killed"); });
        }
        // Killed during iteration 4 (after the checkpoint of iterations 0-3): the next call goes on from there.
        Assert.Throws<OperationCanceledException>(() => SharedWarmup.EnsureTrained(config, warmup, Train));
        Assert.Equal(4, TrainingCheckpoint.FinishedIterations(warmup));
        killAt = null;
        SharedWarmup.EnsureTrained(config, warmup, Train);
        Assert.Equal([0L, 4L], starts);
        Assert.Equal(6, TrainingCheckpoint.FinishedIterations(warmup));

        // It ends as a warm-up trained in one go without saving part-way (as every warm-up was before) does.
        string once = Path.Combine(temp.Path, "once");
        var unsaved = SharedWarmup.WarmupConfig(config) with { CheckpointEvery = 0 };
        new Stage1Trainer(unsaved, once).Run(resume: false, stopAfter: 6);
        foreach (var file in new[] { "model.safetensors", "extra.safetensors" })
            Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(once, "checkpoint", file), Path.Combine(warmup, "checkpoint", file));
        Assert.Equal(Losses(once), Losses(warmup));

        // A warm-up started before, killed with no checkpoint, has config.json with interval 0: it is taken up under the new config.
        string older = Path.Combine(study, "older");
        Assert.Throws<OperationCanceledException>(() => new Stage1Trainer(unsaved, older).Run(resume: false, stopAfter: 6,
            onIteration: r => { if (r.Iteration == 3) throw new OperationCanceledException("killed"); }));
        Assert.Equal(0, TrainingCheckpoint.FinishedIterations(older));
        SharedWarmup.EnsureTrained(config, older, Train);
        Assert.Equal(0L, starts[^1]);
        Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(once, "checkpoint", "model.safetensors"), Path.Combine(older, "checkpoint", "model.safetensors"));
        Assert.Equal(Losses(once), Losses(older));
    }

    [Fact]
    public void StagesFrozenOnlyForTheWarmupStayPutThroughItAndTrainAfterItAlsoFromTheSharedWarmup()
    {
        using var temp = TestData.NewTempFolder();
        string data = DemoData(temp.Path);
        var frozen = TinyConfig(data, iterations: 9) with { ClassifierWarmup = 5 };
        var fineTuned = frozen with { Backbone = frozen.Backbone with { FrozenStages = 4, WarmupFrozenStages = 5 } };
        string study = Path.Combine(temp.Path, "study");
        // The warm-up is the frozen run's warm-up: runs that fine-tune layer4 after it share it with runs that do not.
        Assert.Equal(SharedWarmup.Folder(study, frozen), SharedWarmup.Folder(study, fineTuned));
        Assert.NotEqual(SharedWarmup.Folder(study, frozen), SharedWarmup.Folder(study, frozen with { Backbone = frozen.Backbone with { FrozenStages = 4 } }));
        Assert.DoesNotContain("warmupFrozenStages", AsdtJson.Serialize(frozen)); // unset: configs written before it existed read the same

        // A run stopped at the end of its warm-up still has ImageNet's layer4; the iterations after it train layer4 and nothing before it.
        var (imagenet, _) = Stage1Model.CreateNetwork(fineTuned, 5);
        var start = imagenet.Backbone.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        string whole = Path.Combine(temp.Path, "whole");
        new Stage1Trainer(fineTuned, whole).Run(resume: false, stopAfter: 5);
        var afterWarmup = Safetensors.Read(Path.Combine(whole, "checkpoint", "model.safetensors"));
        new Stage1Trainer(fineTuned, whole).Run(resume: true);
        var end = Safetensors.Read(Path.Combine(whole, "checkpoint", "model.safetensors"));
        bool Same(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
        var convs = start.Keys.Where(k => k.EndsWith("conv1.weight") || k.EndsWith("conv2.weight")).ToList();
        Assert.Contains(convs, k => k.StartsWith("layer4."));
        Assert.All(convs, k => Assert.True(Same(start[k], afterWarmup["backbone." + k]), $"{k} moved during the warm-up"));
        Assert.All(convs, k => Assert.Equal(!k.StartsWith("layer4."), Same(start[k], end["backbone." + k])));
        var rows = MetricsLog.Read(Path.Combine(whole, Stage1Trainer.MetricsFile)).ToList();
        Assert.Equal(9, rows.Count);

        // The same run seeded from the shared warm-up (trained by the frozen config), and one trained straight through, end the same.
        string warmup = SharedWarmup.Folder(study, fineTuned), seeded = Path.Combine(study, "seeded"), straight = Path.Combine(temp.Path, "straight");
        Assert.True(SharedWarmup.Seed(fineTuned, seeded, warmup, (c, folder, resume, stopAfter) =>
        {
            Assert.Equal(5, c.Backbone.FrozenStages);
            new Stage1Trainer(c, folder).Run(resume, stopAfter: stopAfter);
        }));
        new Stage1Trainer(fineTuned, seeded).Run(resume: true);
        new Stage1Trainer(fineTuned, straight).Run(resume: false);
        foreach (var other in new[] { seeded, straight })
        {
            Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(whole, "checkpoint", "model.safetensors"), Path.Combine(other, "checkpoint", "model.safetensors"));
            Assert.Equal(rows.Select(r => r.GetProperty("loss").GetRawText()),
                MetricsLog.Read(Path.Combine(other, Stage1Trainer.MetricsFile)).Select(r => r.GetProperty("loss").GetRawText()));
        }

        // A warm-up cannot train what the run freezes.
        var e = Assert.Throws<AsdtException>(() => new Stage1Trainer(frozen with { Backbone = frozen.Backbone with { WarmupFrozenStages = 4 } }, Path.Combine(temp.Path, "bad")).Run(resume: false));
        Assert.Contains("between the run's 5", e.Message);
    }

    /// <summary>Each iteration's loss, as written in metrics.jsonl.</summary>
    static List<string> Losses(string run) =>
        MetricsLog.Read(Path.Combine(run, Stage1Trainer.MetricsFile)).Select(r => r.GetProperty("loss").GetRawText()).ToList();

    /// <summary>Trains <paramref name="config"/> into <paramref name="run"/>, stopped after each of <paramref name="stops"/> and resumed (as if killed there).</summary>
    static string TrainStoppingAt(Stage1Config config, string run, params long[] stops)
    {
        bool resume = false;
        foreach (long stop in stops.Append(config.Iterations))
        {
            new Stage1Trainer(config, run).Run(resume, stopAfter: stop);
            resume = true;
        }
        return run;
    }

    [Fact]
    public void AnAsdtSeedRedrawsOnlyTheIterationsAfterTheWarmupAndSharesTheWarmup()
    {
        using var temp = TestData.NewTempFolder();
        string data = DemoData(temp.Path);
        var plain = TinyConfig(data, iterations: 9) with { ClassifierWarmup = 5 };
        var redrawn = plain with { AsdtSeed = plain.Seed + 1 };
        string study = Path.Combine(temp.Path, "study");
        Assert.Equal(SharedWarmup.Folder(study, plain), SharedWarmup.Folder(study, redrawn));
        Assert.DoesNotContain("asdtSeed", AsdtJson.Serialize(plain)); // unset: configs written before it existed read the same

        string Train(Stage1Config config, string name, params long[] stops) => TrainStoppingAt(config, Path.Combine(temp.Path, name), stops);
        string a = Train(plain, "plain"), b = Train(redrawn, "redrawn"), same = Train(plain with { AsdtSeed = plain.Seed }, "same");
        var (la, lb) = (Losses(a), Losses(b));
        Assert.Equal(9, lb.Count);
        Assert.Equal(la.Take(5), lb.Take(5));                             // the warm-up: same batches, same dropout
        for (int t = 5; t < 9; t++) Assert.NotEqual(la[t], lb[t]);       // every ASDT iteration: other batches and dropout
        // The ASDT seed equal to the seed is the plain run, to the last bit.
        Assert.Equal(la, Losses(same));
        Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(a, "checkpoint", "model.safetensors"), Path.Combine(same, "checkpoint", "model.safetensors"));
        // Stopped in the middle of its ASDT iterations and resumed, the redrawn run repeats itself exactly.
        string resumed = Train(redrawn, "resumed", 7);
        Assert.Equal(lb, Losses(resumed));
        Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(b, "checkpoint", "model.safetensors"), Path.Combine(resumed, "checkpoint", "model.safetensors"));
    }

    [Fact]
    public void AHeadSeedRedrawsOnlyTheSegTeacherAndStudentWhenTheAsdtIterationsStart()
    {
        // The redraw itself: the two heads change, everything else stays; the same seed draws the same heads.
        var config = Stage1Presets.Quick with { Data = Stage1Presets.Quick.Data with { Dataset = "demo" } };
        var (network, _) = Stage1Model.CreateNetwork(config, 5);
        var before = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        Stage1Trainer.RedrawHeads(network, 7);
        var first = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        Stage1Trainer.RedrawHeads(network, 7);
        var again = network.state_dict();
        bool Same(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => a.eq(b).all().item<bool>();
        bool IsHead(string key) => key.StartsWith("fc8_seg.") || key.StartsWith("fc8_stu.");
        Assert.Equal(8, before.Keys.Count(IsHead));
        Assert.All(before.Keys, k => Assert.Equal(!IsHead(k), Same(before[k], first[k])));
        Assert.All(before.Keys, k => Assert.True(Same(first[k], again[k]), k));
        Stage1Trainer.RedrawHeads(network, 8);
        Assert.All(before.Keys.Where(IsHead), k => Assert.False(Same(first[k], network.state_dict()[k]), k));

        using var temp = TestData.NewTempFolder();
        string data = DemoData(temp.Path);
        var plain = TinyConfig(data, iterations: 8) with { ClassifierWarmup = 5 };
        var redrawn = plain with { HeadSeed = 7 };
        Assert.Equal(SharedWarmup.Folder(Path.Combine(temp.Path, "study"), plain), SharedWarmup.Folder(Path.Combine(temp.Path, "study"), redrawn));
        Assert.DoesNotContain("headSeed", AsdtJson.Serialize(plain));
        string Train(Stage1Config c, string name, params long[] stops) => TrainStoppingAt(c, Path.Combine(temp.Path, name), stops);
        string a = Train(plain, "plain"), b = Train(redrawn, "redrawn");
        var (la, lb) = (Losses(a), Losses(b));
        Assert.Equal(la.Take(5), lb.Take(5));   // the warm-up does not see the heads
        Assert.NotEqual(la[5], lb[5]);          // the first ASDT iteration starts from other heads
        // Stopped at the end of the warm-up (where a study's shared warm-up hands over) or inside the ASDT iterations,
        // and resumed, the run repeats itself exactly: the heads are drawn once, when iteration 5 starts.
        foreach (var (name, stops) in new[] { ("at-warmup", new long[] { 5 }), ("inside", new long[] { 5, 6 }) })
        {
            string resumed = Train(redrawn, name, stops);
            Assert.Equal(lb, Losses(resumed));
            Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(b, "checkpoint", "model.safetensors"), Path.Combine(resumed, "checkpoint", "model.safetensors"));
        }
    }

    [Fact]
    public void WeightAveragesFollowTheirDefinitionSurviveResumesAndLeaveTrainingUntouched()
    {
        using var temp = TestData.NewTempFolder();
        string data = DemoData(temp.Path);
        var plain = TinyConfig(data, iterations: 9) with { ClassifierWarmup = 5 };
        var averaged = plain with { AverageDecays = [0.5, 0.9] };
        string study = Path.Combine(temp.Path, "study");
        Assert.Equal(SharedWarmup.Folder(study, plain), SharedWarmup.Folder(study, averaged));   // the averages start after the warm-up
        Assert.DoesNotContain("averageDecays", AsdtJson.Serialize(plain));                        // unset: older configs read the same

        // Stopped after the warm-up and after every ASDT iteration, keeping each iteration's weights w_5 … w_9.
        string stopped = Path.Combine(temp.Path, "stopped");
        var weights = new List<Dictionary<string, TorchSharp.torch.Tensor>>();
        for (long stop = 5; stop <= 9; stop++)
        {
            new Stage1Trainer(averaged, stopped).Run(resume: stop > 5, stopAfter: stop);
            weights.Add(Safetensors.Read(Path.Combine(stopped, "checkpoint", "model.safetensors")));
        }
        var extra = Safetensors.Read(Path.Combine(stopped, "checkpoint", "extra.safetensors"));

        // Brute force: w̄ = w_5, then w̄ ← d·w̄ + (1 − d)·w_k for k = 6 … 9, in double precision.
        var moved = weights[0].Keys.Where(k => !weights[0][k].eq(weights[^1][k]).all().item<bool>()).ToList();
        Assert.Contains(moved, k => k.StartsWith("fc8_seg.")); Assert.Contains(moved, k => k.StartsWith("fc8_stu.")); Assert.Contains(moved, k => k.StartsWith("fc8."));
        foreach (double d in averaged.AverageDecays)
        {
            string prefix = $"average:{WeightAverage.Format(d)}:";
            var names = extra.Keys.Where(k => k.StartsWith(prefix)).Select(k => k[prefix.Length..]).ToHashSet();
            Assert.Subset(names, moved.ToHashSet());   // every weight that moved is averaged (and only parameters are)
            Assert.All(names, n => Assert.True(weights[0].ContainsKey(n), n));
            foreach (var name in names)
            {
                var expected = weights[0][name].to_type(TorchSharp.torch.ScalarType.Float64);
                foreach (var w in weights.Skip(1)) expected = expected * d + w[name].to_type(TorchSharp.torch.ScalarType.Float64) * (1 - d);
                var actual = extra[prefix + name].to_type(TorchSharp.torch.ScalarType.Float64);
                double error = (actual - expected).abs().max().item<double>(), scale = expected.abs().max().item<double>();
                Assert.True(error <= 1e-6 * Math.Max(scale, 1e-3), $"{name}, decay {d}: off by {error} (scale {scale})");
            }
        }
        // The decays are really different averages, and neither is the last weights.
        const string fc = "fc8_seg.conv2.weight";
        Assert.False(extra["average:0.5:" + fc].eq(extra["average:0.9:" + fc]).all().item<bool>());
        Assert.False(extra["average:0.9:" + fc].eq(weights[^1][fc]).all().item<bool>());

        // Training never reads the averages: the same run without them ends with the same weights and losses; and the run
        // trained straight through keeps exactly the averages of the stopped one.
        string without = TrainStoppingAt(plain, Path.Combine(temp.Path, "plain")), straight = TrainStoppingAt(averaged, Path.Combine(temp.Path, "straight"));
        Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(without, "checkpoint", "model.safetensors"), Path.Combine(stopped, "checkpoint", "model.safetensors"));
        Assert.Equal(Losses(without), Losses(stopped));
        Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(straight, "checkpoint", "extra.safetensors"), Path.Combine(stopped, "checkpoint", "extra.safetensors"));

        // Inference with an average loads exactly it; a decay the run did not keep, or a run without averages, is a clear error.
        using (var run = Stage1Run.Open(stopped, average: 0.9))
        {
            var state = run.Network.state_dict();
            Assert.True(state[fc].eq(extra["average:0.9:" + fc]).all().item<bool>());
            Assert.Equal("-average0.9", run.WeightsSuffix);
        }
        var e = Assert.Throws<AsdtException>(() => Stage1Run.Open(stopped, average: 0.7));
        Assert.Contains("no weights averaged with decay 0.7 (it has 0.5, 0.9)", e.Message);
        e = Assert.Throws<AsdtException>(() => Stage1Run.Open(without, average: 0.9));
        Assert.Contains("holds no averaged weights", e.Message);
        Assert.Throws<AsdtException>(() => new WeightAverage([0.9, 1.0]));
        Assert.Throws<AsdtException>(() => new WeightAverage([0.9, 0.9]));
    }
}
