using Asdt.Psm;

namespace Asdt.Training;

/// <summary>
/// Named stage-1 presets. <c>paper</c> is the paper's setting for a CUDA machine and full VOC;
/// <c>cpu</c> and <c>quick</c> scale the same algorithm to a 2-core CPU, and say how in
/// <see cref="Stage1Config.Deviations"/>.
/// </summary>
public static class Stage1Presets
{
    public static IReadOnlyList<string> Names { get; } = ["paper", "cpu", "quick"];

    public static Stage1Config Get(string name) => name.ToLowerInvariant() switch
    {
        "paper" => Paper,
        "cpu" => Cpu,
        "quick" => Quick,
        _ => throw new AsdtException($"unknown preset '{name}' (choose one of: {string.Join(", ", Names)})"),
    };

    /// <summary>ASDT on VOC 2012 train_aug as ALGORITHM.md resolves it: ResNet-38d OS 8 from res38_cls.pth, crop 321, batch 4, 20k iterations, T = 150, τ = 5.</summary>
    public static Stage1Config Paper { get; } = new()
    {
        Preset = "paper",
        Device = "cuda",
    };

    /// <summary>
    /// ImageNet ResNet-18 (NuGet ONNX) on MSRC-21 objects, sized to finish in under half an hour on 2 cores
    /// with ten PW periods: the class-teacher is warmed up on frozen features (a linear classifier on frozen
    /// ImageNet features already gives good CAMs, and fine-tuning layer3–4 did not improve them) at a PSA-scale
    /// rate of 0.03 (A14), then the ASDT iterations fine-tune layer4 at RRM's rates, so the three branches
    /// share trained weights as in the paper.
    /// </summary>
    /// <remarks>
    /// Chosen on the MSRC-21 <b>val</b> split (58 images; never on the reported train split), 2026-11-25:
    /// CAM mIoU after 300 classifier-only iterations — RRM's lr 7e-4 (classifier 7e-3): 27.6; lr 0.01: 55.5;
    /// lr 0.01 + momentum 0.9: 56.0; lr 0.01 with layer3–4 trained: 55.3. Full 900-iteration runs, P̄ + CRF:
    /// lr 0.01 throughout 64.6; warm-up 0.01 then RRM's 7e-4: 65.7. 2026-11-29, same split: 1,800 iterations instead of
    /// 900: 66.6; with multi-scale + flip inference (scales 0.75, 1, 1.25, 1.5): 69.2 (this preset; other scale sets
    /// 66.3–68.6); λ = 4e-7 for the energy loss (the 224 crops make L_str relatively weaker than on VOC): 63.3, not taken.
    /// Then the classifier-only warm-up: CAM mIoU (best θ) after 300 / 1,000 / 2,000 iterations 55.5 / 58.7 / 60.1 (the
    /// linear classifier on frozen features was far from converged); a full run with 2,000 warm-up iterations and the same
    /// 1,500 ASDT iterations: P̄ + CRF 70.8. Output stride 32 (heads at dilation 2): CAMs 62.4 but P̄ + CRF 70.7,
    /// not taken. 2026-11-30, same split, 2,000-iteration classifier-only runs with seeds 1, 2, 3 (CAM mIoU, best θ): Xavier
    /// start at warm-up lr 0.01 60.1 / 55.1 / 59.2 (mean 58.1: the seed moved it by 5 points, almost all of it face and body,
    /// which MSRC's image labels never separate: 29 of the 31 train images with either have both); at lr 0.03 61.2 / 56.1 /
    /// 60.1 (mean 59.1); a zero start at lr 0.03 60.6 / 58.9 / 61.8 (mean 60.5, half the spread): this preset.
    /// Later that day, same split, seed 1, P̄ + CRF of full runs from the same warm-up: backbone frozen throughout 72.86;
    /// layer4 trained in the ASDT iterations 74.04 (this preset; +0.12 s per iteration); layer3–4 73.21. Measured after the
    /// choice: with seed 2 the same change went from 69.26 to 68.41 on val, so over two seeds 71.06 → 71.23 on val (train,
    /// the reported split: 69.98 → 70.98); docs/results.md has the table. Then, same split, both seeds from the same
    /// warm-ups, 3,000 ASDT iterations (20 PW periods) instead of 1,500: 72.40 / 68.06 against 74.04 / 68.41 (mean 70.23
    /// against 71.23; cow, car and bird gain, body, face and chair lose), not taken. 2026-12-01, same split, seed 1: a
    /// 4,000-iteration warm-up instead of 2,000: 70.01 against 74.04 (CAMs 60.04 against 60.60; the longer fit moves the
    /// faces to body, PSM face 0.3 on val), not taken. Same day, same split: the warm-up chosen among three seeds by its
    /// val CAMs (seed 3 among 1–3, seed 6 among 4–6): 71.55 / 69.29, mean 70.42 against 71.23, not taken (train 72.05).
    /// Re-tested 2026-12-01/02 on fresh triples against the six-seed unselected val mean 70.00, rule committed first (adopt if
    /// the chosen runs average ≥ 70.50 on val and none loses the face class): seed 8 (of 7–9) 72.29, seed 11 (of 10–12)
    /// 67.71 with face 0.6 on val, so not taken; <c>--warmup-candidates</c> stays an option, off here.
    /// Row V over the ten seeds trained by 2026-12-02 (1–6, 8, 11, 13, 15): train P̄ + CRF 71.13 ± 1.10; 72.34 for the five
    /// runs that keep the face class on val, 69.91 for the five that lose it, and the warm-up's CAMs do not tell which,
    /// although the warm-up settles it (seeds 13 and 15 crossed with each other's ASDT draws and heads' start, 2026-12-02):
    /// more exactly, it settles how stable the face class is; seed 13's run flips it on and off on val from one
    /// 100-iteration checkpoint to the next (face 0–56) and ends off, seed 15's holds it throughout.
    /// The paper's CAM scale 2.0 behind B^ct, tested 2026-12-06/07 on seeds 13 and 17 against their preset runs, rule
    /// committed first (adopt if the two-seed val mean gains ≥ 0.5 and neither seed falls by more than 0.5): val P̄ + CRF
    /// 68.39 → 69.82 and 71.91 → 71.06 (mean +0.29; train +1.05 / +1.52, reported only), not taken.
    /// Row V's last weights over fourteen seeds (1–6, 8, 11, 13, 15–19, by 2026-12-07): train P̄ + CRF 71.15 ± 0.90.
    /// The checkpoint chosen on val (<see cref="CheckpointSelection"/>), tested on fresh seeds 18 and 19 with the rule
    /// committed first (adopt if the gain cross-validated on val's halves averages ≥ 0.5 and the new seed's is ≥ 0):
    /// +1.82 and +1.11, taken (train, reported only: +0.43 and +0.43, to 73.18 and 69.95). Seed 20, the first run of
    /// the preset as it stands (session 32): −0.22 cross-validated on val, +0.30 on train (71.22; last 70.92, so
    /// fifteen seeds of last weights about 71.13).
    /// </remarks>
    public static Stage1Config Cpu { get; } = new()
    {
        Preset = "cpu",
        Data = new DataSettings { Dataset = "msrc21-objects", Split = "train", CropSize = 224 },
        Backbone = new BackboneSettings { Kind = "resnet18-imagenet", OutputStride = 16, FrozenStages = 4, WarmupFrozenStages = 5 },
        Heads = new HeadSettings { HiddenChannels = 256, Dilation = 4, ClassifierInit = Models.ClassifierInit.Zero },
        CamScales = [1.0, 0.5, 1.5],
        Iterations = 3500,
        ClassifierWarmup = 2000,
        ClassifierWarmupLearningRate = 0.03,
        PulseWidth = new PulseWidthSettings { Period = 150, Tau = 5 },
        Inference = new TestTimeAugmentation { Scales = [0.75, 1.0, 1.25, 1.5], Flip = true },
        CheckpointEvery = 100,
        CheckpointSelection = new CheckpointSelectionSettings { From = 2200, Every = 100, Split = "val" },
        Device = "cpu",
        Deviations =
        [
            "backbone: ImageNet ResNet-18 (ONNX from Microsoft.ML.DnnImageFeaturizer.ResNet18) instead of ResNet-38d from res38_cls.pth",
            "output stride 16 instead of 8; heads 512→256→C with dilation 4 instead of 4096→512→21 with dilation 12 (same receptive-field ratio on a 14x14 map)",
            "only layer4 of the backbone trains (FrozenStages = 4), and only in the ASDT iterations (WarmupFrozenStages = 5: the warm-up trains the classifier on frozen features) instead of every conv layer: fine-tuning layer3–4 during the warm-up gave no better CAMs on MSRC val; after the warm-up, layer4 raised P̄ + CRF on MSRC val from 72.86 (frozen) to 74.04 with seed 1 (layer3–4: 73.21), but lowered it from 69.26 to 68.41 with seed 2 (val means 71.06 → 71.23; train means 69.98 → 70.98)",
            "crop 224 instead of 321 (MSRC images are 320x213)",
            "CAM scales 1, 0.5, 1.5 (no 2.0) to save forward time: the paper's 2.0 costs 1.58× per ASDT iteration and moved MSRC val P̄ + CRF by +1.43 / −0.85 (seeds 13, 17; 2026-12-06/07), not taken",
            "2,000 classifier-only warm-up iterations at lr 0.03 on their own poly schedule (A14; RRM train_from_init at 7e-4 left the CAMs at 27.6 mIoU on MSRC val, 0.01 gives 55.5 after 300 iterations and 58.1 after 2,000 (mean of 3 seeds), 0.03 59.1) because the classifier starts from ImageNet, not a VOC-trained res38_cls.pth",
            "the class-teacher's classifier starts from zeros instead of PSA/RRM's Xavier: face and body nearly always appear together in MSRC's image labels, and the random start, not the data, decided which CAM took the faces (CAMs on MSRC val over 3 seeds: mean 60.5 ± 1.5 against 59.1 ± 2.7)",
            "3,500 iterations instead of 20,000: the warm-up, then 1,500 ASDT iterations = ten PW periods of the paper's T = 150, τ = 5; about 25 minutes on 2 idle cores (about 7 for the warm-up, 0.71 s per ASDT iteration with layer4 training)",
            "the weights of the checkpoint (of iterations 2200, 2300, …, 3500) whose P̄ + CRF scores best on val instead of the last (CheckpointSelection; --keep-checkpoints-from 0 gives the last): the weakest classes (face, body, bird) swing between 100-iteration checkpoints; chosen on one half of val and scored on the other this gained +1.82 and +1.11 over the last weights for fresh seeds 18 and 19 (2026-12-07, rule committed first), and −0.22 for seed 20 (mean +0.90 over the three); train P̄ + CRF, reported only: +0.43, +0.43, +0.30; the choice costs one val pass per kept checkpoint, about 15 minutes at two threads",
            "PSMs and head scores from multi-scale + flip inference (scales 0.75, 1, 1.25, 1.5 × flip, P^st and P^s averaged before the max; ALGORITHM.md §7 optional) instead of single scale: +2.7 mIoU on MSRC val; --single-scale gives the paper's inference",
        ],
    };

    /// <summary>The built-in demo dataset in a few minutes: the README's main command.</summary>
    public static Stage1Config Quick { get; } = Cpu with
    {
        Preset = "quick",
        Data = new DataSettings { Dataset = "demo", Split = "train", CropSize = 96 },
        CamScales = [1.0, 0.5, 1.5],
        Iterations = 240,
        ClassifierWarmup = 40,
        // The quick preset keeps the warm-up of the 2026-11-29 cpu preset: the lr-0.03, zero-start warm-up was measured on MSRC only.
        ClassifierWarmupLearningRate = 0.01,
        Heads = Cpu.Heads with { ClassifierInit = Models.ClassifierInit.Xavier },
        // ... and its frozen backbone: fine-tuning layer4 after the warm-up was measured on MSRC only.
        Backbone = Cpu.Backbone with { FrozenStages = 5, WarmupFrozenStages = null },
        PulseWidth = new PulseWidthSettings { Period = 40, Tau = 5 },
        CheckpointEvery = 60,
        // The demo keeps its last weights: the selection was measured on MSRC only, and it would add a val pass per checkpoint.
        CheckpointSelection = null,
        Deviations =
        [
            .. Cpu.Deviations.Where(d => !d.StartsWith("crop") && !d.StartsWith("3,500") && !d.StartsWith("2,000") && !d.StartsWith("the class-teacher's classifier") && !d.StartsWith("only layer4") && !d.StartsWith("the weights of the checkpoint")),
            "backbone frozen (FrozenStages = 5): only the classifier and the two heads train",
            "demo dataset, crop 96",
            "40 classifier-only warm-up iterations at lr 0.01 on their own poly schedule",
            "240 iterations with T = 40 (τ = 5 → T_h = 8, T_l = 32): five PW periods after warm-up",
        ],
    };
}
