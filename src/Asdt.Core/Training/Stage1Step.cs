using System.Diagnostics;
using System.Globalization;
using Asdt.Data;
using Asdt.Models;
using Asdt.Runs;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace Asdt.Training;

/// <summary>What one training iteration measured (one line of metrics.jsonl).</summary>
public sealed record IterationMetrics
{
    public long Iteration { get; init; }
    /// <summary>"warmup", "classTeacher" or "segTeacher" (the PW level for the student).</summary>
    public string Phase { get; init; } = "";
    /// <summary>Λ_t: 1 high (class-teacher), 0 low (seg-teacher); null during warm-up.</summary>
    public int? PwLevel { get; init; }
    public double LearningRate { get; init; }
    public double Loss { get; init; }
    public double ClassLoss { get; init; }
    public double? SegTeacherCe { get; init; }
    public double? SegTeacherEnergy { get; init; }
    public double? StudentCe { get; init; }
    public double? StudentEnergy { get; init; }
    /// <summary>Fraction of crop pixels that B^ct labels (R^ct = 1).</summary>
    public double? ReliableFraction { get; init; }
    public double ImagesPerSecond { get; init; }
    public double Seconds { get; init; }
    /// <summary>Seconds per part: forward, cam, reliableLabel, segTeacherLabel, energy, backward.</summary>
    public Dictionary<string, double> Timings { get; init; } = [];

    /// <summary>
    /// The progress line's text: the total loss and the terms it is the sum of, L_cls + the two heads'
    /// cross-entropies + the two heads' energy losses. The energy term is logged as −λ·Σ S·W·S
    /// (ALGORITHM.md §5.1), never positive, so late in training the total can go below zero; the
    /// split shows why.
    /// </summary>
    public string ProgressText()
    {
        if (SegTeacherCe is null && StudentCe is null) return string.Create(CultureInfo.InvariantCulture, $"{Phase} loss {Loss:0.000} cls {ClassLoss:0.000}");
        double ce = (SegTeacherCe ?? 0) + (StudentCe ?? 0);
        double energy = (SegTeacherEnergy ?? 0) + (StudentEnergy ?? 0);
        return string.Create(CultureInfo.InvariantCulture,
            $"{Phase} loss {Loss:0.000} = cls {ClassLoss:0.000} + CE {ce:0.000} + L_str {energy:0.000}");
    }
}

/// <summary>
/// One stage-1 iteration (ALGORITHM.md §6.5): forward at scale 1, online multi-scale CAM, B^ct/R^ct
/// per image in parallel, L_cls + L_ct→st (+ L_str), and the student's loss chosen by the strategy
/// and the PW wave. Returns the total loss tensor (for backward) and the measured terms.
/// </summary>
public sealed class Stage1Step
{
    readonly Stage1Config config;
    readonly AsdtNetwork network;
    readonly PulseWidthSignal pulseWidth;
    readonly int threads;

    public Stage1Step(Stage1Config config, AsdtNetwork network)
    {
        this.config = config;
        this.network = network;
        pulseWidth = config.PulseWidth.Signal();
        threads = ComputeThreads.Workers(config.Threads);
    }

    public PulseWidthSignal PulseWidth => pulseWidth;

    /// <summary>Phase of the student at iteration t, counting PW periods from the end of the warm-up.</summary>
    public string PhaseAt(long t)
    {
        if (t < config.ClassifierWarmup) return "warmup";
        return StudentTeacher(t) == TeacherPhase.ClassTeacher ? "classTeacher" : "segTeacher";
    }

    TeacherPhase StudentTeacher(long t) => config.Strategy switch
    {
        StudentStrategy.ClassTeacherOnly => TeacherPhase.ClassTeacher,
        StudentStrategy.SegTeacherOnly => TeacherPhase.SegTeacher,
        StudentStrategy.NaiveMax or StudentStrategy.NaiveMean => TeacherPhase.SegTeacher,
        _ => pulseWidth.PhaseAt(t - config.ClassifierWarmup),
    };

    public (Tensor Loss, IterationMetrics Metrics) Run(TrainingBatch batch, long t, Device device)
    {
        var timings = new Dictionary<string, double>();
        var clock = Stopwatch.StartNew();
        void Lap(string name) { timings[name] = timings.GetValueOrDefault(name) + clock.Elapsed.TotalSeconds; clock.Restart(); }

        int b = batch.Size, s = batch.CropSize, n = s * s, fgClasses = network.ForegroundClasses;
        var x = tensor(batch.Images).reshape(b, 3, s, s).to(device);
        var labels = tensor(batch.Labels.SelectMany(l => l).ToArray()).reshape(b, fgClasses).to(device);
        var outputs = network.forward(x);
        var classLoss = ClassTeacher.Loss(outputs.ClassLogits, labels);
        Lap("forward");

        string phase = PhaseAt(t);
        if (phase == "warmup")
            return (classLoss, new IterationMetrics { Iteration = t, Phase = phase, ClassLoss = classLoss.item<float>(), Timings = timings });

        // Class-teacher knowledge: online multi-scale CAM → B^ct, R^ct (CPU, parallel over images).
        var cams = MultiScaleCam.Compute(network, x, outputs.Features, labels, config.CamScales);
        var camData = cams.cpu().data<float>().ToArray();
        Lap("cam");
        var present = batch.Labels.Select(l => Enumerable.Range(0, fgClasses).Where(c => l[c] > 0.5f).ToArray()).ToArray();
        var bct = new byte[b][];
        Parallel.For(0, b, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
            bct[i] = ReliableLabel.Compute(batch.CropRgb[i], s, s, camData.AsSpan(i * fgClasses * n, fgClasses * n), fgClasses,
                present[i], config.ReliableLabel, threads: threads > b ? 2 : 1));
        Lap("reliableLabel");
        var bctTensor = LabelTensor(bct, b, s, device);
        var roi = tensor(batch.Roi.SelectMany(r => r).ToArray()).reshape(b, s, s).to(device);
        double reliable = bct.Sum(l => l.Count(v => v != ReliableLabel.Ignore)) / (double)(b * n);

        Tensor Upsampled(Tensor logits) => interpolate(logits, size: [s, s], mode: InterpolationMode.Bilinear, align_corners: false);

        var total = classLoss;
        double? stCe = null, stEnergy = null;
        var stLogits = Upsampled(outputs.SegTeacherLogits);
        var stProb = stLogits.softmax(1);
        if (config.Strategy != StudentStrategy.ClassTeacherOnly)
        {
            // L_ct→st: the seg-teacher always learns from the class-teacher.
            var ce = BalancedCrossEntropy.Compute(stLogits, bctTensor);
            Lap("ceSegTeacher");
            var energy = EnergyLoss.Compute(stProb, batch.CropRgb, roi, bctTensor, config.EnergyLoss, threads);
            Lap("energy");
            total = total.Plus(ce).Plus(energy);
            stCe = ce.item<float>(); stEnergy = energy.item<float>();
        }

        // The student: B^ct at the high PW level, B^st at the low level (or per the ablation strategy).
        var sLogits = Upsampled(outputs.StudentLogits);
        var sProb = sLogits.softmax(1);
        Tensor studentTarget;
        if (StudentTeacher(t) == TeacherPhase.ClassTeacher) studentTarget = bctTensor;
        else
        {
            var teacherProb = TeacherProbabilities(stProb.detach(), cams, b, s);
            var probData = teacherProb.cpu().data<float>().ToArray();
            int classes = network.Classes;
            var bst = new byte[b][];
            Parallel.For(0, b, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
                bst[i] = SegTeacherLabel.Compute(batch.CropRgb[i], s, s, probData.AsSpan(i * classes * n, classes * n), classes,
                    present[i], config.SegTeacherCrf));
            studentTarget = LabelTensor(bst, b, s, device);
            Lap("segTeacherLabel");
        }
        var sCe = BalancedCrossEntropy.Compute(sLogits, studentTarget);
        var sEnergy = EnergyLoss.Compute(sProb, batch.CropRgb, roi, studentTarget, config.EnergyLoss, threads);
        Lap("energy");
        total = total.Plus(sCe).Plus(sEnergy);

        return (total, new IterationMetrics
        {
            Iteration = t,
            Phase = phase,
            PwLevel = config.Strategy == StudentStrategy.Alternate ? pulseWidth.Level(t - config.ClassifierWarmup) : null,
            ClassLoss = classLoss.item<float>(),
            SegTeacherCe = stCe,
            SegTeacherEnergy = stEnergy,
            StudentCe = sCe.item<float>(),
            StudentEnergy = sEnergy.item<float>(),
            ReliableFraction = reliable,
            Timings = timings,
        });
    }

    /// <summary>
    /// The probabilities the student's low-level label is made from: P^st (strategies II and V), or for
    /// the naive duals (III/IV) the element-wise max/mean of P^st and the class-teacher's map P^ct.
    /// P^ct is not defined by the paper (A18); here it is the CAM stack with a (1 − max CAM)^α_low
    /// background, normalised per pixel [I].
    /// </summary>
    Tensor TeacherProbabilities(Tensor stProb, Tensor cams, int b, int s)
    {
        if (config.Strategy is not (StudentStrategy.NaiveMax or StudentStrategy.NaiveMean)) return stProb;
        var bg = cams.amax(new long[] { 1 }, keepdim: true).SubtractedFrom(1).Power(config.ReliableLabel.AlphaLow);
        var ct = cat([bg, cams], 1);
        ct = ct / ct.sum(1, keepdim: true).AtLeast(1e-5);
        return config.Strategy == StudentStrategy.NaiveMax ? maximum(stProb, ct) : stProb.Plus(ct).Times(0.5);
    }

    static Tensor LabelTensor(byte[][] labels, int b, int s, Device device)
    {
        var flat = new long[b * s * s];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < s * s; j++) flat[i * s * s + j] = labels[i][j];
        return tensor(flat).reshape(b, s, s).to(device);
    }
}
