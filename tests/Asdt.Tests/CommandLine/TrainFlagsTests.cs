using Asdt.Crf;
using Asdt.Cli.Commands;
using Asdt.Training;

namespace Asdt.Tests.CommandLine;

/// <summary>`asdt train` flags land in the config and are recorded as overrides of the preset.</summary>
public class TrainFlagsTests
{
    static Stage1Config Parse(params string[] args) => TrainCommand.FromFlags(TrainCommand.Create().Parse(["--out", "unused", .. args]));

    [Fact]
    public void PresetValuesStayWhenNoFlagIsGiven()
    {
        var c = Parse("--preset", "cpu");
        Assert.Equal(Stage1Presets.Cpu.Backbone.FrozenStages, c.Backbone.FrozenStages);
        Assert.Equal(Stage1Presets.Cpu.ClassifierWarmupLearningRate, c.ClassifierWarmupLearningRate);
        Assert.Empty(c.Overrides);
    }

    [Fact]
    public void FrozenStagesAndWarmupRateOverrideThePresetAndAreRecorded()
    {
        var c = Parse("--preset", "cpu", "--frozen-stages", "3", "--warmup-lr", "0.02", "--lr", "0.001");
        Assert.Equal(3, c.Backbone.FrozenStages);
        Assert.Equal(0.02, c.ClassifierWarmupLearningRate);
        Assert.Equal(0.001, c.Optimizer.LearningRate);
        Assert.Equal(["--frozen-stages=3", "--warmup-lr=0.02", "--lr=0.001"], c.Overrides);
        // The cpu preset trains layer4 only after its frozen warm-up; the flag changes that and is recorded too.
        Assert.Equal((4, 5), (Stage1Presets.Cpu.Backbone.FrozenStages, Stage1Presets.Cpu.Backbone.WarmupFrozenStages));
        Assert.Equal(5, c.Backbone.WarmupFrozenStages);
        var d = Parse("--preset", "cpu", "--warmup-frozen-stages", "4");
        Assert.Equal((4, 4), (d.Backbone.FrozenStages, d.Backbone.WarmupFrozenStages));
        Assert.Equal(["--warmup-frozen-stages=4"], d.Overrides);
        Assert.Null(Parse("--preset", "quick").Backbone.WarmupFrozenStages);
    }

    [Fact]
    public void AsdtSeedAndHeadSeedAreUnsetUnlessGivenAndThenListedAmongTheOverrides()
    {
        var plain = Parse("--preset", "cpu", "--seed", "13");
        Assert.Null(plain.AsdtSeed);
        Assert.Equal(13, plain.SeedAt(plain.ClassifierWarmup));
        var c = Parse("--preset", "cpu", "--seed", "13", "--asdt-seed", "15");
        Assert.Equal((13, 15), (c.Seed, c.AsdtSeed));
        Assert.Equal(["--seed=13", "--asdt-seed=15"], c.Overrides);
        // The warm-up's iterations keep --seed's draws; the first ASDT iteration is the first with --asdt-seed's.
        Assert.Equal((13, 15), (c.SeedAt(c.ClassifierWarmup - 1), c.SeedAt(c.ClassifierWarmup)));
        Assert.Null(c.HeadSeed);
        var h = Parse("--preset", "cpu", "--head-seed", "15");
        Assert.Equal((15, null), (h.HeadSeed, h.AsdtSeed));
        Assert.Equal(["--head-seed=15"], h.Overrides);
    }

    [Fact]
    public void AverageDecaysAreUnsetUnlessGivenAndInvalidOnesAreRefusedNamingTheFlag()
    {
        Assert.Null(Parse("--preset", "cpu").AverageDecays);
        var c = Parse("--preset", "cpu", "--average-decays", "0.99,0.995");
        Assert.Equal([0.99, 0.995], c.AverageDecays!);
        Assert.Equal(["--average-decays=0.99,0.995"], c.Overrides);
        Assert.StartsWith("--average-decays: ", Assert.Throws<AsdtException>(() => Parse("--average-decays", "0.9,1")).Message);
        Assert.Contains("repeat", Assert.Throws<AsdtException>(() => Parse("--average-decays", "0.9,0.9")).Message);
        Assert.Contains("comma-separated numbers", Assert.Throws<AsdtException>(() => Parse("--average-decays", "high")).Message);
    }

    [Fact]
    public void WarmupCandidatesSetTheSelectionAndOneCandidateTurnsItOff()
    {
        var c = Parse("--preset", "quick", "--warmup-candidates", "3");
        Assert.Equal(new WarmupSelectionSettings { Candidates = 3, Split = "val" }, c.WarmupSelection);
        Assert.Equal(["--warmup-candidates=3"], c.Overrides);
        var d = Parse("--preset", "quick", "--warmup-candidates", "2", "--warmup-selection-split", "holdout");
        Assert.Equal(new WarmupSelectionSettings { Candidates = 2, Split = "holdout" }, d.WarmupSelection);
        Assert.Null(Parse("--preset", "quick").WarmupSelection);
        Assert.Null(Parse("--preset", "quick", "--warmup-candidates", "1").WarmupSelection);
        Assert.Contains("--warmup-candidates", Assert.Throws<AsdtException>(() => Parse("--warmup-selection-split", "val")).Message);
        Assert.Contains("1 or more", Assert.Throws<AsdtException>(() => Parse("--warmup-candidates", "0")).Message);
    }

    [Fact]
    public void Stage2ResumeReadsTheRunsConfigAndAcceptsOnlyACheckpointInterval()
    {
        using var temp = TestData.NewTempFolder();
        var cli = Asdt.Cli.Commands.SegTrainCommand.Create();
        var started = Asdt.Cli.Commands.SegTrainCommand.FromFlags(cli.Parse(["--out", temp.Path, "--preset", "cpu", "--labels", "gt", "--seed", "7"]));
        Asdt.IO.AtomicFile.WriteAllText(Path.Combine(temp.Path, Asdt.Stage2.Stage2Trainer.ConfigFile), Asdt.Runs.AsdtJson.Serialize(started));
        Asdt.Stage2.Stage2Config Resume(params string[] args) =>
            Asdt.Cli.Commands.SegTrainCommand.ResumeConfig(cli.Parse(["--out", temp.Path, "--resume", .. args]), temp.Path);

        Assert.Equal(Asdt.Runs.AsdtJson.Serialize(started), Asdt.Runs.AsdtJson.Serialize(Resume()));
        Assert.Equal(Asdt.Runs.AsdtJson.Serialize(started with { CheckpointEvery = 7 }), Asdt.Runs.AsdtJson.Serialize(Resume("--checkpoint-every", "7")));
        var e = Assert.Throws<AsdtException>(() => Resume("--checkpoint-every", "7", "--seed", "3"));
        Assert.Contains("--seed", e.Message);
        Assert.Contains("only --checkpoint-every", e.Message);
    }

    [Fact]
    public void ResumeReadsTheRunsConfigAndAcceptsOnlyAThreadCountAndACheckpointInterval()
    {
        using var temp = TestData.NewTempFolder();
        var started = Parse("--preset", "cpu", "--threads", "1", "--seed", "7");
        Asdt.IO.AtomicFile.WriteAllText(Path.Combine(temp.Path, Stage1Trainer.ConfigFile), Asdt.Runs.AsdtJson.Serialize(started));
        Stage1Config Resume(params string[] args) =>
            TrainCommand.ResumeConfig(TrainCommand.Create().Parse(["--out", temp.Path, "--resume", .. args]), temp.Path);

        Assert.Equal(1, Resume().Threads);
        Assert.Equal(7, Resume().Seed);
        // The thread count is a machine setting: kept in the config, not listed as a change of the preset's algorithm.
        Assert.Equal(["--seed=7"], started.Overrides);
        var more = Resume("--threads", "2");
        Assert.Equal(2, more.Threads);
        Assert.Equal(Asdt.Runs.AsdtJson.Serialize(started with { Threads = 2 }), Asdt.Runs.AsdtJson.Serialize(more));
        var e = Assert.Throws<AsdtException>(() => Resume("--threads", "2", "--seed", "3"));
        Assert.Contains("--seed", e.Message);
        Assert.Contains("only --threads", e.Message);
        // How often it is saved is a machine setting too.
        Assert.Equal(Asdt.Runs.AsdtJson.Serialize(started with { CheckpointEvery = 7 }), Asdt.Runs.AsdtJson.Serialize(Resume("--checkpoint-every", "7")));
    }

    [Fact]
    public void AblateAndSweepScoreWithTheConfigsCrfInferenceAndThreadCount()
    {
        var c = Parse("--preset", "cpu", "--threads", "1");
        var s = StudyRunner.Scoring(c, restricted: true, [Asdt.Psm.PsmSource.Max], withoutCrf: false, cam: false);
        Assert.Equal(1, s.Threads);
        Assert.Equal(c.SegTeacherCrf, s.Crf);
        Assert.Same(c.Inference, s.Augmentation);
        Assert.True(s.RestrictToImageLabels);
        Assert.Equal([Asdt.Psm.PsmSource.Max], s.Sources);
        Assert.Equal(0, StudyRunner.Scoring(Parse("--preset", "cpu"), false, [], true, true).Threads);
    }


    [Theory]
    [InlineData("ablate")]
    [InlineData("sweep")]
    public void AblateAndSweepTakeTheSameStudyOptions(string name)
    {
        var command = name == "ablate" ? AblateCommand.Create() : SweepCommand.Create();
        var parse = command.Parse(["--out", "study", "--eval-split", "val", "--restrict", "yes", "--no-report", "--preset", "cpu"]);
        Assert.Empty(parse.Errors);
        Assert.Equal("study", parse.GetValue<string>("--out"));
        Assert.Equal("val", parse.GetValue<string>("--eval-split"));
        Assert.Equal("yes", parse.GetValue<string>("--restrict"));
        Assert.True(parse.GetValue<bool>("--no-report"));
        Assert.Equal("auto", command.Parse(["--out", "study"]).GetValue<string>("--restrict"));
        Assert.Null(command.Parse(["--out", "study"]).GetValue<string>("--eval-split"));
        Assert.Contains(command.Parse(["--preset", "cpu"]).Errors, e => e.Message.Contains("--out"));
        // Each option is declared once; the training flags come after the study's own.
        var names = command.Options.Select(o => o.Name).ToArray();
        Assert.Equal(names.Length, names.Distinct().Count());
        Assert.Equal("--out", names[0]);
    }
    [Fact]
    public void ClassifierInitFlagIsRecordedAndXavierLeavesOldConfigsAsTheyWere()
    {
        Assert.Equal(Asdt.Models.ClassifierInit.Zero, Parse("--preset", "cpu").Heads.ClassifierInit);
        var zero = Parse("--preset", "paper", "--classifier-init", "zero");
        Assert.Equal(Asdt.Models.ClassifierInit.Zero, zero.Heads.ClassifierInit);
        Assert.Equal(["--classifier-init=Zero"], zero.Overrides);
        Assert.Contains("\"classifierInit\": \"zero\"", Asdt.Runs.AsdtJson.Serialize(zero));
        Assert.Equal(zero.Heads, System.Text.Json.JsonSerializer.Deserialize<Stage1Config>(Asdt.Runs.AsdtJson.Serialize(zero), Asdt.Runs.AsdtJson.Options)!.Heads);

        // Xavier (the default) is not written, so a config.json or a shared warm-up hash from before the setting is unchanged.
        var xavier = Parse("--preset", "paper");
        Assert.Equal(Asdt.Models.ClassifierInit.Xavier, xavier.Heads.ClassifierInit);
        Assert.DoesNotContain("classifierInit", Asdt.Runs.AsdtJson.Serialize(xavier));
        var back = Parse("--preset", "cpu", "--classifier-init", "xavier");
        Assert.Equal(Asdt.Models.ClassifierInit.Xavier, back.Heads.ClassifierInit);
        Assert.Equal(["--classifier-init=Xavier"], back.Overrides);
    }

    [Fact]
    public void PaperPresetKeepsRrmSingleSchedule()
    {
        var c = Parse("--preset", "paper");
        Assert.Null(c.ClassifierWarmupLearningRate);
        Assert.Equal(0, c.Backbone.FrozenStages);
    }

    [Fact]
    public void ArchitectureAndLossFlagsOverrideThePresetAndAreRecorded()
    {
        var c = Parse("--preset", "cpu", "--output-stride", "32", "--head-width", "128", "--head-dilation", "2",
            "--energy-weight", "4e-7", "--cam-scales", "1, 0.5,2");
        Assert.Equal(32, c.Backbone.OutputStride);
        Assert.Equal(128, c.Heads.HiddenChannels);
        Assert.Equal(2, c.Heads.Dilation);
        Assert.Equal(4e-7, c.EnergyLoss.Weight);
        Assert.Equal([1.0, 0.5, 2.0], c.CamScales);
        Assert.Equal(["--output-stride=32", "--head-width=128", "--head-dilation=2", "--cam-scales=1, 0.5,2", "--energy-weight=4E-07"], c.Overrides);
        // Untouched values stay the preset's.
        Assert.Equal(Stage1Presets.Cpu.EnergyLoss.SigmaRgb, c.EnergyLoss.SigmaRgb);
        Assert.Equal(Stage1Presets.Cpu.Heads.ClassifierDropout, c.Heads.ClassifierDropout);
        var error = Assert.Throws<AsdtException>(() => Parse("--preset", "cpu", "--cam-scales", "1,x"));
        Assert.Contains("--cam-scales", error.Message);
        Assert.Contains("(0, 8]", Assert.Throws<AsdtException>(() => Parse("--preset", "cpu", "--cam-scales", "1,0")).Message);
    }

    [Fact]
    public void InferenceFlagsOverrideTheRunsDefault()
    {
        var flags = new InferenceFlags();
        var command = new System.CommandLine.Command("x");
        foreach (var o in flags.Options) command.Options.Add(o);
        var runDefault = Stage1Presets.Cpu.Inference;
        Assert.Same(runDefault, flags.Resolve(command.Parse([]), runDefault));
        var scales = flags.Resolve(command.Parse(["--scales", "1,2"]), runDefault);
        Assert.Equal([1.0, 2.0], scales.Scales);
        Assert.Equal(runDefault.Flip, scales.Flip);
        Assert.False(flags.Resolve(command.Parse(["--flip", "false"]), runDefault).Flip);
        Assert.True(flags.Resolve(command.Parse(["--single-scale"]), runDefault).IsSingleScale);
        Assert.Throws<AsdtException>(() => flags.Resolve(command.Parse(["--single-scale", "--scales", "1,2"]), runDefault));
        Assert.Throws<AsdtException>(() => flags.Resolve(command.Parse(["--scales", "-1"]), runDefault));
    }

    [Fact]
    public void CrfFlagTakesAPresetOrNumbersAndExcludesNoCrf()
    {
        var flag = new CrfFlag();
        var command = new System.CommandLine.Command("x") { flag.Option };
        var runDefault = CrfParameters.RrmInference;
        Assert.Same(runDefault, flag.Resolve(command.Parse([]), runDefault, noCrf: false));
        Assert.Null(flag.Resolve(command.Parse([]), runDefault, noCrf: true));
        Assert.Same(CrfParameters.LabelCrf, flag.Resolve(command.Parse(["--crf", "label-crf"]), runDefault, false));
        Assert.Equal(new CrfParameters(3, 3, 83, 5, 8, 10), flag.Resolve(command.Parse(["--crf", "3,3,83,5,8"]), runDefault, false));
        Assert.Equal(new CrfParameters(1, 3, 67, 3.5f, 4, 5), flag.Resolve(command.Parse(["--crf", "1, 3, 67, 3.5, 4, 5"]), runDefault, false));
        Assert.Throws<AsdtException>(() => flag.Resolve(command.Parse(["--crf", "afa"]), runDefault, noCrf: true));
        foreach (var bad in new[] { "nope", "3,3,83,5", "3,3,x,5,4", "3,3,83,0,4", "3,3,83,5,4,2.5", "3,-1,83,5,4" })
        {
            var e = Assert.Throws<AsdtException>(() => flag.Resolve(command.Parse(["--crf", bad]), runDefault, false));
            Assert.StartsWith("--crf: ", e.Message);
        }
    }
}

/// <summary>B^ct's thresholds and CRF as flags of `asdt train` (recorded) and their checks.</summary>
public class ReliableLabelFlagsTests
{
    static Stage1Config Parse(params string[] args) => TrainCommand.FromFlags(TrainCommand.Create().Parse(["--out", "unused", .. args]));

    [Fact]
    public void AlphasPercentileAndLabelCrfOverrideThePresetAndAreRecorded()
    {
        var c = Parse("--preset", "cpu", "--alpha-low", "6", "--alpha-high", "48", "--cam-percentile", "0.5", "--label-crf", "3,3,80,5,10");
        Assert.Equal(6, c.ReliableLabel.AlphaLow);
        Assert.Equal(48, c.ReliableLabel.AlphaHigh);
        Assert.Equal(0.5, c.ReliableLabel.CamPercentile);
        Assert.Equal(new CrfParameters(3, 3, 80, 5, 10, 10), c.ReliableLabel.Crf);
        Assert.Equal(["--alpha-low=6", "--alpha-high=48", "--cam-percentile=0.5", "--label-crf=3,3,80,5,10"], c.Overrides);
        // Untouched values stay the preset's.
        Assert.Equal(Stage1Presets.Cpu.ReliableLabel.CrfSure, c.ReliableLabel.CrfSure);
        Assert.Equal(Stage1Presets.Cpu.ReliableLabel, Parse("--preset", "cpu").ReliableLabel);
    }

    [Theory]
    [InlineData("--alpha-low", "40", "must be larger than --alpha-low")]   // high 32 would be the larger background
    [InlineData("--alpha-high", "0", "must be positive")]
    [InlineData("--cam-percentile", "1", "--cam-percentile must be in [0, 1)")]
    [InlineData("--label-crf", "3,3,80", "--label-crf:")]
    public void ImpossibleValuesAreOneLineErrors(string flag, string value, string message)
    {
        var e = Assert.Throws<AsdtException>(() => Parse("--preset", "cpu", flag, value));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void CheckpointSelectionIsOffUnlessAFirstKeptIterationIsGivenAndItsOtherFlagsNeedOne()
    {
        Assert.Null(Parse("--preset", "quick").CheckpointSelection);
        Assert.Null(Parse("--preset", "paper").CheckpointSelection);
        // The cpu preset keeps 2200, 2300, … and chooses on val; 0 turns that off.
        Assert.Equal(new CheckpointSelectionSettings { From = 2200, Every = 100, Split = "val" }, Parse("--preset", "cpu").CheckpointSelection);
        var off = Parse("--preset", "cpu", "--keep-checkpoints-from", "0");
        Assert.Null(off.CheckpointSelection);
        Assert.Equal(["--keep-checkpoints-from=0"], off.Overrides);
        var c = Parse("--preset", "quick", "--keep-checkpoints-from", "100");
        Assert.Equal(new CheckpointSelectionSettings { From = 100, Every = 100, Split = "val" }, c.CheckpointSelection);
        Assert.Equal(["--keep-checkpoints-from=100"], c.Overrides);
        var d = Parse("--preset", "cpu", "--keep-checkpoints-from", "3000", "--keep-checkpoints-every", "250", "--checkpoint-selection-split", "holdout");
        Assert.Equal(new CheckpointSelectionSettings { From = 3000, Every = 250, Split = "holdout" }, d.CheckpointSelection);
        var e = Assert.Throws<AsdtException>(() => Parse("--preset", "quick", "--checkpoint-selection-split", "val"));
        Assert.Contains("need a checkpoint selection", e.Message);
        e = Assert.Throws<AsdtException>(() => Parse("--preset", "cpu", "--keep-checkpoints-from", "0", "--keep-checkpoints-every", "50"));
        Assert.Contains("need a checkpoint selection", e.Message);
        e = Assert.Throws<AsdtException>(() => Parse("--preset", "cpu", "--keep-checkpoints-from", "4000"));
        Assert.Contains("must be in 1 … 3500 (got 4000)", e.Message);
    }
}
