using Asdt.Data;
using Asdt.Models;
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
        var backbone = Backbones.Create(b.Kind, b.Weights, b.OutputStride, b.FreezeBatchNorm, b.FrozenStages, BackboneKinds, loadBackboneWeights);
        foreach (var t in backbone.Classifier.Values) t.Dispose();
        var (net, channels, os) = (backbone.Network, backbone.Channels, backbone.OutputStride);
        nn.Module<Tensor, Tensor> network = config.Network.ToLowerInvariant() switch
        {
            Stage2Networks.DeepLabV2 => new DeepLabV2(net, channels, os, classes, config.Aspp.Dilations, config.Aspp.InitStd),
            Stage2Networks.PspNet => new PspNet(net, channels, os, classes, config.Psp),
            _ => throw new AsdtException($"unknown stage-2 network '{config.Network}' (choose one of: {string.Join(", ", Stage2Networks.Names)})"),
        };
        return (new MultiScaleNetwork(network, config.MscScales), backbone.Normalization);
    }
}
