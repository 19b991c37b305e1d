using System.Globalization;
using System.Text;
using Asdt.Training;

namespace Asdt.Reports;

/// <summary>What every study table says at its top: the command, the machine, the shared settings.</summary>
public sealed record StudyHeader
{
    public string Command { get; init; } = "";
    public MachineInfo Machine { get; init; } = new();
    public string Preset { get; init; } = "";
    public string Dataset { get; init; } = "";
    public string TrainSplit { get; init; } = "";
    public string EvalSplit { get; init; } = "";
    public int Iterations { get; init; }
    public string[] Deviations { get; init; } = [];
    public string[] Overrides { get; init; } = [];
    public string Protocol { get; init; } = "";
    /// <summary>Run folders that earlier calls into the study folder trained and scored with the same settings, listed beside this call's.</summary>
    public string[] EarlierRuns { get; init; } = [];

    public static StudyHeader From(string command, Stage1Config baseConfig, string evalSplit, string protocol) => new()
    {
        Command = command,
        Machine = MachineInfo.Current(),
        Preset = baseConfig.Preset,
        Dataset = baseConfig.Data.Dataset,
        TrainSplit = baseConfig.Data.Split,
        EvalSplit = evalSplit,
        Iterations = baseConfig.Iterations,
        Deviations = baseConfig.Deviations,
        Overrides = baseConfig.Overrides,
        Protocol = protocol,
    };

    public void AppendMarkdown(StringBuilder sb)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine("```");
        sb.AppendLine(Command);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(inv, $"- machine: {Machine}");
        sb.AppendLine(inv, $"- measured: {Machine.Date}");
        sb.AppendLine(inv, $"- preset `{Preset}`, {Iterations} iterations, trained on {Dataset} / {TrainSplit}, scored on {EvalSplit}");
        if (Overrides.Length > 0) sb.AppendLine(inv, $"- overrides: {string.Join(", ", Overrides.Select(o => $"`{o}`"))}");
        if (Protocol.Length > 0) sb.AppendLine(inv, $"- protocol: {Protocol}");
        if (EarlierRuns.Length > 0)
            sb.AppendLine(inv, $"- also listed: {string.Join(", ", EarlierRuns.Select(r => $"`{r}`"))}, trained and scored by earlier calls into this folder with the same settings");
        if (Deviations.Length > 0)
        {
            sb.AppendLine(Overrides.Length > 0
                ? "- the preset's deviations from the paper's setting (the overrides above take precedence where they touch the same value):"
                : "- deviations from the paper's setting:");
            foreach (var d in Deviations) sb.AppendLine(inv, $"  - {d}");
        }
        sb.AppendLine();
    }
}

/// <summary>One row of the Table-4 style ablation (mIoU in [0, 1]; null = not applicable or not measured).</summary>
public sealed record AblationRow
{
    public string Row { get; init; } = "";
    public StudentStrategy Strategy { get; init; }
    public string Description { get; init; } = "";
    public double? SegTeacher { get; init; }
    public double? Student { get; init; }
    public double? Max { get; init; }
    public double? SegTeacherNoCrf { get; init; }
    public double? StudentNoCrf { get; init; }
    public double? MaxNoCrf { get; init; }
    public double? CamBest { get; init; }
    public double? TrainingSeconds { get; init; }
    public string RunFolder { get; init; } = "";
    /// <summary>Why a row has no numbers (e.g. not trained yet).</summary>
    public string? Note { get; init; }
    /// <summary>
    /// One entry per seed the row was trained with (<c>asdt ablate --seeds</c>); the values above are the means over the
    /// evaluated ones. One seed: the values are that run's.
    /// </summary>
    public SeedResult[] Seeds { get; init; } = [];
    /// <summary>Sample standard deviation over seeds of the row's final output (<see cref="AblationTable.Final"/>); null under two seeds.</summary>
    public double? FinalStdDev { get; init; }
}

/// <summary>One seed's run of an ablation row or a sweep point: its final output (P̄, or P^s for row I) and its folder.</summary>
public sealed record SeedResult
{
    public int Seed { get; init; }
    public double? Final { get; init; }
    public string RunFolder { get; init; } = "";
}

/// <summary>
/// A trained (and maybe scored) run of one ablation row or sweep point with one seed, as
/// <see cref="AblationTable.RowFrom(StudentStrategy, IReadOnlyList{SeedRun})"/> and <see cref="SweepTable.PointFrom(int, double, PulseWidthReading, IReadOnlyList{SeedRun})"/> read it.
/// </summary>
public sealed record SeedRun(int Seed, HeadEvaluation? Evaluation, string RunFolder, double? TrainingSeconds);

/// <summary>A difference between two settings, paired by seed: per-seed differences, their mean and a 95 % t interval.</summary>
public sealed record PairedDifference((int Seed, double Difference)[] PerSeed, double Mean, double HalfWidth)
{
    public bool BeyondNoise => Math.Abs(Mean) > HalfWidth;

    /// <summary>
    /// Per seed that both have scored, <paramref name="a"/> minus <paramref name="b"/>, and the t interval of the mean; null
    /// under two common seeds. Runs of one seed share its warm-up and data order, so pairing removes most of the seed noise.
    /// </summary>
    public static PairedDifference? Of(IEnumerable<SeedResult> a, IEnumerable<SeedResult> b)
    {
        var other = b.Where(x => x.Final.HasValue).ToDictionary(x => x.Seed, x => x.Final!.Value);
        var d = a.Where(x => x.Final.HasValue && other.ContainsKey(x.Seed)).Select(x => (x.Seed, x.Final!.Value - other[x.Seed])).ToArray();
        if (d.Length < 2) return null;
        double mean = d.Average(x => x.Item2);
        double halfWidth = SeedStatistics.StudentT975(d.Length - 1) * SeedStatistics.SampleStdDev(d.Select(x => x.Item2).ToArray()) / Math.Sqrt(d.Length);
        return new PairedDifference(d, mean, halfWidth);
    }

    /// <summary>"seeds 1, 3: differences +0.4, +1.2, mean +0.8 ± 5.1 (95 % t interval, 1 df)", in mIoU points.</summary>
    public string Describe()
    {
        var inv = CultureInfo.InvariantCulture;
        return string.Create(inv,
            $"seeds {string.Join(", ", PerSeed.Select(d => d.Seed))}: differences {string.Join(", ", PerSeed.Select(d => (100 * d.Difference).ToString("+0.0;-0.0;0.0", inv)))}, mean {100 * Mean:+0.0;-0.0;0.0} ± {100 * HalfWidth:F1} (95 % t interval, {PerSeed.Length - 1} df)");
    }
}

/// <summary>Means and spreads over seeds, shared by the ablation and sweep tables.</summary>
public static class SeedStatistics
{
    public static double SampleStdDev(IReadOnlyList<double> v)
    {
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
    }

    /// <summary>The sample standard deviation of the scored finals; null under two.</summary>
    public static double? FinalStdDev(IEnumerable<SeedResult> seeds)
    {
        var finals = seeds.Where(x => x.Final.HasValue).Select(x => x.Final!.Value).ToArray();
        return finals.Length >= 2 ? SampleStdDev(finals) : null;
    }

    /// <summary>
    /// A Markdown table of the final output per seed (columns: the given key columns, one per seed, mean ± sd), mIoU in %;
    /// a seed a row was not trained with is an empty cell, one not scored yet "–".
    /// </summary>
    public static void AppendPerSeedTable(StringBuilder sb, string caption, string[] keyHeaders,
        IEnumerable<(string[] Keys, SeedResult[] Seeds, double? Mean, double? StdDev)> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        string P(double? v) => v is double x ? (100 * x).ToString("F1", inv) : "–";
        var list = rows.ToArray();
        var seeds = list.SelectMany(r => r.Seeds.Select(x => x.Seed)).Distinct().Order().ToArray();
        sb.AppendLine();
        sb.AppendLine(caption);
        sb.AppendLine();
        sb.AppendLine("| " + string.Join(" | ", keyHeaders.Concat(seeds.Select(x => $"seed {x}"))) + " | mean ± sd |");
        sb.AppendLine("|" + string.Concat(keyHeaders.Select(_ => "---|")) + string.Concat(seeds.Select(_ => "---:|")) + "---:|");
        foreach (var (keys, runs, mean, sd) in list)
        {
            var cells = seeds.Select(x => runs.FirstOrDefault(y => y.Seed == x) is { } run ? P(run.Final) : "");
            sb.AppendLine(inv, $"| {string.Join(" | ", keys.Concat(cells))} | {P(mean)}{(sd is double d ? $" ± {P(d)}" : "")} |");
        }
    }

    /// <summary>The two-sided 95 % quantile of Student's t with <paramref name="df"/> degrees of freedom (1.96 beyond 30).</summary>
    public static double StudentT975(int df) => df switch
    {
        < 1 => throw new ArgumentOutOfRangeException(nameof(df)),
        <= 30 => T975[df - 1],
        _ => 1.959964,
    };

    static readonly double[] T975 =
    [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
        2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
        2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ];
}

/// <summary>The Table-4 style table of <c>asdt ablate</c> (ablation.md / ablation.json).</summary>
public sealed record AblationTable
{
    public StudyHeader Header { get; init; } = new();
    public AblationRow[] Rows { get; init; } = [];

    public static IReadOnlyList<StudentStrategy> Strategies { get; } =
        [StudentStrategy.ClassTeacherOnly, StudentStrategy.SegTeacherOnly, StudentStrategy.NaiveMax, StudentStrategy.NaiveMean, StudentStrategy.Alternate];

    public static string RowName(StudentStrategy s) => s switch
    {
        StudentStrategy.ClassTeacherOnly => "I",
        StudentStrategy.SegTeacherOnly => "II",
        StudentStrategy.NaiveMax => "III",
        StudentStrategy.NaiveMean => "IV",
        _ => "V",
    };

    public static string Describe(StudentStrategy s) => s switch
    {
        StudentStrategy.ClassTeacherOnly => "single class-teacher (= RRM)",
        StudentStrategy.SegTeacherOnly => "single seg-teacher",
        StudentStrategy.NaiveMax => "naive dual (CRF on max(P^ct, P^st))",
        StudentStrategy.NaiveMean => "naive dual (CRF on mean(P^ct, P^st))",
        _ => "alternate (ASDT)",
    };

    public static StudentStrategy ParseRow(string text) => text.Trim().ToUpperInvariant() switch
    {
        "I" or "1" => StudentStrategy.ClassTeacherOnly,
        "II" or "2" => StudentStrategy.SegTeacherOnly,
        "III" or "3" => StudentStrategy.NaiveMax,
        "IV" or "4" => StudentStrategy.NaiveMean,
        "V" or "5" => StudentStrategy.Alternate,
        _ => Enum.TryParse<StudentStrategy>(text.Trim(), true, out var s) ? s
            : throw new AsdtException($"unknown Table-4 row '{text}' (use I, II, III, IV, V or a strategy name)"),
    };

    /// <summary>Paper Table 4 (VOC 2012 val, mIoU %): P^st, P^s, P̄.</summary>
    public static (double? St, double? S, double? Max) Paper(StudentStrategy s) => s switch
    {
        StudentStrategy.ClassTeacherOnly => (null, 62.6, null),
        StudentStrategy.SegTeacherOnly => (62.3, 30.4, 48.5),
        StudentStrategy.NaiveMax => (61.4, 40.1, 53.2),
        StudentStrategy.NaiveMean => (62.3, 40.0, 53.6),
        _ => (63.8, 63.8, 64.0),
    };

    /// <summary>A row from a run's heads.json (null = not evaluated yet). Row I has no trained seg-teacher, so P^st and P̄ are "–" as in the paper.</summary>
    public static AblationRow RowFrom(StudentStrategy strategy, HeadEvaluation? eval, string runFolder, double? trainingSeconds, string? note = null, int seed = 1)
    {
        var row = RowFrom(strategy, [new SeedRun(seed, eval, runFolder, trainingSeconds)]);
        return note == null ? row : row with { Note = note };
    }

    /// <summary>
    /// A row from its runs, one per seed: every value is the mean over the seeds that are scored, with the spread of the
    /// final output. Row I has no trained seg-teacher, so P^st and P̄ are "–" as in the paper.
    /// </summary>
    public static AblationRow RowFrom(StudentStrategy strategy, IReadOnlyList<SeedRun> runs)
    {
        if (runs.Count == 0) throw new ArgumentException("a row needs at least one run", nameof(runs));
        bool hasSegTeacher = strategy != StudentStrategy.ClassTeacherOnly;
        var scored = runs.Where(r => r.Evaluation != null).ToArray();
        double? Mean(Func<HeadEvaluation, double?> get)
        {
            var values = scored.Select(r => get(r.Evaluation!)).ToArray();
            return values.Length > 0 && values.All(v => v.HasValue) ? values.Average(v => v!.Value) : null;
        }
        double? Get(string source, bool crf) => Mean(e => e.Find(source, crf)?.MeanIoU);
        double? FinalOf(HeadEvaluation? e) => e?.Find(hasSegTeacher ? "max" : "student", true)?.MeanIoU;
        var seeds = runs.Select(r => new SeedResult { Seed = r.Seed, Final = FinalOf(r.Evaluation), RunFolder = r.RunFolder }).ToArray();
        var seconds = runs.Where(r => r.TrainingSeconds.HasValue).Select(r => r.TrainingSeconds!.Value).ToArray();
        string? note = scored.Length == 0 ? "not evaluated yet"
            : scored.Length < runs.Count ? $"{scored.Length} of {runs.Count} seeds scored" : null;
        return new AblationRow
        {
            Row = RowName(strategy),
            Strategy = strategy,
            Description = Describe(strategy),
            SegTeacher = hasSegTeacher ? Get("segTeacher", true) : null,
            Student = Get("student", true),
            Max = hasSegTeacher ? Get("max", true) : null,
            SegTeacherNoCrf = hasSegTeacher ? Get("segTeacher", false) : null,
            StudentNoCrf = Get("student", false),
            MaxNoCrf = hasSegTeacher ? Get("max", false) : null,
            CamBest = Mean(e => e.Cam?.BestMeanIoU),
            TrainingSeconds = seconds.Length > 0 ? seconds.Average() : null,
            RunFolder = runs[0].RunFolder,
            Note = note,
            Seeds = seeds,
            FinalStdDev = SeedStatistics.FinalStdDev(seeds),
        };
    }

    /// <summary>True when some row was trained with more than one seed (the table then shows means and the per-seed values).</summary>
    public bool SeveralSeeds => Rows.Any(r => r.Seeds.Length > 1);

    /// <summary>The row's final output (<see cref="StudentStrategyOutput.Output"/>): P̄ for rows with a seg-teacher, P^s for row I (its only segmentation output).</summary>
    public static double? Final(AblationRow r) => r.Strategy.Output() == Psm.PsmSource.Student ? r.Student : r.Max;

    /// <summary>Plain statements comparing the rows the way the paper does (V vs I, II–IV vs I).</summary>
    public IEnumerable<string> Findings()
    {
        var inv = CultureInfo.InvariantCulture;
        var one = Rows.FirstOrDefault(r => r.Strategy == StudentStrategy.ClassTeacherOnly);
        double? baseline = one == null ? null : Final(one);
        if (baseline is not double b) yield break;
        foreach (var r in Rows.Where(r => r.Strategy != StudentStrategy.ClassTeacherOnly))
        {
            if (Final(r) is not double f) continue;
            string expected = r.Strategy == StudentStrategy.Alternate ? "above" : "below";
            // Above or below as printed: a difference that rounds to 0.0 is no difference, not a reproduced order.
            double shown = Math.Round(100 * (f - b), 1) + 0.0; // + 0.0 turns -0.0 into 0.0
            string measured = shown > 0 ? "above" : shown < 0 ? "below" : "equal to";
            string verdict = measured == expected ? "" : measured == "equal to" ? " — no difference here" : " — disagrees";
            string finding = string.Create(inv, $"row {r.Row} P̄ {100 * f:F1}{SeedCount(r)} is {measured} row I's P^s {100 * b:F1}{SeedCount(one!)} ({shown:+0.0;-0.0;0.0}); the paper has it {expected}{verdict}");
            // With several seeds per row, say whether the difference stands out from the seed noise. The rows of one seed
            // share its warm-up (and data order), so seeds both rows have are compared pairwise: a t interval on the
            // per-seed differences. Rows without two common seeds fall back to the unpaired 2-standard-error rule.
            if (PairedDifference.Of(r.Seeds, one!.Seeds) is { } paired)
                finding += $"; paired by seed (the rows of one seed share its warm-up), {paired.Describe()}, so {(paired.BeyondNoise ? "beyond" : "within")} the seed noise";
            else if (r.FinalStdDev is double sr && one!.FinalStdDev is double s1)
            {
                double se = Math.Sqrt(sr * sr / Scored(r) + s1 * s1 / Scored(one));
                finding += string.Create(inv, $"; standard error of the difference {100 * se:F1}, so {(Math.Abs(f - b) > 2 * se ? "beyond" : "within")} the seed noise (2 standard errors)");
            }
            yield return finding;
        }
    }

    static int Scored(AblationRow r) => r.Seeds.Count(x => x.Final.HasValue);

    static string SeedCount(AblationRow r) => r.Seeds.Length > 1 ? $" (mean of {Scored(r)} seeds)" : "";

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        string P(double? v) => v is double x ? (100 * x).ToString("F1", inv) : "–";
        var sb = new StringBuilder();
        sb.AppendLine("# Table 4 (ablation of the student's teacher), measured");
        sb.AppendLine();
        Header.AppendMarkdown(sb);
        sb.AppendLine(SeveralSeeds
            ? "mIoU (%) with the dense CRF, as in the paper's Table 4 (paper values are VOC 2012 val); each value is the mean over the row's seeds (per seed below):"
            : "mIoU (%) with the dense CRF, as in the paper's Table 4 (paper values are VOC 2012 val):");
        sb.AppendLine();
        sb.AppendLine("| row | strategy | P^st | P^s | P̄ | paper P^st / P^s / P̄ | training |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var r in Rows)
        {
            var p = Paper(r.Strategy);
            string time = r.TrainingSeconds is double t ? TimeSpan.FromSeconds(t).ToString(@"h\:mm\:ss", inv) : "–";
            string note = r.Note != null ? $" ({r.Note})" : "";
            sb.AppendLine(inv, $"| {r.Row} | {r.Description}{note} | {P(r.SegTeacher)} | {P(r.Student)} | **{P(r.Max)}** | {Pp(p.St)} / {Pp(p.S)} / {Pp(p.Max)} | {time} |");
        }
        sb.AppendLine();
        sb.AppendLine("Without CRF (plain argmax) and the CAM at its best background threshold on this split (an oracle threshold):");
        sb.AppendLine();
        sb.AppendLine("| row | P^st | P^s | P̄ | CAM (best θ) |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var r in Rows)
            sb.AppendLine(inv, $"| {r.Row} | {P(r.SegTeacherNoCrf)} | {P(r.StudentNoCrf)} | {P(r.MaxNoCrf)} | {P(r.CamBest)} |");
        if (SeveralSeeds)
            SeedStatistics.AppendPerSeedTable(sb, "The final output (P̄ + CRF; P^s + CRF for row I) per seed, with the mean and the sample standard deviation over seeds:",
                ["row"], Rows.Select(r => (new[] { r.Row }, r.Seeds, Final(r), r.FinalStdDev)));
        var findings = Findings().ToArray();
        if (findings.Length > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Compared with row I (the paper: V above I, II–IV below I):");
            sb.AppendLine();
            foreach (var f in findings) sb.AppendLine(inv, $"- {f}");
        }
        sb.AppendLine();
        sb.AppendLine("Row I trains no seg-teacher, so its P^st and P̄ are not defined (– as in the paper). Run folders:");
        sb.AppendLine();
        foreach (var r in Rows)
            sb.AppendLine(inv, $"- {r.Row}: {(r.Seeds.Length > 1 ? string.Join(", ", r.Seeds.Select(x => Folder(x.RunFolder))) : Folder(r.RunFolder))}");
        return sb.ToString();

        static string Pp(double? v) => v is double x ? x.ToString("F1", CultureInfo.InvariantCulture) : "–";
        // A run folder, with the warm-up it continues when that was chosen among several.
        static string Folder(string f) => $"`{f}`{Training.WarmupSelection.Note(f)}";
    }
}

/// <summary>One point of the Fig. 5 study (mIoU in [0, 1]).</summary>
public sealed record SweepPoint
{
    public int Period { get; init; }
    public double Tau { get; init; }
    /// <summary>T_h and T_l as the PW signal rounds them.</summary>
    public int HighLength { get; init; }
    public int LowLength { get; init; }
    /// <summary>PSM quality: P̄ + CRF (null = not evaluated yet).</summary>
    public double? MeanIoU { get; init; }
    public double? SegTeacher { get; init; }
    public double? Student { get; init; }
    /// <summary>The first seed's run folder (each seed's is in <see cref="Seeds"/>).</summary>
    public string RunFolder { get; init; } = "";
    /// <summary>
    /// One entry per seed the point was trained with (<c>asdt sweep --seeds</c>): its P̄ + CRF and folder. The values above
    /// are the means over the scored seeds; with one seed they are that run's.
    /// </summary>
    public SeedResult[] Seeds { get; init; } = [];
    /// <summary>Sample standard deviation of P̄ + CRF over seeds; null under two scored seeds.</summary>
    public double? MeanIoUStdDev { get; init; }
}

/// <summary>The Fig. 5 table of <c>asdt sweep</c> (sweep.md / sweep.json) and its plot.</summary>
public sealed record SweepTable
{
    public StudyHeader Header { get; init; } = new();
    public SweepPoint[] Points { get; init; } = [];

    public int[] Periods => Points.Select(p => p.Period).Distinct().Order().ToArray();
    public double[] Taus => Points.Select(p => p.Tau).Distinct().Order().ToArray();
    /// <summary>Several periods at a single τ (Fig. 5's T panel): the plot's x axis is T rather than τ.</summary>
    public bool PlotsAgainstPeriod => Taus.Length == 1 && Periods.Length > 1;

    public SweepPoint? At(int period, double tau) => Points.FirstOrDefault(p => p.Period == period && p.Tau == tau);

    public SweepPoint? Best => Points.Where(p => p.MeanIoU.HasValue).MaxBy(p => p.MeanIoU!.Value);

    public static SweepPoint PointFrom(int period, double tau, PulseWidthReading reading, HeadEvaluation? eval, string runFolder, int seed = 1) =>
        PointFrom(period, tau, reading, [new SeedRun(seed, eval, runFolder, null)]);

    /// <summary>A point from its runs, one per seed: each value is the mean over the scored seeds (null if a scored seed lacks it).</summary>
    public static SweepPoint PointFrom(int period, double tau, PulseWidthReading reading, IReadOnlyList<SeedRun> runs)
    {
        if (runs.Count == 0) throw new ArgumentException("a point needs at least one run", nameof(runs));
        var signal = new PulseWidthSignal(period, tau, reading);
        var scored = runs.Where(r => r.Evaluation != null).Select(r => r.Evaluation!).ToArray();
        double? Mean(Func<HeadEvaluation, double?> get)
        {
            var values = scored.Select(get).ToArray();
            return values.Length > 0 && values.All(v => v.HasValue) ? values.Average(v => v!.Value) : null;
        }
        static double? Psm(HeadEvaluation? e) => e?.Find("max", true)?.MeanIoU ?? e?.Find("max", false)?.MeanIoU;
        var seeds = runs.Select(r => new SeedResult { Seed = r.Seed, Final = Psm(r.Evaluation), RunFolder = r.RunFolder }).ToArray();
        return new SweepPoint
        {
            Period = period, Tau = tau, HighLength = signal.HighLength, LowLength = signal.LowLength,
            MeanIoU = Mean(Psm),
            SegTeacher = Mean(e => e.Find("segTeacher", true)?.MeanIoU),
            Student = Mean(e => e.Find("student", true)?.MeanIoU),
            RunFolder = runs[0].RunFolder,
            Seeds = seeds,
            MeanIoUStdDev = SeedStatistics.FinalStdDev(seeds),
        };
    }

    /// <summary>True when some point was trained with more than one seed (the table then shows means and the per-seed values).</summary>
    public bool SeveralSeeds => Points.Any(p => p.Seeds.Length > 1);

    public string ToMarkdown(string? plotFile = null)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# Fig. 5 (PW wave: period T and proportion τ), measured");
        sb.AppendLine();
        Header.AppendMarkdown(sb);
        sb.AppendLine(SeveralSeeds
            ? "PSM mIoU (%) = P̄ + CRF, the mean over each point's scored seeds (per seed below); rows T, columns τ (T_h = high-level iterations per period):"
            : "PSM mIoU (%) = P̄ + CRF; rows T, columns τ (T_h = high-level iterations per period):");
        sb.AppendLine();
        var taus = Taus;
        sb.AppendLine("| T \\ τ | " + string.Join(" | ", taus.Select(t => t.ToString("0.##", inv))) + " | mean |");
        sb.AppendLine("|---|" + string.Concat(taus.Select(_ => "---:|")) + "---:|");
        var best = Best;
        foreach (int period in Periods)
        {
            var cells = taus.Select(tau =>
            {
                var p = At(period, tau);
                if (p == null) return "";
                string v = p.MeanIoU is double m ? (100 * m).ToString("F1", inv) : "–";
                if (p == best) v = $"**{v}**";
                return $"{v} (T_h {p.HighLength})";
            });
            var values = Points.Where(p => p.Period == period && p.MeanIoU.HasValue).Select(p => p.MeanIoU!.Value).ToArray();
            sb.AppendLine(inv, $"| {period} | {string.Join(" | ", cells)} | {(values.Length > 0 ? (100 * values.Average()).ToString("F1", inv) : "–")} |");
        }
        var means = taus.Select(tau => Points.Where(p => p.Tau == tau && p.MeanIoU.HasValue).Select(p => p.MeanIoU!.Value).ToArray())
            .Select(v => v.Length > 0 ? (100 * v.Average()).ToString("F1", inv) : "–");
        sb.AppendLine("| mean | " + string.Join(" | ", means) + " | |");
        sb.AppendLine();
        if (best != null)
            sb.AppendLine(inv, $"Best: T = {best.Period}, τ = {best.Tau:0.##} → {100 * best.MeanIoU!.Value:F1}. The paper (VOC val): T moves PSM mIoU by about 1 point, τ more; τ = 6 best.");
        if (SeveralSeeds) AppendSeeds(sb, best);
        if (plotFile != null) { sb.AppendLine(); sb.AppendLine(inv, $"![mIoU vs {(PlotsAgainstPeriod ? "T" : "τ")}]({plotFile})"); }
        return sb.ToString();
    }

    /// <summary>Each point's P̄ + CRF per seed with mean ± sd, and every other point against the best one, paired by seed.</summary>
    void AppendSeeds(StringBuilder sb, SweepPoint? best)
    {
        var inv = CultureInfo.InvariantCulture;
        SeedStatistics.AppendPerSeedTable(sb, "P̄ + CRF per seed, with the mean and the sample standard deviation over seeds:", ["T", "τ"],
            Points.OrderBy(p => p.Period).ThenBy(p => p.Tau).Select(p =>
                (new[] { p.Period.ToString(inv), p.Tau.ToString("0.##", inv) }, p.Seeds, p.MeanIoU, p.MeanIoUStdDev)));
        if (best == null) return;
        var lines = Points.Where(p => p != best)
            .Select(p => (p, d: PairedDifference.Of(p.Seeds, best.Seeds)))
            .Where(x => x.d != null)
            .Select(x => string.Create(inv, $"- T = {x.p.Period}, τ = {x.p.Tau:0.##} minus the best, {x.d!.Describe()}: {(x.d.BeyondNoise ? "beyond" : "within")} the seed noise"))
            .ToArray();
        if (lines.Length == 0) return;
        sb.AppendLine();
        sb.AppendLine(inv, $"Against the best point (T = {best.Period}, τ = {best.Tau:0.##}), paired by seed (the points of one seed share its warm-up):");
        sb.AppendLine();
        foreach (var line in lines) sb.AppendLine(line);
    }
}
