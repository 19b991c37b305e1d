using Asdt.Crf;

namespace Asdt.Training;

/// <summary>The rows of the paper's Table 4: what the student learns from.</summary>
public enum StudentStrategy
{
    /// <summary>I. Single class-teacher (= RRM): the student always learns B^ct; no seg-teacher.</summary>
    ClassTeacherOnly,
    /// <summary>II. Single seg-teacher: the student always learns B^st.</summary>
    SegTeacherOnly,
    /// <summary>III. Naive dual: the student learns CRF(max(P^ct, P^st)) every iteration.</summary>
    NaiveMax,
    /// <summary>IV. Naive dual: the student learns CRF(mean(P^ct, P^st)) every iteration.</summary>
    NaiveMean,
    /// <summary>V. Alternate self-dual teaching (ASDT): the PW wave switches between B^ct and B^st.</summary>
    Alternate,
}

/// <summary>Which head a strategy's pseudo masks come from.</summary>
public static class StudentStrategyOutput
{
    /// <summary>
    /// The head whose probabilities are a run's pseudo masks: P̄ = max(P^st, P^s) (paper eq. 1), except in row I, which
    /// never trains its seg-teacher (P^st stays at its initial weights), so its only segmentation output is P^s.
    /// <c>asdt psm</c> by default, the checkpoint selection and the run report use it, as Table 4 does (StudyTables.Final).
    /// </summary>
    public static Psm.PsmSource Output(this StudentStrategy strategy) =>
        strategy == StudentStrategy.ClassTeacherOnly ? Psm.PsmSource.Student : Psm.PsmSource.Max;
}

/// <summary>Which backbone feeds the three branches.</summary>
public sealed record BackboneSettings
{
    /// <summary>"resnet18-imagenet" (NuGet ONNX), "resnet38d", "resnet50", "resnet101" (user weights).</summary>
    public string Kind { get; init; } = "resnet38d";
    /// <summary>Weights file (.pth / .safetensors / .onnx); null = the built-in ImageNet ResNet-18 for that kind.</summary>
    public string? Weights { get; init; }
    public int OutputStride { get; init; } = 8;
    /// <summary>BatchNorm always in eval mode and excluded from optimisation (RRM).</summary>
    public bool FreezeBatchNorm { get; init; } = true;
    /// <summary>Leading stages whose weights are not trained (0 = train all convs, RRM).</summary>
    public int FrozenStages { get; init; }
    /// <summary>
    /// Leading stages not trained during the classifier-only warm-up (<see cref="Stage1Config.ClassifierWarmup"/>);
    /// null = <see cref="FrozenStages"/>. Larger than <see cref="FrozenStages"/> when the warm-up trains only the
    /// classifier on frozen features and the ASDT iterations then fine-tune the later stages with the seg-teacher's and
    /// the student's losses, as the paper's shared backbone is (<see cref="Stage1Model.WarmupOnlyFrozen"/>).
    /// </summary>
    /// <remarks>Left out of config.json when null, so configs and shared warm-up hashes written before the setting existed stay valid.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? WarmupFrozenStages { get; init; }
}

/// <summary>Heads: class-teacher dropout, seg-teacher/student width and dilation.</summary>
public sealed record HeadSettings
{
    public int HiddenChannels { get; init; } = 512;
    public int Dilation { get; init; } = 12;
    public double ClassifierDropout { get; init; } = 0.5;
    /// <summary>Start of the class-teacher's classifier: Xavier (PSA/RRM) or zeros (see <see cref="Models.ClassifierInit"/>).</summary>
    /// <remarks>Left out of config.json when Xavier, so configs and shared warm-up hashes written before the setting existed stay valid.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public Models.ClassifierInit ClassifierInit { get; init; } = Models.ClassifierInit.Xavier;
}

public sealed record DataSettings
{
    /// <summary>A built-in dataset name ("demo", "msrc21-objects", "voc2012", "cocostuff10k") or a descriptor JSON path.</summary>
    public string Dataset { get; init; } = "voc2012";
    /// <summary>Dataset root (overrides the descriptor's).</summary>
    public string? Root { get; init; }
    public string Split { get; init; } = "train_aug";
    public int CropSize { get; init; } = 321;
    public double ScaleMin { get; init; } = 0.7;
    public double ScaleMax { get; init; } = 1.3;
    public bool Flip { get; init; } = true;
}

public sealed record OptimizerSettings
{
    /// <summary>Backbone learning rate; new layers use ×10 (weights) and ×20 (biases).</summary>
    public double LearningRate { get; init; } = 7e-4;
    public double NewLayerWeightMultiplier { get; init; } = 10;
    public double NewLayerBiasMultiplier { get; init; } = 20;
    public double WeightDecay { get; init; } = 1e-5;
    /// <summary>RRM's code passes the weight decay as SGD momentum, so the effective momentum is ≈0 (A12).</summary>
    public double Momentum { get; init; }
    public double PolyPower { get; init; } = 0.9;
}

public sealed record PulseWidthSettings
{
    /// <summary>T: iterations per period.</summary>
    public int Period { get; init; } = 150;
    /// <summary>τ: T / T_h in the paper's reading.</summary>
    public double Tau { get; init; } = 5;
    public PulseWidthReading Reading { get; init; } = PulseWidthReading.InverseDutyCycle;

    public PulseWidthSignal Signal() => new(Period, Tau, Reading);
}

/// <summary>
/// Every value of a stage-1 run. Saved as config.json beside the run; named presets in
/// <see cref="Stage1Presets"/>; CLI flags override single values. Deviations from the paper /
/// ALGORITHM.md are listed in <see cref="Deviations"/> so they travel with the results.
/// </summary>
public sealed record Stage1Config
{
    public string Preset { get; init; } = "paper";
    public DataSettings Data { get; init; } = new();
    public BackboneSettings Backbone { get; init; } = new();
    public HeadSettings Heads { get; init; } = new();
    /// <summary>Online multi-scale CAM scales (paper: 1, 0.5, 1.5, 2).</summary>
    public double[] CamScales { get; init; } = [1.0, 0.5, 1.5, 2.0];
    public ReliableLabelSettings ReliableLabel { get; init; } = new();
    public EnergyLossSettings EnergyLoss { get; init; } = new();
    /// <summary>CRF that turns P^st into B^st (A5: RRM inference parameters).</summary>
    public CrfParameters SegTeacherCrf { get; init; } = CrfParameters.RrmInference;
    public StudentStrategy Strategy { get; init; } = StudentStrategy.Alternate;
    /// <summary>
    /// How the heads are run on whole images for PSMs and scoring (ALGORITHM.md §7): the paper's single scale,
    /// or §7's optional multi-scale + flip averaging. `asdt psm` / `asdt eval-run` default to this value.
    /// </summary>
    public Psm.TestTimeAugmentation Inference { get; init; } = Psm.TestTimeAugmentation.None;
    /// <summary>
    /// Decays of exponential moving averages of the trained weights, kept from the first ASDT iteration on and saved with
    /// the checkpoint (<see cref="WeightAverage"/>; not in the paper: our option). Training never reads them; eval-run and
    /// psm use one on request (--average d). Null = none.
    /// </summary>
    /// <remarks>Left out of config.json when null, so configs and shared warm-up hashes written before the setting existed stay valid.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double[]? AverageDecays { get; init; }
    public PulseWidthSettings PulseWidth { get; init; } = new();
    public OptimizerSettings Optimizer { get; init; } = new();
    public int Iterations { get; init; } = 20_000;
    public int BatchSize { get; init; } = 4;
    /// <summary>Iterations at the start that train only the class-teacher (RRM train_from_init; 0 with res38_cls.pth).</summary>
    public int ClassifierWarmup { get; init; }
    /// <summary>
    /// Backbone learning rate of the classifier-only warm-up (new layers ×10/×20 as usual), on its own poly
    /// schedule; the ASDT iterations then restart the poly schedule from <see cref="OptimizerSettings.LearningRate"/>.
    /// Null = RRM's train_from_init: one schedule over all iterations at the main learning rate.
    /// A14: a classifier started from ImageNet needs PSA's 0.1-scale rates, not RRM's 7e-4.
    /// </summary>
    public double? ClassifierWarmupLearningRate { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>
    /// Seed of the randomness of the iterations after the warm-up (from <see cref="ClassifierWarmup"/> on): which images each
    /// batch holds, their scale, crop and flip, and dropout. Null = <see cref="Seed"/>. The weights the ASDT iterations start
    /// from (the warm-up's, and the heads' initial weights drawn before it unless <see cref="HeadSeed"/> redraws them) stay those of <see cref="Seed"/>, so runs that
    /// differ only here share their warm-up: it tells whether a run's outcome was settled by its warm-up or by the ASDT
    /// iterations' draws. The sampler's epochs are shuffled per seed, so the epoch the warm-up ends in is finished in the
    /// other seed's order (some of its images can come twice, others not at all, once).
    /// </summary>
    /// <remarks>Left out of config.json when null, so configs and shared warm-up hashes written before the setting existed stay valid.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? AsdtSeed { get; init; }
    /// <summary>
    /// Seed of the seg-teacher's and student's initial weights, drawn afresh when the ASDT iterations start (their draws
    /// at construction, from <see cref="Seed"/>, are then replaced). Null = keep those. The warm-up never touches these
    /// heads, so runs that differ only here share it; with <see cref="AsdtSeed"/> it separates the three things a seed
    /// decides: the warm-up (class-teacher), the heads' start, and the ASDT iterations' draws.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? HeadSeed { get; init; }
    /// <summary>The seed of iteration <paramref name="t"/>'s batch and dropout: <see cref="AsdtSeed"/> after the warm-up, else <see cref="Seed"/>.</summary>
    public int SeedAt(long t) => t >= ClassifierWarmup && AsdtSeed is int asdt ? asdt : Seed;
    /// <summary>
    /// Train several warm-ups and continue the one whose CAMs score best on another split (<see cref="Training.WarmupSelection"/>);
    /// null = one warm-up, of <see cref="Seed"/>. Once chosen, <see cref="Seed"/> is the chosen candidate's and the asked seed is kept here.
    /// </summary>
    /// <remarks>Left out of config.json when null, so configs and shared warm-up hashes written before the setting existed stay valid.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public WarmupSelectionSettings? WarmupSelection { get; init; }
    /// <summary>
    /// Keep the weights of every N-th iteration from an iteration on and use the ones that score best on another split
    /// instead of the last (<see cref="Training.CheckpointSelection"/>; not in the paper); null = the last weights.
    /// </summary>
    /// <remarks>Left out of config.json when null, so configs and shared warm-up hashes written before the setting existed stay valid.</remarks>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public CheckpointSelectionSettings? CheckpointSelection { get; init; }
    public int CheckpointEvery { get; init; } = 1000;
    /// <summary>CPU threads for libtorch, CRFs and energy losses (0 = all cores; <see cref="Runs.ComputeThreads"/>). A resume may change it.</summary>
    public int Threads { get; init; }
    /// <summary>"cpu" or "cuda"; the network is device-agnostic, the CRFs run on CPU.</summary>
    public string Device { get; init; } = "cpu";
    public string[] Deviations { get; init; } = [];
    /// <summary>Values changed from the preset on the command line ("--flag=value").</summary>
    public string[] Overrides { get; init; } = [];
}
