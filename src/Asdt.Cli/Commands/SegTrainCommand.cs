using System.CommandLine;
using Asdt.Runs;
using Asdt.Stage2;

namespace Asdt.Cli.Commands;

/// <summary>`asdt seg-train`: stage 2 (DeepLab-v2 or PSPNet) on pseudo masks or on ground truth, into a run folder.</summary>
public static class SegTrainCommand
{
    static readonly Option<string> Preset = new("--preset") { Description = $"Named preset: {string.Join(", ", Stage2Presets.Names)}", DefaultValueFactory = _ => "quick" };
    static readonly Option<string> Out = new("--out") { Description = "Run folder (config.json, classes.txt, metrics.jsonl, checkpoint/)", Required = true };
    static readonly Option<bool> Resume = new("--resume") { Description = "Continue the run in --out from its last checkpoint (config read from the run folder)" };
    static readonly Option<string?> Labels = new("--labels") { Description = "Training masks: 'gt' (the dataset's ground truth) or a folder of <id>.png pseudo masks (asdt psm)" };
    static readonly Option<string?> Network = new("--network") { Description = "deeplabv2 or pspnet" };
    static readonly Option<string?> Dataset = new("--dataset") { Description = "Built-in dataset name or descriptor JSON" };
    static readonly Option<string?> Root = new("--root") { Description = "Dataset root folder" };
    static readonly Option<string?> Split = new("--split") { Description = "Training split" };
    static readonly Option<string?> Backbone = new("--backbone") { Description = $"Backbone: {string.Join(", ", Stage2Model.BackboneKinds)}" };
    static readonly Option<string?> Weights = new("--weights") { Description = "Backbone weights (.pth / .safetensors; ResNet-18: the NuGet .onnx)" };
    static readonly Option<string?> Init = new("--init") { Description = "What the backbone weights were trained on, recorded in config.json (e.g. imagenet, coco-init)" };
    static readonly Option<int?> OutputStride = new("--output-stride") { Description = "Backbone output stride (8 or 16)" };
    static readonly Option<int?> Iterations = new("--iterations") { Description = "Training iterations" };
    static readonly Option<int?> BatchSize = new("--batch-size") { Description = "Images per forward pass" };
    static readonly Option<int?> IterSize = new("--iter-size") { Description = "Gradient accumulation steps per iteration" };
    static readonly Option<int?> Crop = new("--crop") { Description = "Crop size in pixels" };
    static readonly Option<double?> LearningRate = new("--lr") { Description = "Base learning rate (head weights ×10, biases ×20)" };
    static readonly Option<int?> Seed = new("--seed") { Description = "Random seed" };
    static readonly Option<int?> CheckpointEvery = new("--checkpoint-every") { Description = "Iterations between checkpoints" };
    static readonly Option<string?> Device = new("--device") { Description = "cpu or cuda" };

    static IEnumerable<Option> AllOptions() =>
    [
        Preset, Out, Resume, Labels, Network, Dataset, Root, Split, Backbone, Weights, Init, OutputStride, Iterations, BatchSize, IterSize, Crop,
        LearningRate, Seed, CheckpointEvery, Device,
    ];

    /// <summary>The run folder's own config.json for --resume; only --checkpoint-every may be given with it.</summary>
    public static Stage2Config ResumeConfig(ParseResult parse, string output)
    {
        // How often the run is saved does not change what it computes (RunFolder.ResumableFields).
        FlagOverrides.RefuseOnResume(parse, AllOptions().Except([Out, Resume, Preset]), CheckpointEvery);
        var config = AsdtJson.Read<Stage2Config>(Path.Combine(output, Stage2Trainer.ConfigFile));
        return parse.GetValue(CheckpointEvery) is int every ? config with { CheckpointEvery = every } : config;
    }

    public static Command Create()
    {
        var command = new Command("seg-train", "Stage 2: train DeepLab-v2 (ASPP, MSC) or PSPNet on pseudo masks (--labels <folder>) or ground truth (--labels gt).");
        foreach (var o in AllOptions()) command.Options.Add(o);
        command.SetAction(parse =>
        {
            string output = parse.GetValue(Out)!;
            bool resume = parse.GetValue(Resume);
            var config = resume ? ResumeConfig(parse, output) : FromFlags(parse);
            Train(config, output, resume);
            return 0;
        });
        return command;
    }

    public static Stage2Config FromFlags(ParseResult parse)
    {
        var c = Stage2Presets.Get(parse.GetValue(Preset)!);
        var flags = new FlagOverrides(parse);
        string? labels = flags.Text(Labels, null);
        if (labels != null && labels != Stage2LabelKinds.GroundTruth) labels = Path.GetFullPath(labels);
        c = c with
        {
            Network = flags.Text(Network, c.Network)!.ToLowerInvariant(),
            Data = c.Data with
            {
                Dataset = flags.Text(Dataset, c.Data.Dataset)!,
                Root = flags.Text(Root, c.Data.Root),
                Split = flags.Text(Split, c.Data.Split)!,
                Labels = labels ?? c.Data.Labels,
                CropSize = flags.Value(Crop, c.Data.CropSize),
            },
            Backbone = c.Backbone with
            {
                Kind = flags.Text(Backbone, c.Backbone.Kind)!,
                Weights = flags.Text(Weights, c.Backbone.Weights) is string w ? Path.GetFullPath(w) : null,
                Init = flags.Text(Init, c.Backbone.Init)!,
                OutputStride = flags.Value(OutputStride, c.Backbone.OutputStride),
            },
            Iterations = flags.Value(Iterations, c.Iterations),
            BatchSize = flags.Value(BatchSize, c.BatchSize),
            IterSize = flags.Value(IterSize, c.IterSize),
            Optimizer = c.Optimizer with { LearningRate = flags.Value(LearningRate, c.Optimizer.LearningRate) },
            Seed = flags.Value(Seed, c.Seed),
            CheckpointEvery = flags.Value(CheckpointEvery, c.CheckpointEvery),
            Device = flags.Text(Device, c.Device)!,
        };
        return c with { Overrides = [.. c.Overrides, .. flags.Applied] };
    }

    public static void Train(Stage2Config config, string output, bool resume)
    {
        Console.WriteLine($"asdt seg-train: preset {config.Preset}, {config.Network} on {config.Backbone.Kind} (OS {config.Backbone.OutputStride}), " +
                          $"labels {config.Data.Labels}, {config.Iterations} iterations of {config.BatchSize}×{config.IterSize} → {output}");
        var trainer = new Stage2Trainer(config, output);
        ProgressDisplay.Run("stage 2", config.Iterations, 0, sink => trainer.Run(resume, sink));
    }
}
