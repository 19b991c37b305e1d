using System.CommandLine;
using System.Globalization;
using Asdt.IO;
using Asdt.Psm;
using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Cli.Commands;

/// <summary>
/// `asdt sweep`: the paper's Fig. 5. One ASDT (strategy V) run per (T, τ) under --out, the PSM mIoU
/// (P̄ + CRF) of each (with --seeds: every point per seed, means, spreads and paired differences), a table (sweep.md / sweep.json) and a plot (sweep.png: mIoU vs τ, one line per T; mIoU vs T for several periods at one τ).
/// Resumable: finished points are neither retrained nor rescored.
/// </summary>
public static class SweepCommand
{
    static readonly StudyOptions Study = new("point", "sweep.md, sweep.json, sweep.png");
    static readonly Option<string> Periods = new("--periods") { Description = "Periods T (comma-separated)", DefaultValueFactory = _ => "50,75,100" };
    static readonly Option<string> Taus = new("--taus") { Description = "Proportions τ (comma-separated)", DefaultValueFactory = _ => "2,4,5,6,8" };
    static readonly Option<bool> AllHeads = new("--all-heads") { Description = "Also score P^st and P^s (and without CRF), not just the PSMs (P̄ + CRF)" };

    public static Command Create()
    {
        var command = new Command("sweep", "Fig. 5: train ASDT for every period T × proportion τ, score the PSMs (P̄ + CRF) → <out>/sweep.md, .json and sweep.png. Resumable.");
        foreach (var o in Study.All.Concat([Periods, Taus, AllHeads]).Concat(TrainCommand.ConfigOptions())) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var given = TrainCommand.GivenOptions(parse, TrainCommand.StrategyOptions).ToArray();
            if (given.Length > 0) throw new AsdtException($"sweep sets the strategy (V), --period and --tau per point; do not pass {string.Join(", ", given)} (use --periods and --taus)");
            var periods = EvalRunCommand.ParseList(parse.GetValue(Periods)!, "--periods").Select(p =>
                p >= 1 && p == Math.Floor(p) ? (int)p : throw new AsdtException($"--periods: {p} is not a whole number of iterations ≥ 1")).Distinct().ToArray();
            var taus = EvalRunCommand.ParseList(parse.GetValue(Taus)!, "--taus").Select(t =>
                t > 0 ? t : throw new AsdtException($"--taus: τ must be positive (got {t})")).Distinct().ToArray();
            var (output, evalSplit, restrict, report) = Study.From(parse);
            var config = TrainCommand.FromFlags(parse);
            Run(config, output, periods, taus, evalSplit, restrict, parse.GetValue(AllHeads), report, AsdtCommandLine.CommandText(), Study.SeedsFrom(parse, config.Seed));
            return 0;
        });
        return command;
    }

    public static string PointFolder(string output, int period, double tau) =>
        Path.Combine(output, $"T{period}-tau{tau.ToString("0.###", CultureInfo.InvariantCulture)}");

    /// <summary>The run folder of a point with a seed (<see cref="StudyOptions.SeedFolder"/>).</summary>
    public static string PointFolder(string output, int period, double tau, int seed, int baseSeed) =>
        StudyOptions.SeedFolder(PointFolder(output, period, tau), seed, baseSeed);

    public static SweepTable Run(Stage1Config baseConfig, string output, IReadOnlyList<int> periods, IReadOnlyList<double> taus, string? evalSplit,
        string restrict, bool allHeads, bool report, string command, IReadOnlyList<int>? seeds = null)
    {
        seeds ??= [baseConfig.Seed];
        Directory.CreateDirectory(output);
        var (split, restricted) = StudyRunner.EvalSplit(baseConfig, evalSplit, restrict);
        var settings = StudyRunner.Scoring(baseConfig, restricted, allHeads ? [PsmSource.SegTeacher, PsmSource.Student, PsmSource.Max] : [PsmSource.Max],
            withoutCrf: allHeads, cam: false);
        var alternate = baseConfig with { Strategy = StudentStrategy.Alternate };
        var points = (from period in periods from tau in taus select (period, tau)).ToArray();
        string Folder(int period, double tau, int seed) => PointFolder(output, period, tau, seed, baseConfig.Seed);
        // Points and seeds of earlier calls into this folder (same settings, already scored) stay in the table beside this call's.
        var earlier = StudyRunner.EarlierRuns(output, alternate, c => c with { PulseWidth = c.PulseWidth with { Period = alternate.PulseWidth.Period, Tau = alternate.PulseWidth.Tau } },
                split, settings)
            .Where(r => !(points.Contains((r.Config.PulseWidth.Period, r.Config.PulseWidth.Tau)) && seeds.Contains(r.Config.Seed))).ToArray();
        var header = StudyHeader.From(command, alternate, split, StudyRunner.Protocol(split, restricted, crf: true, baseConfig.Inference))
            with { EarlierRuns = earlier.Select(r => Path.GetFileName(r.Folder)).ToArray() };
        var results = earlier.ToDictionary(r => (r.Config.PulseWidth.Period, r.Config.PulseWidth.Tau, r.Config.Seed), r => r.Scores);
        var runs = points.SelectMany(p => seeds.Select(seed => (Point: p, Seed: seed, Folder: Folder(p.period, p.tau, seed))))
            .Concat(earlier.Select(r => (Point: (period: r.Config.PulseWidth.Period, tau: r.Config.PulseWidth.Tau), r.Config.Seed, r.Folder)))
            .ToArray();
        SweepTable Table() => new()
        {
            Header = header,
            Points = runs.Select(r => r.Point).Distinct().OrderBy(p => p.period).ThenBy(p => p.tau).Select(p => SweepTable.PointFrom(p.period, p.tau,
                baseConfig.PulseWidth.Reading, runs.Where(r => r.Point == p).OrderBy(r => r.Seed)
                    .Select(r => new SeedRun(r.Seed, results.GetValueOrDefault((p.period, p.tau, r.Seed)), r.Folder, null)).ToArray())).ToArray(),
        };
        int k = 0, count = points.Length * seeds.Count;
        // Seed by seed, so that an interrupted study already has every point of its first seeds.
        foreach (int seed in seeds)
            foreach (var (period, tau) in points)
            {
                string label = string.Create(CultureInfo.InvariantCulture, $"sweep {++k}/{count} (T = {period}, τ = {tau}{(seeds.Count > 1 ? $", seed {seed}" : "")})");
                string[] overrides = [.. baseConfig.Overrides, string.Create(CultureInfo.InvariantCulture, $"--period={period} --tau={tau} (asdt sweep point)")];
                if (seed != baseConfig.Seed) overrides = [.. overrides, $"--seed={seed} (asdt sweep --seeds)"];
                var config = baseConfig with
                {
                    Strategy = StudentStrategy.Alternate,
                    PulseWidth = baseConfig.PulseWidth with { Period = period, Tau = tau },
                    Seed = seed,
                    Overrides = overrides,
                };
                results[(period, tau, seed)] = StudyRunner.TrainScoreReport(label, config, Folder(period, tau, seed), output, split, settings, report);
                Write(output, Table());
            }
        var table = Table();
        Write(output, table);
        Console.WriteLine();
        Console.Write(table.ToMarkdown("sweep.png"));
        Console.WriteLine($"sweep: wrote {Path.Combine(output, "sweep.md")}, sweep.json and sweep.png");
        return table;
    }

    public static void Write(string output, SweepTable table)
    {
        AtomicFile.WriteAllText(Path.Combine(output, "sweep.json"), AsdtJson.Serialize(table));
        if (table.Points.Any(p => p.MeanIoU.HasValue)) Plots.Sweep(Path.Combine(output, "sweep.png"), table);
        AtomicFile.WriteAllText(Path.Combine(output, "sweep.md"), table.ToMarkdown(File.Exists(Path.Combine(output, "sweep.png")) ? "sweep.png" : null));
    }
}
