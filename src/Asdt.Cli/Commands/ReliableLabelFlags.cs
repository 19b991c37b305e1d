using System.CommandLine;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>
/// --alpha-low / --alpha-high / --cam-percentile / --label-crf: the thresholds and the CRF of the class-teacher's
/// reliable label B^ct (ALGORITHM.md §4.3). `asdt train` records them as overrides; `asdt eval-run --bct` scores
/// B^ct with them on a trained run's CAMs without training again.
/// </summary>
public sealed class ReliableLabelFlags
{
    readonly Option<double?> alphaLow = new("--alpha-low") { Description = "B^ct: α of the large background score (1 − max CAM)^α; only strong foreground survives it (RRM 4)" };
    readonly Option<double?> alphaHigh = new("--alpha-high") { Description = "B^ct: α of the small background score; only clear background survives it (RRM 32)" };
    readonly Option<double?> camPercentile = new("--cam-percentile") { Description = "B^ct: keep a class's pixels above this percentile of its confident CAM values (RRM 0.6)" };
    readonly Option<string?> labelCrf = new("--label-crf") { Description = "B^ct's dense CRF: a preset or gaussian-sxy,gaussian-weight,bilateral-sxy,bilateral-srgb,bilateral-weight[,iterations] (RRM label-crf: 3,3,80,13,10)" };

    public IEnumerable<Option> Options => [alphaLow, alphaHigh, camPercentile, labelCrf];

    /// <summary>The settings with every given flag applied; each is recorded in <paramref name="flags"/>.</summary>
    public ReliableLabelSettings Apply(FlagOverrides flags, ReliableLabelSettings current)
    {
        var result = current with
        {
            AlphaLow = flags.Value(alphaLow, current.AlphaLow),
            AlphaHigh = flags.Value(alphaHigh, current.AlphaHigh),
            CamPercentile = flags.Value(camPercentile, current.CamPercentile),
            Crf = flags.Text(labelCrf, null) is string crf ? CrfFlag.Parse(crf, "--label-crf") : current.Crf,
        };
        if (!(result.AlphaLow > 0) || !(result.AlphaHigh > 0))
            throw new AsdtException($"--alpha-low and --alpha-high must be positive (got {result.AlphaLow} and {result.AlphaHigh})");
        if (result.AlphaHigh <= result.AlphaLow)
            throw new AsdtException($"--alpha-high ({result.AlphaHigh}) must be larger than --alpha-low ({result.AlphaLow}): the high-α background is the small one");
        if (!(result.CamPercentile >= 0 && result.CamPercentile < 1))
            throw new AsdtException($"--cam-percentile must be in [0, 1) (got {result.CamPercentile})");
        return result;
    }
}
