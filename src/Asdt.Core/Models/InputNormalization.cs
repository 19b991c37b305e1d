using static TorchSharp.torch;

namespace Asdt.Models;

public enum ChannelOrder { Rgb, Bgr }

/// <summary>
/// How a backbone wants its input. Given RGB pixel values in 0..255, the network input is
/// <c>(reorder(x)·Scale − Mean[c]) / Std[c]</c>, where <c>reorder</c> puts channels in <see cref="ChannelOrder"/>
/// and <see cref="Mean"/>/<see cref="Std"/> are listed in that (network) order.
/// <para>
/// An importer may also keep the exact <see cref="MeanImage"/> (3×H×W, network channel order) of the original
/// preprocessing; <see cref="ApplyExact"/> uses it for inputs of exactly that size (reference checks).
/// Training and inference on other sizes use the per-channel <see cref="Mean"/> (the mean image's spatial average).
/// </para>
/// </summary>
public sealed record InputNormalization(ChannelOrder ChannelOrder, float[] Mean, float[] Std, float Scale,
    float[]? MeanImage = null, int MeanImageHeight = 0, int MeanImageWidth = 0)
{
    /// <summary>torchvision / PSA / RRM convention (ALGORITHM.md §1.2): RGB, x/255, ImageNet mean and std.</summary>
    public static InputNormalization TorchvisionImageNet { get; } =
        new(ChannelOrder.Rgb, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], 1f / 255f);

    /// <summary>Normalises N×3×H×W RGB images (0..255) with the per-channel mean; any size.</summary>
    public Tensor Apply(Tensor rgb255)
    {
        CheckInput(rgb255);
        using var scope = NewDisposeScope();
        var x = Reorder(rgb255).Times(Scale);
        var mean = tensor(Mean, dtype: x.dtype, device: x.device).view(1, 3, 1, 1);
        var std = tensor(Std, dtype: x.dtype, device: x.device).view(1, 3, 1, 1);
        return ((x - mean) / std).MoveToOuterDisposeScope();
    }

    /// <summary>Normalises with the exact mean image; the input must have the mean image's size.</summary>
    public Tensor ApplyExact(Tensor rgb255)
    {
        CheckInput(rgb255);
        if (MeanImage is null) return Apply(rgb255);
        if (rgb255.shape[2] != MeanImageHeight || rgb255.shape[3] != MeanImageWidth)
            throw new ArgumentException($"the mean image is {MeanImageHeight}x{MeanImageWidth}, input is {rgb255.shape[2]}x{rgb255.shape[3]}");
        using var scope = NewDisposeScope();
        var x = Reorder(rgb255).Times(Scale);
        var mean = tensor(MeanImage, dtype: x.dtype, device: x.device).view(1, 3, MeanImageHeight, MeanImageWidth);
        var std = tensor(Std, dtype: x.dtype, device: x.device).view(1, 3, 1, 1);
        return ((x - mean) / std).MoveToOuterDisposeScope();
    }

    Tensor Reorder(Tensor rgb) => ChannelOrder == ChannelOrder.Bgr ? rgb.flip(1) : rgb.alias();

    static void CheckInput(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 3) throw new ArgumentException($"expected N×3×H×W images, got [{string.Join(", ", x.shape)}]");
    }
}
