using Asdt.Data;
using Asdt.Runs;
using Asdt.Training;
using TorchSharp;

namespace Asdt.Stage2;

/// <summary>A trained stage-2 run opened for inference: config, class names, normalisation and the network in eval mode.</summary>
public sealed class Stage2Run : IDisposable
{
    public string Folder { get; }
    public Stage2Config Config { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public MultiScaleNetwork Network { get; }
    public ImageNormalization Normalization { get; }
    /// <summary>Iterations the loaded weights were trained for.</summary>
    public long Iteration { get; }

    Stage2Run(string folder, Stage2Config config, IReadOnlyList<string> classes, MultiScaleNetwork network, ImageNormalization normalization, long iteration)
    {
        Folder = folder; Config = config; ClassNames = classes; Network = network; Normalization = normalization; Iteration = iteration;
    }

    public static Stage2Run Open(string folder)
    {
        if (!Directory.Exists(folder)) throw new AsdtException(folder, "model run folder not found (train one with asdt seg-train)");
        string configPath = Path.Combine(folder, Stage2Trainer.ConfigFile);
        if (!File.Exists(configPath)) throw new AsdtException(folder, "not a stage-2 run folder (config.json missing; train one with asdt seg-train)");
        var config = AsdtJson.Read<Stage2Config>(configPath);
        string classesPath = Path.Combine(folder, Stage2Trainer.ClassesFile);
        if (!File.Exists(classesPath)) throw new AsdtException(classesPath, "class list missing from the run folder");
        var classes = File.ReadAllLines(classesPath).Where(l => l.Length > 0).ToArray();
        string checkpoint = Path.Combine(folder, Stage2Trainer.CheckpointFolder);
        if (!Directory.Exists(checkpoint)) throw new AsdtException(folder, "the run has no checkpoint yet (train it first: asdt seg-train)");
        var (network, normalization) = Stage2Model.Create(config, classes.Length, loadBackboneWeights: false);
        long iteration;
        try { iteration = TrainingCheckpoint.LoadWeights(checkpoint, network); }
        catch { network.Dispose(); throw; }
        network.to(TorchSharp.torch.device(config.Device));
        network.eval();
        return new Stage2Run(folder, config, classes, network, normalization, iteration);
    }

    /// <summary>Checks that a dataset has this run's classes (same names, same order).</summary>
    public void CheckClasses(SegmentationDataset dataset)
    {
        if (!dataset.ClassNames.SequenceEqual(ClassNames, StringComparer.OrdinalIgnoreCase))
            throw new AsdtException(Path.Combine(Folder, Stage2Trainer.ClassesFile),
                $"the model has {ClassNames.Count} classes ({string.Join(", ", ClassNames.Take(4))}, ...) but dataset '{dataset.Name}' has {dataset.ClassNames.Count} ({string.Join(", ", dataset.ClassNames.Take(4))}, ...)");
    }

    public void Dispose() => Network.Dispose();
}
