using Asdt.Data;
using Asdt.Models;
using Asdt.Models.Weights;
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
        var backbone = Backbones.Create(b.Kind, b.Weights, b.OutputStride, b.FreezeBatchNorm, b.FrozenStages, BackboneKinds);
        var network = new AsdtNetwork(backbone.Network, backbone.Channels, foregroundClasses, config.Heads.HiddenChannels, config.Heads.Dilation, config.Heads.ClassifierDropout, config.Heads.ClassifierInit);
        // res38_cls.pth carries the VOC classifier as fc8: it initialises the class-teacher (ALGORITHM.md §2).
        try
        {
            if (backbone.Classifier.Count > 0)
            {
                long classes = backbone.Classifier.Values.First().shape[0];
                if (classes != foregroundClasses)
                    throw new AsdtException(b.Weights!, $"fc8 has {classes} classes but the dataset has {foregroundClasses}");
                StateDicts.Apply(network.ClassTeacher, backbone.Classifier, b.Weights!);
            }
        }
        finally { foreach (var t in backbone.Classifier.Values) t.Dispose(); }
        return (network, backbone.Normalization);
    }

    /// <summary>
    /// The trainable backbone parameters of the stages that only the classifier-only warm-up keeps frozen (stages
    /// <see cref="BackboneSettings.FrozenStages"/> up to <see cref="BackboneSettings.WarmupFrozenStages"/>): the trainer
    /// freezes them for the warm-up and trains them afterwards. Empty when the warm-up freezes what the run freezes.
    /// </summary>
    public static IReadOnlyList<TorchSharp.Modules.Parameter> WarmupOnlyFrozen(AsdtNetwork network, BackboneSettings b)
    {
        int warmupFrozen = b.WarmupFrozenStages ?? b.FrozenStages;
        var stages = Backbones.StagePrefixes(b.Kind, BackboneKinds);
        if (warmupFrozen < b.FrozenStages || warmupFrozen > stages.Length)
            throw new AsdtException($"the warm-up freezes {warmupFrozen} backbone stages: it must be between the run's {b.FrozenStages} and the backbone's {stages.Length}");
        var prefixes = stages.Skip(b.FrozenStages).Take(warmupFrozen - b.FrozenStages).SelectMany(s => s.Split('|')).ToArray();
        return prefixes.Length == 0 ? []
            : network.Backbone.named_parameters().Where(np => np.parameter.requires_grad && prefixes.Any(np.name.StartsWith)).Select(np => np.parameter).ToList();
    }
}
