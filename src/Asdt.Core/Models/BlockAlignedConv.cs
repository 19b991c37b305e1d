using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Models;

/// <summary>
/// 2-D convolution on CPU with the channel counts oneDNN sums over padded with zeros to whole blocks of 16.
/// <para>Why: libtorch 2.10's oneDNN 3.7.1 (AVX-512 kernels) stores activations in blocks of 16 channels and does not
/// zero the block's unused channels. The forward pass sums over the input channels, the backward pass to the input
/// (backward-data) over the output channels; when that count is not a multiple of 16 (and, for the forward pass,
/// more than 16 on this host), whatever the memory last held takes part. Leftover numbers made input gradients wrong
/// by 27–58 % in <c>bench conv-padding</c>; a NaN or ∞ left there turns whole channels of the result into NaN. In
/// training this showed up as a rare, timing-dependent "loss became NaN" (the seg-teacher's 256→C conv, C = 6);
/// docs/robustness.md has the measurements.</para>
/// <para>What this does: input channels (forward) and output channels (when the input needs a gradient) are padded
/// with zero channels and zero weights to a multiple of <see cref="Block"/>, and the extra output channels are cut off
/// again. The zeros are real memory, so nothing uninitialised is read. Where no padding is needed (aligned channel
/// counts, inference with aligned inputs, other devices) it is exactly <c>conv2d</c>.</para>
/// </summary>
public static class BlockAlignedConv
{
    /// <summary>oneDNN's channel block on AVX-512 (a multiple of the AVX2 block of 8).</summary>
    public const long Block = 16;

    /// <summary>Inputs of up to this many channels are left alone: oneDNN takes them in plain layout (bench conv-padding
    /// inputs, NaN-filled memory: 3–16 channels never read padding on AVX-512, 3–8 on AVX2 where 9–15 did). Only the RGB
    /// stems are this narrow.</summary>
    public const long PlainInputChannels = 8;

    /// <summary><paramref name="conv"/>'s forward pass (zero padding mode, one group), block-aligned.</summary>
    public static Tensor Forward(Conv2d conv, Tensor x)
    {
        if (conv.groups != 1 || conv.padding_type is not null || conv.padding is not long[] padding || conv.padding_mode != PaddingModes.Zeros || conv.transposed)
            return conv.forward(x);
        return Forward(x, conv.weight!, conv.bias, conv.stride, padding, conv.dilation);
    }

    /// <summary>Whether the forward pass pads the input channels (more than <see cref="PlainInputChannels"/>, not a multiple of 16).</summary>
    public static bool PadsInput(long inChannels) => inChannels > PlainInputChannels && inChannels % Block != 0;

    /// <summary>Whether the output channels are padded: not a multiple of 16 and a gradient will flow back to the input.</summary>
    public static bool PadsOutput(long outChannels, bool inputNeedsGradient) => outChannels % Block != 0 && inputNeedsGradient;

    /// <summary><c>conv2d(x, weight, bias, stride, padding, dilation)</c>, block-aligned on CPU.</summary>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias, long[] stride, long[] padding, long[] dilation)
    {
        long outChannels = weight.shape[0], inChannels = weight.shape[1];
        bool cpu = x.device_type == DeviceType.CPU;
        bool padIn = cpu && PadsInput(inChannels);
        bool padOut = cpu && PadsOutput(outChannels, x.requires_grad && is_grad_enabled());
        if (!padIn && !padOut) return F.conv2d(x, weight, bias, stride, padding, dilation);

        using var scope = NewDisposeScope();
        Tensor input = x, w = weight;
        Tensor? b = bias;
        long kh = weight.shape[2], kw = weight.shape[3];
        if (padIn)
        {
            long extra = RoundUp(inChannels) - inChannels;
            input = cat([x, zeros(x.shape[0], extra, x.shape[2], x.shape[3], x.dtype, x.device)], 1);
            w = cat([w, zeros(outChannels, extra, kh, kw, w.dtype, w.device)], 1);
        }
        if (padOut)
        {
            long extra = RoundUp(outChannels) - outChannels;
            w = cat([w, zeros(extra, w.shape[1], kh, kw, w.dtype, w.device)], 0);
            if (b is not null) b = cat([b, zeros(extra, b.dtype, b.device)], 0);
        }
        var y = F.conv2d(input, w, b, stride, padding, dilation);
        if (padOut) y = y.narrow(1, 0, outChannels).contiguous();
        return y.MoveToOuterDisposeScope();
    }

    static long RoundUp(long channels) => (channels + Block - 1) / Block * Block;
}
