using System.CommandLine;
using Asdt.Crf;

namespace Asdt.Cli.Commands;

/// <summary>
/// `--crf` on psm and eval-run: the dense CRF that refines the heads' probabilities, as a preset name
/// (ALGORITHM.md §4.2) or as numbers. Default: the run's B^st CRF (RRM's inference parameters), as in the paper.
/// </summary>
public sealed class CrfFlag
{
    readonly Option<string?> option = new("--crf")
    {
        Description = "CRF for the masks: a preset (" + string.Join(", ", CrfParameters.PresetNames) +
                      ") or gaussian-sxy,gaussian-weight,bilateral-sxy,bilateral-srgb,bilateral-weight[,iterations] [default: the run's B^st CRF]",
    };

    public Option Option => option;

    /// <returns>Null when --no-crf is given (and --crf is not: they exclude each other).</returns>
    public CrfParameters? Resolve(ParseResult parse, CrfParameters runDefault, bool noCrf)
    {
        string? text = parse.GetValue(option);
        if (noCrf)
            return text == null ? null : throw new AsdtException("--no-crf and --crf exclude each other");
        return text != null ? Parse(text) : runDefault;
    }

    public static CrfParameters Parse(string text, string option = "--crf")
    {
        try { return CrfParameters.Parse(text); }
        catch (ArgumentException e) { throw new AsdtException($"{option}: {e.Message}"); }
    }
}
