using Asdt.Crf;
using Asdt.Data;
using Asdt.Psm;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Stage2;

/// <summary>Class probabilities of one whole image, single-scale and MSC-fused, at the image's size.</summary>
public sealed record Stage2Prediction(float[] SingleScale, float[]? MultiScale, int Classes, int Width, int Height);

/// <summary>
/// Test-time stage 2 (ALGORITHM.md §9): the whole image (no resize), logits bilinearly resized to the image size,
/// softmax; single scale (the scale-1 output) and MSC (max of the scale outputs) from one pass; optional dense CRF; argmax.
/// </summary>
public static class Stage2Predictor
{
    /// <summary>Label-major [classes][H·W] probabilities. The MSC probabilities are computed when <paramref name="multiScale"/> and the network has more than one scale.</summary>
    public static Stage2Prediction Predict(MultiScaleNetwork network, ImageNormalization normalization, RgbImage image, bool multiScale = true)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var device = network.parameters().First().device;
        var x = PseudoMaskGenerator.ImageTensor(image, normalization).to(device);
        float[] Prob(Tensor logits) =>
            F.interpolate(logits, size: [image.Height, image.Width], mode: InterpolationMode.Bilinear, align_corners: false)
                .softmax(1).cpu().contiguous().data<float>().ToArray();
        if (!multiScale || network.Scales.Count == 1)
        {
            var single = network.Base.call(x);
            return new Stage2Prediction(Prob(single), null, network.Network.NumClasses, image.Width, image.Height);
        }
        var all = network.ForwardAll(x);
        return new Stage2Prediction(Prob(all[0]), Prob(all[^1]), network.Network.NumClasses, image.Width, image.Height);
    }

    /// <summary>Argmax of the probabilities, after the dense CRF when <paramref name="crf"/> is given.</summary>
    public static LabelMask Label(RgbImage image, float[] probabilities, int classes, CrfParameters? crf) =>
        PseudoMaskGenerator.Label(image, probabilities, classes, present: null, crf);
}
