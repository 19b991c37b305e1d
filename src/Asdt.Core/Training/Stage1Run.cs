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
    /// <summary>The decay of the weight average the network holds (<see cref="WeightAverage"/>); null = the last weights.</summary>
    public double? Average { get; }

    Stage1Run(string folder, Stage1Config config, AsdtNetwork network, ImageNormalization normalization, SegmentationDataset dataset, double? average)
    {
        Folder = folder; Config = config; Network = network; Normalization = normalization; Dataset = dataset; Average = average;
    }

    /// <param name="datasetOverride">Another dataset (built-in name or descriptor) with the same classes, e.g. to label new images.</param>
    /// <param name="average">Use the checkpoint's weights averaged with this decay (<see cref="Stage1Config.AverageDecays"/>) instead of the last ones.</param>
    public static Stage1Run Open(string folder, string? datasetOverride = null, string? rootOverride = null, double? average = null)
    {
        string configPath = Path.Combine(folder, Stage1Trainer.ConfigFile);
        var config = AsdtJson.Read<Stage1Config>(configPath);
        string checkpoint = Path.Combine(folder, Stage1Trainer.CheckpointFolder);
        if (!Directory.Exists(checkpoint)) throw new AsdtException(folder, "the run has no checkpoint yet (train it first: asdt train)");
        var dataset = SegmentationDataset.Open(datasetOverride ?? config.Data.Dataset,
            datasetOverride == null ? rootOverride ?? config.Data.Root : rootOverride);
        var (network, normalization) = Stage1Model.CreateNetwork(config, dataset.NumForegroundClasses);
        try
        {
            TrainingCheckpoint.LoadWeights(checkpoint, network);
            if (average is double decay) WeightAverage.Apply(checkpoint, network, decay);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        network.to(TorchSharp.torch.device(config.Device));
        network.eval();
        return new Stage1Run(folder, config, network, normalization, dataset, average);
    }

    /// <summary>"" for the last weights, "-average0.995" for an average: appended to default output folder names.</summary>
    public string WeightsSuffix => Average is double d ? "-average" + WeightAverage.Format(d) : "";

    public void Dispose() => Network.Dispose();
}
