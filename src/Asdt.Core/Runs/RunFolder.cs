using Asdt.IO;
using Asdt.Models;

namespace Asdt.Runs;

/// <summary>
/// Opening a training run folder, the same for every stage: create it (one-line error if it cannot be),
/// repair what a kill left (a checkpoint caught between the two renames of a save is put back, stale
/// temporaries of dead processes are deleted), then either check that a resumed run has the same config
/// (every differing field listed; <see cref="ResumableFields"/> may differ) or refuse to start over a run that already has a checkpoint.
/// </summary>
public static class RunFolder
{
    public const string ConfigFile = "config.json";

    /// <summary>
    /// Config fields that do not say what a run computes, so a resume may change them: how it uses the machine (continue a
    /// run on 2 threads that started as a 1-thread job beside another; save it more or less often), and the text that describes its values (the
    /// preset's deviations from the paper, the flags that were given): the values themselves are compared field by field,
    /// and a preset whose wording was improved, or a build that records flags differently, still resumes the run. The run
    /// folder keeps the config.json it was started with.
    /// </summary>
    public static IReadOnlyList<string> ResumableFields { get; } = ["threads", "checkpointEvery", "deviations", "overrides"];

    /// <returns>True when a checkpoint exists (so a resume continues from it).</returns>
    public static bool Open(string runFolder, string configJson, bool resume, string checkpointFolder, string checkpointStateFile)
    {
        AtomicFile.CreateFolder(runFolder);
        Checkpoint.Recover(checkpointFolder);
        AtomicFile.DeleteStaleTemporaries(runFolder);
        string configPath = Path.Combine(runFolder, ConfigFile);
        bool hasCheckpoint = File.Exists(Path.Combine(checkpointFolder, checkpointStateFile));
        if (resume)
        {
            if (!File.Exists(configPath)) throw new AsdtException(configPath, "cannot resume: no config.json in the run folder");
            RequireSameConfig(runFolder, configJson, "cannot resume: the run was started with a different configuration");
        }
        else if (hasCheckpoint)
            throw new AsdtException(runFolder, "run folder already holds a trained run; pass --resume to continue it or choose another --out");
        return hasCheckpoint;
    }

    /// <summary>
    /// Throws (naming the run's config.json) when it differs from <paramref name="configJson"/> in any field that says
    /// what the run computes (all but <see cref="ResumableFields"/>), listing every difference after <paramref name="problem"/>.
    /// </summary>
    public static void RequireSameConfig(string runFolder, string configJson, string problem)
    {
        string configPath = Path.Combine(runFolder, ConfigFile);
        var differences = Checkpoint.ConfigDifferences(File.ReadAllText(configPath), configJson, ResumableFields);
        if (differences.Count > 0)
            throw new AsdtException(configPath, $"{problem} ({string.Join("; ", differences)})");
    }
}
