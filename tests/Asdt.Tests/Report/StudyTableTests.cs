using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Tests.Report;

public class StudyTableTests
{
    static HeadEvaluation Eval(double st, double s, double max, double? cam = null) => new()
    {
        Run = "r", Dataset = "demo", Split = "train", Images = 10, RestrictToImageLabels = true,
        Variants =
        [
            new() { Source = "segTeacher", Crf = true, Name = "P^st + CRF", MeanIoU = st },
            new() { Source = "student", Crf = true, Name = "P^s + CRF", MeanIoU = s },
            new() { Source = "max", Crf = true, Name = "P̄ + CRF", MeanIoU = max },
            new() { Source = "max", Crf = false, Name = "P̄", MeanIoU = max - 0.05 },
        ],
        Cam = cam is double c ? new CamSweepResult { Thresholds = [0.1, 0.2], MeanIoU = [c - 0.1, c], BestThreshold = 0.2, BestMeanIoU = c } : null,
    };

    /// <summary>Synthetic heads.json files written and read back, as ablate does on resume.</summary>
    static HeadEvaluation RoundTrip(TempFolder dir, string name, HeadEvaluation e)
    {
        string file = dir.File(name + ".json");
        File.WriteAllText(file, AsdtJson.Serialize(e));
        return AsdtJson.Read<HeadEvaluation>(file);
    }

    /// <summary>A one-seed ablation table over all five rows; rows without an evaluation are "not evaluated yet".</summary>
    static AblationTable OneSeedTable(Dictionary<StudentStrategy, HeadEvaluation> evals) => new()
    {
        Header = new StudyHeader { Command = "asdt ablate --out x --preset cpu", Machine = new MachineInfo { Cpu = "Test CPU 9000", Cores = 2 }, Preset = "cpu", Iterations = 900 },
        Rows = AblationTable.Strategies.Select(s => AblationTable.RowFrom(s, evals.GetValueOrDefault(s), $"runs/{s}", 61.0)).ToArray(),
    };

    [Fact]
    public void Ablation_table_has_the_measured_numbers_and_dashes_where_table_4_has_them()
    {
        using var dir = TestData.NewTempFolder();
        var evals = new Dictionary<StudentStrategy, HeadEvaluation>
        {
            [StudentStrategy.ClassTeacherOnly] = RoundTrip(dir, "I", Eval(0.111, 0.600, 0.222, cam: 0.45)),
            [StudentStrategy.SegTeacherOnly] = RoundTrip(dir, "II", Eval(0.58, 0.31, 0.49)),
            [StudentStrategy.NaiveMax] = RoundTrip(dir, "III", Eval(0.57, 0.40, 0.61)),
            [StudentStrategy.Alternate] = RoundTrip(dir, "V", Eval(0.63, 0.64, 0.655)),
        };
        var table = OneSeedTable(evals);
        var md = table.ToMarkdown();
        Assert.Contains("asdt ablate --out x --preset cpu", md);
        Assert.Contains("Test CPU 9000, 2 cores", md);
        // Row I: only P^s (its seg-teacher is untrained), as in the paper.
        Assert.Contains("| I | single class-teacher (= RRM) | – | 60.0 | **–** |", md);
        Assert.Contains("| V | alternate (ASDT) | 63.0 | 64.0 | **65.5** |", md);
        Assert.Contains("| II | single seg-teacher | 58.0 | 31.0 | **49.0** |", md);
        Assert.Contains("not evaluated yet", md); // row IV
        Assert.Contains("| I | – | – | – | 45.0 |", md); // CAM column of row I, no-CRF values absent
        Assert.Contains("62.3 / 30.4 / 48.5", md); // paper reference
        var findings = table.Findings().ToArray();
        Assert.Contains(findings, f => f.StartsWith("row V P̄ 65.5 is above row I's P^s 60.0 (+5.5); the paper has it above") && !f.Contains("disagrees"));
        Assert.Contains(findings, f => f.StartsWith("row III P̄ 61.0 is above") && f.Contains("disagrees"));
        Assert.Contains(findings, f => f.StartsWith("row II P̄ 49.0 is below") && !f.Contains("disagrees"));

        string json = dir.File("ablation.json");
        File.WriteAllText(json, AsdtJson.Serialize(table));
        var back = AsdtJson.Read<AblationTable>(json);
        Assert.Equal(0.655, back.Rows.Single(r => r.Row == "V").Max);
        Assert.Null(back.Rows.Single(r => r.Row == "I").SegTeacher);
        Assert.Equal(StudentStrategy.NaiveMean, back.Rows.Single(r => r.Row == "IV").Strategy);
    }

    [Fact]
    public void A_difference_that_prints_as_zero_is_no_difference_not_the_papers_order()
    {
        using var dir = TestData.NewTempFolder();
        // Seed 20's rows V and I: 71.88 against 71.86 on val, printed as 71.9 and 71.9 (+0.0).
        var evals = new Dictionary<StudentStrategy, HeadEvaluation>
        {
            [StudentStrategy.ClassTeacherOnly] = RoundTrip(dir, "I", Eval(0.111, 0.7186, 0.222)),
            [StudentStrategy.NaiveMean] = RoundTrip(dir, "IV", Eval(0.70, 0.70, 0.7184)),
            [StudentStrategy.Alternate] = RoundTrip(dir, "V", Eval(0.71, 0.69, 0.7188)),
            [StudentStrategy.NaiveMax] = RoundTrip(dir, "III", Eval(0.70, 0.70, 0.7196)),
        };
        var table = OneSeedTable(evals);
        var findings = table.Findings().ToArray();
        Assert.Contains("row V P̄ 71.9 is equal to row I's P^s 71.9 (0.0); the paper has it above — no difference here", findings);
        Assert.Contains("row IV P̄ 71.8 is equal to row I's P^s 71.9 (0.0); the paper has it below — no difference here", findings);
        Assert.Contains("row III P̄ 72.0 is above row I's P^s 71.9 (+0.1); the paper has it below — disagrees", findings);
    }

    [Fact]
    public void Ablation_rows_with_several_seeds_show_means_the_spread_and_whether_a_difference_beats_it()
    {
        using var dir = TestData.NewTempFolder();
        SeedRun Run(StudentStrategy s, int seed, double? final) =>
            new(seed, final is double f ? RoundTrip(dir, $"{s}-{seed}", Eval(f - 0.01, f - 0.02, f, cam: 0.5 + seed / 100.0)) : null, $"runs/{s}-seed{seed}", 100.0 * seed);
        var table = new AblationTable
        {
            Header = new StudyHeader { Command = "asdt ablate --seeds 1,2,3" },
            Rows =
            [
                // Row I's final output is P^s (= f - 0.02 here): 0.60, 0.62, 0.58 → mean 0.60, sd 0.02.
                AblationTable.RowFrom(StudentStrategy.ClassTeacherOnly, [Run(StudentStrategy.ClassTeacherOnly, 1, 0.62), Run(StudentStrategy.ClassTeacherOnly, 2, 0.64), Run(StudentStrategy.ClassTeacherOnly, 3, 0.60)]),
                // Row V: P̄ 0.70, 0.71, 0.69 → mean 0.70, sd 0.01: +10 points, far beyond the noise.
                AblationTable.RowFrom(StudentStrategy.Alternate, [Run(StudentStrategy.Alternate, 1, 0.70), Run(StudentStrategy.Alternate, 2, 0.71), Run(StudentStrategy.Alternate, 3, 0.69)]),
                // Row II: 0.58, 0.64 → mean 0.61, sd 0.042: +1 point, within the noise; seed 3 not scored yet.
                AblationTable.RowFrom(StudentStrategy.SegTeacherOnly, [Run(StudentStrategy.SegTeacherOnly, 1, 0.58), Run(StudentStrategy.SegTeacherOnly, 2, 0.64), Run(StudentStrategy.SegTeacherOnly, 3, null)]),
            ],
        };
        Assert.True(table.SeveralSeeds);
        var one = table.Rows[0];
        Assert.Equal(0.60, one.Student!.Value, 12);
        Assert.Equal(0.02, one.FinalStdDev!.Value, 12);
        Assert.Equal(0.51 + 0.01, one.CamBest!.Value, 12); // mean of 0.51, 0.52, 0.53
        Assert.Equal(200.0, one.TrainingSeconds!.Value, 12);
        Assert.Equal([1, 2, 3], one.Seeds.Select(x => x.Seed));
        var two = table.Rows[2];
        Assert.Equal(0.61, two.Max!.Value, 12);
        Assert.Equal(Math.Sqrt(2 * 0.03 * 0.03), two.FinalStdDev!.Value, 12);
        Assert.Equal("2 of 3 seeds scored", two.Note);
        Assert.Null(two.Seeds[2].Final);

        var md = table.ToMarkdown();
        Assert.Contains("each value is the mean over the row's seeds", md);
        Assert.Contains("| row | seed 1 | seed 2 | seed 3 | mean ± sd |", md);
        Assert.Contains("| I | 60.0 | 62.0 | 58.0 | 60.0 ± 2.0 |", md);
        Assert.Contains("| V | 70.0 | 71.0 | 69.0 | 70.0 ± 1.0 |", md);
        Assert.Contains("| II | 58.0 | 64.0 | – | 61.0 ± 4.2 |", md);
        Assert.Contains("`runs/Alternate-seed2`", md);
        var findings = table.Findings().ToArray();
        // Paired by seed: V − I = +10, +9, +11 (sd 1 point) → ± t(2 df) 4.303 · 1/√3 = 2.48; II − I over seeds 1, 2 = −2, +2
        // (sd 2.83) → ± 12.706 · 2.83/√2 = 25.4.
        Assert.Contains(findings, f => f.StartsWith("row V P̄ 70.0 (mean of 3 seeds) is above row I's P^s 60.0 (mean of 3 seeds) (+10.0)")
            && f.Contains("seeds 1, 2, 3: differences +10.0, +9.0, +11.0, mean +10.0 ± 2.5 (95 % t interval, 2 df), so beyond the seed noise"));
        Assert.Contains(findings, f => f.StartsWith("row II P̄ 61.0 (mean of 2 seeds) is above")
            && f.Contains("seeds 1, 2: differences -2.0, +2.0, mean 0.0 ± 25.4 (95 % t interval, 1 df), so within the seed noise"));
        // Rows that share fewer than two seeds are compared unpaired: se(III − I) = sqrt(0.0283²/2 + 0.02²/3) = 2.3 points.
        var unpaired = table with
        {
            Rows = [table.Rows[0], AblationTable.RowFrom(StudentStrategy.NaiveMax, [Run(StudentStrategy.NaiveMax, 4, 0.66), Run(StudentStrategy.NaiveMax, 5, 0.70)])],
        };
        Assert.Contains(unpaired.Findings(), f => f.StartsWith("row III P̄ 68.0 (mean of 2 seeds) is above")
            && f.Contains("standard error of the difference 2.3, so beyond the seed noise (2 standard errors)"));
        // The t quantiles against their defining property: P(|T| ≤ q) = 0.95, integrated numerically for a few df.
        foreach (int df in new[] { 1, 2, 5, 30 })
            Assert.Equal(0.95, StudentTCentralProbability(SeedStatistics.StudentT975(df), df), 4);

        string json = dir.File("ablation.json");
        File.WriteAllText(json, AsdtJson.Serialize(table));
        var back = AsdtJson.Read<AblationTable>(json);
        Assert.Equal(one.FinalStdDev, back.Rows[0].FinalStdDev);
        Assert.Equal(0.71, back.Rows[1].Seeds[1].Final);
    }

    /// <summary>P(−q ≤ T ≤ q) for Student's t with <paramref name="df"/> degrees of freedom, by Simpson's rule on its density.</summary>
    static double StudentTCentralProbability(double q, int df)
    {
        static double LogGamma(double x) // Lanczos (g = 5, six terms), x > 0
        {
            double[] cof = [76.18009172947146, -86.50532032941677, 24.01409824083091, -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5];
            double tmp = x + 5.5, ser = 1.000000000190015, y = x;
            tmp -= (x + 0.5) * Math.Log(tmp);
            foreach (double k in cof) ser += k / ++y;
            return -tmp + Math.Log(2.5066282746310005 * ser / x);
        }
        double c = Math.Exp(LogGamma((df + 1) / 2.0) - LogGamma(df / 2.0)) / Math.Sqrt(df * Math.PI);
        double Density(double t) => c * Math.Pow(1 + t * t / df, -(df + 1) / 2.0);
        int n = 20_000;
        double h = 2 * q / n, sum = Density(-q) + Density(q);
        for (int i = 1; i < n; i++) sum += (i % 2 == 1 ? 4 : 2) * Density(-q + i * h);
        return sum * h / 3;
    }

    [Fact]
    public void Ablation_seed_folders_keep_the_base_seeds_plain_folder_and_seed_lists_are_checked()
    {
        Assert.Equal(Path.Combine("s", "row-V-Alternate"), Asdt.Cli.Commands.AblateCommand.RowFolder("s", StudentStrategy.Alternate, 1, 1));
        Assert.Equal(Path.Combine("s", "row-V-Alternate-seed2"), Asdt.Cli.Commands.AblateCommand.RowFolder("s", StudentStrategy.Alternate, 2, 1));
        Assert.Equal(Path.Combine("s", "row-I-ClassTeacherOnly-seed1"), Asdt.Cli.Commands.AblateCommand.RowFolder("s", StudentStrategy.ClassTeacherOnly, 1, 7));
        Assert.Equal([3, 1, 2], Asdt.Cli.Commands.StudyOptions.ParseSeeds(" 3,1, 2,3"));
        Assert.Contains("'x'", Assert.Throws<AsdtException>(() => Asdt.Cli.Commands.StudyOptions.ParseSeeds("1,x")).Message);
        Assert.Throws<AsdtException>(() => Asdt.Cli.Commands.StudyOptions.ParseSeeds(" , "));
    }

    [Theory]
    [InlineData("I", StudentStrategy.ClassTeacherOnly)]
    [InlineData("iv", StudentStrategy.NaiveMean)]
    [InlineData("5", StudentStrategy.Alternate)]
    [InlineData("NaiveMax", StudentStrategy.NaiveMax)]
    public void Rows_parse_by_numeral_or_name(string text, StudentStrategy expected) =>
        Assert.Equal(expected, AblationTable.ParseRow(text));

    [Fact]
    public void Unknown_row_is_a_user_error() => Assert.Throws<AsdtException>(() => AblationTable.ParseRow("VI"));

    [Fact]
    public void Sweep_table_is_a_T_by_tau_grid_with_the_best_point_marked_and_a_plot()
    {
        using var dir = TestData.NewTempFolder();
        var values = new Dictionary<(int, double), double>
        {
            [(50, 2)] = 0.50, [(50, 5)] = 0.55, [(50, 6)] = 0.57,
            [(100, 2)] = 0.52, [(100, 5)] = 0.58, // (100, 6) not evaluated yet
        };
        var points = new List<SweepPoint>();
        foreach (int t in new[] { 50, 100 })
            foreach (double tau in new[] { 2.0, 5, 6 })
            {
                var e = values.TryGetValue((t, tau), out double v) ? RoundTrip(dir, $"T{t}-{tau}", Eval(v - 0.01, v - 0.02, v)) : null;
                points.Add(SweepTable.PointFrom(t, tau, PulseWidthReading.InverseDutyCycle, e, $"runs/T{t}-tau{tau}"));
            }
        var table = new SweepTable { Header = new StudyHeader { Command = "asdt sweep --periods 50,100 --taus 2,5,6" }, Points = points.ToArray() };
        Assert.Equal([50, 100], table.Periods);
        Assert.Equal([2.0, 5, 6], table.Taus);
        Assert.Equal((100, 5.0), (table.Best!.Period, table.Best.Tau));
        var md = table.ToMarkdown("sweep.png");
        Assert.Contains("| 50 | 50.0 (T_h 25) | 55.0 (T_h 10) | 57.0 (T_h 8) | 54.0 |", md);
        Assert.Contains("| 100 | 52.0 (T_h 50) | **58.0** (T_h 20) | – (T_h 17) | 55.0 |", md);
        Assert.Contains("| mean | 51.0 | 56.5 | 57.0 | |", md);
        Assert.Contains("Best: T = 100, τ = 5 → 58.0", md);
        Assert.Contains("![mIoU vs τ](sweep.png)", md);

        string png = dir.File("sweep.png");
        Plots.Sweep(png, table);
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 2000);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, bytes[..4]);
    }

    [Fact]
    public void Sweep_with_seeds_shows_means_per_seed_values_and_paired_differences_to_the_best_point()
    {
        using var dir = TestData.NewTempFolder();
        // T = 150; τ = 2 and 5 with seeds 1 and 3; τ = 1.25 with seed 1 only scored (seed 3 still training).
        var finals = new Dictionary<(double, int), double> { [(2, 1)] = 0.70, [(2, 3)] = 0.72, [(5, 1)] = 0.71, [(5, 3)] = 0.74, [(1.25, 1)] = 0.69 };
        SweepPoint Point(double tau) => SweepTable.PointFrom(150, tau, PulseWidthReading.InverseDutyCycle, new[] { 1, 3 }.Select(seed =>
            new SeedRun(seed, finals.TryGetValue((tau, seed), out double v) ? RoundTrip(dir, $"tau{tau}-s{seed}", Eval(v - 0.01, v + 0.01, v)) : null,
                $"runs/T150-tau{tau}{(seed == 1 ? "" : $"-seed{seed}")}", null)).ToArray());
        var table = new SweepTable { Header = new StudyHeader { Command = "asdt sweep --periods 150 --taus 1.25,2,5 --seeds 1,3" }, Points = [Point(1.25), Point(2), Point(5)] };

        Assert.True(table.SeveralSeeds);
        var five = table.At(150, 5)!;
        Assert.Equal((0.71 + 0.74) / 2, five.MeanIoU!.Value, 12);
        Assert.Equal((0.70 + 0.73) / 2, five.SegTeacher!.Value, 12);
        Assert.Equal(Math.Sqrt(2 * 0.015 * 0.015), five.MeanIoUStdDev!.Value, 12); // sample sd of two values: |a − b| / √2
        Assert.Equal(0.69, table.At(150, 1.25)!.MeanIoU!.Value, 12);              // the scored seed only
        Assert.Null(table.At(150, 1.25)!.MeanIoUStdDev);
        Assert.Equal("runs/T150-tau5", five.RunFolder);
        Assert.Equal(["runs/T150-tau5", "runs/T150-tau5-seed3"], five.Seeds.Select(x => x.RunFolder));
        Assert.Same(five, table.Best);

        var md = table.ToMarkdown("sweep.png");
        Assert.Contains("the mean over each point's scored seeds", md);
        Assert.Contains("| 150 | 69.0 (T_h 120) | 71.0 (T_h 75) | **72.5** (T_h 30) | 70.8 |", md);
        Assert.Contains("| T | τ | seed 1 | seed 3 | mean ± sd |", md);
        Assert.Contains("| 150 | 1.25 | 69.0 | – | 69.0 |", md);
        Assert.Contains("| 150 | 2 | 70.0 | 72.0 | 71.0 ± 1.4 |", md);
        Assert.Contains("| 150 | 5 | 71.0 | 74.0 | 72.5 ± 2.1 |", md);
        // τ = 2 minus τ = 5 by seed: −1.0, −2.0 → mean −1.5, sd 0.707, ± 12.706 · 0.707 / √2 = 6.4. τ = 1.25 has one common seed: no line.
        Assert.Contains("- T = 150, τ = 2 minus the best, seeds 1, 3: differences -1.0, -2.0, mean -1.5 ± 6.4 (95 % t interval, 1 df): within the seed noise", md);
        Assert.DoesNotContain("τ = 1.25 minus the best", md);

        string json = dir.File("sweep.json");
        File.WriteAllText(json, AsdtJson.Serialize(table));
        var back = AsdtJson.Read<SweepTable>(json);
        Assert.Equal(0.74, back.At(150, 5)!.Seeds[1].Final);
        Assert.Equal(five.MeanIoUStdDev, back.At(150, 5)!.MeanIoUStdDev);

        // The plot: one line through the means and each seed's markers; its y range covers the seeds' values too.
        string png = dir.File("sweep.png");
        Plots.Sweep(png, table);
        Assert.Equal((640, 380), Asdt.Data.ImageFile.ReadSize(png));
        // One seed: no per-seed section, as before.
        var single = new SweepTable { Header = table.Header, Points = [SweepTable.PointFrom(150, 5, PulseWidthReading.InverseDutyCycle, Eval(0.7, 0.7, 0.71), "runs/T150-tau5")] };
        Assert.False(single.SeveralSeeds);
        Assert.DoesNotContain("per seed", single.ToMarkdown());
    }

    [Fact]
    public void A_sweep_over_periods_at_one_tau_is_plotted_against_T()
    {
        using var dir = TestData.NewTempFolder();
        var points = new[] { (50, 0.60), (100, 0.62), (150, 0.61) }
            .Select(p => SweepTable.PointFrom(p.Item1, 5, PulseWidthReading.InverseDutyCycle,
                RoundTrip(dir, $"T{p.Item1}", Eval(p.Item2 - 0.01, p.Item2 - 0.02, p.Item2)), $"runs/T{p.Item1}-tau5")).ToArray();
        var table = new SweepTable { Header = new StudyHeader { Command = "asdt sweep --periods 50,100,150 --taus 5" }, Points = points };
        Assert.True(table.PlotsAgainstPeriod);
        Assert.Contains("![mIoU vs T](sweep.png)", table.ToMarkdown("sweep.png"));
        var grid = table with { Points = [.. points, SweepTable.PointFrom(50, 2, PulseWidthReading.InverseDutyCycle, null, "runs/T50-tau2")] };
        Assert.False(grid.PlotsAgainstPeriod);
        Assert.Contains("![mIoU vs τ](sweep.png)", grid.ToMarkdown("sweep.png"));

        string png = dir.File("sweep.png");
        Plots.Sweep(png, table);
        Assert.Equal((640, 380), Asdt.Data.ImageFile.ReadSize(png));
    }

    [Theory]
    [InlineData(new[] { 70.83, 70.88, 71.0 })]  // a flat sweep: at least 2 points of mIoU on the axis
    [InlineData(new[] { 61.0, 64.0 })]         // a real effect: the data and a margin
    [InlineData(new[] { 64.2 })]
    public void Sweep_plots_never_blow_a_tenth_of_a_point_up_to_the_full_height(double[] values)
    {
        var (min, max) = Plots.SweepRange(values)!.Value;
        Assert.True(max - min >= 2.0, $"span {max - min}");
        Assert.True(min < values.Min() && max > values.Max());
        double range = values.Max() - values.Min();
        Assert.True(max - min <= Math.Max(2.0, range) + 0.2 * Math.Max(range, 0.5) + 1e-9, $"span {max - min}"); // a 10 % margin, no more
        Assert.Null(Plots.SweepRange([]));
    }
}
