using static TorchSharp.torch;

namespace Asdt.Models;

/// <summary>
/// Counts the floating-point operations of the convolutions that run on this thread while a counter is
/// open (2 · output elements · C_in/groups · k_h · k_w per convolution), and those their backward pass will
/// cost: the same count again for the weight gradient if the weight is trained, and again for the input
/// gradient if the input carries one (a frozen stem or a no-grad CAM pass costs nothing backward). Used by
/// the benchmarks to turn time into achieved GFLOP/s; costs one null check per convolution otherwise.
/// </summary>
public sealed class FlopCounter : IDisposable
{
    [ThreadStatic] static FlopCounter? current;
    readonly FlopCounter? previous;

    /// <summary>Forward FLOPs of the convolutions recorded.</summary>
    public double Flops { get; private set; }

    /// <summary>FLOPs the backward pass through the recorded convolutions costs (weight and input gradients).</summary>
    public double BackwardFlops { get; private set; }

    FlopCounter() { previous = current; current = this; }

    public static FlopCounter Start() => new();

    /// <summary>Records one convolution (weight [C_out, C_in/g, k_h, k_w]) of <paramref name="input"/> that produced <paramref name="output"/>.</summary>
    public static Tensor Conv(Tensor weight, Tensor input, Tensor output)
    {
        if (current is not { } c) return output;
        double flops = 2.0 * output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3];
        c.Flops += flops;
        if (output.requires_grad)
            c.BackwardFlops += flops * ((weight.requires_grad ? 1 : 0) + (input.requires_grad ? 1 : 0));
        return output;
    }

    public void Dispose() => current = previous;
}
