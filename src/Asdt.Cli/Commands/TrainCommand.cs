using System.CommandLine;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>`asdt train`: stage 1 (class-teacher, seg-teacher, student) into a run folder.</summary>
public static class TrainCommand
{
    public static readonly Option<string> Preset = new("--preset") { Description = $"Named preset: {string.Join(", ", Stage1Presets.Names)}", DefaultValueFactory = _ => "quick" };
    public static readonly Option<string> Out = new("--out") { Description = "Run folder (config.json, metrics.jsonl, checkpoint/)", Required = true };
    public static readonly Option<bool> Resume = new("--resume") { Description = "Continue the run in --out from its last checkpoint (config is read from the run folder)" };
    static readonly Option<string?> Dataset = new("--dataset") { Description = "Built-in dataset name or descriptor JSON (overrides the preset)" };
    static readonly Option<string?> Root = new("--root") { Description = "Dataset root folder" };
    static readonly Option<string?> Split = new("--split") { Description = "Training split" };
    static readonly Option<string?> Backbone = new("--backbone") { Description = $"Backbone: {string.Join(", ", Stage1Model.BackboneKinds)}" };
    static readonly Option<string?> Weights = new("--weights") { Description = "Backbone weights (.pth, .safetensors or ImageNet ResNet-18 .onnx)" };
    static readonly Option<int?> OutputStride = new("--output-stride") { Description = "Backbone output stride: 8, 16 or 32 (dilation replaces the later strides)" };
    static readonly Option<int?> HeadWidth = new("--head-width") { Description = "Hidden channels of the seg-teacher and student heads (paper 512)" };
    static readonly Option<int?> HeadDilation = new("--head-dilation") { Description = "Dilation of the heads' 3x3 convolutions (paper 12 at output stride 8)" };
    static readonly Option<Models.ClassifierInit?> ClassifierInit = new("--classifier-init") { Description = "Start of the class-teacher's classifier: Xavier (PSA/RRM) or Zero" };
    static readonly Option<double?> EnergyWeight = new("--energy-weight") { Description = "λ of the energy loss L_str (RRM 1e-7, lattice units)" };
    static readonly Option<string?> CamScales = new("--cam-scales") { Description = "Scales of the online multi-scale CAM behind B^ct (paper 1,0.5,1.5,2)" };
    static readonly Option<int?> FrozenStages = new("--frozen-stages") { Description = "Leading backbone stages that are not trained (0 = fine-tune all; 5 = ResNet fully frozen)" };
    static readonly Option<int?> WarmupFrozenStages = new("--warmup-frozen-stages") { Description = "Leading backbone stages that the classifier-only warm-up does not train (default: --frozen-stages); the stages between the two are fine-tuned from the end of the warm-up" };
    static readonly Option<int?> Iterations = new("--iterations") { Description = "Training iterations" };
    static readonly Option<int?> BatchSize = new("--batch-size") { Description = "Images per batch" };
    static readonly Option<int?> Crop = new("--crop") { Description = "Crop size in pixels" };
    static readonly Option<StudentStrategy?> Strategy = new("--strategy") { Description = "Table-4 row: ClassTeacherOnly (I), SegTeacherOnly (II), NaiveMax (III), NaiveMean (IV), Alternate (V, ASDT)" };
    static readonly Option<int?> Period = new("--period") { Description = "PW wave period T (iterations)" };
    static readonly Option<double?> Tau = new("--tau") { Description = "PW wave proportion τ" };
    static readonly Option<PulseWidthReading?> Reading = new("--pw-reading") { Description = "How τ sets T_h: InverseDutyCycle (T_h = T/τ, paper) or HighToLowRatio (T_h/T_l = τ)" };
    static readonly Option<int?> Warmup = new("--warmup") { Description = "Classifier-only iterations at the start" };
    static readonly Option<double?> WarmupLearningRate = new("--warmup-lr") { Description = "Backbone learning rate of the classifier-only warm-up, on its own poly schedule (new layers ×10 / ×20)" };
    static readonly Option<double?> LearningRate = new("--lr") { Description = "Backbone learning rate (new layers ×10 / ×20)" };
    static readonly Option<double?> Momentum = new("--momentum") { Description = "SGD momentum (RRM's code: effectively 0)" };
    static readonly Option<int?> Seed = new("--seed") { Description = "Random seed" };
    static readonly Option<int?> AsdtSeed = new("--asdt-seed") { Description = "Random seed of the iterations after the warm-up (batches, augmentation, dropout); the warm-up and the heads' initial weights keep --seed's [default: --seed]" };
    static readonly Option<int?> HeadSeed = new("--head-seed") { Description = "Random seed of the seg-teacher's and student's initial weights, drawn when the ASDT iterations start [default: those drawn from --seed]" };
    static readonly Option<int?> WarmupCandidates = new("--warmup-candidates") { Description = "Train N classifier-only warm-ups (seeds N(s−1)+1 … N·s for --seed s) and continue the one whose CAMs score best on --warmup-selection-split; 1 = no selection" };
    static readonly Option<string?> WarmupSelectionSplit = new("--warmup-selection-split") { Description = "Split whose CAM mIoU chooses the warm-up (never the one you report) [default: val]" };
    static readonly Option<string?> AverageDecays = new("--average-decays") { Description = "Also keep moving averages of the weights from the first ASDT iteration on, one per decay (e.g. 0.99,0.995; not in the paper); eval-run and psm use one with --average" };
    static readonly Option<int?> Threads = new("--threads") { Description = "CPU threads for libtorch, CRFs and energy losses (0 = all cores; may change on --resume)" };
    static readonly Option<int?> CheckpointEvery = new("--checkpoint-every") { Description = "Iterations between checkpoints" };
    static readonly Option<long?> KeepCheckpointsFrom = new("--keep-checkpoints-from") { Description = "Keep the weights of this iteration and every --keep-checkpoints-every-th after it (and the last), and when training ends use those that score best on --checkpoint-selection-split instead of the last (not in the paper; the cpu preset: 2200); 0 = no selection, the last weights" };
    static readonly Option<int?> KeepCheckpointsEvery = new("--keep-checkpoints-every") { Description = "Iterations between kept checkpoints [default: 100]" };
    static readonly Option<string?> CheckpointSelectionSplit = new("--checkpoint-selection-split") { Description = "Split whose P̄ + CRF mIoU (P^s + CRF in row I) chooses among the kept checkpoints (never the one you report) [default: val]" };
    static readonly ReliableLabelFlags ReliableLabelOptions = new();
    static readonly Option<string?> Device = new("--device") { Description = "cpu or cuda" };

    public static Command Create()
    {
        var command = new Command("train", "Stage 1: train the class-teacher, seg-teacher and student (ASDT) and write a run folder.");
        foreach (var o in AllOptions()) command.Options.Add(o);
        command.SetAction(parse =>
        {
            string output = parse.GetValue(Out)!;
            var config = parse.GetValue(Resume) ? ResumeConfig(parse, output) : FromFlags(parse);
            TrainOrSelect(config, output, parse.GetValue(Resume));
            return 0;
        });
        return command;
    }

    /// <summary>The options that set config values (all but --out and --resume), for commands that train several runs (ablate, sweep).</summary>
    public static IEnumerable<Option> ConfigOptions() => AllOptions().Where(o => o != Out && o != Resume);

    /// <summary>Config options the user actually gave on the command line.</summary>
    public static IEnumerable<string> GivenOptions(ParseResult parse, params Option[] among) =>
        among.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name);

    /// <summary>--strategy, --period and --tau: set per row by ablate and per point by sweep.</summary>
    public static Option[] StrategyOptions => [Strategy, Period, Tau];

    static IEnumerable<Option> AllOptions() =>
    [
        Preset, Out, Resume, Dataset, Root, Split, Backbone, Weights, OutputStride, FrozenStages, WarmupFrozenStages, HeadWidth, HeadDilation, ClassifierInit, EnergyWeight, CamScales, Iterations, BatchSize, Crop, Strategy, Period, Tau, Reading,
        Warmup, WarmupLearningRate, WarmupCandidates, WarmupSelectionSplit, LearningRate, Momentum, Seed, AsdtSeed, HeadSeed, AverageDecays, Threads, CheckpointEvery, KeepCheckpointsFrom, KeepCheckpointsEvery, CheckpointSelectionSplit, Device, .. ReliableLabelOptions.Options,
    ];

    /// <summary>The run folder's own config.json for --resume; only --threads and --checkpoint-every may be given with it.</summary>
    public static Stage1Config ResumeConfig(ParseResult parse, string output)
    {
        // --threads and --checkpoint-every say how to use this machine, not what to compute (RunFolder.ResumableFields).
        FlagOverrides.RefuseOnResume(parse, AllOptions().Except([Out, Resume, Preset]), Threads, CheckpointEvery);
        var config = AsdtJson.Read<Stage1Config>(Path.Combine(output, Stage1Trainer.ConfigFile));
        if (parse.GetValue(Threads) is int threads) config = config with { Threads = threads };
        return parse.GetValue(CheckpointEvery) is int every ? config with { CheckpointEvery = every } : config;
    }

    /// <summary>The preset with every flag the user gave applied on top (and listed in <see cref="Stage1Config.Overrides"/>).</summary>
    public static Stage1Config FromFlags(ParseResult parse)
    {
        var c = Stage1Presets.Get(parse.GetValue(Preset)!);
        var flags = new FlagOverrides(parse);
        c = c with
        {
            Data = c.Data with
            {
                Dataset = flags.Text(Dataset, c.Data.Dataset)!,
                Root = flags.Text(Root, c.Data.Root),
                Split = flags.Text(Split, c.Data.Split)!,
                CropSize = flags.Value(Crop, c.Data.CropSize),
            },
            Backbone = c.Backbone with
            {
                Kind = flags.Text(Backbone, c.Backbone.Kind)!,
                Weights = flags.Text(Weights, c.Backbone.Weights),
                OutputStride = flags.Value(OutputStride, c.Backbone.OutputStride),
                FrozenStages = flags.Value(FrozenStages, c.Backbone.FrozenStages),
                WarmupFrozenStages = flags.Optional(WarmupFrozenStages, c.Backbone.WarmupFrozenStages),
            },
            Heads = c.Heads with
            {
                HiddenChannels = flags.Value(HeadWidth, c.Heads.HiddenChannels),
                Dilation = flags.Value(HeadDilation, c.Heads.Dilation),
                ClassifierInit = flags.Value(ClassifierInit, c.Heads.ClassifierInit),
            },
            CamScales = flags.Text(CamScales, null) is string scales ? EvalRunCommand.ParseScales(scales, "--cam-scales") : c.CamScales,
            EnergyLoss = c.EnergyLoss with { Weight = flags.Value(EnergyWeight, c.EnergyLoss.Weight) },
            ReliableLabel = ReliableLabelOptions.Apply(flags, c.ReliableLabel),
            Iterations = flags.Value(Iterations, c.Iterations),
            BatchSize = flags.Value(BatchSize, c.BatchSize),
            Strategy = flags.Value(Strategy, c.Strategy),
            PulseWidth = c.PulseWidth with
            {
                Period = flags.Value(Period, c.PulseWidth.Period),
                Tau = flags.Value(Tau, c.PulseWidth.Tau),
                Reading = flags.Value(Reading, c.PulseWidth.Reading),
            },
            ClassifierWarmup = flags.Value(Warmup, c.ClassifierWarmup),
            ClassifierWarmupLearningRate = flags.Optional(WarmupLearningRate, c.ClassifierWarmupLearningRate),
            Optimizer = c.Optimizer with
            {
                LearningRate = flags.Value(LearningRate, c.Optimizer.LearningRate),
                Momentum = flags.Value(Momentum, c.Optimizer.Momentum),
            },
            Seed = flags.Value(Seed, c.Seed),
            AsdtSeed = flags.Optional(AsdtSeed, c.AsdtSeed),
            HeadSeed = flags.Optional(HeadSeed, c.HeadSeed),
            WarmupSelection = Selection(flags, c.WarmupSelection),
            AverageDecays = flags.Text(AverageDecays, null) is string decays ? ParseDecays(decays) : c.AverageDecays,
            CheckpointSelection = CheckpointChoice(flags, c.CheckpointSelection),
            // A machine setting, not the algorithm's: kept in config.json's "threads", not listed among the overrides (whose
            // study-table line says they take precedence over the preset's deviations from the paper).
            Threads = parse.GetValue(Threads) ?? c.Threads,
            CheckpointEvery = flags.Value(CheckpointEvery, c.CheckpointEvery),
            Device = flags.Text(Device, c.Device)!,
        };
        c.CheckpointSelection?.Validate(c.Iterations);
        return c with { Overrides = [.. c.Overrides, .. flags.Applied] };
    }

    /// <summary>--keep-checkpoints-from, --keep-checkpoints-every and --checkpoint-selection-split on top of the preset's (none without a first iteration).</summary>
    static CheckpointSelectionSettings? CheckpointChoice(FlagOverrides flags, CheckpointSelectionSettings? current)
    {
        long? from = flags.Optional(KeepCheckpointsFrom, current?.From);
        if (from is not long first || first == 0)
            return flags.Text(CheckpointSelectionSplit, null) != null || flags.Optional(KeepCheckpointsEvery, null) != null
                ? throw new AsdtException("--keep-checkpoints-every and --checkpoint-selection-split need a checkpoint selection (--keep-checkpoints-from N, N ≥ 1)")
                : null;
        var s = current ?? new CheckpointSelectionSettings();
        return s with
        {
            From = first,
            Every = flags.Value(KeepCheckpointsEvery, s.Every),
            Split = flags.Text(CheckpointSelectionSplit, s.Split)!,
        };
    }

    static double[] ParseDecays(string text)
    {
        var decays = EvalRunCommand.ParseList(text, "--average-decays");
        WeightAverage.Validate(decays, "--average-decays");
        return decays;
    }

    /// <summary>--warmup-candidates and --warmup-selection-split on top of the preset's selection (1 candidate = none).</summary>
    static WarmupSelectionSettings? Selection(FlagOverrides flags, WarmupSelectionSettings? current)
    {
        int candidates = flags.Value(WarmupCandidates, current?.Candidates ?? 1);
        if (candidates < 1) throw new AsdtException($"--warmup-candidates must be 1 or more (got {candidates})");
        string? split = flags.Text(WarmupSelectionSplit, current?.Split);
        if (candidates == 1)
            return split != null && current == null ? throw new AsdtException("--warmup-selection-split needs --warmup-candidates 2 or more") : null;
        return (current ?? new WarmupSelectionSettings()) with { Candidates = candidates, Split = split ?? "val" };
    }

    /// <summary>
    /// A fresh run with a warm-up selection first trains and scores the candidate warm-ups in &lt;out&gt;/warmup-candidates,
    /// then continues the chosen one (<see cref="StudyRunner.SelectWarmup"/>); the same command resumes it where it stopped.
    /// </summary>
    public static void TrainOrSelect(Stage1Config config, string output, bool resume)
    {
        if (!resume && WarmupSelection.Pending(config))
            StudyRunner.TrainIfNeeded("train", config, output, Path.Combine(output, CandidatesFolder));
        else
            Train(config, output, resume);
    }

    public const string CandidatesFolder = "warmup-candidates";

    public static void Train(Stage1Config config, string output, bool resume)
    {
        Console.WriteLine($"asdt train: preset {config.Preset}, {config.Strategy}, {config.PulseWidth.Signal()}, {config.Iterations} iterations → {output}");
        var trainer = new Stage1Trainer(config, output);
        // A resumed run starts its rate and ETA from the checkpoint's iteration, not from 0.
        long done = resume ? TrainingCheckpoint.FinishedIterations(output) : 0;
        ProgressDisplay.Run("stage 1", config.Iterations, done, sink => trainer.Run(resume, sink));
        SelectCheckpointCommand.SelectIfAsked("train", config, output);
    }
}
