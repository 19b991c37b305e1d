using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace Asdt.Training;

/// <summary>
/// The class-teacher's online multi-scale CAM used to build B^ct during training (RRM SegNet,
/// ALGORITHM.md §3.3): the scale-1 CAM of the training forward pass plus no-grad CAMs at the other
/// scales, each resized bilinearly to the scale-1 CAM size and averaged, upsampled to the crop,
/// restricted to the image's classes and divided per class by its spatial maximum (+1e-5).
/// No flip at training time (A23). Values are constants: no gradient flows through them.
/// </summary>
public static class MultiScaleCam
{
    /// <param name="network">The network (its mode is left as is: RRM runs these passes in train mode).</param>
    /// <param name="input">(N, 3, H, W) normalised crops.</param>
    /// <param name="scaleOneFeatures">F of the training forward pass at scale 1.</param>
    /// <param name="labels">(N, C_fg) multi-hot image labels.</param>
    /// <returns>(N, C_fg, H, W) CAMs in [0, 1], zero for absent classes.</returns>
    public static Tensor Compute(AsdtNetwork network, Tensor input, Tensor scaleOneFeatures, Tensor labels, IReadOnlyList<double> scales)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long height = input.shape[2], width = input.shape[3];
        var baseCam = network.ClassTeacher.Cam(scaleOneFeatures.detach());
        long[] camSize = [baseCam.shape[2], baseCam.shape[3]];
        var sum = zeros_like(baseCam);
        int count = 0;
        foreach (double s in scales)
        {
            Tensor cam;
            if (s == 1.0) cam = baseCam;
            else
            {
                long[] size = [(long)(height * s), (long)(width * s)];
                var scaled = interpolate(input, size: size, mode: InterpolationMode.Bilinear, align_corners: false);
                cam = interpolate(network.CamAt(scaled), size: camSize, mode: InterpolationMode.Bilinear, align_corners: false);
            }
            sum.PlusInPlace(cam);
            count++;
        }
        if (count == 0) throw new ArgumentException("at least one CAM scale is required", nameof(scales));
        var average = sum.DividedBy(count);
        var full = interpolate(average, size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        full = full * labels.to(full.dtype).unsqueeze(-1).unsqueeze(-1);
        var max = full.amax(new long[] { 2, 3 }, keepdim: true);
        return (full / max.Plus(1e-5)).MoveToOuterDisposeScope();
    }
}
