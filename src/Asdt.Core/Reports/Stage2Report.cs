using System.Globalization;
using System.Text.Json;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Runs;
using Asdt.Stage2;

namespace Asdt.Reports;

using static HtmlReport;

/// <summary>
/// report.html of a stage-2 run folder: summary cards, the scores of every evaluated split and variant (per-class IoU
/// bars), the best and worst images of a split side by side (image, ground truth, prediction, prediction + CRF,
/// confidence), the loss and learning-rate curves, and the configuration with its deviations. Same look and asset
/// layout as the stage-1 <see cref="RunReport"/>.
/// </summary>
public static class Stage2Report
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public sealed record Settings
    {
        /// <summary>Split whose best and worst images are shown [default: val].</summary>
        public string Split { get; init; } = "val";
        public int Examples { get; init; } = 3;
        /// <summary>Images of the split scored (single scale + CRF) to find the best and worst.</summary>
        public int SampleImages { get; init; } = 40;
        public bool Embed { get; init; }
        /// <summary>Score folders outside the run (seg-eval --out) shown besides its eval-* folders.</summary>
        public IReadOnlyList<string> ScoreFolders { get; init; } = [];
    }

    public static string Write(string runFolder, Settings? settings = null, Action<string>? log = null)
    {
        settings ??= new Settings();
        runFolder = Path.GetFullPath(runFolder);
        using var run = Stage2Run.Open(runFolder);
        var config = run.Config;
        string assets = Path.Combine(runFolder, RunReport.AssetFolder);
        Directory.CreateDirectory(assets);
        var metrics = MetricsLog.Read(Path.Combine(runFolder, Stage2Trainer.MetricsFile))
            .Select(e => e.Deserialize<Stage2Metrics>(AsdtJson.Options)!).Where(m => m != null).ToList();
        var evaluations = Directory.EnumerateDirectories(runFolder, "eval-*").OrderBy(d => d, StringComparer.Ordinal)
            .Concat(settings.ScoreFolders.Select(Path.GetFullPath)).Distinct()
            .Select(d => (Folder: d, Scores: Enum.GetValues<Stage2Variant>()
                .Select(v => (Variant: v, File: Path.Combine(d, $"score-{Stage2Evaluator.FileSuffix(v)}.json")))
                .Where(x => File.Exists(x.File)).Select(x => (x.Variant, Score: AsdtJson.Read<SegmentationScore>(x.File))).ToList()))
            .Where(e => e.Scores.Count > 0).ToList();
        var html = new Html(assets, settings.Embed);
        string name = Path.GetFileName(runFolder);
        html.Raw("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Raw($"<title>Stage 2 — {Html.Encode(name)}</title><style>{Css}</style></head><body><main>");
        html.Raw($"<h1>Stage-2 run <code>{Html.Encode(name)}</code></h1>");
        html.Raw($"<p class=\"sub\">{Html.Encode(runFolder)} · report written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · {Html.Encode(MachineInfo.Current().ToString())}</p>");

        html.Raw("<section class=\"cards\">");
        Card(html, "network", config.Network, $"{config.Backbone.Kind}, output stride {config.Backbone.OutputStride}");
        Card(html, "trained on", config.Data.Labels == Stage2LabelKinds.GroundTruth ? "ground truth" : "pseudo masks",
            $"{config.Data.Dataset} / {config.Data.Split}{(config.Data.Labels == Stage2LabelKinds.GroundTruth ? "" : $" ({Path.GetFileName(config.Data.Labels.TrimEnd('/'))})")}");
        Card(html, "iterations", $"{run.Iteration:N0} / {config.Iterations:N0}", run.Iteration >= config.Iterations ? "finished" : "not finished");
        Card(html, "training time", Duration(metrics.Sum(m => m.Seconds)), metrics.Count > 0 ? $"{metrics.Average(m => m.ImagesPerSecond):0.00} images/s" : "");
        foreach (var (folder, scores) in evaluations)
        {
            var best = scores.MaxBy(s => s.Score.MeanIoU);
            Card(html, $"mIoU ({best.Score.Split})", $"{100 * best.Score.MeanIoU:0.00}", Stage2Evaluator.Describe(best.Variant));
        }
        html.Raw("</section>");

        log?.Invoke("report: best and worst images");
        html.Raw("<h2>Best and worst images</h2>");
        Examples(html, run, settings, assets);

        html.Raw("<h2>Scores</h2>");
        if (evaluations.Count == 0) html.Raw("<p class=\"note\">No scores yet (run <code>asdt seg-eval</code>).</p>");
        foreach (var (folder, scores) in evaluations)
        {
            var first = scores[0].Score;
            html.Raw($"<h3>{Html.Encode(first.Dataset)} / {Html.Encode(first.Split)} ({first.Images} images, <code>{Html.Encode(Path.GetFileName(folder))}/</code>)</h3>");
            html.Raw("<table class=\"num\"><tr><th>variant</th><th>mIoU</th><th>pixel acc.</th></tr>");
            foreach (var (v, s) in scores)
                html.Raw($"<tr><td>{Html.Encode(Stage2Evaluator.Describe(v))}</td><td>{100 * s.MeanIoU:0.00}</td><td>{100 * s.PixelAccuracy:0.00}</td></tr>");
            html.Raw("</table>");
            var (bv, bs) = scores.MaxBy(x => x.Score.MeanIoU);
            string file = Path.Combine(assets, $"class-iou-{Safe(first.Split)}.png");
            Plots.Bars(file, $"IoU per class ({first.Dataset} / {first.Split}, {Stage2Evaluator.Describe(bv)}): mIoU {100 * bs.MeanIoU:0.0}", "IoU (%)",
                bs.ClassNames, bs.ClassIoU.Select(v => v * 100).ToArray(), (0, 110), width: 900, height: 340);
            html.Raw(html.Image(file, "per-class IoU", "wide"));
        }

        html.Raw("<h2>Training</h2>");
        if (metrics.Count == 0) html.Raw("<p class=\"note\">metrics.jsonl is empty.</p>");
        else
        {
            var xs = metrics.Select(m => (double)m.Iteration).ToArray();
            var ys = metrics.Select(m => m.Loss).ToArray();
            html.Raw("<p class=\"note\">Loss: the sum over the MSC outputs (each scale and their max), as DeepLab-v2 trains. Thin line: every iteration; thick: moving average.</p><div class=\"grid\">");
            string lossFile = Path.Combine(assets, "loss.png");
            Plots.Lines(lossFile, "training loss", "iteration", "", [
                new Series("", xs, ys, Color: "#9ecae1", Width: 1),
                new Series("", xs, MovingAverage(ys, Math.Max(1, ys.Length / 40)), Color: "#08519c", Width: 2.5),
            ], width: 480, height: 260, legend: false);
            html.Raw(html.Image(lossFile, "loss"));
            string lrFile = Path.Combine(assets, "learning-rate.png");
            Plots.Lines(lrFile, "learning rate (backbone; head ×10 / ×20)", "iteration", "", [new Series("", xs, metrics.Select(m => m.LearningRate).ToArray())],
                width: 480, height: 260, legend: false);
            html.Raw(html.Image(lrFile, "learning rate"));
            html.Raw("</div>");
        }

        ConfigSection(html, ConfigSummary(config), config.Deviations, config.Overrides, AsdtJson.Serialize(config));
        html.Raw("</main></body></html>");

        string path = Path.Combine(runFolder, RunReport.FileName);
        AtomicFile.WriteAllText(path, html.ToString());
        if (settings.Embed) Directory.Delete(assets, recursive: true);
        return path;
    }

    /// <summary>Scores up to <see cref="Settings.SampleImages"/> images (single scale + CRF) and shows the best and worst.</summary>
    static void Examples(Html html, Stage2Run run, Settings settings, string assets)
    {
        var config = run.Config;
        var ds = SegmentationDataset.Open(config.Data.Dataset, config.Data.Root);
        run.CheckClasses(ds);
        var ids = ds.Ids(settings.Split);
        if (ids.Count == 0 || settings.Examples <= 0) { html.Raw($"<p class=\"note\">No images in split '{Html.Encode(settings.Split)}'.</p>"); return; }
        int step = Math.Max(1, ids.Count / Math.Max(1, settings.SampleImages));
        var sample = ids.Where((_, i) => i % step == 0).Take(settings.SampleImages).ToList();
        int classes = ds.ClassNames.Count;
        var scored = new List<(string Id, double MeanIoU)>();
        foreach (var id in sample)
        {
            var (image, gt) = ds.LoadPair(id);
            var p = Stage2Predictor.Predict(run.Network, run.Normalization, image, multiScale: false);
            double miou = ReportImages.ImageMeanIoU(gt, Stage2Predictor.Label(image, p.SingleScale, classes, config.TestCrf), classes);
            if (!double.IsNaN(miou)) scored.Add((id, miou));
        }
        scored.Sort((a, b) => b.MeanIoU.CompareTo(a.MeanIoU));
        int k = Math.Min(settings.Examples, scored.Count / 2);
        html.Raw($"<p class=\"note\">{scored.Count} images of {Html.Encode(ds.Name)} / {Html.Encode(settings.Split)} scored with the single-scale network and the test-time CRF; per-image mIoU over the classes present in ground truth or prediction.</p>");
        string[] headers = ["image", "ground truth", "prediction", "prediction + CRF", "confidence (pale: unsure)"];
        foreach (var (title, list) in new[] { ("best", scored.Take(k).ToList()), ("worst", scored.Skip(scored.Count - k).Reverse().ToList()) })
        {
            html.Raw($"<h3>{title}</h3><table class=\"examples\"><tr><th></th>{string.Concat(headers.Select(h => $"<th>{Html.Encode(h)}</th>"))}</tr>");
            foreach (var (id, miou) in list)
            {
                var (image, gt) = ds.LoadPair(id);
                var p = Stage2Predictor.Predict(run.Network, run.Normalization, image, multiScale: false);
                var tiles = new (string Name, RgbImage Tile)[]
                {
                    ("image", image), ("gt", ReportImages.Labels(gt)),
                    ("pred", ReportImages.Labels(Stage2Predictor.Label(image, p.SingleScale, classes, null))),
                    ("crf", ReportImages.Labels(Stage2Predictor.Label(image, p.SingleScale, classes, config.TestCrf))),
                    ("confidence", ReportImages.Confidence(image.Width, image.Height, p.SingleScale, classes, null)),
                };
                html.Raw($"<tr><td class=\"id\">{Html.Encode(id)}<br><b>{100 * miou:0.0}</b> mIoU</td>");
                foreach (var (tileName, tile) in tiles)
                {
                    string file = Path.Combine(assets, $"{title}-{Safe(id)}-{tileName}.png");
                    ImageFile.WritePng(file, tile);
                    html.Raw($"<td>{html.Image(file, tileName)}</td>");
                }
                html.Raw("</tr>");
            }
            html.Raw("</table>");
        }
        Legend(html, ds.ClassNames);
    }

    static IEnumerable<(string, string)> ConfigSummary(Stage2Config c)
    {
        yield return ("preset", c.Preset);
        yield return ("data", $"{c.Data.Dataset} / {c.Data.Split}, labels {c.Data.Labels}, crop {c.Data.CropSize}, scales {string.Join("/", c.Data.Scales.Select(s => s.ToString(Inv)))}{(c.Data.Flip ? ", flip" : "")}");
        yield return ("backbone", $"{c.Backbone.Kind}{(c.Backbone.Weights != null ? $" ({c.Backbone.Weights})" : "")}, init {c.Backbone.Init}, output stride {c.Backbone.OutputStride}, frozen stages {c.Backbone.FrozenStages}{(c.Backbone.FreezeBatchNorm ? ", frozen BN" : "")}");
        yield return ("head", c.Network == Stage2Networks.PspNet
            ? $"pyramid bins {string.Join("/", c.Psp.Bins)}, branch {c.Psp.BranchChannels}, hidden {c.Psp.HiddenChannels}, dropout {c.Psp.Dropout.ToString(Inv)}"
            : $"ASPP dilations {string.Join("/", c.Aspp.Dilations)}");
        yield return ("MSC scales", string.Join(", ", c.MscScales.Select(s => s.ToString(Inv))));
        yield return ("optimizer", string.Create(Inv, $"SGD lr {c.Optimizer.LearningRate} (×{c.Optimizer.HeadWeightMultiplier} / ×{c.Optimizer.HeadBiasMultiplier}), momentum {c.Optimizer.Momentum}, weight decay {c.Optimizer.WeightDecay}, poly {c.Optimizer.PolyPower} every {c.Optimizer.PolyStep}"));
        yield return ("learning-rate choice", c.LearningRateChoice);
        yield return ("iterations", $"{c.Iterations}, batch {c.BatchSize} × iter size {c.IterSize}, seed {c.Seed}, device {c.Device}");
        yield return ("test-time CRF", c.TestCrf.ToString());
    }
}
