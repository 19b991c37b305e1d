using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Asdt.Crf;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.IO;
using Asdt.Psm;
using Asdt.Runs;
using Asdt.Training;
using TorchSharp;

namespace Asdt.Reports;

public sealed record HeadEvaluationSettings
{
    /// <summary>Which outputs to score (Table 4's columns).</summary>
    public PsmSource[] Sources { get; init; } = [PsmSource.SegTeacher, PsmSource.Student, PsmSource.Max];
    /// <summary>Keep only background and the image's classes (train protocol). Off = RRM's val protocol (A17).</summary>
    public bool RestrictToImageLabels { get; init; } = true;
    /// <summary>CRF for the "+ CRF" variants; null = only the plain argmax variants.</summary>
    public CrfParameters? Crf { get; init; } = CrfParameters.RrmInference;
    /// <summary>Scales and flip of the heads' inference (the paper: single scale).</summary>
    public TestTimeAugmentation Augmentation { get; init; } = TestTimeAugmentation.None;
    /// <summary>Also score the plain argmax (no CRF) of every source.</summary>
    public bool WithoutCrf { get; init; } = true;
    /// <summary>Score CAMs (PSA offline convention) over <see cref="CamThresholds"/>.</summary>
    public bool Cam { get; init; } = true;
    public double[] CamScales { get; init; } = OfflineCam.PsaScales;
    public bool CamFlip { get; init; } = true;
    public double[] CamThresholds { get; init; } = CamThresholdSweep.DefaultThresholds;
    /// <summary>A background threshold chosen elsewhere (e.g. on train) to report alongside the sweep.</summary>
    public double? CamThreshold { get; init; }
    public int Threads { get; init; }
    public Shard Shard { get; init; } = Shard.All;
    /// <summary>Score only the first N images of the split (quick looks; null = all).</summary>
    public int? Limit { get; init; }
    /// <summary>
    /// Also score the class-teacher's reliable label B^ct (ALGORITHM.md §4.3) made with these settings from the
    /// online multi-scale CAMs of whole images (null = do not): how right it is where it labels, and how much it labels.
    /// </summary>
    public ReliableLabelSettings? ReliableLabel { get; init; }
    /// <summary>Scales of the online CAM behind B^ct (a run's <see cref="Stage1Config.CamScales"/>).</summary>
    public double[] ReliableLabelCamScales { get; init; } = [1.0, 0.5, 1.5, 2.0];
}

/// <summary>
/// B^ct scored against the ground truth: on the pixels it labels (the ignored ones left out of the confusion matrix,
/// so its mIoU is a precision-like number), and per class the share of the class's pixels it labels at all.
/// </summary>
public sealed record ReliableLabelScore
{
    /// <summary>α, percentile and CRF B^ct was made with.</summary>
    public string Settings { get; init; } = "";
    public double[] CamScales { get; init; } = [];
    /// <summary>mIoU over the pixels B^ct labels.</summary>
    public double MeanIoU { get; init; }
    public double PixelAccuracy { get; init; }
    /// <summary>Share of the scored pixels (ground truth ≠ 255) that B^ct labels.</summary>
    public double LabelledFraction { get; init; }
    public string[] ClassNames { get; init; } = [];
    /// <summary>IoU per class on the labelled pixels (null: the class is neither in the truth nor in B^ct there).</summary>
    public double?[] ClassIoU { get; init; } = [];
    /// <summary>Per ground-truth class, the share of its pixels B^ct labels (with any label; null: no such pixel).</summary>
    public double?[] ClassLabelled { get; init; } = [];

    public const string File = "bct";
}

/// <summary>One scored variant: a source with or without CRF.</summary>
public sealed record HeadVariantScore
{
    /// <summary>"segTeacher", "student", "max" (P̄) or "cam".</summary>
    public string Source { get; init; } = "";
    public bool Crf { get; init; }
    /// <summary>Display name, e.g. "P̄ + CRF".</summary>
    public string Name { get; init; } = "";
    /// <summary>File stem of its JSON/Markdown score, e.g. "max-crf".</summary>
    public string File { get; init; } = "";
    public double MeanIoU { get; init; }
    public double PixelAccuracy { get; init; }
}

public sealed record CamSweepResult
{
    public double[] Scales { get; init; } = [];
    public bool Flip { get; init; }
    public double[] Thresholds { get; init; } = [];
    public double[] MeanIoU { get; init; } = [];
    /// <summary>Best threshold on the evaluated split itself (an oracle: do not report it as a tuned result on the same split).</summary>
    public double BestThreshold { get; init; }
    public double BestMeanIoU { get; init; }
    /// <summary>The threshold given with --cam-threshold (chosen on another split) and its mIoU here.</summary>
    public double? FixedThreshold { get; init; }
    public double? FixedMeanIoU { get; init; }
}

/// <summary>heads.json: Table 4's columns (and CAMs) of one trained run on one split.</summary>
public sealed record HeadEvaluation
{
    public string Run { get; init; } = "";
    public string Strategy { get; init; } = "";
    public string Dataset { get; init; } = "";
    public string Split { get; init; } = "";
    public int Images { get; init; }
    public string? Shard { get; init; }
    public bool RestrictToImageLabels { get; init; }
    public string? Crf { get; init; }
    /// <summary>Test-time augmentation of the heads (<see cref="TestTimeAugmentation.ToString"/>).</summary>
    public string Inference { get; init; } = TestTimeAugmentation.None.ToString();
    /// <summary>The decay of the weight average scored (<see cref="Training.WeightAverage"/>); null = the run's last weights.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? Average { get; init; }
    /// <summary>The iteration whose weights were scored (the chosen one after a <see cref="Training.CheckpointSelection"/>); null in files written before it was recorded (the last).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public long? Iteration { get; init; }
    public string Protocol { get; init; } = "";
    public HeadVariantScore[] Variants { get; init; } = [];
    public CamSweepResult? Cam { get; init; }
    /// <summary>The class-teacher's reliable label on whole images (eval-run --bct).</summary>
    public ReliableLabelScore? ReliableLabel { get; init; }
    public double Seconds { get; init; }

    public const string FileName = "heads.json";

    public HeadVariantScore? Find(string source, bool crf) => Variants.FirstOrDefault(v => v.Source == source && v.Crf == crf);

    public static string SourceName(PsmSource s) => s switch
    {
        PsmSource.SegTeacher => "segTeacher",
        PsmSource.Student => "student",
        _ => "max",
    };

    /// <summary>"P^st", "P^s" or "P̄".</summary>
    public static string Symbol(PsmSource s) => Symbol(SourceName(s));

    public static string Symbol(string source) => source switch
    {
        "segTeacher" => "P^st",
        "student" => "P^s",
        "max" => "P̄",
        _ => source,
    };

    public string ToMarkdown()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"## Heads and CAMs of {Run} ({Strategy}{(Iteration is long it ? $", weights of iteration {it}" : "")}{(Average is double d ? $", averaged with decay {Training.WeightAverage.Format(d)}" : "")})");
        sb.AppendLine();
        sb.AppendLine(inv, $"{Dataset} / {Split}{(Shard != null ? $" (shard {Shard})" : "")}: {Images} images. {Protocol}");
        sb.AppendLine();
        if (Variants.Length > 0)
        {
            sb.AppendLine("| output | mIoU | pixel acc. |");
            sb.AppendLine("|---|---:|---:|");
            foreach (var v in Variants)
                sb.AppendLine(inv, $"| {v.Name} | {100 * v.MeanIoU:F2} | {100 * v.PixelAccuracy:F2} |");
        }
        if (Cam is { } cam)
        {
            sb.AppendLine();
            sb.AppendLine(inv, $"CAM (PSA offline: scales {string.Join(", ", cam.Scales)}{(cam.Flip ? " × flip" : "")}, max-normalised, restricted to the image labels, constant background score θ):");
            sb.AppendLine(inv, $"best θ on this split = {cam.BestThreshold:0.00} → mIoU {100 * cam.BestMeanIoU:F2} (an oracle on this split; choose θ on another split for a reported number)");
            if (cam.FixedThreshold is double ft && cam.FixedMeanIoU is double fm)
                sb.AppendLine(inv, $"given θ = {ft:0.00} → mIoU {100 * fm:F2}");
            sb.AppendLine();
            sb.AppendLine("| θ | " + string.Join(" | ", cam.Thresholds.Select(t => t.ToString("0.00", inv))) + " |");
            sb.AppendLine("|---|" + string.Concat(cam.Thresholds.Select(_ => "---:|")));
            sb.AppendLine("| mIoU | " + string.Join(" | ", cam.MeanIoU.Select(m => (100 * m).ToString("F1", inv))) + " |");
        }
        if (ReliableLabel is { } r)
        {
            sb.AppendLine();
            sb.AppendLine(inv, $"B^ct (the class-teacher's reliable label on whole images; online CAM scales {string.Join(", ", r.CamScales)}; {r.Settings}): " +
                               $"it labels **{100 * r.LabelledFraction:F1} %** of the pixels; on those, **mIoU {100 * r.MeanIoU:F2}**, pixel accuracy {100 * r.PixelAccuracy:F2}.");
            sb.AppendLine();
            sb.AppendLine("| class | IoU where labelled | share labelled |");
            sb.AppendLine("|---|---:|---:|");
            string Percent(double? v) => v is double x ? (100 * x).ToString("F1", inv) : "–";
            for (int c = 0; c < r.ClassNames.Length; c++)
                sb.AppendLine(inv, $"| {r.ClassNames[c]} | {Percent(r.ClassIoU[c])} | {Percent(r.ClassLabelled[c])} |");
        }
        sb.AppendLine();
        sb.AppendLine(inv, $"({Seconds:0.0} s)");
        return sb.ToString();
    }
}

/// <summary>
/// Scores a trained stage-1 network directly (no PSM files): for every image of a split one eval-mode
/// forward pass gives P^st, P^s and P̄ = max(P^st, P^s) (ALGORITHM.md §7), each labelled with and without
/// the dense CRF, and the offline CAMs (§3.4) over a background-threshold sweep; one confusion matrix per
/// variant (§8.1). The forward passes run on the calling thread while the CRFs of earlier images run on
/// the other cores.
/// </summary>
public static class HeadEvaluator
{
    sealed record Pending(string Id, RgbImage Image, LabelMask Truth, float[] Probabilities, float[]? Cams, float[]? TrainingCams, int[] Present);

    /// <summary>B^ct's counts: a confusion matrix over the pixels it labels, and per ground-truth class all and labelled pixels.</summary>
    sealed class ReliableLabelCounts(int classes)
    {
        public ConfusionMatrix Labelled { get; } = new(classes);
        public long[] Truth { get; } = new long[classes];
        public long[] TruthLabelled { get; } = new long[classes];
    }

    public static (HeadEvaluation Summary, IReadOnlyDictionary<string, SegmentationScore> Scores) Evaluate(
        Stage1Run run, string split, HeadEvaluationSettings settings, Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        var dataset = run.Dataset;
        if (!dataset.HasMasks) throw new AsdtException(dataset.Root, "the dataset has no ground-truth masks to score against");
        var network = run.Network;
        network.eval();
        IReadOnlyList<string> ids = settings.Shard.Select(dataset.Ids(split));
        if (settings.Limit is int limit) ids = ids.Take(limit).ToArray();
        int classes = network.Classes, n = ids.Count;
        if (classes != dataset.ClassNames.Count)
            throw new AsdtException(dataset.Root, $"the network has {classes} classes but the dataset {dataset.ClassNames.Count}");
        var sources = settings.Sources.Distinct().ToArray();
        var variants = new List<(PsmSource Source, bool Crf)>();
        foreach (var s in sources)
        {
            if (settings.WithoutCrf) variants.Add((s, false));
            if (settings.Crf != null) variants.Add((s, true));
        }
        if (variants.Count == 0 && !settings.Cam && settings.ReliableLabel == null) throw new AsdtException("nothing to evaluate: no head variant, no CAM and no B^ct");
        var bct = settings.ReliableLabel != null ? new ReliableLabelCounts(classes) : null;
        var matrices = variants.Select(_ => new ConfusionMatrix(classes)).ToArray();
        var sweep = settings.Cam ? new CamThresholdSweep(classes, settings.CamThresholds) : null;
        ConfusionMatrix? fixedCam = settings.Cam && settings.CamThreshold is double ft ? new ConfusionMatrix(classes) : null;

        int threads = ComputeThreads.Apply(settings.Threads);
        int done = 0;
        progress?.Invoke(0, n);
        var queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(2, threads)) { SingleWriter = true });
        var consumers = Enumerable.Range(0, threads).Select(_ => Task.Run(async () =>
        {
            await foreach (var item in queue.Reader.ReadAllAsync(cancel))
            {
                Score(item, sources, variants, matrices, sweep, fixedCam, bct, settings, classes);
                progress?.Invoke(Interlocked.Increment(ref done), n);
            }
        }, cancel)).ToArray();
        try
        {
            foreach (var id in ids)
            {
                cancel.ThrowIfCancellationRequested();
                var (image, truth) = dataset.LoadPair(id);
                var labels = dataset.ImageLabels(id);
                int[] present = labels.Select((on, c) => (on, c)).Where(x => x.on).Select(x => x.c).ToArray();
                float[] probabilities = variants.Count == 0 ? [] : HeadProbabilities.Compute(network, run.Normalization, image, sources, settings.Augmentation);
                float[]? cams = settings.Cam ? OfflineCam.Psa(network, run.Normalization, image, labels, settings.CamScales, settings.CamFlip) : null;
                float[]? trainingCams = bct != null ? OfflineCam.Training(network, run.Normalization, image, labels, settings.ReliableLabelCamScales) : null;
                var item = new Pending(id, image, truth, probabilities, cams, trainingCams, present);
                if (!queue.Writer.TryWrite(item)) queue.Writer.WriteAsync(item, cancel).AsTask().GetAwaiter().GetResult();
                if (consumers.FirstOrDefault(c => c.IsFaulted) is Task failed) failed.GetAwaiter().GetResult();
            }
        }
        finally
        {
            queue.Writer.TryComplete();
            Task.WaitAll(consumers.Where(c => !c.IsCanceled).ToArray());
        }

        var names = dataset.ClassNames;
        string? shardText = settings.Shard.Count == 1 ? null : settings.Shard.ToString();
        var scores = new Dictionary<string, SegmentationScore>();
        var variantScores = new List<HeadVariantScore>();
        for (int v = 0; v < variants.Count; v++)
        {
            var (source, crf) = variants[v];
            string key = HeadEvaluation.SourceName(source);
            string name = HeadEvaluation.Symbol(key) + (crf ? " + CRF" : "");
            string file = $"{Stem(key)}{(crf ? "-crf" : "")}";
            var score = SegmentationScore.From(matrices[v], names, $"{name} of {run.Folder}", dataset.Name, split, n, shardText);
            scores[file] = score;
            variantScores.Add(new HeadVariantScore { Source = key, Crf = crf, Name = name, File = file, MeanIoU = score.MeanIoU, PixelAccuracy = score.PixelAccuracy });
        }
        CamSweepResult? camResult = null;
        if (sweep != null)
        {
            var (curve, best) = sweep.Curve();
            var bestScore = SegmentationScore.From(sweep.Matrix(best), names, $"CAM at the best background threshold {settings.CamThresholds[best]:0.00} of {run.Folder}", dataset.Name, split, n, shardText);
            scores["cam-best"] = bestScore;
            variantScores.Add(new HeadVariantScore { Source = "cam", Name = $"CAM (best θ = {settings.CamThresholds[best]:0.00})", File = "cam-best", MeanIoU = bestScore.MeanIoU, PixelAccuracy = bestScore.PixelAccuracy });
            SegmentationScore? fixedScore = null;
            if (fixedCam != null)
            {
                fixedScore = SegmentationScore.From(fixedCam, names, $"CAM at the given background threshold {settings.CamThreshold:0.00} of {run.Folder}", dataset.Name, split, n, shardText);
                scores["cam-fixed"] = fixedScore;
                variantScores.Add(new HeadVariantScore { Source = "cam", Name = $"CAM (given θ = {settings.CamThreshold:0.00})", File = "cam-fixed", MeanIoU = fixedScore.MeanIoU, PixelAccuracy = fixedScore.PixelAccuracy });
            }
            camResult = new CamSweepResult
            {
                Scales = settings.CamScales, Flip = settings.CamFlip, Thresholds = settings.CamThresholds, MeanIoU = curve,
                BestThreshold = settings.CamThresholds[best], BestMeanIoU = curve[best],
                FixedThreshold = settings.CamThreshold, FixedMeanIoU = fixedScore?.MeanIoU,
            };
        }
        ReliableLabelScore? bctResult = null;
        if (bct != null)
        {
            var score = SegmentationScore.From(bct.Labelled, names, $"B^ct of {run.Folder} on the pixels it labels", dataset.Name, split, n, shardText);
            scores[ReliableLabelScore.File] = score;
            long all = bct.Truth.Sum(), labelled = bct.TruthLabelled.Sum();
            bctResult = new ReliableLabelScore
            {
                Settings = ReliableLabelText(settings.ReliableLabel!),
                CamScales = settings.ReliableLabelCamScales,
                MeanIoU = score.MeanIoU,
                PixelAccuracy = score.PixelAccuracy,
                LabelledFraction = all > 0 ? labelled / (double)all : 0,
                ClassNames = names.ToArray(),
                ClassIoU = score.ClassIoU,
                ClassLabelled = bct.Truth.Select((t, c) => t > 0 ? bct.TruthLabelled[c] / (double)t : (double?)null).ToArray(),
            };
        }
        var summary = new HeadEvaluation
        {
            Run = run.Folder,
            Strategy = run.Config.Strategy.ToString(),
            Dataset = dataset.Name,
            Split = split,
            Images = n,
            Shard = shardText,
            RestrictToImageLabels = settings.RestrictToImageLabels,
            Crf = settings.Crf?.ToString(),
            Inference = settings.Augmentation.ToString(),
            Average = run.Average,
            Iteration = run.Iteration,
            Protocol = (settings.RestrictToImageLabels
                           ? "Head outputs restricted to background + the image's classes (train protocol, ALGORITHM.md §7)"
                           : "No image-label restriction on head outputs (RRM's val protocol, A17)")
                       + $"; {settings.Augmentation}, full image" + (settings.Crf != null ? $"; CRF {settings.Crf}" : "") + ".",
            Variants = variantScores.ToArray(),
            Cam = camResult,
            ReliableLabel = bctResult,
            Seconds = clock.Elapsed.TotalSeconds,
        };
        return (summary, scores);
    }

    public static string ReliableLabelText(ReliableLabelSettings r) => string.Create(CultureInfo.InvariantCulture,
        $"α {r.AlphaLow}/{r.AlphaHigh}, CAM percentile {r.CamPercentile}, CRF {r.Crf}");

    static string Stem(string key) => key switch { "segTeacher" => "pst", "student" => "ps", _ => "pbar" };

    static void Score(Pending item, PsmSource[] sources, List<(PsmSource Source, bool Crf)> variants, ConfusionMatrix[] matrices,
        CamThresholdSweep? sweep, ConfusionMatrix? fixedCam, ReliableLabelCounts? bct, HeadEvaluationSettings settings, int classes)
    {
        int size = classes * item.Image.PixelCount;
        int[]? restrict = settings.RestrictToImageLabels ? item.Present : null;
        for (int v = 0; v < variants.Count; v++)
        {
            var (source, crf) = variants[v];
            int k = Array.IndexOf(sources, source);
            var probabilities = item.Probabilities.AsSpan(k * size, size).ToArray();
            var mask = PseudoMaskGenerator.Label(item.Image, probabilities, classes, restrict, crf ? settings.Crf : null);
            Add(matrices[v], item, mask.Labels);
        }
        if (item.Cams is { } cams)
        {
            sweep!.Add(item.Truth.Labels, cams, item.Present);
            if (fixedCam != null) Add(fixedCam, item, CamLabels(cams, item.Present, classes, settings.CamThreshold!.Value));
        }
        if (item.TrainingCams is { } trainingCams)
        {
            var image = item.Image;
            var label = ReliableLabel.Compute(image.Pixels, image.Width, image.Height, trainingCams, classes - 1, item.Present, settings.ReliableLabel!);
            AddReliable(bct!, item, label, classes);
        }
    }

    /// <summary>Counts B^ct against the truth: the confusion matrix sees only the pixels it labels.</summary>
    static void AddReliable(ReliableLabelCounts counts, Pending item, byte[] label, int classes)
    {
        var truth = item.Truth.Labels;
        var truthWhereLabelled = new byte[truth.Length];
        var prediction = new byte[truth.Length];
        var all = new long[classes];
        var labelled = new long[classes];
        for (int i = 0; i < truth.Length; i++)
        {
            byte g = truth[i];
            bool isLabelled = label[i] != Training.ReliableLabel.Ignore;
            truthWhereLabelled[i] = isLabelled ? g : ConfusionMatrix.Ignore;
            prediction[i] = isLabelled ? label[i] : (byte)0;
            if (g >= classes) continue; // 255, or an error that Add reports
            all[g]++;
            if (isLabelled) labelled[g]++;
        }
        Add(counts.Labelled, item, truthWhereLabelled, prediction);
        lock (counts)
            for (int c = 0; c < classes; c++) { counts.Truth[c] += all[c]; counts.TruthLabelled[c] += labelled[c]; }
    }

    static void Add(ConfusionMatrix matrix, Pending item, byte[] prediction) => Add(matrix, item, item.Truth.Labels, prediction);

    static void Add(ConfusionMatrix matrix, Pending item, byte[] truth, byte[] prediction)
    {
        try { matrix.Add(truth, prediction); }
        catch (ArgumentException e) { throw new AsdtException(item.Id, e.Message); }
    }

    /// <summary>argmax over [θ ; CAM_c for present c] (background wins ties; compared as float32 like PSA), as segmentation labels.</summary>
    public static byte[] CamLabels(ReadOnlySpan<float> cams, IReadOnlyList<int> present, int classes, double threshold)
    {
        int n = cams.Length / (classes - 1);
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            float best = (float)threshold; byte label = 0;
            foreach (int c in present)
            {
                float v = cams[c * n + i];
                if (v > best) { best = v; label = (byte)(c + 1); }
            }
            labels[i] = label;
        }
        return labels;
    }

    /// <summary>Writes heads.json/heads.md and one &lt;variant&gt;.json/.md per confusion matrix into <paramref name="folder"/>.</summary>
    public static void Write(string folder, HeadEvaluation summary, IReadOnlyDictionary<string, SegmentationScore> scores)
    {
        Directory.CreateDirectory(folder);
        foreach (var (file, score) in scores)
        {
            AtomicFile.WriteAllText(Path.Combine(folder, file + ".json"), AsdtJson.Serialize(score));
            AtomicFile.WriteAllText(Path.Combine(folder, file + ".md"), score.ToMarkdown());
        }
        AtomicFile.WriteAllText(Path.Combine(folder, "heads.md"), summary.ToMarkdown());
        // Last: its presence marks a finished evaluation (ablate/sweep skip it on resume).
        AtomicFile.WriteAllText(Path.Combine(folder, HeadEvaluation.FileName), AsdtJson.Serialize(summary));
    }
}
