using System.CommandLine;
using Asdt.IO;
using Asdt.Psm;
using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>
/// `asdt ablate`: the paper's Table 4. Trains the student strategies I–V under identical settings (a
/// preset plus the usual train flags), one run folder per row under --out, scores P^st, P^s and P̄ of
/// each and writes ablation.md / ablation.json. Resumable: finished rows are neither retrained nor rescored.
/// </summary>
public static class AblateCommand
{
    static readonly StudyOptions Study = new("row", "ablation.md and ablation.json");
    static readonly Option<string?> Rows = new("--rows") { Description = "Rows to run, e.g. I,V [default: I,II,III,IV,V]" };
    static readonly Option<bool> NoCam = new("--no-cam") { Description = "Skip the CAM threshold sweep" };

    public static Command Create()
    {
        var command = new Command("ablate", "Table 4: train strategies I–V under identical settings, score P^st / P^s / P̄ of each (with and without CRF) → <out>/ablation.md + .json. Resumable.");
        foreach (var o in Study.All.Concat([Rows, NoCam]).Concat(TrainCommand.ConfigOptions())) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var given = TrainCommand.GivenOptions(parse, TrainCommand.StrategyOptions[0]).ToArray();
            if (given.Length > 0) throw new AsdtException("ablate sets --strategy per row; choose rows with --rows");
            var rows = parse.GetValue(Rows) is string r
                ? r.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(AblationTable.ParseRow).Distinct().ToArray()
                : AblationTable.Strategies.ToArray();
            var config = TrainCommand.FromFlags(parse);
            var seeds = Study.SeedsFrom(parse, config.Seed);
            var (output, evalSplit, restrict, report) = Study.From(parse);
            Run(config, output, rows, evalSplit, restrict, !parse.GetValue(NoCam), report, AsdtCommandLine.CommandText(), seeds);
            return 0;
        });
        return command;
    }

    public static string RowFolder(string output, StudentStrategy s) => Path.Combine(output, $"row-{AblationTable.RowName(s)}-{s}");

    /// <summary>The run folder of a row with a seed (<see cref="StudyOptions.SeedFolder"/>).</summary>
    public static string RowFolder(string output, StudentStrategy s, int seed, int baseSeed) => StudyOptions.SeedFolder(RowFolder(output, s), seed, baseSeed);

    public static AblationTable Run(Stage1Config baseConfig, string output, IReadOnlyList<StudentStrategy> rows, string? evalSplit, string restrict,
        bool cam, bool report, string command, IReadOnlyList<int>? seeds = null)
    {
        seeds ??= [baseConfig.Seed];
        Directory.CreateDirectory(output);
        var (split, restricted) = StudyRunner.EvalSplit(baseConfig, evalSplit, restrict);
        var settings = StudyRunner.Scoring(baseConfig, restricted, [PsmSource.SegTeacher, PsmSource.Student, PsmSource.Max], withoutCrf: true, cam);
        string Folder(StudentStrategy s, int seed) => RowFolder(output, s, seed, baseConfig.Seed);
        // Rows and seeds of earlier calls into this folder (same settings, already scored) stay in the table beside this call's.
        var earlier = StudyRunner.EarlierRuns(output, baseConfig, c => c with { Strategy = baseConfig.Strategy }, split, settings)
            .Where(r => !(rows.Contains(r.Config.Strategy) && seeds.Contains(r.Config.Seed))).ToArray();
        var header = StudyHeader.From(command, baseConfig, split, StudyRunner.Protocol(split, restricted, crf: true, baseConfig.Inference))
            with { EarlierRuns = earlier.Select(r => Path.GetFileName(r.Folder)).ToArray() };
        var results = earlier.ToDictionary(r => (r.Config.Strategy, r.Config.Seed), r => r.Scores);
        var runs = rows.SelectMany(s => seeds.Select(seed => (Strategy: s, Seed: seed, Folder: Folder(s, seed))))
            .Concat(earlier.Select(r => (r.Config.Strategy, r.Config.Seed, r.Folder)))
            .ToArray();
        AblationTable Table() => new()
        {
            Header = header,
            Rows = AblationTable.Strategies.Where(s => runs.Any(r => r.Strategy == s)).Select(s => AblationTable.RowFrom(s, runs
                .Where(r => r.Strategy == s).OrderBy(r => r.Seed)
                .Select(r => new SeedRun(r.Seed, results.GetValueOrDefault((s, r.Seed)), r.Folder, StudyRunner.TrainingSeconds(r.Folder))).ToArray())).ToArray(),
        };
        // Seed by seed, so that an interrupted study already has every row of its first seeds.
        foreach (int seed in seeds)
            foreach (var strategy in rows)
            {
                string label = $"ablate row {AblationTable.RowName(strategy)} ({strategy}){(seeds.Count > 1 ? $" seed {seed}" : "")}";
                string folder = Folder(strategy, seed);
                string[] overrides = [.. baseConfig.Overrides, $"--strategy={strategy} (asdt ablate row {AblationTable.RowName(strategy)})"];
                if (seed != baseConfig.Seed) overrides = [.. overrides, $"--seed={seed} (asdt ablate --seeds)"];
                var config = baseConfig with { Strategy = strategy, Seed = seed, Overrides = overrides };
                results[(strategy, seed)] = StudyRunner.TrainScoreReport(label, config, folder, output, split, settings, report);
                Write(output, Table());
            }
        var table = Table();
        Write(output, table);
        Console.WriteLine();
        Console.Write(table.ToMarkdown());
        Console.WriteLine($"ablate: wrote {Path.Combine(output, "ablation.md")} and ablation.json");
        return table;
    }

    public static void Write(string output, AblationTable table)
    {
        AtomicFile.WriteAllText(Path.Combine(output, "ablation.json"), AsdtJson.Serialize(table));
        AtomicFile.WriteAllText(Path.Combine(output, "ablation.md"), table.ToMarkdown());
    }
}
