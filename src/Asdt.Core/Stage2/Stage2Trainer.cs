using Asdt.Training;
using System.Diagnostics;
using Asdt.Data;
using Asdt.IO;
using Asdt.Models;
using Asdt.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Stage2;

/// <summary>
/// Stage-2 training (ALGORITHM.md §9): DeepLab augmentation, MSC forward, summed CE, gradient accumulation over
/// iter_size sub-batches (loss ÷ iter_size), SGD with momentum and three groups (backbone 1×, head weights 10×,
/// head biases 20× without weight decay), poly lr recomputed every PolyStep iterations. Run folder like stage 1:
/// config.json, metrics.jsonl, checkpoint/ (atomic, every N iterations and at the end), resume, NaN guard,
/// seeds derived from (seed, iteration), one dispose scope per iteration.
/// </summary>
public sealed class Stage2Trainer
{
    public const string ConfigFile = RunFolder.ConfigFile;
    public const string MetricsFile = "metrics.jsonl";
    public const string CheckpointFolder = TrainingCheckpoint.FolderName;
    /// <summary>The class names, one a line (index 0 = background), so a run can segment images without its dataset.</summary>
    public const string ClassesFile = "classes.txt";

    readonly Stage2Config config;
    readonly string runFolder;

    public Stage2Trainer(Stage2Config config, string runFolder)
    {
        this.config = config;
        this.runFolder = runFolder;
    }

    public void Run(bool resume, IProgressSink? progress = null, Action<Stage2Metrics>? onIteration = null, CancellationToken cancel = default)
    {
        if (config.BatchSize < 1 || config.IterSize < 1 || config.Iterations < 1)
            throw new AsdtException("batch size, iter size and iterations must be positive");
        string configPath = Path.Combine(runFolder, ConfigFile);
        string configJson = AsdtJson.Serialize(config);
        string checkpointPath = Path.Combine(runFolder, CheckpointFolder);
        bool hasCheckpoint = RunFolder.Open(runFolder, configJson, resume, checkpointPath, TrainingCheckpoint.StateFile);

        var dataset = SegmentationDataset.Open(config.Data.Dataset, config.Data.Root);
        var labels = new Stage2Labels(dataset, config.Data.Labels);
        var ids = dataset.Ids(config.Data.Split);
        labels.CheckAvailable(ids);
        if (!resume)
        {
            AtomicFile.WriteAllText(configPath, configJson);
            AtomicFile.WriteAllText(Path.Combine(runFolder, ClassesFile), string.Join("\n", dataset.ClassNames) + "\n");
        }

        var device = torch.device(config.Device);
        torch.manual_seed(config.Seed);
        var (network, normalization) = Stage2Model.Create(config, dataset.ClassNames.Count);
        using var _ = network;
        network.to(device);
        var sampler = new DeepLabAugmentation(ids, labels.Load, new DeepLabAugmentationOptions
        {
            BatchSize = config.BatchSize, CropSize = config.Data.CropSize, Scales = config.Data.Scales, Flip = config.Data.Flip, Seed = config.Seed,
        }, normalization);

        var o = config.Optimizer;
        var sgd = new PolySgd(network.Network.BackboneParameters(), network.Network.HeadWeights(), network.Network.HeadBiases(), o.LearningRate,
            o.HeadWeightMultiplier, o.HeadBiasMultiplier, o.WeightDecay, o.Momentum, config.Iterations, o.PolyPower, o.PolyStep);
        var optimizer = sgd.Optimizer;
        long start = 0;
        if (resume && hasCheckpoint) start = TrainingCheckpoint.Load(checkpointPath, network, optimizer);

        using var metrics = new MetricsLog(Path.Combine(runFolder, MetricsFile), resumeFromStep: start);
        for (long t = start; t < config.Iterations; t++)
        {
            cancel.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            Stage2Metrics record;
            using (var scope = NewDisposeScope())
            {
                network.train();
                double lr = sgd.SetLearningRate(t);
                optimizer.zero_grad();
                double loss = 0;
                double[]? scaleLosses = null;
                for (int k = 0; k < config.IterSize; k++)
                {
                    using var sub = NewDisposeScope();
                    torch.manual_seed(config.Seed * 1_000_003L + t * config.IterSize + k); // dropout: a function of (seed, t, k)
                    var batch = sampler.Batch(t * config.IterSize + k);
                    int s = batch.CropSize;
                    var x = tensor(batch.Images).reshape(batch.Size, 3, s, s).to(device);
                    var y = tensor(batch.Labels).reshape(batch.Size, s, s).to(device);
                    var outputs = network.ForwardAll(x);
                    var (total, terms) = MscLoss.Compute(outputs, y);
                    double value = total.item<float>();
                    if (!double.IsFinite(value))
                        throw new AsdtException(Path.Combine(runFolder, MetricsFile),
                            $"loss became {value} at iteration {t} (terms {string.Join(", ", terms.Select(v => v.ToString("G4")))}); the last good checkpoint in {checkpointPath} is intact");
                    total.DividedBy(config.IterSize).backward();
                    loss += value / config.IterSize;
                    scaleLosses ??= new double[terms.Length];
                    for (int i = 0; i < terms.Length; i++) scaleLosses[i] += terms[i] / config.IterSize;
                }
                sgd.Step();
                double seconds = clock.Elapsed.TotalSeconds;
                record = new Stage2Metrics
                {
                    Iteration = t, LearningRate = lr, Loss = loss, ScaleLosses = scaleLosses!, Seconds = seconds,
                    ImagesPerSecond = config.BatchSize * config.IterSize / seconds,
                };
            }
            metrics.Append(record);
            onIteration?.Invoke(record);
            progress?.Report(t + 1, $"loss {record.Loss:0.000} lr {record.LearningRate:0.0e0}");
            bool last = t + 1 == config.Iterations;
            if (last || (config.CheckpointEvery > 0 && (t + 1) % config.CheckpointEvery == 0))
            {
                // Never replace the last good checkpoint with weights an update made non-finite.
                if (PolySgd.NonFiniteParameter(network) is string bad)
                    throw new AsdtException(Path.Combine(runFolder, MetricsFile),
                        $"weights became non-finite ({bad}) in the update of iteration {t} (loss {record.Loss}); the last good checkpoint in {checkpointPath} is intact");
                TrainingCheckpoint.Save(checkpointPath, network, optimizer, t + 1, configJson);
            }
        }
    }
}
