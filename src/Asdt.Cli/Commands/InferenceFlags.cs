using System.CommandLine;
using Asdt.Psm;

namespace Asdt.Cli.Commands;

/// <summary>
/// --scales / --flip / --single-scale of the commands that run the stage-1 heads on whole images (psm, eval-run):
/// the run's own <see cref="Training.Stage1Config.Inference"/> unless overridden.
/// </summary>
public sealed class InferenceFlags
{
    readonly Option<string?> scales = new("--scales") { Description = "Test-time scales averaged before P̄ (e.g. 1,0.5,1.5) [default: the run's preset]" };
    readonly Option<bool?> flip = new("--flip") { Description = "Also average the horizontally flipped image: true or false [default: the run's preset]" };
    readonly Option<bool> single = new("--single-scale") { Description = "The paper's inference: scale 1, no flip (overrides the preset)" };

    public IEnumerable<Option> Options => [scales, flip, single];

    /// <summary>--average: run the heads with the checkpoint's weight average of this decay instead of the last weights.</summary>
    public static Option<double?> AverageOption() => new("--average")
    {
        Description = "Use the weights averaged with this decay (a run trained with --average-decays) instead of the last weights",
    };

    /// <summary>--checkpoint: run the heads with the weights of a kept checkpoint, or the last ones, instead of the run's default.</summary>
    public static Option<string?> CheckpointOption() => new("--checkpoint")
    {
        Description = "Which weights: 'last', or the iteration of a kept checkpoint [default: the one the run's checkpoint selection chose, else the last]",
    };

    public TestTimeAugmentation Resolve(ParseResult parse, TestTimeAugmentation runDefault)
    {
        if (parse.GetValue(single))
        {
            if (parse.GetValue(scales) != null || parse.GetValue(flip) != null)
                throw new AsdtException("--single-scale excludes --scales and --flip");
            return TestTimeAugmentation.None;
        }
        var result = runDefault;
        if (parse.GetValue(scales) is string s) result = result with { Scales = EvalRunCommand.ParseScales(s, "--scales") };
        if (parse.GetValue(flip) is bool f) result = result with { Flip = f };
        return result;
    }
}
