using Asdt.Cli;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.Models.Onnx;
using Asdt.Runs;
using Asdt.Stage2;
using Xunit.Abstractions;

namespace Asdt.Tests.Stage2;

/// <summary>
/// The stage-2 commands end to end on the demo dataset: seg-train from ground truth (small crop, a few dozen
/// iterations) whose loss falls, seg-eval with and without CRF / MSC, segment (masks + overlays, resumes),
/// export-onnx, and the one-line errors for bad inputs.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class Stage2PipelineTests(ITestOutputHelper output)
{
    [Fact]
    public void TrainEvaluateSegmentExport_OnTheDemoDataset()
    {
        using var tmp = TestData.NewTempFolder();
        string root = Path.Combine(tmp.Path, "demo");
        DemoDataset.Generate(root, count: 30);
        string run = Path.Combine(tmp.Path, "run");
        Assert.Equal(0, AsdtCommandLine.Run(["seg-train", "--preset", "quick", "--root", root, "--labels", "gt", "--out", run,
            "--iterations", "40", "--batch-size", "4", "--crop", "65", "--checkpoint-every", "20", "--lr", "3e-5"]));
        var losses = MetricsLog.Read(Path.Combine(run, Stage2Trainer.MetricsFile)).Select(e => e.GetProperty("loss").GetDouble()).ToArray();
        Assert.Equal(40, losses.Length);
        double first = losses.Take(8).Average(), last = losses.TakeLast(8).Average();
        output.WriteLine($"loss: first 8 iterations {first:F3}, last 8 {last:F3}");
        Assert.True(last < 0.8 * first, $"loss did not fall: {first:F3} → {last:F3}");
        var config = AsdtJson.Read<Stage2Config>(Path.Combine(run, Stage2Trainer.ConfigFile));
        Assert.Contains("--iterations=40", config.Overrides);
        Assert.NotEmpty(config.Deviations);

        // A finished run is not silently overwritten.
        Assert.Equal(2, AsdtCommandLine.Run(["seg-train", "--preset", "quick", "--root", root, "--labels", "gt", "--out", run, "--iterations", "40"]));

        // seg-eval: all four variants, sane numbers.
        string evalOut = Path.Combine(tmp.Path, "eval");
        Assert.Equal(0, AsdtCommandLine.Run(["seg-eval", "--model", run, "--split", "val", "--out", evalOut]));
        foreach (var v in Enum.GetValues<Stage2Variant>())
        {
            var score = AsdtJson.Read<SegmentationScore>(Path.Combine(evalOut, $"score-{Stage2Evaluator.FileSuffix(v)}.json"));
            output.WriteLine($"{Stage2Evaluator.Describe(v)}: mIoU {100 * score.MeanIoU:F2}, pixel accuracy {100 * score.PixelAccuracy:F2}");
            Assert.Equal(6, score.Images);
            Assert.InRange(score.PixelAccuracy, 0.6, 1.0);
            // Better than predicting background everywhere (IoU_bg = background share of the pixels, 0 for the others).
            long total = score.Confusion.Sum(r => r.Sum()), background = score.Confusion[0].Sum();
            int present = score.Confusion.Count(r => r.Sum() > 0);
            double allBackground = (double)background / total / present;
            output.WriteLine($"  all-background baseline mIoU {100 * allBackground:F2}");
            // A 40-iteration run is barely past predicting background on its own; no variant may be worse than that,
            // and the full test-time pipeline (multi-scale + CRF) must clearly beat it.
            Assert.InRange(score.MeanIoU, allBackground - 0.01, 1.0);
            if (v == Stage2Variant.MultiScaleCrf) Assert.InRange(score.MeanIoU, allBackground + 0.03, 1.0);
        }
        Assert.True(File.Exists(Path.Combine(evalOut, "summary.md")));
        // seg-eval wrote the run's report: its scores, and every picture it links exists.
        string html = File.ReadAllText(Path.Combine(run, "report.html"));
        var ssCrf = AsdtJson.Read<SegmentationScore>(Path.Combine(evalOut, "score-ss-crf.json"));
        Assert.Contains($"<td>single scale + CRF</td><td>{100 * ssCrf.MeanIoU:0.00}</td>", html);
        var links = System.Text.RegularExpressions.Regex.Matches(html, "src=\"report/([^\"]+)\"").Select(m => Uri.UnescapeDataString(m.Groups[1].Value)).ToList();
        Assert.Contains(links, l => l.StartsWith("best-") && l.EndsWith("-crf.png"));
        Assert.Contains(links, l => l.StartsWith("worst-"));
        Assert.All(links, l => Assert.True(File.Exists(Path.Combine(run, "report", l)), l));
        Assert.Equal(0, AsdtCommandLine.Run(["report", "--run", run, "--embed", "--examples", "1"]));
        Assert.Contains("data:image/png;base64,", File.ReadAllText(Path.Combine(run, "report.html")));
        // Shards add up to the whole split.
        Assert.Equal(0, AsdtCommandLine.Run(["seg-eval", "--model", run, "--split", "val", "--out", evalOut, "--shard", "0/2", "--single-scale", "--no-crf"]));
        Assert.Equal(0, AsdtCommandLine.Run(["seg-eval", "--model", run, "--split", "val", "--out", evalOut, "--shard", "1/2", "--single-scale", "--no-crf"]));
        var merged = Cli.Commands.EvalCommand.MergeScores([Path.Combine(evalOut, "score-ss-shard0of2.json"), Path.Combine(evalOut, "score-ss-shard1of2.json")]);
        var whole = AsdtJson.Read<SegmentationScore>(Path.Combine(evalOut, "score-ss.json"));
        Assert.Equal(whole.Confusion, merged.Confusion);

        // segment: masks + overlays for a folder, skipped on the second run.
        string images = Path.Combine(tmp.Path, "new-images");
        Directory.CreateDirectory(images);
        foreach (var id in new[] { "demo_0004", "demo_0009", "demo_0014" })
            File.Copy(Path.Combine(root, "JPEGImages", id + ".png"), Path.Combine(images, id + ".png"));
        string segOut = Path.Combine(tmp.Path, "segmented");
        Assert.Equal(0, AsdtCommandLine.Run(["segment", images, "--model", run, "--out", segOut]));
        var stamps = new Dictionary<string, DateTime>();
        foreach (var id in new[] { "demo_0004", "demo_0009", "demo_0014" })
        {
            var image = ImageFile.Read(Path.Combine(images, id + ".png"));
            var mask = PalettePng.Read(Path.Combine(segOut, id + ".png"));
            var overlay = ImageFile.Read(Path.Combine(segOut, id + "_overlay.png"));
            Assert.Equal((image.Width, image.Height), (mask.Width, mask.Height));
            Assert.Equal(ImageSegmenter.Overlay(image, mask).Pixels, overlay.Pixels);
            Assert.True(mask.Labels.All(l => l < DemoDataset.ClassNames.Count));
            stamps[id] = File.GetLastWriteTimeUtc(Path.Combine(segOut, id + ".png"));
        }
        File.Delete(Path.Combine(segOut, "demo_0009_overlay.png"));
        var again = Stage2Run.Open(run);
        using (again)
            Assert.Equal(1, ImageSegmenter.Run(again, ImageSegmenter.CollectInputs([images]), segOut, true, again.Config.TestCrf, Shard.All));
        Assert.Equal(stamps["demo_0004"], File.GetLastWriteTimeUtc(Path.Combine(segOut, "demo_0004.png")));
        Assert.True(File.Exists(Path.Combine(segOut, "demo_0009_overlay.png")));

        // export-onnx: a file our reader and ONNX Runtime accept.
        string onnx = Path.Combine(tmp.Path, "model.onnx");
        Assert.Equal(0, AsdtCommandLine.Run(["export-onnx", "--model", run, "--out", onnx]));
        var model = OnnxReader.Read(onnx);
        Assert.Equal("logits", model.Graph.Outputs.Single().Name);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx);
        Assert.Equal("image", session.InputNames.Single());

        // Bad inputs: one-line errors (exit 2).
        Assert.Equal(2, AsdtCommandLine.Run(["seg-eval", "--model", Path.Combine(tmp.Path, "no-such-run")]));
        var e = Assert.Throws<AsdtException>(() => Stage2Run.Open(Path.Combine(tmp.Path, "no-such-run")));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("model run folder not found", e.Message);
        // A model evaluated on a dataset with other classes.
        using (var r = Stage2Run.Open(run))
        {
            var msrc = SegmentationDataset.Open("msrc21-objects", TestData.Msrc21);
            var wrong = Assert.Throws<AsdtException>(() => r.CheckClasses(msrc));
            Assert.Contains("the model has 6 classes", wrong.Message);
            Assert.DoesNotContain('\n', wrong.Message);
        }
        Assert.Equal(2, AsdtCommandLine.Run(["seg-eval", "--model", run, "--dataset", "msrc21-objects", "--root", TestData.Msrc21, "--split", "val"]));
    }

    [Fact]
    public void PseudoMaskFolders_AreChecked()
    {
        using var tmp = TestData.NewTempFolder();
        string root = Path.Combine(tmp.Path, "demo");
        DemoDataset.Generate(root, count: 10);
        var ds = SegmentationDataset.Open("demo", root);
        string psm = Path.Combine(tmp.Path, "psm");
        Directory.CreateDirectory(psm);
        var ids = ds.Ids("train");
        // Missing masks: one message naming the folder and an example id.
        var labels = new Stage2Labels(ds, psm);
        var missing = Assert.Throws<AsdtException>(() => labels.CheckAvailable(ids));
        Assert.StartsWith(psm + ": ", missing.Message);
        Assert.Contains($"{ids[0]}.png", missing.Message);
        // A mask made for another class list (label 40 in a 6-class dataset).
        foreach (var id in ids) PalettePng.Write(Path.Combine(psm, id + ".png"), ds.LoadMask(id));
        var bad = ds.LoadMask(ids[1]);
        bad.Labels[5] = 40;
        PalettePng.Write(Path.Combine(psm, ids[1] + ".png"), bad);
        labels.CheckAvailable(ids);
        Assert.Equal(ds.LoadMask(ids[0]).Labels, labels.Load(ids[0]).Mask.Labels);
        var wrong = Assert.Throws<AsdtException>(() => labels.Load(ids[1]));
        Assert.Contains("label 40 is not a class", wrong.Message);
        // A mask of the wrong size.
        PalettePng.Write(Path.Combine(psm, ids[2] + ".png"), new LabelMask(7, 5));
        Assert.Contains("mask is 7x5", Assert.Throws<AsdtException>(() => labels.Load(ids[2])).Message);
        // CLI: a label folder that does not exist.
        Assert.Equal(2, Cli.AsdtCommandLine.Run(["seg-train", "--preset", "quick", "--root", root, "--labels", Path.Combine(tmp.Path, "nope"), "--out", Path.Combine(tmp.Path, "run")]));
    }
}
