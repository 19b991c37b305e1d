using Asdt.Data;
using Asdt.Models;
using Asdt.Models.Onnx;
using Asdt.Models.Weights;
using Asdt.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Stage2;

/// <summary>Builds the stage-2 network (wrapped in <see cref="MultiScaleNetwork"/>) and its input normalisation from a config.</summary>
public static class Stage2Model
{
    public static IReadOnlyList<string> BackboneKinds { get; } = ["resnet18-imagenet", "resnet50", "resnet101", "resnet38d", "res2net101"];

    /// <param name="loadBackboneWeights">false when a checkpoint will overwrite every weight anyway (evaluation), so user weight files need not exist.</param>
    public static (MultiScaleNetwork Network, ImageNormalization Normalization) Create(Stage2Config config, int classes, bool loadBackboneWeights = true)
    {
        var b = config.Backbone;
        if (classes < 2 || classes > 255) throw new AsdtException($"stage 2 needs 2..255 classes (got {classes})");
        nn.Module<Tensor, Tensor> backbone;
        int channels;
        InputNormalization normalization;
        string[] stages = ["conv1.|bn1.", "layer1.", "layer2.", "layer3.", "layer4."];
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
                if (loadBackboneWeights) StateDicts.Load(net, RequireWeights(b), ignorePrefixes: ["fc."]);
                backbone = net; channels = net.OutChannels; normalization = InputNormalization.TorchvisionImageNet;
                break;
            }
            case "resnet38d":
            {
                if (b.OutputStride != 8) throw new AsdtException($"resnet38d has output stride 8 (PSA layout), not {b.OutputStride}");
                var net = new ResNet38d(new ResNet38Options { FrozenBatchNorm = b.FreezeBatchNorm });
                if (loadBackboneWeights) StateDicts.Load(net, RequireWeights(b), ignorePrefixes: ["fc8.", "fc."]);
                backbone = net; channels = net.OutChannels; normalization = InputNormalization.TorchvisionImageNet;
                stages = ["conv1a.", "b2.|b2_1.|b2_2.", "b3.|b3_1.|b3_2.", "b4.|b4_1.|b4_2.|b4_3.|b4_4.|b4_5.", "b5.|b5_1.|b5_2.", "b6.", "b7.|bn7."];
                break;
            }
            case "res2net101":
            {
                var net = Res2Net.Create101(b.OutputStride, b.FreezeBatchNorm);
                if (loadBackboneWeights) StateDicts.Load(net, RequireWeights(b), ignorePrefixes: ["fc."]);
                backbone = net; channels = net.OutChannels; normalization = InputNormalization.TorchvisionImageNet;
                break;
            }
            default:
                throw new AsdtException($"unknown stage-2 backbone '{b.Kind}' (choose one of: {string.Join(", ", BackboneKinds)})");
        }
        Stage1Model.FreezeStages(backbone, stages, b.FrozenStages);
        int os = b.Kind.Equals("resnet38d", StringComparison.OrdinalIgnoreCase) ? 8 : b.OutputStride;
        nn.Module<Tensor, Tensor> network = config.Network.ToLowerInvariant() switch
        {
            Stage2Networks.DeepLabV2 => new DeepLabV2(backbone, channels, os, classes, config.Aspp.Dilations, config.Aspp.InitStd),
            Stage2Networks.PspNet => new PspNet(backbone, channels, os, classes, config.Psp),
            _ => throw new AsdtException($"unknown stage-2 network '{config.Network}' (choose one of: {string.Join(", ", Stage2Networks.Names)})"),
        };
        return (new MultiScaleNetwork(network, config.MscScales), Stage1Model.ToImageNormalization(normalization));
    }

    static string RequireWeights(Stage2BackboneSettings b) =>
        b.Weights is { Length: > 0 } w ? w
            : throw new AsdtException($"backbone '{b.Kind}' needs a weights file (--weights path/to/state_dict.pth or .safetensors)");
}
