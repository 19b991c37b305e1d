using Asdt.IO;
using Asdt.Models;

namespace Asdt.Runs;

/// <summary>
/// Opening a training run folder, the same for every stage: create it (one-line error if it cannot be),
/// repair what a kill left (a checkpoint caught between the two renames of a save is put back, stale
/// temporaries of dead processes are deleted), then either check that a resumed run has the same config
/// (every differing field listed; <see cref="MachineFields"/> may differ) or refuse to start over a run that already has a checkpoint.
/// </summary>
public static class RunFolder
{
    public const string ConfigFile = "config.json";

    /// <summary>
    /// Config fields that say how a run uses the machine, not what it computes: a resume may change them
    /// (e.g. continue a run on 2 threads that started as a 1-thread job beside another).
    /// </summary>
    public static IReadOnlyList<string> MachineFields { get; } = ["threads"];

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
            var differences = Checkpoint.ConfigDifferences(File.ReadAllText(configPath), configJson, MachineFields);
            if (differences.Count > 0)
                throw new AsdtException(configPath, $"cannot resume: the run was started with a different configuration ({string.Join("; ", differences)})");
        }
        else if (hasCheckpoint)
            throw new AsdtException(runFolder, "run folder already holds a trained run; pass --resume to continue it or choose another --out");
        return hasCheckpoint;
    }
}
