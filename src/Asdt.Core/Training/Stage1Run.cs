using Asdt.Data;
using Asdt.Models;
using Asdt.Runs;
using TorchSharp;

namespace Asdt.Training;

/// <summary>A finished (or checkpointed) stage-1 run folder, opened for inference: its config, network with trained weights, and dataset.</summary>
public sealed class Stage1Run : IDisposable
{
    public string Folder { get; }
    public Stage1Config Config { get; }
    public AsdtNetwork Network { get; }
    public ImageNormalization Normalization { get; }
    public SegmentationDataset Dataset { get; }

    Stage1Run(string folder, Stage1Config config, AsdtNetwork network, ImageNormalization normalization, SegmentationDataset dataset)
    {
        Folder = folder; Config = config; Network = network; Normalization = normalization; Dataset = dataset;
    }

    /// <param name="datasetOverride">Another dataset (built-in name or descriptor) with the same classes, e.g. to label new images.</param>
    public static Stage1Run Open(string folder, string? datasetOverride = null, string? rootOverride = null)
    {
        string configPath = Path.Combine(folder, Stage1Trainer.ConfigFile);
        var config = AsdtJson.Read<Stage1Config>(configPath);
        string checkpoint = Path.Combine(folder, Stage1Trainer.CheckpointFolder);
        if (!Directory.Exists(checkpoint)) throw new AsdtException(folder, "the run has no checkpoint yet (train it first: asdt train)");
        var dataset = SegmentationDataset.Open(datasetOverride ?? config.Data.Dataset,
            datasetOverride == null ? rootOverride ?? config.Data.Root : rootOverride);
        var (network, normalization) = Stage1Model.CreateNetwork(config, dataset.NumForegroundClasses);
        TrainingCheckpoint.LoadWeights(checkpoint, network);
        network.to(TorchSharp.torch.device(config.Device));
        network.eval();
        return new Stage1Run(folder, config, network, normalization, dataset);
    }

    public void Dispose() => Network.Dispose();
}
