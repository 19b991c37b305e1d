using static TorchSharp.torch;

namespace Asdt.Models;

/// <summary>
/// Counts the floating-point operations of the convolutions that run on this thread while a counter is
/// open (2 · output elements · C_in/groups · k_h · k_w per convolution). Used by the benchmarks to turn
/// time into achieved GFLOP/s; costs one null check per convolution otherwise.
/// </summary>
public sealed class FlopCounter : IDisposable
{
    [ThreadStatic] static FlopCounter? current;
    readonly FlopCounter? previous;

    public double Flops { get; private set; }

    FlopCounter() { previous = current; current = this; }

    public static FlopCounter Start() => new();

    /// <summary>Records one convolution (weight [C_out, C_in/g, k_h, k_w]) that produced <paramref name="output"/>.</summary>
    public static Tensor Conv(Tensor weight, Tensor output)
    {
        if (current is { } c) c.Flops += 2.0 * output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3];
        return output;
    }

    public void Dispose() => current = previous;
}
