using System.CommandLine;

namespace Asdt.Cli.Commands;

/// <summary>
/// The options every study command (ablate, sweep) declares: the study folder, the split that scores its runs, the
/// class restriction of that split's protocol, and whether each run gets its report. One instance per command, since the
/// descriptions name what the command's runs are (rows, points).
/// </summary>
public sealed class StudyOptions(string runName, string studyFiles)
{
    public Option<string> Out { get; } = new("--out") { Description = $"Study folder: one run folder per {runName}, {studyFiles}", Required = true };
    public Option<string?> EvalSplit { get; } = new("--eval-split") { Description = "Split to score [default: the training split]" };
    public Option<string> Restrict { get; } = new("--restrict") { Description = "Restrict outputs to the image labels: auto (on the training split only), yes, no", DefaultValueFactory = _ => "auto" };
    public Option<bool> NoReport { get; } = new("--no-report") { Description = $"Do not write report.html per {runName}" };
    public Option<string?> Seeds { get; } = new("--seeds") { Description = $"Train every {runName} with each of these seeds (e.g. 1,2,3) and report means, spreads and paired differences [default: the config's --seed]" };

    public IEnumerable<Option> All => [Out, EvalSplit, Restrict, NoReport, Seeds];

    /// <summary>The parsed values: the study folder, the split to score (null: the training split), the restriction text, whether to write reports.</summary>
    public (string Out, string? EvalSplit, string Restrict, bool Report) From(ParseResult parse) =>
        (parse.GetValue(Out)!, parse.GetValue(EvalSplit), parse.GetValue(Restrict)!, !parse.GetValue(NoReport));

    /// <summary>The seeds of --seeds, or the config's own seed.</summary>
    public int[] SeedsFrom(ParseResult parse, int configSeed) => parse.GetValue(Seeds) is string list ? ParseSeeds(list) : [configSeed];

    /// <summary>"1,2,3" → distinct seeds in the given order.</summary>
    public static int[] ParseSeeds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var seeds = new List<int>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int seed))
                throw new AsdtException($"--seeds: '{part}' is not an integer seed (give a list like 1,2,3)");
            if (!seeds.Contains(seed)) seeds.Add(seed);
        }
        if (seeds.Count == 0) throw new AsdtException("--seeds: no seed given (give a list like 1,2,3)");
        return [.. seeds];
    }

    /// <summary>
    /// The run folder of a study run with a seed: the config's own seed keeps the plain folder (so a study started with one
    /// seed gains more seeds without retraining the first), any other seed gets "-seed&lt;n&gt;".
    /// </summary>
    public static string SeedFolder(string folder, int seed, int baseSeed) => seed == baseSeed ? folder : $"{folder}-seed{seed}";
}
