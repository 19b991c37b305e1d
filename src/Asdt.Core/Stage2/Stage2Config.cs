using Asdt.Crf;

namespace Asdt.Stage2;

/// <summary>Where the training masks come from.</summary>
public static class Stage2LabelKinds
{
    /// <summary><c>--labels gt</c>: the dataset's ground truth (the full-supervision upper bound).</summary>
    public const string GroundTruth = "gt";
}

/// <summary>Stage-2 data: dataset, split, label source and the DeepLab augmentation (ALGORITHM.md §9).</summary>
public sealed record Stage2DataSettings
{
    /// <summary>A built-in dataset name or a descriptor JSON path.</summary>
    public string Dataset { get; init; } = "voc2012";
    public string? Root { get; init; }
    public string Split { get; init; } = "train_aug";
    /// <summary>"gt" or a folder of <c>&lt;id&gt;.png</c> pseudo masks (the PSMs of stage 1).</summary>
    public string Labels { get; init; } = Stage2LabelKinds.GroundTruth;
    public int CropSize { get; init; } = 321;
    /// <summary>Per-image random scale, chosen from this list (deeplab-pytorch: 0.5, 0.75, 1.0, 1.25, 1.5).</summary>
    public double[] Scales { get; init; } = [0.5, 0.75, 1.0, 1.25, 1.5];
    public bool Flip { get; init; } = true;
}

public sealed record Stage2BackboneSettings
{
    /// <summary>"resnet101", "resnet50" (torchvision layout, user weights), "resnet38d" (user weights),
    /// "resnet18-imagenet" (NuGet ONNX), "res2net101" (official res2net101_26w_4s keys, user weights).</summary>
    public string Kind { get; init; } = "resnet101";
    public string? Weights { get; init; }
    public int OutputStride { get; init; } = 8;
    public bool FreezeBatchNorm { get; init; } = true;
    /// <summary>Leading stages (stem, layer1, …) whose weights are not trained.</summary>
    public int FrozenStages { get; init; }
    /// <summary>What the backbone weights were trained on (recorded for A15: "imagenet", "coco-init", …).</summary>
    public string Init { get; init; } = "imagenet";
}

/// <summary>DeepLab-v2 head: ASPP v2.</summary>
public sealed record AsppSettings
{
    public int[] Dilations { get; init; } = [6, 12, 18, 24];
    public double InitStd { get; init; } = 0.01;
}

/// <summary>PSPNet head: pyramid pooling module and the 3×3 fusion conv.</summary>
public sealed record PspSettings
{
    public int[] Bins { get; init; } = [1, 2, 3, 6];
    /// <summary>Channels of each pooling branch (in/4 in PSPNet: 512 for 2048 input channels).</summary>
    public int BranchChannels { get; init; } = 512;
    public int HiddenChannels { get; init; } = 512;
    public double Dropout { get; init; } = 0.1;
}

public sealed record Stage2OptimizerSettings
{
    public double LearningRate { get; init; } = 2.5e-4;
    public double HeadWeightMultiplier { get; init; } = 10;
    public double HeadBiasMultiplier { get; init; } = 20;
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; } = 5e-4;
    public double PolyPower { get; init; } = 0.9;
    /// <summary>The poly learning rate is recomputed every this many iterations (deeplab-pytorch: 10).</summary>
    public int PolyStep { get; init; } = 10;
}

/// <summary>
/// Every value of a stage-2 run (config.json of the run folder). Named presets in <see cref="Stage2Presets"/>;
/// CLI flags override single values and are listed in <see cref="Overrides"/>; deviations from ALGORITHM.md §9
/// in <see cref="Deviations"/>.
/// </summary>
public sealed record Stage2Config
{
    public string Preset { get; init; } = "paper";
    /// <summary>"deeplabv2" or "pspnet".</summary>
    public string Network { get; init; } = Stage2Networks.DeepLabV2;
    public Stage2DataSettings Data { get; init; } = new();
    public Stage2BackboneSettings Backbone { get; init; } = new();
    public AsppSettings Aspp { get; init; } = new();
    public PspSettings Psp { get; init; } = new();
    /// <summary>MSC input scales; the first is 1.0 (deeplab-pytorch: 1, 0.5, 0.75, max fusion). [1.0] = single scale.</summary>
    public double[] MscScales { get; init; } = [1.0, 0.5, 0.75];
    public Stage2OptimizerSettings Optimizer { get; init; } = new();
    public int Iterations { get; init; } = 20_000;
    /// <summary>Images per forward pass.</summary>
    public int BatchSize { get; init; } = 5;
    /// <summary>Gradient accumulation steps per iteration (effective batch = BatchSize × IterSize; the loss is divided by IterSize).</summary>
    public int IterSize { get; init; } = 2;
    public int Seed { get; init; } = 1;
    public int CheckpointEvery { get; init; } = 1000;
    public string Device { get; init; } = "cpu";
    /// <summary>Test-time dense CRF (deeplab-pytorch: 1/3, 67/3/4, 10 iterations).</summary>
    public CrfParameters TestCrf { get; init; } = CrfParameters.DeepLabTest;
    /// <summary>How the A15 ambiguity (lr 2.5e-3 vs 2.5e-4, COCO vs ImageNet init) was resolved for this run.</summary>
    public string LearningRateChoice { get; init; } = "";
    public string[] Deviations { get; init; } = [];
    public string[] Overrides { get; init; } = [];
}

public static class Stage2Networks
{
    public const string DeepLabV2 = "deeplabv2";
    public const string PspNet = "pspnet";
    public static IReadOnlyList<string> Names { get; } = [DeepLabV2, PspNet];
}
