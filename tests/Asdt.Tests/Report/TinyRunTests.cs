using System.Globalization;
using System.Text.RegularExpressions;
using Asdt.Cli.Commands;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.Psm;
using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Tests.Report;

/// <summary>A demo dataset and a stage-1 run trained for a few iterations at a tiny crop, shared by the tests below.</summary>
public sealed class TinyRunFixture : IDisposable
{
    public TempFolder Folder { get; } = TestData.NewTempFolder("asdt-report-");
    public string Data => Folder.File("data");
    public string Run => Folder.File("run");
    public Stage1Config Config { get; }

    public TinyRunFixture()
    {
        DemoDataset.Generate(Data, count: 24);
        Config = TinyConfig(Path.Combine(Data, "dataset.json"));
        new Stage1Trainer(Config, Run).Run(false);
    }

    /// <summary>Quick preset shrunk: crop 64, batch 2, 6 iterations (2 warm-up, then the PW wave with T = 2).</summary>
    public static Stage1Config TinyConfig(string dataset) => Stage1Presets.Quick with
    {
        Data = Stage1Presets.Quick.Data with { Dataset = dataset, CropSize = 64 },
        CamScales = [1.0],
        BatchSize = 2,
        Iterations = 6,
        ClassifierWarmup = 2,
        PulseWidth = new PulseWidthSettings { Period = 2, Tau = 2 },
        CheckpointEvery = 6,
        Threads = 2,
        Overrides = ["--iterations=6 (test)"],
    };

    public void Dispose() => Folder.Dispose();
}

[Collection(TorchRandomCollection.Name)]
public class TinyRunTests(TinyRunFixture fixture) : IClassFixture<TinyRunFixture>
{
    static readonly HeadEvaluationSettings Quick = new() { Limit = 6, Threads = 2, CamScales = [1.0, 0.5] };

    [Fact]
    public void A_study_takes_a_finished_run_as_done_only_when_it_computed_the_same_config()
    {
        string state = Path.Combine(fixture.Run, "checkpoint", TrainingCheckpoint.StateFile);
        Assert.Equal(fixture.Config.Iterations, TrainingCheckpoint.FinishedIterations(fixture.Run)); // a finished run to compare with
        var written = File.GetLastWriteTimeUtc(state);
        // Same values (threads and the flag text may differ, as on --resume): already trained, nothing retrained.
        StudyRunner.TrainIfNeeded("V", fixture.Config with { Threads = 1, Overrides = [] }, fixture.Run);
        Assert.Equal(written, File.GetLastWriteTimeUtc(state));
        // Another τ: refused, naming the file and the field, instead of being scored and tabled as τ = 3.
        var other = fixture.Config with { PulseWidth = fixture.Config.PulseWidth with { Tau = 3 } };
        var e = Assert.Throws<AsdtException>(() => StudyRunner.TrainIfNeeded("V", other, fixture.Run));
        Assert.Equal(Path.Combine(fixture.Run, Stage1Trainer.ConfigFile), e.FilePath);
        Assert.Contains("pulseWidth.tau: checkpoint 2, expected 3", e.Message);
        Assert.Equal(written, File.GetLastWriteTimeUtc(state));
    }

    [Fact]
    public void Eval_run_scores_every_head_variant_and_the_cam_sweep_in_0_1()
    {
        using var run = Stage1Run.Open(fixture.Run);
        var (summary, scores) = HeadEvaluator.Evaluate(run, "train", Quick);
        Assert.Equal(6, summary.Images);
        Assert.Equal(7, summary.Variants.Length); // 3 heads × {argmax, CRF} + CAM at best θ
        foreach (var v in summary.Variants)
        {
            Assert.InRange(v.MeanIoU, 0, 1);
            Assert.InRange(v.PixelAccuracy, 0, 1);
            Assert.True(scores.ContainsKey(v.File), v.File);
            Assert.Equal(v.MeanIoU, scores[v.File].MeanIoU);
        }
        var cam = summary.Cam!;
        Assert.Equal(CamThresholdSweep.DefaultThresholds.Length, cam.MeanIoU.Length);
        Assert.All(cam.MeanIoU, m => Assert.InRange(m, 0, 1));
        Assert.Equal(cam.MeanIoU.Max(), cam.BestMeanIoU);
        // Every labelled pixel of the 6 images is counted once per variant.
        long pixels = run.Dataset.Ids("train").Take(6).Sum(id => run.Dataset.LoadMask(id).Labels.Count(l => l != 255));
        Assert.All(scores.Values, s => Assert.Equal(pixels, s.Confusion.Sum(r => r.Sum())));

        using var output = TestData.NewTempFolder();
        HeadEvaluator.Write(output.Path, summary, scores);
        var back = AsdtJson.Read<HeadEvaluation>(Path.Combine(output.Path, HeadEvaluation.FileName));
        Assert.Equal(summary.Variants.Select(v => v.MeanIoU), back.Variants.Select(v => v.MeanIoU));
        Assert.True(File.Exists(Path.Combine(output.Path, "pbar-crf.md")));
    }

    [Fact]
    public void Eval_run_pbar_with_crf_equals_psm_files_scored_by_eval()
    {
        using var run = Stage1Run.Open(fixture.Run);
        var (summary, _) = HeadEvaluator.Evaluate(run, "val", Quick with { Cam = false, WithoutCrf = false, Sources = [PsmSource.Max] });
        using var psm = TestData.NewTempFolder();
        var ids = run.Dataset.Ids("val").Take(6).ToArray();
        // Score exactly those 6 images through the PSM path (asdt psm → asdt eval).
        PseudoMaskGenerator.Run(run.Network, run.Normalization, run.Dataset, "val", psm.Path, new PsmSettings { Threads = 2 }, Shard.All);
        var matrix = new ConfusionMatrix(run.Network.Classes);
        foreach (var id in ids) matrix.Add(run.Dataset.LoadMask(id).Labels, PalettePng.Read(Path.Combine(psm.Path, id + ".png")).Labels);
        Assert.Equal(matrix.MeanIoU(), summary.Find("max", true)!.MeanIoU, 12);
    }

    [Fact]
    public void Eval_run_bct_counts_exactly_the_pixels_the_reliable_label_labels()
    {
        using var run = Stage1Run.Open(fixture.Run);
        var settings = Quick with { Sources = [], Cam = false, ReliableLabel = run.Config.ReliableLabel, ReliableLabelCamScales = run.Config.CamScales };
        var (summary, scores) = HeadEvaluator.Evaluate(run, "train", settings);
        var bct = summary.ReliableLabel!;
        Assert.Empty(summary.Variants);

        // Brute force: B^ct of each image from its online CAMs, counted pixel by pixel.
        int classes = run.Network.Classes;
        var pairs = new Dictionary<(int Truth, int Label), long>();
        var all = new long[classes];
        var labelled = new long[classes];
        foreach (var id in run.Dataset.Ids("train").Take(6))
        {
            var (image, truth) = run.Dataset.LoadPair(id);
            var imageLabels = run.Dataset.ImageLabels(id);
            var cams = OfflineCam.Training(run.Network, run.Normalization, image, imageLabels, run.Config.CamScales);
            int[] present = imageLabels.Select((on, c) => (on, c)).Where(x => x.on).Select(x => x.c).ToArray();
            var label = ReliableLabel.Compute(image.Pixels, image.Width, image.Height, cams, classes - 1, present, run.Config.ReliableLabel);
            for (int i = 0; i < label.Length; i++)
            {
                int g = truth.Labels[i];
                if (g == 255) continue;
                all[g]++;
                if (label[i] == ReliableLabel.Ignore) continue;
                labelled[g]++;
                pairs[(g, label[i])] = pairs.GetValueOrDefault((g, label[i])) + 1;
            }
        }
        double labelledShare = labelled.Sum() / (double)all.Sum();
        Assert.InRange(labelledShare, 0.01, 0.99); // B^ct ignores some pixels and labels others: the counts below mean something
        Assert.Equal(labelledShare, bct.LabelledFraction, 12);
        var ious = new List<double>();
        for (int c = 0; c < classes; c++)
        {
            long tp = pairs.GetValueOrDefault((c, c));
            long fn = pairs.Where(p => p.Key.Truth == c).Sum(p => p.Value) - tp;
            long fp = pairs.Where(p => p.Key.Label == c).Sum(p => p.Value) - tp;
            double? iou = tp + fn + fp > 0 ? tp / (double)(tp + fn + fp) : null;
            Assert.Equal(iou, bct.ClassIoU[c]);
            Assert.Equal(all[c] > 0 ? labelled[c] / (double)all[c] : null, bct.ClassLabelled[c]);
            if (iou is double v) ious.Add(v);
        }
        Assert.Equal(ious.Average(), bct.MeanIoU, 12);
        Assert.Equal(bct.MeanIoU, scores[ReliableLabelScore.File].MeanIoU);
        Assert.Equal(pairs.Values.Sum(), scores[ReliableLabelScore.File].Confusion.Sum(r => r.Sum()));
        Assert.Contains("B^ct", summary.ToMarkdown());

        // Other settings give another B^ct: a much weaker large background labels more foreground.
        var other = HeadEvaluator.Evaluate(run, "train", settings with { ReliableLabel = run.Config.ReliableLabel with { AlphaLow = 1, AlphaHigh = 2 } }).Summary.ReliableLabel!;
        Assert.NotEqual(bct.LabelledFraction, other.LabelledFraction);
        Assert.Contains("α 1/2", other.Settings);
    }

    [Fact]
    public void Report_references_existing_images_and_shows_the_scores()
    {
        // A PSM score beside the run, as asdt demo writes it.
        using var run = Stage1Run.Open(fixture.Run);
        string psm = Path.Combine(fixture.Run, "psm-train");
        PseudoMaskGenerator.Run(run.Network, run.Normalization, run.Dataset, "train", psm, new PsmSettings { Threads = 2 }, Shard.All);
        var (matrix, images) = SegmentationEvaluator.EvaluateFolder(run.Dataset, "train", psm, Shard.All);
        var score = SegmentationScore.From(matrix, run.Dataset.ClassNames, "psm", run.Dataset.Name, "train", images);
        EvalCommand.Write(score, Path.Combine(fixture.Run, "psm-train-score"));
        var (heads, scores) = HeadEvaluator.Evaluate(run, "train", Quick);
        HeadEvaluator.Write(Path.Combine(fixture.Run, "eval-train"), heads, scores);

        string path = RunReport.Write(fixture.Run, new ReportSettings { Examples = 2 });
        string html = File.ReadAllText(path);
        var sources = Regex.Matches(html, "<img src=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.True(sources.Length >= 6 + 2 * 2 * 6, $"{sources.Length} images"); // plots + 4 example rows of 6 tiles
        foreach (var src in sources)
        {
            Assert.StartsWith("report/", src);
            string file = Path.Combine(fixture.Run, Uri.UnescapeDataString(src));
            Assert.True(File.Exists(file), file);
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, File.ReadAllBytes(file)[..4]);
        }
        var inv = CultureInfo.InvariantCulture;
        Assert.Contains($"<b>{(100 * score.MeanIoU).ToString("0.00", inv)}</b>", html);
        foreach (var v in heads.Variants) Assert.Contains($"<td>{(100 * v.MeanIoU).ToString("0.00", inv)}</td>", html);
        foreach (var d in fixture.Config.Deviations) Assert.Contains(System.Net.WebUtility.HtmlEncode(d), html);
        Assert.Contains("--iterations=6 (test)", html);
        Assert.Contains("Best and worst images", html);
        Assert.DoesNotContain("<script", html);

        // --embed: one file, no links to report/.
        string embedded = File.ReadAllText(RunReport.Write(fixture.Run, new ReportSettings { Examples = 1, Embed = true }));
        Assert.DoesNotContain("src=\"report/", embedded);
        Assert.Contains("src=\"data:image/png;base64,", embedded);
    }

    [Fact]
    public void Ablate_rows_resume_without_retraining_and_write_the_table()
    {
        using var study = TestData.NewTempFolder();
        var config = TinyRunFixture.TinyConfig(Path.Combine(fixture.Data, "dataset.json")) with { Iterations = 3 };
        string row = AblateCommand.RowFolder(study.Path, StudentStrategy.ClassTeacherOnly);
        var table = AblateCommand.Run(config, study.Path, [StudentStrategy.ClassTeacherOnly], "val", "auto", cam: false, report: false, "asdt ablate (test)");
        var first = File.GetLastWriteTimeUtc(Path.Combine(row, Stage1Trainer.MetricsFile));
        Assert.Equal(3, TrainingCheckpoint.FinishedIterations(row));
        Assert.DoesNotContain("\"restrictToImageLabels\": true", File.ReadAllText(Path.Combine(row, "eval-val", HeadEvaluation.FileName))); // val: RRM protocol
        var again = AblateCommand.Run(config, study.Path, [StudentStrategy.ClassTeacherOnly], "val", "auto", cam: false, report: false, "asdt ablate (test)");
        Assert.Equal(first, File.GetLastWriteTimeUtc(Path.Combine(row, Stage1Trainer.MetricsFile)));
        Assert.Equal(table.Rows[0].Student, again.Rows[0].Student);
        Assert.InRange(again.Rows[0].Student!.Value, 0, 1);
        Assert.Contains("asdt ablate (test)", File.ReadAllText(Path.Combine(study.Path, "ablation.md")));
        Assert.Equal(again.Rows[0].Student, AsdtJson.Read<AblationTable>(Path.Combine(study.Path, "ablation.json")).Rows[0].Student);

        // A second seed: the first seed's row is kept as it is, the new one trains in its own folder with its seed.
        int other = config.Seed + 1;
        var seeds = AblateCommand.Run(config, study.Path, [StudentStrategy.ClassTeacherOnly], "val", "auto", cam: false, report: false, "asdt ablate (test)", [config.Seed, other]);
        Assert.Equal(first, File.GetLastWriteTimeUtc(Path.Combine(row, Stage1Trainer.MetricsFile)));
        string seeded = AblateCommand.RowFolder(study.Path, StudentStrategy.ClassTeacherOnly, other, config.Seed);
        Assert.Equal(3, TrainingCheckpoint.FinishedIterations(seeded));
        var seededConfig = AsdtJson.Read<Stage1Config>(Path.Combine(seeded, Stage1Trainer.ConfigFile));
        Assert.Equal(other, seededConfig.Seed);
        Assert.Contains($"--seed={other} (asdt ablate --seeds)", seededConfig.Overrides);
        var r = seeds.Rows.Single();
        Assert.Equal([config.Seed, other], r.Seeds.Select(x => x.Seed));
        Assert.Equal(again.Rows[0].Student, r.Seeds[0].Final);
        Assert.Equal((r.Seeds[0].Final!.Value + r.Seeds[1].Final!.Value) / 2, r.Student!.Value, 12);
        Assert.NotNull(r.FinalStdDev);
        Assert.Contains("| row | seed 1 | seed 2 | mean ± sd |", File.ReadAllText(Path.Combine(study.Path, "ablation.md")));

        // A later call with one seed keeps the earlier calls' runs in the table (same settings, already scored), not only its own.
        var later = AblateCommand.Run(config, study.Path, [StudentStrategy.ClassTeacherOnly], "val", "auto", cam: false, report: false, "asdt ablate (test, later)", [other]);
        var kept = later.Rows.Single();
        Assert.Equal([config.Seed, other], kept.Seeds.Select(x => x.Seed));
        Assert.Equal(r.Student, kept.Student);
        Assert.Equal([Path.GetFileName(row)], later.Header.EarlierRuns);
        string md = File.ReadAllText(Path.Combine(study.Path, "ablation.md"));
        Assert.Contains("| row | seed 1 | seed 2 | mean ± sd |", md);
        Assert.Contains($"also listed: `{Path.GetFileName(row)}`", md);

        // Runs made with other settings are never mixed in: another training length, or scores without the asked CAM sweep.
        var (split, restricted) = StudyRunner.EvalSplit(config, "val", "auto");
        HeadEvaluationSettings Scoring(bool cam) => StudyRunner.Scoring(config, restricted, [PsmSource.SegTeacher, PsmSource.Student, PsmSource.Max], withoutCrf: true, cam);
        Stage1Config Any(Stage1Config c) => c with { Strategy = config.Strategy };
        Assert.Equal(2, StudyRunner.EarlierRuns(study.Path, config, Any, split, Scoring(cam: false)).Count);
        // What a resume may change (threads, checkpoint interval, the wording of the deviations) does not split the table:
        // a later build whose preset words its deviations differently still lists these runs.
        Assert.Equal(2, StudyRunner.EarlierRuns(study.Path, config with { Deviations = [.. config.Deviations, "reworded"], Threads = 1, CheckpointEvery = config.CheckpointEvery + 1 },
            Any, split, Scoring(cam: false)).Count);
        Assert.Empty(StudyRunner.EarlierRuns(study.Path, config with { Iterations = 4 }, Any, split, Scoring(cam: false)));
        Assert.Empty(StudyRunner.EarlierRuns(study.Path, config, Any, split, Scoring(cam: true)));
        // A study that does not vary the strategy (identity) does not take row I's runs for an Alternate base.
        Assert.Empty(StudyRunner.EarlierRuns(study.Path, config with { Strategy = StudentStrategy.Alternate }, c => c, split, Scoring(cam: false)));
    }

    [Fact]
    public void Sweep_with_seeds_trains_each_seed_in_its_own_folder_and_keeps_the_base_seeds_point()
    {
        using var study = TestData.NewTempFolder();
        var config = TinyRunFixture.TinyConfig(Path.Combine(fixture.Data, "dataset.json")) with { Iterations = 4 };
        var table = SweepCommand.Run(config, study.Path, [2], [2.0], "val", "auto", allHeads: false, report: false, "asdt sweep (test)");
        string plain = SweepCommand.PointFolder(study.Path, 2, 2.0);
        var first = File.GetLastWriteTimeUtc(Path.Combine(plain, Stage1Trainer.MetricsFile));
        Assert.False(table.SeveralSeeds);

        int other = config.Seed + 1;
        var seeds = SweepCommand.Run(config, study.Path, [2], [2.0], "val", "auto", allHeads: false, report: false, "asdt sweep (test)", [config.Seed, other]);
        Assert.Equal(first, File.GetLastWriteTimeUtc(Path.Combine(plain, Stage1Trainer.MetricsFile))); // not retrained
        string seeded = SweepCommand.PointFolder(study.Path, 2, 2.0, other, config.Seed);
        Assert.Equal(plain + $"-seed{other}", seeded);
        Assert.Equal(4, TrainingCheckpoint.FinishedIterations(seeded));
        var seededConfig = AsdtJson.Read<Stage1Config>(Path.Combine(seeded, Stage1Trainer.ConfigFile));
        Assert.Equal(other, seededConfig.Seed);
        Assert.Equal(StudentStrategy.Alternate, seededConfig.Strategy);
        Assert.Contains($"--seed={other} (asdt sweep --seeds)", seededConfig.Overrides);

        var p = seeds.Points.Single();
        Assert.Equal([config.Seed, other], p.Seeds.Select(x => x.Seed));
        Assert.Equal(table.Points[0].MeanIoU, p.Seeds[0].Final);
        var own = AsdtJson.Read<HeadEvaluation>(Path.Combine(seeded, "eval-val", HeadEvaluation.FileName)).Find("max", true)!.MeanIoU;
        Assert.Equal(own, p.Seeds[1].Final);
        Assert.Equal((p.Seeds[0].Final!.Value + p.Seeds[1].Final!.Value) / 2, p.MeanIoU!.Value, 12);
        Assert.Contains($"| T | τ | seed {config.Seed} | seed {other} | mean ± sd |", File.ReadAllText(Path.Combine(study.Path, "sweep.md")));
        Assert.Equal(p.MeanIoU, AsdtJson.Read<SweepTable>(Path.Combine(study.Path, "sweep.json")).Points[0].MeanIoU);

        // A later call with one seed keeps the earlier point's other seed in sweep.md / sweep.json.
        var later = SweepCommand.Run(config, study.Path, [2], [2.0], "val", "auto", allHeads: false, report: false, "asdt sweep (test, later)", [other]);
        Assert.Equal([config.Seed, other], later.Points.Single().Seeds.Select(x => x.Seed));
        Assert.Equal(p.MeanIoU, later.Points.Single().MeanIoU);
        Assert.Equal([Path.GetFileName(plain)], later.Header.EarlierRuns);
        Assert.Contains($"| T | τ | seed {config.Seed} | seed {other} | mean ± sd |", File.ReadAllText(Path.Combine(study.Path, "sweep.md")));
    }
}
