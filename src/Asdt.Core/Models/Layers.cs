using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Models;

/// <summary>
/// How a convolution or pooling layer pads its input.
/// <list type="bullet">
/// <item><see cref="Symmetric"/>: PyTorch/torchvision style, <c>dilation·(k−1)/2</c> on every side,
/// independent of the input size.</item>
/// <item><see cref="SameLower"/> / <see cref="SameUpper"/>: ONNX <c>auto_pad</c> semantics, computed
/// for each input size: output = ceil(n / stride), total padding = max((out−1)·stride + dilation·(k−1) + 1 − n, 0);
/// an odd total puts the extra pixel at the beginning (Lower) or at the end (Upper). CNTK's ONNX export of
/// ResNet-18 uses fixed pads that equal SameLower at its 224×224 input (e.g. [3,3,2,2] for the 7×7/2 stem);
/// computing them per size lets the same network run on any input size with consistent residual shapes.
/// When the total is even (odd n at a stride-2 layer, every stride-1 layer) SameLower equals Symmetric; when it
/// is odd, SameLower's extra begin pixel makes its windows start where Symmetric's do and the smaller end pad is
/// never reached, so for odd kernels SameLower and Symmetric give identical outputs at every size (tested);
/// SameUpper shifts the windows by one pixel.</item>
/// </list>
/// </summary>
public enum PaddingMode { Symmetric, SameLower, SameUpper }

public static class Padding
{
    /// <summary>(begin, end) padding of one spatial dimension of size <paramref name="n"/>.</summary>
    public static (int Begin, int End) For(PaddingMode mode, long n, int kernel, int stride, int dilation)
    {
        int effective = dilation * (kernel - 1) + 1;
        if (mode == PaddingMode.Symmetric)
        {
            int p = dilation * (kernel - 1) / 2;
            return (p, p);
        }
        long outSize = (n + stride - 1) / stride;
        long total = Math.Max((outSize - 1) * stride + effective - n, 0);
        long small = total / 2, big = total - small;
        return mode == PaddingMode.SameLower ? ((int)big, (int)small) : ((int)small, (int)big);
    }

    /// <summary>
    /// Padding (begin, end) replaced by the symmetric (begin, begin) when that yields the same windows: PyTorch's
    /// floor-mode output count is unchanged, so the larger end pad is never read. This lets SAME_LOWER layers run
    /// without copying the input into a padded tensor (for odd kernels at stride 2 it is always the case).
    /// </summary>
    public static bool SymmetricEquivalent(long n, int begin, int end, int kernel, int stride, int dilation)
    {
        if (begin == end) return true;
        if (begin < end) return false;
        int eff = dilation * (kernel - 1) + 1;
        return (n + begin + end - eff) / stride == (n + 2 * begin - eff) / stride;
    }

    /// <summary>Output size of a layer along one dimension, the same formula PyTorch uses after padding.</summary>
    public static long OutputSize(PaddingMode mode, long n, int kernel, int stride, int dilation)
    {
        var (b, e) = For(mode, n, kernel, stride, dilation);
        return (n + b + e - (dilation * (kernel - 1) + 1)) / stride + 1;
    }
}

/// <summary>
/// A bias-free (by default) square 2-D convolution whose parameters are named exactly like
/// <c>torch.nn.Conv2d</c>'s (<c>weight</c>, optional <c>bias</c>) but whose padding follows a <see cref="PaddingMode"/>,
/// so asymmetric ONNX pads can be reproduced while state-dict keys stay torchvision's.
/// </summary>
public sealed class PaddedConv2d : nn.Module<Tensor, Tensor>
{
    // Field names are the state-dict keys.
    private readonly Parameter weight;
    private readonly Parameter? bias;

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Dilation { get; }
    public PaddingMode Mode { get; }

    public PaddedConv2d(string name, int inChannels, int outChannels, int kernelSize, int stride = 1, int dilation = 1,
        PaddingMode mode = PaddingMode.Symmetric, bool hasBias = false) : base(name)
    {
        InChannels = inChannels; OutChannels = outChannels; KernelSize = kernelSize;
        Stride = stride; Dilation = dilation; Mode = mode;
        weight = new Parameter(empty(outChannels, inChannels, kernelSize, kernelSize));
        // torchvision ResNet init: kaiming normal, fan_out, ReLU gain.
        nn.init.kaiming_normal_(weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        if (hasBias) bias = new Parameter(zeros(outChannels));
        RegisterComponents();
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;

    public override Tensor forward(Tensor x)
    {
        var (top, bottom) = Padding.For(Mode, x.shape[2], KernelSize, Stride, Dilation);
        var (left, right) = Padding.For(Mode, x.shape[3], KernelSize, Stride, Dilation);
        if (Padding.SymmetricEquivalent(x.shape[2], top, bottom, KernelSize, Stride, Dilation)
            && Padding.SymmetricEquivalent(x.shape[3], left, right, KernelSize, Stride, Dilation))
            return FlopCounter.Conv(weight, x, BlockAlignedConv.Forward(x, weight, bias, [Stride, Stride], [top, left], [Dilation, Dilation]));
        using var padded = F.pad(x, [left, right, top, bottom]);
        return FlopCounter.Conv(weight, padded, BlockAlignedConv.Forward(padded, weight, bias, [Stride, Stride], [0, 0], [Dilation, Dilation]));
    }

    public override string GetName() => $"PaddedConv2d({InChannels}->{OutChannels}, k{KernelSize}, s{Stride}, d{Dilation}, {Mode})";
}

/// <summary>Square max pooling with <see cref="PaddingMode"/> padding; padded cells are −∞ (never the maximum).</summary>
public sealed class PaddedMaxPool2d : nn.Module<Tensor, Tensor>
{
    public int KernelSize { get; }
    public int Stride { get; }
    public PaddingMode Mode { get; }

    public PaddedMaxPool2d(string name, int kernelSize, int stride, PaddingMode mode = PaddingMode.Symmetric) : base(name)
    {
        KernelSize = kernelSize; Stride = stride; Mode = mode;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var (top, bottom) = Padding.For(Mode, x.shape[2], KernelSize, Stride, 1);
        var (left, right) = Padding.For(Mode, x.shape[3], KernelSize, Stride, 1);
        if (Padding.SymmetricEquivalent(x.shape[2], top, bottom, KernelSize, Stride, 1)
            && Padding.SymmetricEquivalent(x.shape[3], left, right, KernelSize, Stride, 1) && 2 * top <= KernelSize && 2 * left <= KernelSize)
            return F.max_pool2d(x, [KernelSize, KernelSize], [Stride, Stride], [top, left]);
        using var padded = F.pad(x, [left, right, top, bottom], PaddingModes.Constant, double.NegativeInfinity);
        return F.max_pool2d(padded, [KernelSize, KernelSize], [Stride, Stride]);
    }
}

/// <summary>Common surface of the backbones: the trainer and heads only need these.</summary>
public interface IBackbone
{
    /// <summary>Channels of the feature map returned by forward.</summary>
    int OutChannels { get; }
    /// <summary>Input size / feature size (for inputs that are multiples of it; otherwise ceil(n / OutputStride)).</summary>
    int OutputStride { get; }
    bool FrozenBatchNorm { get; }
    /// <summary>Parameters an optimiser should update (excludes frozen BatchNorm affine parameters).</summary>
    IEnumerable<Parameter> TrainableParameters();
}

/// <summary>Frozen BatchNorm: running statistics used (eval mode) even in training, affine parameters not trained.</summary>
public static class FrozenBatchNorm
{
    /// <summary>Puts every BatchNorm under <paramref name="root"/> in eval mode and turns off gradients of its parameters.</summary>
    public static void Apply(nn.Module root)
    {
        foreach (var m in root.modules())
        {
            if (m is BatchNorm2d bn)
            {
                bn.eval();
                foreach (var p in bn.parameters()) p.requires_grad = false;
            }
        }
    }

    public static IEnumerable<BatchNorm2d> BatchNorms(nn.Module root) => root.modules().OfType<BatchNorm2d>();
}
