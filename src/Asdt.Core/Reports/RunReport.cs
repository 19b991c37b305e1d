using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Psm;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Reports;

using static HtmlReport;

public sealed record ReportSettings
{
    /// <summary>Split whose PSMs and scores the report shows [default: the run's training split].</summary>
    public string? Split { get; init; }
    /// <summary>Best and worst images shown (each).</summary>
    public int Examples { get; init; } = 3;
    /// <summary>Without a PSM folder, P̄ + CRF (P^s + CRF in row I) is computed for this many images of the split to find best and worst.</summary>
    public int SampleImages { get; init; } = 40;
    /// <summary>Embed the PNGs as base64 in the HTML (one file to mail around) instead of files in report/.</summary>
    public bool Embed { get; init; }
}

/// <summary>
/// report.html of a stage-1 run folder: config (with deviations and overrides), loss curves, the PW
/// signal, timings per part, scores (PSM per-class IoU, Table-4 heads, CAM sweep) and the best and
/// worst images with their CAM, B^ct, P̄ and PSM. Plots are ScottPlot PNGs in &lt;run&gt;/report/ (or
/// embedded); the HTML has inline CSS and no scripts, so it opens offline.
/// </summary>
public static class RunReport
{
    public const string FileName = "report.html";
    public const string AssetFolder = "report";

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    sealed record Example(string Id, double MeanIoU, string[] Tiles, string[] Classes);

    public static string Write(string runFolder, ReportSettings? settings = null, Action<string>? log = null)
    {
        settings ??= new ReportSettings();
        runFolder = Path.GetFullPath(runFolder);
        var config = AsdtJson.Read<Stage1Config>(Path.Combine(runFolder, Stage1Trainer.ConfigFile));
        string split = settings.Split ?? config.Data.Split;
        string assets = Path.Combine(runFolder, AssetFolder);
        Directory.CreateDirectory(assets);
        var metrics = ReadMetrics(Path.Combine(runFolder, Stage1Trainer.MetricsFile));
        var html = new Html(assets, settings.Embed);

        html.Raw("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Raw($"<title>ASDT stage 1 — {Html.Encode(Path.GetFileName(runFolder))}</title><style>{Css}</style></head><body><main>");
        html.Raw($"<h1>ASDT stage-1 run <code>{Html.Encode(Path.GetFileName(runFolder))}</code></h1>");
        html.Raw($"<p class=\"sub\">{Html.Encode(runFolder)} · report written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · {Html.Encode(MachineInfo.Current().ToString())}</p>");

        // ---- scores found beside the run
        var psmScore = FindPsmScore(runFolder, split);
        var heads = FindHeadEvaluations(runFolder);

        // ---- summary cards
        long done = metrics.Count == 0 ? 0 : metrics[^1].Iteration + 1;
        double seconds = metrics.Sum(m => m.Seconds);
        html.Raw("<section class=\"cards\">");
        Card(html, "strategy", $"{AblationTable.RowName(config.Strategy)} · {config.Strategy}", AblationTable.Describe(config.Strategy));
        Card(html, "iterations", $"{done:N0} / {config.Iterations:N0}", done >= config.Iterations ? "finished" : "not finished");
        Card(html, "training time", Duration(seconds), metrics.Count > 0 ? $"{metrics.Average(m => m.ImagesPerSecond):0.00} images/s" : "");
        Card(html, "PW wave", $"T = {config.PulseWidth.Period}, τ = {config.PulseWidth.Tau:0.##}", config.PulseWidth.Signal() is var pw ? $"T_h = {pw.HighLength}, T_l = {pw.LowLength}" : "");
        if (psmScore.Score is { } ps) Card(html, "PSM mIoU", $"{100 * ps.MeanIoU:0.00}", $"{ps.Dataset} / {ps.Split}, {ps.Images} images{(psmScore.Sample ? " (sample)" : "")}");
        foreach (var h in heads.Take(1))
            if (h.Find(HeadEvaluation.SourceName(config.Strategy.Output()), true) is { } v) Card(html, $"{v.Name} ({h.Split})", $"{100 * v.MeanIoU:0.00}", h.RestrictToImageLabels ? "label-restricted" : "no label restriction");
        html.Raw("</section>");

        // ---- examples first: what people want to see
        log?.Invoke("report: best and worst images");
        var (examples, exampleNote, classNames) = Examples(runFolder, config, split, settings, assets, ref psmScore);
        html.Raw("<h2>Best and worst images</h2>");
        html.Raw($"<p class=\"note\">{Html.Encode(exampleNote)}</p>");
        if (examples.Count > 0)
        {
            string output = HeadEvaluation.Symbol(config.Strategy.Output());
            string[] headers = ["image", "ground truth", "CAM (max over image classes)", "B^ct (hatched: ignored)", $"{output} (pale: unsure)", $"PSM = CRF({output})"];
            foreach (var (title, list) in new[] { ("best", examples.Where(e => e.Id.StartsWith("best:")).ToList()), ("worst", examples.Where(e => e.Id.StartsWith("worst:")).ToList()) })
            {
                if (list.Count == 0) continue;
                html.Raw($"<h3>{title}</h3><table class=\"examples\"><tr><th></th>{string.Concat(headers.Select(h => $"<th>{Html.Encode(h)}</th>"))}</tr>");
                foreach (var e in list)
                {
                    html.Raw($"<tr><td class=\"id\">{Html.Encode(e.Id[(e.Id.IndexOf(':') + 1)..])}<br><b>{100 * e.MeanIoU:0.0}</b> mIoU<br><span class=\"cls\">{Html.Encode(string.Join(", ", e.Classes))}</span></td>");
                    foreach (var tile in e.Tiles) html.Raw($"<td>{html.Image(tile, "")}</td>");
                    html.Raw("</tr>");
                }
                html.Raw("</table>");
            }
            Legend(html, classNames);
        }

        // ---- scores
        log?.Invoke("report: scores");
        html.Raw("<h2>Scores</h2>");
        if (psmScore.Score is { } score)
        {
            string file = Path.Combine(assets, "class-iou.png");
            Plots.Bars(file, $"PSM IoU per class ({score.Dataset} / {score.Split}{(psmScore.Sample ? ", sample" : "")}): mIoU {100 * score.MeanIoU:0.0}", "IoU (%)",
                score.ClassNames, score.ClassIoU.Select(v => v * 100).ToArray(), (0, 105), width: 900, height: 340);
            html.Raw($"<p>{Html.Encode(psmScore.Source)}: mIoU <b>{100 * score.MeanIoU:0.00}</b>, pixel accuracy {100 * score.PixelAccuracy:0.00}.</p>");
            html.Raw(html.Image(file, "per-class IoU", "wide"));
        }
        else html.Raw("<p class=\"note\">No PSM score yet (run <code>asdt psm</code> and <code>asdt eval</code>).</p>");
        foreach (var h in heads)
        {
            html.Raw($"<h3>Heads on {Html.Encode(h.Dataset)} / {Html.Encode(h.Split)} ({h.Images} images{(h.Iteration is long it ? $", weights of iteration {it}" : "")})</h3><p class=\"note\">{Html.Encode(h.Protocol)}</p>");
            html.Raw("<table class=\"num\"><tr><th>output</th><th>mIoU</th><th>pixel acc.</th></tr>");
            foreach (var v in h.Variants)
                html.Raw($"<tr><td>{Html.Encode(v.Name)}</td><td>{100 * v.MeanIoU:0.00}</td><td>{100 * v.PixelAccuracy:0.00}</td></tr>");
            html.Raw("</table>");
            if (h.Cam is { } cam)
            {
                string file = Path.Combine(assets, $"cam-sweep-{Safe(h.Split)}.png");
                Plots.Lines(file, $"CAM mIoU vs background threshold θ ({h.Split}); best θ = {cam.BestThreshold:0.00}", "θ", "mIoU (%)",
                    [new Series("CAM", cam.Thresholds, cam.MeanIoU.Select(m => 100 * m).ToArray(), Markers: true)], width: 640, height: 300);
                html.Raw(html.Image(file, "CAM threshold sweep"));
            }
        }

        if (Training.CheckpointSelection.Read(runFolder) is { Chosen: long chosen } checkpointChoice)
            CheckpointSelectionSection(html, checkpointChoice, chosen, assets);

        // ---- training curves
        log?.Invoke("report: training curves");
        html.Raw("<h2>Training</h2>");
        if (metrics.Count == 0) html.Raw("<p class=\"note\">metrics.jsonl is empty.</p>");
        else
        {
            var lowSpans = LowSpans(metrics);
            (double, double) xRange = (-0.5, Math.Max(config.Iterations, done) - 0.5);
            html.Raw("<p class=\"note\">Shaded: iterations where the student learns from the seg-teacher (B^st, PW low level); grey: classifier-only warm-up. Thin line: every iteration; thick: moving average.</p>");
            html.Raw("<div class=\"grid\">");
            var terms = new (string Name, Func<IterationMetrics, double?> Get)[]
            {
                ("total loss", m => m.Loss), ("L_cls (class-teacher)", m => m.ClassLoss),
                ("seg-teacher CE (L_ct→st)", m => m.SegTeacherCe), ("seg-teacher L_str", m => m.SegTeacherEnergy),
                ("student CE", m => m.StudentCe), ("student L_str", m => m.StudentEnergy),
            };
            int k = 0;
            foreach (var (name, get) in terms)
            {
                var points = metrics.Where(m => get(m) is double v && double.IsFinite(v)).Select(m => (X: (double)m.Iteration, Y: get(m)!.Value)).ToArray();
                if (points.Length == 0) continue;
                string file = Path.Combine(assets, $"loss-{k++}.png");
                var xs = points.Select(p => p.X).ToArray();
                var ys = points.Select(p => p.Y).ToArray();
                Plots.Lines(file, name, "iteration", "", [
                    new Series("", xs, ys, Color: "#9ecae1", Width: 1),
                    new Series("", xs, MovingAverage(ys, Math.Max(1, points.Length / 40)), Color: "#08519c", Width: 2.5),
                ], lowSpans, width: 480, height: 260, legend: false, xRange: xRange);
                html.Raw(html.Image(file, name));
            }
            html.Raw("</div>");

            string pwFile = Path.Combine(assets, "pw-signal.png");
            var pwPoints = metrics.Select(m => ((double)m.Iteration, m.Phase == "warmup" ? double.NaN : PwValue(m, config))).ToArray();
            Plots.Lines(pwFile, "PW signal Λ_t (1 = student learns B^ct, 0 = B^st)", "iteration", "Λ_t",
                [new Series("Λ_t", pwPoints.Select(p => p.Item1).ToArray(), pwPoints.Select(p => p.Item2).ToArray(), Step: true)],
                lowSpans.Where(s => s.Color == WarmupColor).ToArray(), (-0.1, 1.15), width: 980, height: 200, legend: false,
                xRange: (-0.5, Math.Max(config.Iterations, done) - 0.5), yTicks: [0, 1]);
            html.Raw(html.Image(pwFile, "PW signal", "wide"));

            html.Raw("<div class=\"grid\">");
            string lrFile = Path.Combine(assets, "learning-rate.png");
            Plots.Lines(lrFile, "learning rate (backbone; new layers ×10 / ×20)", "iteration", "",
                [new Series("", metrics.Select(m => (double)m.Iteration).ToArray(), metrics.Select(m => m.LearningRate).ToArray())], legend: false, width: 480, height: 260, xRange: xRange);
            html.Raw(html.Image(lrFile, "learning rate"));
            var rel = metrics.Where(m => m.ReliableFraction is double).ToArray();
            if (rel.Length > 0)
            {
                string relFile = Path.Combine(assets, "reliable-fraction.png");
                var ys = rel.Select(m => 100 * m.ReliableFraction!.Value).ToArray();
                Plots.Lines(relFile, "pixels labelled by B^ct (R^ct = 1)", "iteration", "%", [
                    new Series("", rel.Select(m => (double)m.Iteration).ToArray(), ys, Color: "#a1d99b", Width: 1),
                    new Series("", rel.Select(m => (double)m.Iteration).ToArray(), MovingAverage(ys, Math.Max(1, rel.Length / 40)), Color: "#006d2c", Width: 2.5),
                ], lowSpans, (0, 100), legend: false, width: 480, height: 260, xRange: xRange);
                html.Raw(html.Image(relFile, "reliable fraction"));
            }
            html.Raw("</div>");

            // Timings: mean seconds per part, per phase.
            var phases = metrics.Select(m => m.Phase).Distinct().ToArray();
            var parts = metrics.SelectMany(m => m.Timings.Keys).Distinct().ToArray();
            if (parts.Length > 0)
            {
                var values = new double[phases.Length, parts.Length];
                for (int p = 0; p < phases.Length; p++)
                {
                    var ms = metrics.Where(m => m.Phase == phases[p]).ToArray();
                    for (int q = 0; q < parts.Length; q++) values[p, q] = ms.Average(m => m.Timings.GetValueOrDefault(parts[q]));
                }
                string tFile = Path.Combine(assets, "timings.png");
                Plots.StackedBars(tFile, "mean seconds per iteration, by part and phase", "seconds", phases, parts, values, width: 980, height: 80 + 60 * phases.Length);
                html.Raw("<h3>Time per part</h3>");
                html.Raw(html.Image(tFile, "timings", "wide"));
                html.Raw("<table class=\"num\"><tr><th>phase</th><th>iterations</th>" + string.Concat(parts.Select(p => $"<th>{Html.Encode(p)}</th>")) + "<th>per iteration</th><th>images/s</th></tr>");
                for (int p = 0; p < phases.Length; p++)
                {
                    var ms = metrics.Where(m => m.Phase == phases[p]).ToArray();
                    html.Raw($"<tr><td>{Html.Encode(phases[p])}</td><td>{ms.Length}</td>" + string.Concat(Enumerable.Range(0, parts.Length).Select(q => $"<td>{values[p, q]:0.000}</td>"))
                             + $"<td>{ms.Average(m => m.Seconds):0.000}</td><td>{ms.Average(m => m.ImagesPerSecond):0.00}</td></tr>");
                }
                html.Raw("</table>");
            }
        }

        // ---- which warm-up the run continues (warm-up selection)
        string selectionFile = Path.Combine(runFolder, Training.WarmupSelectionRecord.FileName);
        if (File.Exists(selectionFile))
        {
            var selection = AsdtJson.Read<Training.WarmupSelectionRecord>(selectionFile);
            html.Raw("<h3>Warm-up selection</h3>");
            html.Raw($"<p class=\"note\">Seed {selection.Seed} trained {selection.Candidates.Length} classifier-only warm-ups and continues the one whose CAMs score best on {Html.Encode(selection.Split)} (mIoU at the best background threshold): seed {selection.Chosen}.</p>");
            html.Raw("<table class=\"num\"><tr><th>candidate seed</th><th>warm-up</th><th>CAM mIoU</th><th>θ</th></tr>");
            foreach (var c in selection.Candidates)
                html.Raw($"<tr{(c.Seed == selection.Chosen ? " class=\"best\"" : "")}><td>{c.Seed}{(c.Seed == selection.Chosen ? " (chosen)" : "")}</td><td>{Html.Encode(c.Warmup)}</td><td>{100 * c.CamMeanIoU:0.00}</td><td>{c.CamThreshold:0.00}</td></tr>");
            html.Raw("</table>");
        }

        // ---- config
        ConfigSection(html, ConfigSummary(config), config.Deviations, config.Overrides, AsdtJson.Serialize(config));
        html.Raw("</main></body></html>");

        string path = Path.Combine(runFolder, FileName);
        AtomicFile.WriteAllText(path, html.ToString());
        if (settings.Embed) Directory.Delete(assets, recursive: true);
        return path;
    }

    // ------------------------------------------------------------------ data

    /// <summary>The kept checkpoints' scores on the selection split (whole and halves) over the iterations, the chosen one marked.</summary>
    static void CheckpointSelectionSection(Html html, Training.CheckpointSelectionRecord selection, long chosen, string assets)
    {
        var xs = selection.Scores.Select(s => (double)s.Iteration).ToArray();
        string file = Path.Combine(assets, "checkpoint-selection.png");
        Plots.Lines(file, $"max(P^st, P^s) + CRF on {selection.Split} per kept checkpoint; chosen: {chosen}", "iteration", "mIoU (%)",
        [
            new Series("whole split", xs, selection.Scores.Select(s => 100 * s.MeanIoU).ToArray(), Markers: true, Width: 2.5),
            new Series("half 0", xs, selection.Scores.Select(s => 100 * s.Halves[0]).ToArray(), Markers: true, Width: 1),
            new Series("half 1", xs, selection.Scores.Select(s => 100 * s.Halves[1]).ToArray(), Markers: true, Width: 1),
            new Series("chosen", [chosen], [100 * selection.Scores.Single(s => s.Iteration == chosen).MeanIoU], Markers: true, MarkerSize: 14, Width: 0),
        ], width: 980, height: 300);
        html.Raw($"<h3>Checkpoint selection on {Html.Encode(selection.Split)}</h3><p class=\"note\">{Html.Encode(selection.Protocol)}. " +
                 $"The run's weights are now those of iteration {chosen}, not the last ({selection.Last}): masks and scores made since the choice use them (each table above names the weights it scored). Its score on {Html.Encode(selection.Split)} is the best of " +
                 $"{selection.Scores.Length} and biased upwards; cross-validated on the halves (chosen on one, scored on the other) the choice gains " +
                 $"<b>{100 * selection.CrossValidated!.Gain:+0.00;-0.00}</b> over the last weights.</p>");
        html.Raw(html.Image(file, "checkpoint selection", "wide"));
    }

    public static List<IterationMetrics> ReadMetrics(string path)
    {
        if (!File.Exists(path)) return [];
        return MetricsLog.Read(path).Select(e => e.Deserialize<IterationMetrics>(AsdtJson.Options)!).Where(m => m != null).ToList();
    }

    static double PwValue(IterationMetrics m, Stage1Config config) =>
        m.PwLevel is int level ? level : m.Phase == "classTeacher" ? 1 : 0;

    const string LowColor = "#fdd0a2", WarmupColor = "#d9d9d9";

    /// <summary>Contiguous iteration ranges of warm-up (grey) and of the student's seg-teacher phase (orange).</summary>
    static List<(double From, double To, string Color)> LowSpans(IReadOnlyList<IterationMetrics> metrics)
    {
        var spans = new List<(double, double, string)>();
        int i = 0;
        while (i < metrics.Count)
        {
            string phase = metrics[i].Phase;
            int j = i;
            while (j + 1 < metrics.Count && metrics[j + 1].Phase == phase && metrics[j + 1].Iteration == metrics[j].Iteration + 1) j++;
            if (phase == "warmup") spans.Add((metrics[i].Iteration - 0.5, metrics[j].Iteration + 0.5, WarmupColor));
            else if (phase == "segTeacher") spans.Add((metrics[i].Iteration - 0.5, metrics[j].Iteration + 0.5, LowColor));
            i = j + 1;
        }
        return spans;
    }

    record struct PsmScoreSource(SegmentationScore? Score, string Source, bool Sample);

    /// <summary>The run's PSM score: psm-&lt;split&gt;-score.json (asdt demo), psm-&lt;split&gt;/score.json (asdt eval), else none yet.</summary>
    static PsmScoreSource FindPsmScore(string run, string split)
    {
        foreach (var file in new[] { Path.Combine(run, $"psm-{split}-score.json"), Path.Combine(run, $"psm-{split}", "score.json") })
            if (File.Exists(file))
            {
                try { return new(AsdtJson.Read<SegmentationScore>(file), $"PSMs scored in {Path.GetRelativePath(run, file)}", false); }
                catch (AsdtException) { }
            }
        return new(null, "", false);
    }

    static List<HeadEvaluation> FindHeadEvaluations(string run)
    {
        var list = new List<HeadEvaluation>();
        foreach (var dir in Directory.GetDirectories(run, "eval-*").Order())
        {
            string file = Path.Combine(dir, HeadEvaluation.FileName);
            if (!File.Exists(file)) continue;
            try { list.Add(AsdtJson.Read<HeadEvaluation>(file)); } catch (AsdtException) { }
        }
        return list;
    }

    /// <summary>Scores the split's PSMs per image (from psm-&lt;split&gt;/ or computed on a sample), picks best and worst, renders their tiles.</summary>
    static (List<Example> Examples, string Note, IReadOnlyList<string> Classes) Examples(string runFolder, Stage1Config config, string split,
        ReportSettings settings, string assets, ref PsmScoreSource psmScore)
    {
        if (!File.Exists(Path.Combine(runFolder, Stage1Trainer.CheckpointFolder, TrainingCheckpoint.StateFile)))
            return ([], "The run has no checkpoint yet: no pictures.", []);
        using var run = Stage1Run.Open(runFolder);
        var ds = run.Dataset;
        if (!ds.HasMasks || !ds.HasImages) return ([], "The dataset has no images or no ground-truth masks: no pictures.", ds.ClassNames);
        int classes = run.Network.Classes;
        string psmFolder = Path.Combine(runFolder, $"psm-{split}");
        var ids = ds.Ids(split);
        var scored = new List<(string Id, double MeanIoU)>();
        string note;
        var psmCache = new Dictionary<string, LabelMask>();
        if (Directory.Exists(psmFolder) && ids.Any(id => File.Exists(Path.Combine(psmFolder, id + ".png"))))
        {
            var have = ids.Where(id => File.Exists(Path.Combine(psmFolder, id + ".png"))).ToArray();
            var results = new (string, double)[have.Length];
            Parallel.For(0, have.Length, i =>
                results[i] = (have[i], ReportImages.ImageMeanIoU(ds.LoadMask(have[i]), PalettePng.Read(Path.Combine(psmFolder, have[i] + ".png")), classes)));
            scored.AddRange(results);
            note = $"Per-image mIoU of the {have.Length} PSMs in psm-{split}/ (classes present in the image's ground truth or PSM).";
        }
        else
        {
            var sample = ids.Take(settings.SampleImages).ToArray();
            var matrix = new ConfusionMatrix(classes);
            foreach (var id in sample)
            {
                var (image, truth) = ds.LoadPair(id);
                var present = Present(ds, id);
                var p = PseudoMaskGenerator.Probabilities(run.Network, run.Normalization, image, config.Strategy.Output(), config.Inference);
                var psm = PseudoMaskGenerator.Label(image, p, classes, present, config.SegTeacherCrf);
                psmCache[id] = psm;
                matrix.Add(truth.Labels, psm.Labels);
                scored.Add((id, ReportImages.ImageMeanIoU(truth, psm, classes)));
            }
            note = $"No psm-{split}/ folder: PSMs ({HeadEvaluation.Symbol(config.Strategy.Output())} + CRF, restricted to the image labels) computed for the first {sample.Length} images of {split} to pick these.";
            if (psmScore.Score == null && sample.Length > 0)
                psmScore = new(SegmentationScore.From(matrix, ds.ClassNames, "PSM sample", ds.Name, split, sample.Length), $"PSMs of the first {sample.Length} images of {split}, computed for this report", true);
        }
        scored = scored.Where(s => !double.IsNaN(s.MeanIoU)).OrderByDescending(s => s.MeanIoU).ThenBy(s => s.Id, StringComparer.Ordinal).ToList();
        int k = Math.Min(settings.Examples, scored.Count / 2 + scored.Count % 2);
        var best = scored.Take(k).ToList();
        var worst = scored.AsEnumerable().Reverse().Where(s => !best.Contains(s)).Take(Math.Min(settings.Examples, scored.Count - best.Count)).ToList();
        var examples = new List<Example>();
        foreach (var (kind, list) in new[] { ("best", best), ("worst", worst) })
            foreach (var (id, miou) in list)
                examples.Add(Render(run, config, id, miou, kind, psmFolder, psmCache, assets));
        return (examples, note + " B^ct is RRM's reliable label on the full image from the training-style multi-scale CAM (the one shown).", ds.ClassNames);
    }

    static int[] Present(SegmentationDataset ds, string id) =>
        ds.ImageLabels(id).Select((on, c) => (on, c)).Where(x => x.on).Select(x => x.c).ToArray();

    static Example Render(Stage1Run run, Stage1Config config, string id, double miou, string kind, string psmFolder,
        Dictionary<string, LabelMask> psmCache, string assets)
    {
        var ds = run.Dataset;
        var (image, truth) = ds.LoadPair(id);
        var labels = ds.ImageLabels(id);
        var present = Present(ds, id);
        int classes = run.Network.Classes, fg = classes - 1;
        var cams = OfflineCam.Training(run.Network, run.Normalization, image, labels, config.CamScales);
        var bct = ReliableLabel.Compute(image.Pixels, image.Width, image.Height, cams, fg, present, config.ReliableLabel, threads: 2);
        var p = PseudoMaskGenerator.Probabilities(run.Network, run.Normalization, image, config.Strategy.Output(), config.Inference);
        string psmPath = Path.Combine(psmFolder, id + ".png");
        var psm = psmCache.TryGetValue(id, out var cached) ? cached
            : File.Exists(psmPath) ? PalettePng.Read(psmPath)
            : PseudoMaskGenerator.Label(image, p, classes, present, config.SegTeacherCrf);
        var tiles = new (string Name, RgbImage Image)[]
        {
            ("image", image),
            ("gt", ReportImages.Labels(truth)),
            ("cam", ReportImages.CamHeat(image, cams, fg, present)),
            ("bct", ReportImages.Labels(new LabelMask(image.Width, image.Height, bct), hatchIgnore: true)),
            ("pbar", ReportImages.Confidence(image.Width, image.Height, p, classes, present)),
            ("psm", ReportImages.Labels(psm)),
        };
        var files = new List<string>();
        foreach (var (name, tile) in tiles)
        {
            string file = Path.Combine(assets, $"{kind}-{Safe(id)}-{name}.png");
            ImageFile.WritePng(file, tile);
            files.Add(file);
        }
        return new Example($"{kind}:{id}", miou, files.ToArray(), present.Select(c => ds.ClassNames[c + 1]).ToArray());
    }

    static IEnumerable<(string, string)> ConfigSummary(Stage1Config c)
    {
        yield return ("preset", c.Preset);
        yield return ("dataset", $"{c.Data.Dataset}{(c.Data.Root != null ? $" ({c.Data.Root})" : "")} / {c.Data.Split}");
        yield return ("strategy (Table 4 row)", $"{AblationTable.RowName(c.Strategy)}: {c.Strategy} — {AblationTable.Describe(c.Strategy)}");
        yield return ("PW wave", c.PulseWidth.Signal().ToString());
        yield return ("iterations", $"{c.Iterations} (classifier-only warm-up {c.ClassifierWarmup}{(c.ClassifierWarmupLearningRate is double w ? string.Create(Inv, $" at lr {w}, own poly schedule") : "")}), batch {c.BatchSize}, crop {c.Data.CropSize}, scale {c.Data.ScaleMin}–{c.Data.ScaleMax}{(c.Data.Flip ? ", flip" : "")}");
        yield return ("backbone", $"{c.Backbone.Kind}{(c.Backbone.Weights != null ? $" ({c.Backbone.Weights})" : "")}, output stride {c.Backbone.OutputStride}, frozen stages {c.Backbone.FrozenStages}{(c.Backbone.WarmupFrozenStages is int warmupFrozen && warmupFrozen != c.Backbone.FrozenStages ? $" ({warmupFrozen} during the warm-up)" : "")}{(c.Backbone.FreezeBatchNorm ? ", frozen BN" : "")}");
        yield return ("heads", $"hidden {c.Heads.HiddenChannels}, dilation {c.Heads.Dilation}, classifier dropout {c.Heads.ClassifierDropout}, classifier init {c.Heads.ClassifierInit}");
        yield return ("optimizer", string.Create(Inv, $"SGD lr {c.Optimizer.LearningRate} (×{c.Optimizer.NewLayerWeightMultiplier} / ×{c.Optimizer.NewLayerBiasMultiplier}), momentum {c.Optimizer.Momentum}, weight decay {c.Optimizer.WeightDecay}, poly {c.Optimizer.PolyPower}"));
        yield return ("CAM scales", string.Join(", ", c.CamScales.Select(s => s.ToString(Inv))));
        yield return ("B^ct", HeadEvaluator.ReliableLabelText(c.ReliableLabel));
        yield return ("B^st / PSM CRF", c.SegTeacherCrf.ToString());
        yield return ("seed, device, threads", $"{c.Seed}{(c.AsdtSeed is int asdt ? $" (after the warm-up: {asdt})" : "")}{(c.HeadSeed is int head ? $" (heads drawn from {head})" : "")}, {c.Device}, {(c.Threads == 0 ? "all cores" : c.Threads.ToString(Inv))}");
    }

}
