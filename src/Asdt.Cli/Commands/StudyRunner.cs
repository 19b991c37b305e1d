using System.Text.Json;
using Asdt.Models;
using Asdt.Psm;
using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>
/// The steps ablate and sweep repeat for every run folder, each skipped when already done so a killed
/// study resumes: train (finished runs are not retrained, unfinished ones resume from their
/// checkpoint), score the heads (heads.json with the same protocol is reused), write report.html.
/// </summary>
public static class StudyRunner
{
    /// <summary>
    /// How ablate and sweep score every run: the config's CRF, inference and thread count, the given heads, with the
    /// class restriction of the split's protocol.
    /// </summary>
    public static HeadEvaluationSettings Scoring(Stage1Config baseConfig, bool restricted, PsmSource[] sources, bool withoutCrf, bool cam) => new()
    {
        Sources = sources,
        RestrictToImageLabels = restricted,
        Crf = baseConfig.SegTeacherCrf,
        Augmentation = baseConfig.Inference,
        WithoutCrf = withoutCrf,
        Cam = cam,
        Threads = baseConfig.Threads, // --threads holds for the scoring too, not only the training
    };

    /// <summary>Sum of the per-iteration seconds in metrics.jsonl (null without metrics).</summary>
    public static double? TrainingSeconds(string runFolder)
    {
        string file = Path.Combine(runFolder, Stage1Trainer.MetricsFile);
        if (!File.Exists(file)) return null;
        double total = 0;
        foreach (var e in MetricsLog.Read(file))
            if (e.TryGetProperty("seconds", out var s) && s.TryGetDouble(out double v)) total += v;
        return total;
    }

    /// <summary>One run of a study, each step skipped when done: train (from the study's shared warm-up), score on the split, report.</summary>
    public static HeadEvaluation TrainScoreReport(string label, Stage1Config config, string runFolder, string studyFolder, string split,
        HeadEvaluationSettings settings, bool report)
    {
        TrainIfNeeded(label, config, runFolder, studyFolder);
        var scores = EvaluateIfNeeded(label, runFolder, split, settings);
        if (report) Report(label, runFolder);
        return scores;
    }

    /// <summary>
    /// Trains the run unless finished. With <paramref name="studyFolder"/>, a fresh run starts from the study's shared
    /// classifier-only warm-up (<see cref="SharedWarmup"/>), trained once for all runs that have the same one; a lock file
    /// lets studies run as several processes side by side (one trains the warm-up, the others wait for it).
    /// </summary>
    /// <returns>The run's config: <paramref name="config"/>, or with a warm-up selection the chosen one (<see cref="SelectWarmup"/>).</returns>
    public static Stage1Config TrainIfNeeded(string label, Stage1Config config, string runFolder, string? studyFolder = null)
    {
        if (WarmupSelection.Pending(config))
            config = SelectWarmup(label, config, runFolder, studyFolder ?? throw new ArgumentException("a warm-up selection needs a study folder", nameof(studyFolder)));
        if (studyFolder != null && SharedWarmup.Applies(config) && !File.Exists(Path.Combine(runFolder, Stage1Trainer.ConfigFile)))
        {
            string warmup = SharedWarmup.Folder(studyFolder, config);
            using (WarmupLock(warmup + ".lock", label))
            {
                if (SharedWarmup.Seed(config, runFolder, warmup, (c, folder, resume, stopAfter) => TrainWarmup(label, c, folder, resume, stopAfter)))
                    Console.WriteLine($"{label}: starts from the shared warm-up in {warmup}");
            }
        }
        long finished = TrainingCheckpoint.FinishedIterations(runFolder);
        if (finished >= config.Iterations)
        {
            // A finished run is only taken for this one if it computed the same thing: a study called again with another
            // setting (or a folder reused by hand) must not be scored and tabled under the new setting.
            RunFolder.RequireSameConfig(runFolder, AsdtJson.Serialize(config),
                "this folder holds a finished run with a different configuration; choose another --out or remove the run");
            Console.WriteLine($"{label}: already trained ({finished} iterations) in {runFolder}");
            SelectCheckpointCommand.SelectIfAsked(label, config, runFolder);
            return config;
        }
        bool resume = File.Exists(Path.Combine(runFolder, Stage1Trainer.ConfigFile));
        Console.WriteLine($"{label}: {(resume ? $"resuming at iteration {finished}" : "training")} in {runFolder}");
        TrainCommand.Train(config, runFolder, resume);
        return config;
    }

    static void TrainWarmup(string label, Stage1Config config, string folder, bool resume, long stopAfter)
    {
        Console.WriteLine($"{label}: {(resume ? "resuming" : "training")} the shared warm-up ({stopAfter} classifier-only iterations) in {folder}");
        var trainer = new Stage1Trainer(config, folder);
        ProgressDisplay.Run("warm-up", stopAfter, resume ? TrainingCheckpoint.FinishedIterations(folder) : 0, sink => trainer.Run(resume, sink, stopAfter: stopAfter));
    }

    /// <summary>
    /// The run's config with its warm-up chosen: read back from the run folder when the choice was made before, else made
    /// now (<see cref="WarmupSelection.Choose"/>): every candidate's warm-up is trained in the study folder (shared with the
    /// study's other runs of that seed, so Table 4's rows all continue the same one) and its CAMs are scored on the
    /// selection split (heads.json in the warm-up folder, reused). The choice is written to the run folder's
    /// warmup-selection.json before its config.json.
    /// </summary>
    public static Stage1Config SelectWarmup(string label, Stage1Config config, string runFolder, string studyFolder)
    {
        string configFile = Path.Combine(runFolder, Stage1Trainer.ConfigFile);
        if (File.Exists(configFile))
        {
            var stored = AsdtJson.Read<Stage1Config>(configFile);
            if (stored.WarmupSelection is not { Seed: int asked } || asked != config.Seed)
                throw new AsdtException(configFile, $"this run was not trained with a warm-up selection for seed {config.Seed}; use another folder");
            // The asked config with the choice made then; resuming compares it with config.json as for any run.
            return config with { Seed = stored.Seed, WarmupSelection = stored.WarmupSelection };
        }
        var cams = new HeadEvaluationSettings { Sources = [], RestrictToImageLabels = true, Crf = null, WithoutCrf = false, Cam = true, Threads = config.Threads };
        string split = config.WarmupSelection!.Split;
        Directory.CreateDirectory(studyFolder);
        var (chosen, record) = WarmupSelection.Choose(config, studyFolder, (candidate, warmup) =>
        {
            using (WarmupLock(warmup + ".lock", label))
                SharedWarmup.EnsureTrained(candidate, warmup, (c, folder, resume, stopAfter) => TrainWarmup($"{label}, candidate seed {candidate.Seed}", c, folder, resume, stopAfter));
            var scores = EvaluateIfNeeded($"{label}, candidate seed {candidate.Seed}", warmup, split, cams);
            return (scores.Cam!.BestMeanIoU, scores.Cam.BestThreshold);
        });
        Console.WriteLine($"{label}: warm-up selection on {split}: " + string.Join(", ", record.Candidates.Select(c => $"seed {c.Seed} CAM {100 * c.CamMeanIoU:0.00}"))
                          + $" → seed {record.Chosen}");
        Asdt.IO.AtomicFile.WriteAllText(Path.Combine(runFolder, WarmupSelectionRecord.FileName), AsdtJson.Serialize(record));
        return chosen;
    }

    /// <summary>Holds an exclusive lock file (released when the process ends, however it ends); waits while another process holds it.</summary>
    static FileStream WarmupLock(string path, string label)
    {
        bool said = false;
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (File.Exists(path))
            {
                if (!said) Console.WriteLine($"{label}: waiting for the shared warm-up that another process is training ({path})");
                said = true;
                Thread.Sleep(2000);
            }
        }
    }

    /// <summary>The run's heads.json for this split and protocol, evaluated now if missing or made with other settings.</summary>
    public static HeadEvaluation EvaluateIfNeeded(string label, string runFolder, string split, HeadEvaluationSettings settings)
    {
        string folder = Path.Combine(runFolder, $"eval-{split}");
        string file = Path.Combine(folder, HeadEvaluation.FileName);
        if (File.Exists(file))
        {
            if (ExistingScores(runFolder, split, settings) is { } existing)
            {
                Console.WriteLine($"{label}: already scored ({file})");
                return existing;
            }
            Console.WriteLine($"{label}: {file} was made with other settings; scoring again");
        }
        using var run = Stage1Run.Open(runFolder);
        Console.WriteLine($"{label}: scoring the heads on {split}");
        if (CheckpointSelection.Read(runFolder) is { Chosen: long chosen } selection && selection.Split == split)
            Console.WriteLine($"{label}: note: {split} chose these weights (iteration {chosen}), so their score on it is biased upwards; report another split");
        return EvalRunCommand.Evaluate(run, split, settings, folder);
    }

    /// <summary>The run's heads.json for this split if it was made with these settings (every asked head, same CRF and protocol); else null.</summary>
    public static HeadEvaluation? ExistingScores(string runFolder, string split, HeadEvaluationSettings settings)
    {
        string file = Path.Combine(runFolder, $"eval-{split}", HeadEvaluation.FileName);
        if (!File.Exists(file)) return null;
        var existing = AsdtJson.Read<HeadEvaluation>(file);
        bool same = existing.Split == split && existing.RestrictToImageLabels == settings.RestrictToImageLabels
                    && existing.Crf == settings.Crf?.ToString() && existing.Inference == settings.Augmentation.ToString() && existing.Shard == null
                    && settings.Sources.All(s => existing.Variants.Any(v => v.Source == HeadEvaluation.SourceName(s)))
                    && (!settings.Cam || existing.Cam != null)
                    // the weights scored are the run's default ones (a checkpoint chosen since then makes them stale)
                    && (existing.Iteration ?? TrainingCheckpoint.FinishedIterations(runFolder)) == Stage1Run.DefaultIteration(runFolder);
        return same ? existing : null;
    }

    /// <summary>
    /// The finished and scored runs that earlier calls of a study left in its folder: every subfolder whose config.json
    /// equals <paramref name="baseConfig"/> once <paramref name="study"/> has set the values the study varies (strategy, or
    /// T and τ) back to the base's, apart from seed, overrides, thread count, checkpoint interval and the deviation text
    /// (what a resume may change too, <see cref="RunFolder.ResumableFields"/>: rewording a preset's deviations
    /// between two calls must not split the study's table), and whose heads.json was made with these scoring settings.
    /// A study built by several calls (`--seeds 4`, then `--seeds 5`) thus keeps one table of every run; runs trained or
    /// scored with other settings are left out, never mixed in.
    /// </summary>
    public static IReadOnlyList<(Stage1Config Config, string Folder, HeadEvaluation Scores)> EarlierRuns(string studyFolder, Stage1Config baseConfig,
        Func<Stage1Config, Stage1Config> study, string split, HeadEvaluationSettings settings)
    {
        string Key(Stage1Config c) => AsdtJson.Serialize(study(WarmupSelection.Requested(c)) with { Seed = 0 });
        string wanted = Key(baseConfig);
        bool Same(Stage1Config c) => Checkpoint.ConfigDifferences(Key(c), wanted, RunFolder.ResumableFields).Count == 0;
        var found = new List<(Stage1Config, string, HeadEvaluation)>();
        if (!Directory.Exists(studyFolder)) return found;
        foreach (string folder in Directory.GetDirectories(studyFolder).Order(StringComparer.Ordinal))
        {
            string configFile = Path.Combine(folder, Stage1Trainer.ConfigFile);
            if (!File.Exists(configFile)) continue;
            Stage1Config config;
            try { config = AsdtJson.Read<Stage1Config>(configFile); }
            catch (Exception e) when (e is JsonException or AsdtException) { continue; } // not a stage-1 run (or an older format): not ours to list
            if (!Same(config) || TrainingCheckpoint.FinishedIterations(folder) < config.Iterations) continue;
            // Listed under the seed asked for, as the study's own runs are (the chosen warm-up's seed is in warmup-selection.json).
            if (ExistingScores(folder, split, settings) is { } scores) found.Add((WarmupSelection.Requested(config), folder, scores));
        }
        return found;
    }

    /// <summary>Writes report.html unless one newer than every file it shows (metrics, checkpoint, scores) exists.</summary>
    public static void Report(string label, string runFolder)
    {
        string html = Path.Combine(runFolder, Reports.RunReport.FileName);
        if (File.Exists(html))
        {
            var written = File.GetLastWriteTimeUtc(html);
            var inputs = new[] { Stage1Trainer.MetricsFile, Path.Combine(Stage1Trainer.CheckpointFolder, TrainingCheckpoint.StateFile), CheckpointSelectionRecord.FileName }
                .Select(f => Path.Combine(runFolder, f))
                .Concat(Directory.GetDirectories(runFolder, "eval-*").Select(d => Path.Combine(d, HeadEvaluation.FileName)))
                .Concat(Directory.GetFiles(runFolder, "psm-*score.json"))
                .Where(File.Exists);
            if (inputs.All(f => File.GetLastWriteTimeUtc(f) <= written))
            {
                Console.WriteLine($"{label}: report up to date ({html})");
                return;
            }
        }
        Console.WriteLine($"{label}: report");
        ReportCommand.Write(runFolder);
    }

    /// <summary>The run's training split unless given; restricted to image labels exactly when it is the training split (ALGORITHM.md §7, A17).</summary>
    public static (string Split, bool Restrict) EvalSplit(Stage1Config config, string? split, string restrict)
    {
        string s = split ?? config.Data.Split;
        bool r = restrict.ToLowerInvariant() switch
        {
            "auto" => s == config.Data.Split,
            "yes" or "true" => true,
            "no" or "false" => false,
            var other => throw new AsdtException($"--restrict must be auto, yes or no (got '{other}')"),
        };
        return (s, r);
    }

    public static string Protocol(string split, bool restrict, bool crf, Psm.TestTimeAugmentation inference) =>
        $"{split} split, {inference}, full images, {(crf ? "dense CRF (RRM inference parameters)" : "no CRF")}, " +
        (restrict ? "outputs restricted to background + the image's classes (train protocol)" : "no image-label restriction (RRM's val protocol, A17)");
}
