using System.Text.Json.Serialization;
using Asdt.Runs;

namespace Asdt.Training;

/// <summary>
/// Warm-up selection (<see cref="WarmupSelection"/>): train several classifier-only warm-ups and continue the one whose
/// CAMs score best on a split that is not reported. Null in <see cref="Stage1Config.WarmupSelection"/> = no selection.
/// </summary>
/// <remarks>
/// Not in the paper or ALGORITHM.md, and off in every preset. Built for MSRC-21, where some seeds lose the face class of
/// the person in the masks, on the guess that the warm-up decides which. Tested twice with rules fixed before the
/// scores (docs/results.md, "Warm-up selection"), and not adopted either time: the first time the chosen runs scored no
/// better on val than the preset's, the second time a chosen run still lost the faces. Neither the warm-up's total CAM
/// score nor its face CAM predicts it (seed 13: face CAM 48.0 like the keepers, faces lost). Yet the warm-up does settle
/// it: seed 13's warm-up continued with seed 15's ASDT draws (<see cref="Stage1Config.AsdtSeed"/>) and heads' start
/// (<see cref="Stage1Config.HeadSeed"/>) still lost the faces, seed 15's with seed 13's draws kept them (results.md,
/// "Warm-up or ASDT draws?"). What the warm-up sets is how stable the face class is, not a fixed outcome: seed 13's
/// run flips the faces on and off on val between 100-iteration checkpoints and stops on "off", seed 15's holds them;
/// neither the warm-up's val CAMs nor the first 700 ASDT iterations on val tell the two apart (results.md, "When does
/// the face split show on val?").
/// </remarks>
public sealed record WarmupSelectionSettings
{
    /// <summary>N: warm-ups trained, with seeds N(s − 1) + 1 … N·s for the asked seed s (seed 1: 1, 2, 3; seed 2: 4, 5, 6).</summary>
    public int Candidates { get; init; } = 3;
    /// <summary>The split whose CAM mIoU (best background threshold, PSA's offline CAMs) chooses. Never the reported one.</summary>
    public string Split { get; init; } = "val";
    /// <summary>The seed asked for, set when the choice is made (the run's own <see cref="Stage1Config.Seed"/> is then the chosen candidate's).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Seed { get; init; }
}

/// <summary>One candidate warm-up and the score of its CAMs on the selection split.</summary>
public sealed record WarmupCandidate
{
    public int Seed { get; init; }
    /// <summary>The shared warm-up folder it was trained in.</summary>
    public string Warmup { get; init; } = "";
    /// <summary>CAM mIoU at the best background threshold on the selection split, in [0, 1].</summary>
    public double CamMeanIoU { get; init; }
    public double CamThreshold { get; init; }
}

/// <summary>warmup-selection.json in the run folder: what was compared and what was chosen.</summary>
public sealed record WarmupSelectionRecord
{
    /// <summary>The seed asked for.</summary>
    public int Seed { get; init; }
    public string Split { get; init; } = "";
    public WarmupCandidate[] Candidates { get; init; } = [];
    /// <summary>The chosen candidate's seed: the run's <see cref="Stage1Config.Seed"/>.</summary>
    public int Chosen { get; init; }

    public const string FileName = "warmup-selection.json";
}

/// <summary>
/// Chooses the warm-up a run continues: trains (or reuses) every candidate's shared warm-up in a study folder, scores
/// each with the given function, and returns the run's config with the best candidate's seed. The run then continues
/// that warm-up exactly like a plain run of the chosen seed (<see cref="SharedWarmup"/>): every random choice of
/// training is a function of (seed, iteration), so the selection changes which seed trains, never how.
/// </summary>
public static class WarmupSelection
{
    /// <summary>True when the config asks for a selection that has not been made yet.</summary>
    public static bool Pending(Stage1Config config) => config.WarmupSelection is { Seed: null };

    /// <summary>Candidate seeds for the asked seed: N(s − 1) + 1 … N·s, so different asked seeds never share a candidate.</summary>
    public static int[] CandidateSeeds(int seed, int candidates)
    {
        if (candidates < 2) throw new AsdtException($"warm-up selection needs at least 2 candidates (got {candidates})");
        if (seed < 1) throw new AsdtException($"warm-up selection needs a seed of 1 or more (got {seed}): seed s chooses among seeds {candidates}(s − 1) + 1 … {candidates}·s");
        return Enumerable.Range(candidates * (seed - 1) + 1, candidates).ToArray();
    }

    /// <summary>A candidate's config: the asked run's with the candidate's seed and no selection.</summary>
    public static Stage1Config Candidate(Stage1Config config, int seed) => config with { Seed = seed, WarmupSelection = null };

    /// <summary>The config as asked (before the choice) of a run whose choice is made: a study lists it under this seed.</summary>
    public static Stage1Config Requested(Stage1Config config) => config.WarmupSelection is { Seed: int asked } selection
        ? config with { Seed = asked, WarmupSelection = selection with { Seed = null } }
        : config;

    /// <summary>" (warm-up of seed 11, the best of 10–12 on val)" for a run folder whose warm-up was chosen; "" otherwise.</summary>
    public static string Note(string runFolder)
    {
        string file = Path.Combine(runFolder, WarmupSelectionRecord.FileName);
        if (!File.Exists(file)) return "";
        var r = AsdtJson.Read<WarmupSelectionRecord>(file);
        return r.Candidates.Length == 0 ? "" : $" (warm-up of seed {r.Chosen}, the best of {r.Candidates[0].Seed}–{r.Candidates[^1].Seed} on {r.Split})";
    }

    /// <summary>
    /// Scores every candidate (<paramref name="score"/>: candidate config and its shared warm-up folder → CAM mIoU and
    /// threshold, training the warm-up first if needed) and returns the chosen run config and the record. Ties go to the
    /// lower seed.
    /// </summary>
    public static (Stage1Config Config, WarmupSelectionRecord Record) Choose(Stage1Config config, string studyFolder,
        Func<Stage1Config, string, (double MeanIoU, double Threshold)> score)
    {
        var selection = config.WarmupSelection ?? throw new ArgumentException("the config asks for no warm-up selection", nameof(config));
        if (selection.Seed != null) throw new ArgumentException("the config's warm-up is already chosen", nameof(config));
        if (!SharedWarmup.Applies(config))
            throw new AsdtException($"warm-up selection needs a classifier-only warm-up shorter than the run (warm-up {config.ClassifierWarmup}, iterations {config.Iterations})");
        var candidates = new List<WarmupCandidate>();
        foreach (int seed in CandidateSeeds(config.Seed, selection.Candidates))
        {
            var candidate = Candidate(config, seed);
            string folder = SharedWarmup.Folder(studyFolder, candidate);
            var (miou, threshold) = score(candidate, folder);
            candidates.Add(new WarmupCandidate { Seed = seed, Warmup = Path.GetFileName(folder), CamMeanIoU = miou, CamThreshold = threshold });
        }
        var best = candidates.Aggregate((a, b) => b.CamMeanIoU > a.CamMeanIoU ? b : a);
        var chosen = config with { Seed = best.Seed, WarmupSelection = selection with { Seed = config.Seed } };
        return (chosen, new WarmupSelectionRecord { Seed = config.Seed, Split = selection.Split, Candidates = [.. candidates], Chosen = best.Seed });
    }
}
