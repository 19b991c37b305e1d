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
        string[] stagePrefixes;
        switch (b.Kind.ToLowerInvariant())
        {
            case "resnet18-imagenet":
            {
                var pretrained = ImageNetResNet18.Load(b.Weights, b.OutputStride, b.FreezeBatchNorm);
                backbone = pretrained.Network; channels = pretrained.Network.OutChannels; normalization = pretrained.Normalization;
                stagePrefixes = ["conv1.|bn1.", "layer1.", "layer2.", "layer3.", "layer4."];
                break;
            }
            case "resnet50" or "resnet101":
            {
                var net = ResNet.Create(b.Kind.EndsWith("101") ? 101 : 50, new ResNetOptions { OutputStride = b.OutputStride, FrozenBatchNorm = b.FreezeBatchNorm });
                StateDicts.Load(net, RequireWeights(b), ignorePrefixes: ["fc."]);
                backbone = net; channels = net.OutChannels; normalization = InputNormalization.TorchvisionImageNet;
                stagePrefixes = ["conv1.|bn1.", "layer1.", "layer2.", "layer3.", "layer4."];
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
                stagePrefixes = ["conv1a.", "b2.|b2_1.|b2_2.", "b3.|b3_1.|b3_2.", "b4.|b4_1.|b4_2.|b4_3.|b4_4.|b4_5.", "b5.|b5_1.|b5_2.", "b6.", "b7.|bn7."];
                break;
            }
            default:
                throw new AsdtException($"unknown backbone '{b.Kind}' (choose one of: {string.Join(", ", BackboneKinds)})");
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
