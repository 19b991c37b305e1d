using System.Security.Cryptography;
using System.Text;
using Asdt.IO;
using Asdt.Models;
using Asdt.Runs;

namespace Asdt.Training;

/// <summary>
/// The classifier-only warm-up that the runs of one study share. The warm-up (the first
/// <see cref="Stage1Config.ClassifierWarmup"/> iterations) trains only the class-teacher; it does not depend on the
/// student strategy (Table 4's rows), the PW wave (Fig. 5's points) or the inference settings, so a study trains it
/// once, in a run folder of its own, and starts every run from its checkpoint: the run then continues exactly as if
/// it had trained the warm-up itself (same weights, optimizer state and metrics; Stage1TrainingTests checks it).
/// </summary>
public static class SharedWarmup
{
    /// <summary>The config of the warm-up run: the run's, with every value the warm-up cannot see set to its default.</summary>
    /// <remarks>
    /// B^ct's thresholds and CRF, the energy loss, B^st's CRF, the CAM scales, the weight averages and the backbone stages trained only after the
    /// warm-up (<see cref="BackboneSettings.WarmupFrozenStages"/>) are only used after the warm-up, so runs that differ in them share it too;
    /// so is the total iteration count when the warm-up has its own learning rate and schedule.
    /// </remarks>
    public static Stage1Config WarmupConfig(Stage1Config config) => config with
    {
        // The warm-up trains the stages the run trains during its warm-up; what it fine-tunes afterwards is the run's business.
        Backbone = config.Backbone with { FrozenStages = config.Backbone.WarmupFrozenStages ?? config.Backbone.FrozenStages, WarmupFrozenStages = null },
        // With its own learning rate the warm-up runs its own poly schedule, which the total iteration count does not touch
        // (PolySgd), so runs of different lengths share it; without one it is the start of the run's schedule.
        Iterations = config.ClassifierWarmupLearningRate is null ? config.Iterations : config.ClassifierWarmup,
        Strategy = default,
        ReliableLabel = new ReliableLabelSettings(),
        EnergyLoss = new EnergyLossSettings(),
        SegTeacherCrf = Crf.CrfParameters.RrmInference,
        CamScales = new Stage1Config().CamScales,
        PulseWidth = new PulseWidthSettings(),
        // Which warm-up a run continues is chosen among warm-ups; each of them is a plain one.
        WarmupSelection = null,
        // Only the iterations after the warm-up draw from it.
        AsdtSeed = null,
        HeadSeed = null,
        // The averages start with the ASDT iterations.
        AverageDecays = null,
        // Kept checkpoints come from the ASDT iterations, and the choice among them from the run.
        CheckpointSelection = null,
        Inference = Psm.TestTimeAugmentation.None,
        // Saved as often as the run is, so a warm-up killed part-way resumes from its last checkpoint instead of starting
        // over (MSRC's cpu warm-up is 2,000 iterations, 10-25 minutes). How often it is saved does not change what it
        // computes (RunFolder.ResumableFields), so it is left out of the folder's name (Named).
        CheckpointEvery = config.CheckpointEvery,
        Threads = 0,
        Deviations = [],
        Overrides = [],
    };

    /// <summary>True when the run has a warm-up and ASDT iterations after it (otherwise there is nothing to share).</summary>
    public static bool Applies(Stage1Config config) => config.ClassifierWarmup > 0 && config.ClassifierWarmup < config.Iterations;

    /// <summary>The folder inside <paramref name="studyFolder"/> that holds the warm-up shared by every run with this warm-up config.</summary>
    /// <remarks>
    /// Study folders made before the warm-up's own schedule left the total iteration count out of the name hold their
    /// warm-up under the old name (the same config with the run's total iteration count). It is the same training, so
    /// when only that folder exists it is used, and such studies take new rows and points without copying it.
    /// </remarks>
    public static string Folder(string studyFolder, Stage1Config config)
    {
        var warmup = WarmupConfig(config);
        string folder = Named(studyFolder, warmup);
        if (Directory.Exists(folder) || warmup.Iterations == config.Iterations) return folder;
        string legacy = Named(studyFolder, warmup with { Iterations = config.Iterations });
        return Directory.Exists(legacy) ? legacy : folder;
    }

    /// <remarks>
    /// The name hashes the warm-up config with its checkpoint interval set to 0, the value every warm-up had before it
    /// was saved part-way: runs that save at different intervals share one warm-up, and study folders made before keep theirs.
    /// </remarks>
    static string Named(string studyFolder, Stage1Config warmup) =>
        Path.Combine(studyFolder, "warmup-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(AsdtJson.Serialize(warmup with { CheckpointEvery = 0 }))))[..10]);

    /// <summary>
    /// Makes sure the shared warm-up in <paramref name="warmupFolder"/> has finished (training or resuming it with
    /// <paramref name="train"/>: config, folder, resume, stop-after), then gives the fresh run folder
    /// <paramref name="runFolder"/> its checkpoint and metrics and the run's config.json, so that resuming the run
    /// continues after the warm-up. The config is written last: a run folder without one is seeded again.
    /// </summary>
    /// <returns>False (nothing done) when the run already has a config.json or has no warm-up to share.</returns>
    public static bool Seed(Stage1Config config, string runFolder, string warmupFolder, Action<Stage1Config, string, bool, long> train)
    {
        if (!Applies(config) || File.Exists(Path.Combine(runFolder, Stage1Trainer.ConfigFile))) return false;
        EnsureTrained(config, warmupFolder, train);
        long iterations = config.ClassifierWarmup;

        string configJson = AsdtJson.Serialize(config);
        AtomicFile.CreateFolder(runFolder);
        CopyCheckpoint(Path.Combine(warmupFolder, Stage1Trainer.CheckpointFolder), Path.Combine(runFolder, Stage1Trainer.CheckpointFolder), configJson);
        var metrics = File.ReadLines(Path.Combine(warmupFolder, Stage1Trainer.MetricsFile)).Where(l => l.Length > 0).ToList();
        if (metrics.Count != iterations)
            throw new AsdtException(Path.Combine(warmupFolder, Stage1Trainer.MetricsFile), $"expected {iterations} lines of warm-up metrics, found {metrics.Count}");
        AtomicFile.WriteAllText(Path.Combine(runFolder, Stage1Trainer.MetricsFile), string.Concat(metrics.Select(l => l + "\n")));
        AtomicFile.WriteAllText(Path.Combine(runFolder, Stage1Trainer.ConfigFile), configJson);
        return true;
    }

    /// <summary>Trains or resumes the run's shared warm-up in <paramref name="warmupFolder"/> unless it has finished (<paramref name="train"/>: config, folder, resume, stop-after).</summary>
    public static void EnsureTrained(Stage1Config config, string warmupFolder, Action<Stage1Config, string, bool, long> train)
    {
        long iterations = config.ClassifierWarmup;
        if (TrainingCheckpoint.FinishedIterations(warmupFolder) < iterations)
            train(WarmupConfig(config), warmupFolder, File.Exists(Path.Combine(warmupFolder, Stage1Trainer.ConfigFile)), iterations);
        long finished = TrainingCheckpoint.FinishedIterations(warmupFolder);
        if (finished != iterations)
            throw new AsdtException(warmupFolder, $"the shared warm-up should stop after {iterations} iterations but its checkpoint says {finished}");
    }

    /// <summary>Copies a checkpoint folder under a temporary name, gives it the run's config, and renames it into place.</summary>
    static void CopyCheckpoint(string from, string to, string configJson)
    {
        string parent = Path.GetDirectoryName(Path.GetFullPath(to))!;
        string temp = Path.Combine(parent, $".{Path.GetFileName(to)}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            foreach (var file in Directory.GetFiles(from))
                File.Copy(file, Path.Combine(temp, Path.GetFileName(file)));
            File.WriteAllText(Path.Combine(temp, Checkpoint.ConfigFile), configJson);
            if (Directory.Exists(to)) Directory.Delete(to, recursive: true); // an orphan of an earlier seeding killed before config.json
            Directory.Move(temp, to);
        }
        catch
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { }
            throw;
        }
    }
}
