using Asdt.Data;
using Asdt.Models;
using Asdt.Models.Weights;
using Asdt.Models.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>Builds the stage-1 network, its input normalisation and the dataset from a <see cref="Stage1Config"/>.</summary>
public static class Stage1Model
{
    public static IReadOnlyList<string> BackboneKinds { get; } = ["resnet18-imagenet", "resnet38d", "resnet50", "resnet101"];

    public static (AsdtNetwork Network, ImageNormalization Normalization, SegmentationDataset Dataset) Create(Stage1Config config)
    {
        var dataset = SegmentationDataset.Open(config.Data.Dataset, config.Data.Root);
        var (network, normalization) = CreateNetwork(config, dataset.NumForegroundClasses);
        return (network, normalization, dataset);
    }

    public static (AsdtNetwork Network, ImageNormalization Normalization) CreateNetwork(Stage1Config config, int foregroundClasses)
    {
        var b = config.Backbone;
        nn.Module<Tensor, Tensor> backbone;
        long channels;
        InputNormalization normalization;
        IReadOnlyDictionary<string, Tensor>? classifier = null;
        string[] stagePrefixes = StagePrefixes(b.Kind);
        switch (b.Kind.ToLowerInvariant())
        {
            case "resnet18-imagenet":
            {
                var pretrained = ImageNetResNet18.Load(b.Weights, b.OutputStride, b.FreezeBatchNorm);
                backbone = pretrained.Network; channels = pretrained.Network.OutChannels; normalization = pretrained.Normalization;
                break;
            }
            case "resnet50" or "resnet101":
            {
                var net = ResNet.Create(b.Kind.EndsWith("101") ? 101 : 50, new ResNetOptions { OutputStride = b.OutputStride, FrozenBatchNorm = b.FreezeBatchNorm });
                StateDicts.Load(net, RequireWeights(b), ignorePrefixes: ["fc."]);
                backbone = net; channels = net.OutChannels; normalization = InputNormalization.TorchvisionImageNet;
                break;
            }
            case "resnet38d":
            {
                if (b.OutputStride != 8) throw new AsdtException($"resnet38d has output stride 8 (PSA layout), not {b.OutputStride}");
                var net = new ResNet38d(new ResNet38Options { FrozenBatchNorm = b.FreezeBatchNorm });
                var weights = StateDicts.Read(RequireWeights(b));
                // res38_cls.pth carries the VOC classifier as fc8: it initialises the class-teacher (ALGORITHM.md §2).
                StateDicts.Apply(net, weights, b.Weights!, ignorePrefixes: ["fc8."]);
                classifier = weights.Where(kv => kv.Key.StartsWith("fc8.")).ToDictionary(kv => kv.Key, kv => kv.Value);
                backbone = net; channels = net.OutChannels; normalization = InputNormalization.TorchvisionImageNet;
                break;
            }
            default:
                throw new System.Diagnostics.UnreachableException(b.Kind); // StagePrefixes above rejects unknown kinds
        }
        FreezeStages(backbone, stagePrefixes, b.FrozenStages);
        var network = new AsdtNetwork(backbone, channels, foregroundClasses, config.Heads.HiddenChannels, config.Heads.Dilation, config.Heads.ClassifierDropout, config.Heads.ClassifierInit);
        if (classifier is { Count: > 0 })
        {
            if (classifier.Values.First().shape[0] != foregroundClasses)
                throw new AsdtException(b.Weights!, $"fc8 has {classifier.Values.First().shape[0]} classes but the dataset has {foregroundClasses}");
            StateDicts.Apply(network.ClassTeacher, classifier.ToDictionary(kv => kv.Key["fc8.".Length..], kv => kv.Value), b.Weights!);
        }
        return (network, ToImageNormalization(normalization));
    }

    /// <summary>The backbone's stages in order, each a '|'-separated list of parameter-name prefixes (what <see cref="BackboneSettings.FrozenStages"/> counts).</summary>
    public static string[] StagePrefixes(string kind) => kind.ToLowerInvariant() switch
    {
        "resnet18-imagenet" or "resnet50" or "resnet101" => ["conv1.|bn1.", "layer1.", "layer2.", "layer3.", "layer4."],
        "resnet38d" => ["conv1a.", "b2.|b2_1.|b2_2.", "b3.|b3_1.|b3_2.", "b4.|b4_1.|b4_2.|b4_3.|b4_4.|b4_5.", "b5.|b5_1.|b5_2.", "b6.", "b7.|bn7."],
        _ => throw new AsdtException($"unknown backbone '{kind}' (choose one of: {string.Join(", ", BackboneKinds)})"),
    };

    /// <summary>
    /// The trainable backbone parameters of the stages that only the classifier-only warm-up keeps frozen (stages
    /// <see cref="BackboneSettings.FrozenStages"/> up to <see cref="BackboneSettings.WarmupFrozenStages"/>): the trainer
    /// freezes them for the warm-up and trains them afterwards. Empty when the warm-up freezes what the run freezes.
    /// </summary>
    public static IReadOnlyList<TorchSharp.Modules.Parameter> WarmupOnlyFrozen(AsdtNetwork network, BackboneSettings b)
    {
        int warmupFrozen = b.WarmupFrozenStages ?? b.FrozenStages;
        var stages = StagePrefixes(b.Kind);
        if (warmupFrozen < b.FrozenStages || warmupFrozen > stages.Length)
            throw new AsdtException($"the warm-up freezes {warmupFrozen} backbone stages: it must be between the run's {b.FrozenStages} and the backbone's {stages.Length}");
        var prefixes = stages.Skip(b.FrozenStages).Take(warmupFrozen - b.FrozenStages).SelectMany(s => s.Split('|')).ToArray();
        return prefixes.Length == 0 ? []
            : network.Backbone.named_parameters().Where(np => np.parameter.requires_grad && prefixes.Any(np.name.StartsWith)).Select(np => np.parameter).ToList();
    }

    static string RequireWeights(BackboneSettings b) =>
        b.Weights is { Length: > 0 } w ? w
            : throw new AsdtException($"backbone '{b.Kind}' needs a weights file (--weights path/to/state_dict.pth or .safetensors)");

    /// <summary>Stops gradients into the first <paramref name="count"/> stages (each a '|'-separated list of key prefixes).</summary>
    public static void FreezeStages(nn.Module backbone, string[] stagePrefixes, int count)
    {
        if (count <= 0) return;
        if (count > stagePrefixes.Length) throw new AsdtException($"cannot freeze {count} stages: the backbone has {stagePrefixes.Length}");
        var prefixes = stagePrefixes.Take(count).SelectMany(s => s.Split('|')).ToArray();
        foreach (var (name, p) in backbone.named_parameters())
            if (prefixes.Any(name.StartsWith)) p.requires_grad = false;
    }

    /// <summary>The backbone's input convention as the data layer's per-pixel normalisation.</summary>
    public static ImageNormalization ToImageNormalization(InputNormalization n) =>
        new(n.Mean, n.Std, n.ChannelOrder == ChannelOrder.Bgr, n.Scale);
}
