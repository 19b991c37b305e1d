using Asdt.Data;
using Asdt.Models;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace Asdt.Psm;

/// <summary>P^st, P^s and P̄ of one whole image (ALGORITHM.md §7 steps 1–2), with optional test-time augmentation.</summary>
public static class HeadProbabilities
{
    /// <summary>Class-major [classes][H·W] probabilities of every requested source, concatenated source-major.</summary>
    public static float[] Compute(AsdtNetwork network, ImageNormalization normalization, RgbImage image,
        IReadOnlyList<PsmSource> sources, TestTimeAugmentation augmentation)
    {
        if (augmentation.Scales.Length == 0) throw new AsdtException("test-time augmentation needs at least one scale");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = network.parameters().First().device;
        var x = PseudoMaskGenerator.ImageTensor(image, normalization).to(device);
        long h = image.Height, w = image.Width;
        Tensor? st = null, s = null;
        int passes = 0;
        foreach (double scale in augmentation.Scales)
        {
            if (scale <= 0) throw new AsdtException($"test-time scale {scale} must be positive");
            long sh = Math.Max(1, (long)Math.Round(h * scale)), sw = Math.Max(1, (long)Math.Round(w * scale));
            var scaled = sh == h && sw == w ? x : interpolate(x, size: [sh, sw], mode: InterpolationMode.Bilinear, align_corners: false);
            // Flipped copy in the same batch: one forward pass per scale.
            var input = augmentation.Flip ? cat([scaled, scaled.flip(3)], 0) : scaled;
            using var outputs = network.forward(input);
            var pst = Probabilities(outputs.SegTeacherLogits, h, w, augmentation.Flip);
            var ps = Probabilities(outputs.StudentLogits, h, w, augmentation.Flip);
            st = st is null ? pst : st.PlusInPlace(pst);
            s = s is null ? ps : s.PlusInPlace(ps);
            passes += augmentation.Flip ? 2 : 1;
        }
        if (passes > 1)
        {
            st = st!.DividedBy(passes);
            s = s!.DividedBy(passes);
        }
        var parts = sources.Select(source => source switch
        {
            PsmSource.SegTeacher => st!,
            PsmSource.Student => s!,
            _ => maximum(st!, s!),
        }).ToArray();
        var all = parts.Length == 1 ? parts[0] : cat(parts, 0);
        return all.cpu().contiguous().data<float>().ToArray();
    }

    /// <summary>(C, H, W) softmax of a head's logits at the image size; with a flipped second item, the sum of both (the flip undone).</summary>
    static Tensor Probabilities(Tensor logits, long h, long w, bool flipped)
    {
        var p = interpolate(logits, size: [h, w], mode: InterpolationMode.Bilinear, align_corners: false).softmax(1);
        return flipped ? p[0].Plus(p[1].flip(2)) : p[0];
    }
}
