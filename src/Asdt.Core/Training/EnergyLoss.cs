using Asdt.Models;
using Asdt.Crf;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace Asdt.Training;

/// <summary>How W·S is computed for the energy loss (ALGORITHM.md §5.3).</summary>
public enum EnergyKernel
{
    /// <summary>Permutohedral lattice (RRM/rloss; λ = 1e-7 was tuned against it).</summary>
    Lattice,
    /// <summary>Exact O(N²) Gaussian sum (small images and tests only, ≤ 6,000 points at the loss scale; use λ ≈ 0.6 × 1e-7, §5.4).</summary>
    Exact,
}

/// <summary>Settings of L_str (ALGORITHM.md §5.1, A9, A10).</summary>
public sealed record EnergyLossSettings
{
    /// <summary>λ, the loss weight (RRM 1e-7, in lattice units).</summary>
    public double Weight { get; init; } = 1e-7;
    /// <summary>Downscale factor s applied before the kernel (RRM rloss-scale 0.5).</summary>
    public double Scale { get; init; } = 0.5;
    /// <summary>σ_rgb of the bilateral kernel (RRM 15).</summary>
    public double SigmaRgb { get; init; } = 15;
    /// <summary>σ_xy at full resolution; multiplied by <see cref="Scale"/> (RRM 100 → 50).</summary>
    public double SigmaXy { get; init; } = 100;
    public EnergyKernel Kernel { get; init; } = EnergyKernel.Lattice;
}

/// <summary>
/// The energy loss L_str (paper eq. 3/5/6, RRM's gated dense-CRF relaxation, ALGORITHM.md §5):
/// L = λ · (−Σ_n Σ_k Σ_i S_k,i · G_i · (W S_k)_i) / N with S = P ⊙ ROI at half resolution, W the
/// bilateral Gaussian kernel on (x/σ_xy, y/σ_xy, rgb/σ_rgb), and the gate
/// G = max(ROI − max_k P_k, 0), set to 1 on ignored (255) pixels.
/// The gradient is RRM's: ∂L/∂S = λ·(−2/N)·ROI ⊙ G ⊙ (W S), with G treated as a constant. It is
/// obtained without custom autograd by the detached surrogate of §5.2: the returned tensor has the
/// value of L and the gradient of L_sur = λ·(−2/N)·Σ S ⊙ A, A = (G ⊙ W S).detach().
/// W·S runs on CPU float arrays (lattice or exact), in parallel over the images of the batch.
/// </summary>
public static class EnergyLoss
{
    /// <param name="probabilities">(N, C, H, W) softmax probabilities at crop resolution, with gradient.</param>
    /// <param name="cropRgb">Per image, the de-normalised crop, uint8 RGB interleaved H×W×3.</param>
    /// <param name="roi">(N, H, W) 1 where real pixels are, 0 on padding.</param>
    /// <param name="labels">(N, H, W) int64 labels with 255 = ignore (gate 1 there).</param>
    public static Tensor Compute(Tensor probabilities, IReadOnlyList<byte[]> cropRgb, Tensor roi, Tensor labels,
        EnergyLossSettings settings, int threads = 1)
    {
        using var scope = NewDisposeScope();
        long n = probabilities.shape[0], c = probabilities.shape[1], height = probabilities.shape[2], width = probabilities.shape[3];
        if (cropRgb.Count != n) throw new ArgumentException("one crop image per batch item is required", nameof(cropRgb));
        double s = settings.Scale;

        // Half resolution exactly as PyTorch's scale_factor sampling: bilinear for P, nearest for the rest.
        var p = s == 1 ? probabilities : interpolate(probabilities, scale_factor: new[] { s, s }, mode: InterpolationMode.Bilinear, align_corners: false);
        long h = p.shape[2], w = p.shape[3];
        var roiS = NearestDownscale(roi.to(ScalarType.Float32).unsqueeze(1), s).squeeze(1);   // (N,h,w)
        var labelS = NearestDownscale(labels.unsqueeze(1).to(ScalarType.Float32), s).squeeze(1);

        var sMasked = p * roiS.unsqueeze(1);                                                     // S = P ⊙ ROI
        var gate = (roiS - p.detach().amax(new long[] { 1 })).where(labelS.NotEqual(255), ones_like(roiS)).AtLeast(0); // G

        // W·S on CPU, per image.
        var sPointMajor = sMasked.detach().permute(0, 2, 3, 1).contiguous().to(ScalarType.Float32).cpu();
        float[] sData = sPointMajor.data<float>().ToArray();
        float[] wsData = new float[sData.Length];
        int pixels = (int)(h * w), channels = (int)c;
        Parallel.For(0, (int)n, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, b =>
        {
            var rgbSmall = NearestDownscaleRgb(cropRgb[b], (int)width, (int)height, (int)w, (int)h, s);
            var features = LatticeFeatures.Bilateral(rgbSmall, (int)w, (int)h, (float)(settings.SigmaXy * s), (float)settings.SigmaRgb);
            var values = new ReadOnlySpan<float>(sData, b * pixels * channels, pixels * channels);
            var result = new Span<float>(wsData, b * pixels * channels, pixels * channels);
            if (settings.Kernel == EnergyKernel.Lattice)
                PermutohedralLattice.Build(features, pixels, 5).Filter(values, result, channels);
            else
                ExactGaussianFilter.Build(features, pixels, 5).Filter(values, result, channels);
        });
        var ws = tensor(wsData).reshape(n, h, w, c).permute(0, 3, 1, 2).to(probabilities.device);

        var a = (gate.unsqueeze(1) * ws).detach();                                                // A = G ⊙ W S
        var sa = (sMasked * a).sum();
        var trueLoss = sa.Times(-settings.Weight / n);
        var surrogate = sa.Times(-2 * settings.Weight / n);
        // Value of L_str, gradient of the surrogate (RRM's symmetric gradient).
        var loss = trueLoss.detach().Plus(surrogate - surrogate.detach());
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>PyTorch legacy nearest with a scale factor: destination j samples source floor(j / s).</summary>
    static Tensor NearestDownscale(Tensor x, double s) =>
        s == 1 ? x : interpolate(x, scale_factor: new[] { s, s }, mode: InterpolationMode.Nearest);

    static byte[] NearestDownscaleRgb(byte[] rgb, int width, int height, int w, int h, double s)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException("crop RGB size does not match the probabilities");
        var small = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
        {
            int sy = Math.Min(height - 1, (int)Math.Floor(y / s));
            for (int x = 0; x < w; x++)
            {
                int sx = Math.Min(width - 1, (int)Math.Floor(x / s));
                int src = (sy * width + sx) * 3, dst = (y * w + x) * 3;
                small[dst] = rgb[src]; small[dst + 1] = rgb[src + 1]; small[dst + 2] = rgb[src + 2];
            }
        }
        return small;
    }
}
