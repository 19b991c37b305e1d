using System.CommandLine;
using Asdt.Reports;

namespace Asdt.Cli.Commands;

/// <summary>`asdt report`: report.html of a stage-1 or stage-2 run folder.</summary>
public static class ReportCommand
{
    static readonly Option<string> Run = new("--run") { Description = "Run folder: stage 1 (asdt train) or stage 2 (asdt seg-train)", Required = true };
    static readonly Option<string?> Split = new("--split") { Description = "Split whose PSMs and scores (stage 1) or best and worst images (stage 2) to show [default: the run's training split; val for stage 2]" };
    static readonly Option<int> Examples = new("--examples") { Description = "Best and worst images to show (each)", DefaultValueFactory = _ => 3 };
    static readonly Option<int> Sample = new("--sample") { Description = "Without psm-<split>/, compute PSMs for this many images to pick best and worst", DefaultValueFactory = _ => 40 };
    static readonly Option<bool> Embed = new("--embed") { Description = "Embed the PNGs in report.html (one self-contained file) instead of report/*.png beside it" };

    public static Command Create()
    {
        var command = new Command("report", "Write <run>/report.html: config, loss curves, PW signal, timings, per-class IoU, best and worst images (stage 1: image, ground truth, CAM, B^ct, P̄, PSM; stage 2: image, ground truth, prediction without and with CRF).")
        {
            Run, Split, Examples, Sample, Embed,
        };
        command.SetAction(parse =>
        {
            string run = parse.GetValue(Run)!;
            if (File.Exists(Path.Combine(run, Asdt.Stage2.Stage2Trainer.ClassesFile)))
            {
                WriteStage2(run, new Stage2Report.Settings
                {
                    Split = parse.GetValue(Split) ?? "val",
                    Examples = parse.GetValue(Examples),
                    SampleImages = parse.GetValue(Sample),
                    Embed = parse.GetValue(Embed),
                });
                return 0;
            }
            Write(run, new ReportSettings
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

    public static string WriteStage2(string run, Stage2Report.Settings? settings = null)
    {
        string path = Stage2Report.Write(run, settings, message => Console.WriteLine(message));
        Console.WriteLine($"report: {path}");
        return path;
    }

    public static string Write(string run, ReportSettings? settings = null)
    {
        string path = RunReport.Write(run, settings, message => Console.WriteLine(message));
        Console.WriteLine($"report: {path}");
        return path;
    }
}
