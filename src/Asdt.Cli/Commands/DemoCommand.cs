using System.CommandLine;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.Psm;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>
/// `asdt demo`: the README's main command. The whole chain on the built-in demo dataset: generate it,
/// print its statistics, train stage 1 (quick preset), write pseudo masks, score them. Every step
/// resumes: re-running after an interruption continues where it stopped.
/// </summary>
public static class DemoCommand
{
    static readonly Option<string> Out = new("--out") { Description = "Folder for the demo data and run", DefaultValueFactory = _ => "runs/demo" };
    static readonly Option<int?> Iterations = new("--iterations") { Description = "Stage-1 iterations [default: the quick preset's]" };
    static readonly Option<int> Count = new("--count") { Description = "Demo images to generate", DefaultValueFactory = _ => DemoDataset.DefaultCount };

    public static Command Create()
    {
        var command = new Command("demo", "Run the whole pipeline on the built-in demo dataset: data → stage-1 training (quick preset) → pseudo masks → mIoU → report.html.")
        {
            Out, Iterations, Count,
        };
        command.SetAction(parse =>
        {
            Run(parse.GetValue(Out)!, parse.GetValue(Iterations), parse.GetValue(Count));
            return 0;
        });
        return command;
    }

    public static void Run(string output, int? iterations, int count)
    {
        string data = Path.Combine(output, "data");
        if (!File.Exists(Path.Combine(data, "dataset.json")))
        {
            Console.WriteLine($"[1/5] generating {count} demo images in {data}");
            DemoDataset.Generate(data, count);
        }
        else Console.WriteLine($"[1/5] demo data already in {data}");
        var dataset = SegmentationDataset.Open(Path.Combine(data, "dataset.json"));
        DatasetCommand.Print(dataset, DatasetStatistics.Compute(dataset, "train"));

        string run = Path.Combine(output, "stage1");
        var config = Stage1Presets.Quick with { Data = Stage1Presets.Quick.Data with { Dataset = Path.GetFullPath(Path.Combine(data, "dataset.json")) } };
        if (iterations is int it) config = config with { Iterations = it, Overrides = [$"--iterations={it}"] };
        bool resume = File.Exists(Path.Combine(run, Stage1Trainer.ConfigFile));
        Console.WriteLine($"[2/5] stage 1 ({(resume ? "resuming " : "")}quick preset) in {run}");
        TrainCommand.Train(config, run, resume);

        using var stage1 = Stage1Run.Open(run);
        string psm = Path.Combine(run, "psm-train");
        Console.WriteLine($"[3/5] pseudo masks → {psm}");
        PsmCommand.Generate(stage1, "train", psm, new PsmSettings { Crf = config.SegTeacherCrf, Augmentation = config.Inference }, Shard.All);

        Console.WriteLine("[4/5] scoring the pseudo masks against the demo ground truth");
        var score = EvalCommand.Evaluate(dataset, "train", psm, Shard.All);
        EvalCommand.Write(score, Path.Combine(run, "psm-train-score"));
        Console.Write(score.ToMarkdown());

        Console.WriteLine("[5/5] report");
        string report = ReportCommand.Write(run);
        Console.WriteLine($"done: PSM mIoU {100 * score.MeanIoU:0.00} on the demo train split; run folder {run}; open {report}");
    }
}
