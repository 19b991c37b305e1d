using System.Diagnostics;
using Asdt.Data;
using Asdt.IO;
using Asdt.Models;
using Asdt.Runs;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// Stage-1 training loop (ALGORITHM.md §6.5–6.6): SGD with three parameter groups and the poly
/// schedule, one <see cref="Stage1Step"/> per iteration, metrics per iteration, atomic checkpoints
/// every N iterations and at the end, and resume from the last checkpoint. Every iteration runs in
/// its own dispose scope so memory stays flat.
/// </summary>
public sealed class Stage1Trainer
{
    public const string ConfigFile = RunFolder.ConfigFile;
    public const string MetricsFile = "metrics.jsonl";
    public const string CheckpointFolder = TrainingCheckpoint.FolderName;

    readonly Stage1Config config;
    readonly string runFolder;

    public Stage1Trainer(Stage1Config config, string runFolder)
    {
        this.config = config;
        this.runFolder = runFolder;
    }

    /// <summary>The seg-teacher's and student's weights drawn afresh from <paramref name="seed"/> (<see cref="Stage1Config.HeadSeed"/>).</summary>
    public static void RedrawHeads(AsdtNetwork network, int seed)
    {
        torch.manual_seed(seed);
        network.SegTeacher.Redraw();
        network.Student.Redraw();
    }

    /// <summary>
    /// Trains to <see cref="Stage1Config.Iterations"/>; with <paramref name="resume"/>, continues from the run folder's checkpoint.
    /// With <paramref name="stopAfter"/>, stops (with a checkpoint) after that many iterations, as if killed there: the
    /// schedules are still those of the whole run, so a later resume continues it exactly (<see cref="SharedWarmup"/>).
    /// </summary>
    public void Run(bool resume, IProgressSink? progress = null, Action<IterationMetrics>? onIteration = null, CancellationToken cancel = default,
        long? stopAfter = null)
    {
        long end = Math.Min(config.Iterations, stopAfter ?? config.Iterations);
        string checkpointPath = Path.Combine(runFolder, CheckpointFolder);
        string configJson = AsdtJson.Serialize(config);
        bool hasCheckpoint = RunFolder.Open(runFolder, configJson, resume, checkpointPath, TrainingCheckpoint.StateFile);
        if (!resume) AtomicFile.WriteAllText(Path.Combine(runFolder, ConfigFile), configJson);

        ComputeThreads.Apply(config.Threads);
        var device = torch.device(config.Device);
        torch.manual_seed(config.Seed);
        var (network, normalization, dataset) = Stage1Model.Create(config);
        network.to(device);
        var items = dataset.TrainingItems(config.Data.Split);
        TrainingSampler NewSampler(int seed) => new(items, new AugmentationOptions
        {
            BatchSize = config.BatchSize,
            CropSize = config.Data.CropSize,
            MinScale = config.Data.ScaleMin,
            MaxScale = config.Data.ScaleMax,
            FlipProbability = config.Data.Flip ? 0.5 : 0,
            Seed = seed,
        }, normalization);
        // Batch t comes from the sampler of iteration t's seed (Stage1Config.AsdtSeed: another one after the warm-up).
        var samplers = new[] { config.Seed, config.SeedAt(config.ClassifierWarmup) }.Distinct().ToDictionary(seed => seed, NewSampler);
        TrainingBatch BatchAt(long t) => samplers[config.SeedAt(t)].Batch(t);

        // Stages that only the warm-up freezes (BackboneSettings.WarmupFrozenStages) are frozen while the checkpoint being
        // resumed is a warm-up one (written after at most ClassifierWarmup iterations: its optimizer has the warm-up's groups)
        // and join the optimizer when the ASDT iterations start.
        var warmupOnlyFrozen = Stage1Model.WarmupOnlyFrozen(network, config.Backbone);
        long resumed = resume && hasCheckpoint ? TrainingCheckpoint.FinishedIterations(runFolder) : 0;
        bool warmupFreeze = warmupOnlyFrozen.Count > 0 && resumed <= config.ClassifierWarmup;
        foreach (var p in warmupOnlyFrozen) p.requires_grad = !warmupFreeze;

        var o = config.Optimizer;
        PolySgd NewSgd() => new(network.BackboneParameters(), network.NewLayerWeights(), network.NewLayerBiases(), o.LearningRate,
            o.NewLayerWeightMultiplier, o.NewLayerBiasMultiplier, o.WeightDecay, o.Momentum, config.Iterations, o.PolyPower,
            warmup: config.ClassifierWarmupLearningRate is double warmupLr ? new PolyWarmup(Math.Min(config.ClassifierWarmup, config.Iterations), warmupLr) : null);
        var sgd = NewSgd();
        var optimizer = sgd.Optimizer;
        long start = 0;
        if (resume && hasCheckpoint)
            start = TrainingCheckpoint.Load(checkpointPath, network, optimizer);

        // The weight averages (Stage1Config.AverageDecays) start with the ASDT iterations; a checkpoint written after that carries them.
        using var average = config.AverageDecays is { Length: > 0 } decays ? new WeightAverage(decays) : null;
        if (average != null && start > config.ClassifierWarmup && !average.TryLoad(checkpointPath, network))
            throw new AsdtException(checkpointPath, $"the run keeps weight averages but its checkpoint at iteration {start} holds none");

        var step = new Stage1Step(config, network);
        using var metrics = new MetricsLog(Path.Combine(runFolder, MetricsFile), resumeFromStep: start);
        var runClock = Stopwatch.StartNew();
        // Data loading overlaps with compute: batch t + 1 is decoded and augmented while step t runs
        // (a batch depends only on (seed, t), so prefetching changes nothing but the time).
        Task<TrainingBatch>? prefetch = start < end ? Task.Run(() => BatchAt(start)) : null;
        for (long t = start; t < end; t++)
        {
            cancel.ThrowIfCancellationRequested();
            if (warmupFreeze && t >= config.ClassifierWarmup)
            {
                // The ASDT iterations train the stages the warm-up kept frozen: a new optimizer over the larger backbone group.
                // SGD without momentum (the presets, A12) has no state to carry over; with momentum, the buffers restart here.
                foreach (var p in warmupOnlyFrozen) p.requires_grad = true;
                warmupFreeze = false;
                sgd.Optimizer.Dispose();
                sgd = NewSgd();
                optimizer = sgd.Optimizer;
            }
            if (t == config.ClassifierWarmup && config.HeadSeed is int headSeed)
                RedrawHeads(network, headSeed);
            if (t == config.ClassifierWarmup)
                average?.Start(network);   // from the weights the first ASDT iteration starts from
            var iterationClock = Stopwatch.StartNew();
            IterationMetrics record;
            using (var scope = NewDisposeScope())
            {
                network.train();
                // Dropout's randomness is a function of (seed, t) alone, so a resumed run repeats the
                // uninterrupted one exactly without saving the generator's state.
                torch.manual_seed(config.SeedAt(t) * 1_000_003L + t);
                var dataClock = Stopwatch.StartNew();
                var batch = prefetch!.GetAwaiter().GetResult();
                long next = t + 1;
                prefetch = next < end ? Task.Run(() => BatchAt(next)) : null;
                double dataSeconds = dataClock.Elapsed.TotalSeconds;   // time spent waiting for the batch
                double lr = sgd.SetLearningRate(t);
                var (loss, m) = step.Run(batch, t, device);
                m.Timings["data"] = dataSeconds;
                double lossValue = loss.item<float>();
                if (!double.IsFinite(lossValue))
                    throw new AsdtException(Path.Combine(runFolder, MetricsFile),
                        $"loss became {lossValue} at iteration {t} ({NonFiniteTerms(m)}; {WeightsState(network)}); the last good checkpoint in {checkpointPath} is intact");
                var backwardClock = Stopwatch.StartNew();
                optimizer.zero_grad();
                loss.backward();
                sgd.Step();
                average?.Update();
                m.Timings["backward"] = backwardClock.Elapsed.TotalSeconds;
                double seconds = iterationClock.Elapsed.TotalSeconds;
                record = m with { LearningRate = lr, Loss = lossValue, Seconds = seconds, ImagesPerSecond = batch.Size / seconds };
            }
            metrics.Append(record);
            onIteration?.Invoke(record);
            progress?.Report(t + 1, record.ProgressText());
            bool last = t + 1 == end;
            bool save = last || (config.CheckpointEvery > 0 && (t + 1) % config.CheckpointEvery == 0);
            // The weights the selection compares (Stage1Config.CheckpointSelection), the last ones always among them.
            bool keep = config.CheckpointSelection is { } selection && selection.Keeps(t + 1, config.Iterations) && t + 1 > config.ClassifierWarmup;
            if (save || keep)
            {
                // Never replace the last good checkpoint with weights an update made non-finite.
                if (PolySgd.NonFiniteParameter(network) is string bad)
                    throw new AsdtException(Path.Combine(runFolder, MetricsFile),
                        $"weights became non-finite ({bad}) in the update of iteration {t} (loss {record.Loss}); the last good checkpoint in {checkpointPath} is intact");
                if (save) TrainingCheckpoint.Save(checkpointPath, network, optimizer, t + 1, configJson, average?.Tensors());
                if (keep) TrainingCheckpoint.SaveWeights(CheckpointSelection.Folder(runFolder, t + 1), network, t + 1, configJson);
            }
        }
    }

    /// <summary>Whether the weights this iteration's forward pass used were already non-finite (the previous update broke them) or not.</summary>
    static string WeightsState(AsdtNetwork network) =>
        PolySgd.NonFiniteParameter(network) is string bad ? $"the weights it started from were already non-finite: {bad}" : "the weights it started from were finite";

    static string NonFiniteTerms(IterationMetrics m)
    {
        var terms = new (string, double?)[]
        {
            ("L_cls", m.ClassLoss), ("seg-teacher CE", m.SegTeacherCe), ("seg-teacher L_str", m.SegTeacherEnergy),
            ("student CE", m.StudentCe), ("student L_str", m.StudentEnergy),
        };
        var bad = terms.Where(x => x.Item2 is double v && !double.IsFinite(v)).Select(x => x.Item1).ToArray();
        return bad.Length > 0 ? "non-finite term: " + string.Join(", ", bad) : "total";
    }
}
