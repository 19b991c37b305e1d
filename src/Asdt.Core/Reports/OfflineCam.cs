using Asdt.Data;
using Asdt.Models;
using Asdt.Psm;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace Asdt.Reports;

/// <summary>
/// CAMs of a whole image for evaluation and pictures.
/// <see cref="Psa"/>: the PSA offline convention (ALGORITHM.md §3.4): eval mode, every scale × {image,
/// horizontal flip}, input resized bicubically (here: the normalised tensor, not the 8-bit image), each
/// CAM upsampled bilinearly to the image size (flipped ones flipped back), summed, multiplied by the
/// image labels, divided per class by its maximum + 1e-5.
/// <see cref="Training"/>: the training-time convention (§3.3, no flip, scales averaged at the scale-1
/// feature size) on the full image, what B^ct is made from.
/// Both return class-major [foregroundClasses][H·W] floats in [0, 1]; absent classes are 0.
/// </summary>
public static class OfflineCam
{
    public static double[] PsaScales { get; } = [1.0, 0.5, 1.5, 2.0];

    public static float[] Psa(AsdtNetwork network, ImageNormalization normalization, RgbImage image, bool[] labels,
        IReadOnlyList<double> scales, bool flip = true)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = network.parameters().First().device;
        var x = PseudoMaskGenerator.ImageTensor(image, normalization).to(device);
        long h = image.Height, w = image.Width;
        Tensor? sum = null;
        foreach (double s in scales)
        {
            long sh = Math.Max(1, (long)Math.Round(h * s)), sw = Math.Max(1, (long)Math.Round(w * s));
            var scaled = s == 1.0 ? x : interpolate(x, size: [sh, sw], mode: InterpolationMode.Bicubic, align_corners: false);
            var input = flip ? cat([scaled, scaled.flip(3)], 0) : scaled;
            var cam = interpolate(network.CamAt(input), size: [h, w], mode: InterpolationMode.Bilinear, align_corners: false);
            var total = flip ? cam[0].Plus(cam[1].flip(2)) : cam[0];
            sum = sum is null ? total : sum.Plus(total);
        }
        if (sum is null) throw new ArgumentException("at least one CAM scale is required", nameof(scales));
        return Normalise(sum, labels);
    }

    public static float[] Training(AsdtNetwork network, ImageNormalization normalization, RgbImage image, bool[] labels, IReadOnlyList<double> scales)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = network.parameters().First().device;
        var x = PseudoMaskGenerator.ImageTensor(image, normalization).to(device);
        var features = network.Backbone.forward(x);
        var multiHot = tensor(labels.Select(b => b ? 1f : 0f).ToArray()).reshape(1, labels.Length).to(device);
        var cams = Asdt.Training.MultiScaleCam.Compute(network, x, features, multiHot, scales);
        return cams.cpu().contiguous().data<float>().ToArray();
    }

    static float[] Normalise(Tensor sum, bool[] labels)
    {
        var mask = tensor(labels.Select(b => b ? 1f : 0f).ToArray()).to(sum.device).reshape(-1, 1, 1);
        var masked = sum * mask;
        var max = masked.amax(new long[] { 1, 2 }, keepdim: true);
        return (masked / max.Plus(1e-5)).cpu().contiguous().data<float>().ToArray();
    }
}
