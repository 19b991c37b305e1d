using Asdt.Data;
using Asdt.Models.Onnx;
using Asdt.Models.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Models;

/// <summary>
/// A backbone built by <see cref="Backbones.Create"/>: the network, the channels of its last feature map, its input
/// convention, its stages in order (each a '|'-separated list of parameter-name prefixes, what a frozen-stage count
/// counts) and the tensors of the weights file that belong to no backbone parameter but are kept for the caller
/// (res38_cls.pth's VOC classifier <c>fc8.*</c>, which initialises stage 1's class-teacher; ALGORITHM.md §2).
/// </summary>
public sealed record Backbone(nn.Module<Tensor, Tensor> Network, int Channels, int OutputStride, ImageNormalization Normalization,
    string[] Stages, IReadOnlyDictionary<string, Tensor> Classifier);

/// <summary>The backbones stage 1 and stage 2 are built on, by kind name (one place for both stages).</summary>
public static class Backbones
{
    public const string ResNet18ImageNet = "resnet18-imagenet";
    public const string ResNet38d = "resnet38d";

    static readonly string[] ResNetStages = ["conv1.|bn1.", "layer1.", "layer2.", "layer3.", "layer4."];
    static readonly string[] ResNet38Stages = ["conv1a.", "b2.|b2_1.|b2_2.", "b3.|b3_1.|b3_2.", "b4.|b4_1.|b4_2.|b4_3.|b4_4.|b4_5.", "b5.|b5_1.|b5_2.", "b6.", "b7.|bn7."];

    /// <summary>
    /// Builds the backbone <paramref name="kind"/> (one of <paramref name="kinds"/>, the kinds the calling stage supports),
    /// loads its weights (the ONNX ResNet-18 always; a state-dict file for the others unless
    /// <paramref name="loadWeights"/> is false, when a checkpoint overwrites every weight anyway) and stops gradients into
    /// its first <paramref name="frozenStages"/> stages. Every network asdt builds comes through here, so this is also
    /// where libtorch's NNPACK backend is switched off (<see cref="NnpackSwitch"/>: no kernel changes, no per-call warning).
    /// </summary>
    public static Backbone Create(string kind, string? weights, int outputStride, bool freezeBatchNorm, int frozenStages,
        IReadOnlyList<string> kinds, bool loadWeights = true)
    {
        NnpackSwitch.EnsureOff();
        string[] stages = StagePrefixes(kind, kinds);
        IReadOnlyDictionary<string, Tensor> classifier = new Dictionary<string, Tensor>();
        nn.Module<Tensor, Tensor> network;
        int channels;
        InputNormalization normalization = InputNormalization.TorchvisionImageNet;
        switch (kind.ToLowerInvariant())
        {
            case ResNet18ImageNet:
            {
                var pretrained = ImageNetResNet18.Load(weights, outputStride, freezeBatchNorm);
                network = pretrained.Network; channels = pretrained.Network.OutChannels; normalization = pretrained.Normalization;
                break;
            }
            case "resnet50" or "resnet101":
            {
                var net = ResNet.Create(kind.EndsWith("101") ? 101 : 50, new ResNetOptions { OutputStride = outputStride, FrozenBatchNorm = freezeBatchNorm });
                if (loadWeights) StateDicts.Load(net, RequireWeights(kind, weights), ignorePrefixes: ["fc."]);
                network = net; channels = net.OutChannels;
                break;
            }
            case ResNet38d:
            {
                if (outputStride != 8) throw new AsdtException($"resnet38d has output stride 8 (PSA layout), not {outputStride}");
                var net = new ResNet38d(new ResNet38Options { FrozenBatchNorm = freezeBatchNorm });
                if (loadWeights)
                {
                    string path = RequireWeights(kind, weights);
                    var all = StateDicts.Read(path);
                    StateDicts.Apply(net, all, path, ignorePrefixes: ["fc8.", "fc."]);
                    classifier = all.Where(kv => kv.Key.StartsWith("fc8.", StringComparison.Ordinal))
                        .ToDictionary(kv => kv.Key["fc8.".Length..], kv => kv.Value);
                    foreach (var (key, t) in all)
                        if (!key.StartsWith("fc8.", StringComparison.Ordinal)) t.Dispose();
                }
                network = net; channels = net.OutChannels;
                break;
            }
            case "res2net101":
            {
                var net = Stage2.Res2Net.Create101(outputStride, freezeBatchNorm);
                if (loadWeights) StateDicts.Load(net, RequireWeights(kind, weights), ignorePrefixes: ["fc."]);
                network = net; channels = net.OutChannels;
                break;
            }
            default:
                throw new System.Diagnostics.UnreachableException(kind); // StagePrefixes above rejects unknown kinds
        }
        FreezeStages(network, stages, frozenStages);
        return new Backbone(network, channels, kind.Equals(ResNet38d, StringComparison.OrdinalIgnoreCase) ? 8 : outputStride,
            ToImageNormalization(normalization), stages, classifier);
    }

    /// <summary>The stages of backbone <paramref name="kind"/> in order; an error naming <paramref name="kinds"/> for any other kind.</summary>
    public static string[] StagePrefixes(string kind, IReadOnlyList<string> kinds)
    {
        if (!kinds.Contains(kind.ToLowerInvariant()))
            throw new AsdtException($"unknown backbone '{kind}' (choose one of: {string.Join(", ", kinds)})");
        return kind.Equals(ResNet38d, StringComparison.OrdinalIgnoreCase) ? ResNet38Stages : ResNetStages;
    }

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

    static string RequireWeights(string kind, string? weights) =>
        weights is { Length: > 0 } w ? w
            : throw new AsdtException($"backbone '{kind}' needs a weights file (--weights path/to/state_dict.pth or .safetensors)");
}
