using System.CommandLine;
using Asdt.Reports;

namespace Asdt.Cli.Commands;

/// <summary>`asdt report`: report.html of a stage-1 run folder.</summary>
public static class ReportCommand
{
    static readonly Option<string> Run = new("--run") { Description = "Stage-1 run folder (from asdt train)", Required = true };
    static readonly Option<string?> Split = new("--split") { Description = "Split whose PSMs and scores to show [default: the run's training split]" };
    static readonly Option<int> Examples = new("--examples") { Description = "Best and worst images to show (each)", DefaultValueFactory = _ => 3 };
    static readonly Option<int> Sample = new("--sample") { Description = "Without psm-<split>/, compute PSMs for this many images to pick best and worst", DefaultValueFactory = _ => 40 };
    static readonly Option<bool> Embed = new("--embed") { Description = "Embed the PNGs in report.html (one self-contained file) instead of report/*.png beside it" };

    public static Command Create()
    {
        var command = new Command("report", "Write <run>/report.html: config, loss curves, PW signal, timings, per-class IoU, best and worst images (image, ground truth, CAM, B^ct, P̄, PSM).")
        {
            Run, Split, Examples, Sample, Embed,
        };
        command.SetAction(parse =>
        {
            Write(parse.GetValue(Run)!, new ReportSettings
            {
                Split = parse.GetValue(Split),
                Examples = parse.GetValue(Examples),
                SampleImages = parse.GetValue(Sample),
                Embed = parse.GetValue(Embed),
            });
            return 0;
        });
        return command;
    }

    public static string Write(string run, ReportSettings? settings = null)
    {
        string path = RunReport.Write(run, settings, message => Console.WriteLine(message));
        Console.WriteLine($"report: {path}");
        return path;
    }
}
