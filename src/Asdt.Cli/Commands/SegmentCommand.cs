using System.CommandLine;
using System.Diagnostics;
using Asdt.Evaluation;
using Asdt.Stage2;

namespace Asdt.Cli.Commands;

/// <summary>`asdt segment`: masks and colour overlays for new images with a trained stage-2 model.</summary>
public static class SegmentCommand
{
    static readonly Argument<string[]> Inputs = new("inputs") { Description = "Image files and/or folders of images", Arity = ArgumentArity.OneOrMore };
    static readonly Option<string> Model = new("--model") { Description = "Stage-2 run folder (from asdt seg-train)", Required = true };
    static readonly Option<string> Out = new("--out") { Description = "Output folder: <name>.png (palette mask) and <name>_overlay.png", Required = true };
    static readonly Option<bool> SingleScale = new("--single-scale") { Description = "Scale 1 only instead of MSC max fusion" };
    static readonly Option<bool> NoCrf = new("--no-crf") { Description = "Plain argmax, no test-time dense CRF" };
    static readonly Option<string?> ShardOption = new("--shard") { Description = "i/n: only inputs k with k mod n = i" };

    public static Command Create()
    {
        var command = new Command("segment", "Segment new images with a stage-2 model: palette masks and overlays; skips finished images, shardable.")
        {
            Inputs, Model, Out, SingleScale, NoCrf, ShardOption,
        };
        command.SetAction(parse =>
        {
            var inputs = ImageSegmenter.CollectInputs(parse.GetValue(Inputs)!);
            using var run = Stage2Run.Open(parse.GetValue(Model)!);
            string output = parse.GetValue(Out)!;
            var shard = Shard.Parse(parse.GetValue(ShardOption));
            var clock = Stopwatch.StartNew();
            int written = 0, total = shard.Select(inputs).Count;
            Runs.ProgressDisplay.Run("segment", total, 0, sink =>
                written = ImageSegmenter.Run(run, inputs, output, !parse.GetValue(SingleScale), parse.GetValue(NoCrf) ? null : run.Config.TestCrf, shard,
                    (done, _) => sink.Report(done, "")));
            Console.WriteLine($"segment: {written} images segmented, {total - written} already done, to {output} in {clock.Elapsed.TotalSeconds:0.0} s");
            return 0;
        });
        return command;
    }
}
