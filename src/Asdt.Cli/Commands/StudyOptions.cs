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

    public IEnumerable<Option> All => [Out, EvalSplit, Restrict, NoReport];

    /// <summary>The parsed values: the study folder, the split to score (null: the training split), the restriction text, whether to write reports.</summary>
    public (string Out, string? EvalSplit, string Restrict, bool Report) From(ParseResult parse) =>
        (parse.GetValue(Out)!, parse.GetValue(EvalSplit), parse.GetValue(Restrict)!, !parse.GetValue(NoReport));
}
