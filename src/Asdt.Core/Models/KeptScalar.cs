using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Models;

/// <summary>
/// Tensor–number operations whose <see cref="Scalar"/> stays alive until libtorch has read it.
/// TorchSharp 0.107's <c>Tensor.mul(Scalar)</c> (and the operators built on it) pass the Scalar's native handle
/// and keep no reference to the managed object, which has a finalizer: a temporary Scalar made by an implicit
/// <c>double → Scalar</c> conversion can be finalised by a GC started on another thread (the batch prefetch, the
/// CRF workers) while libtorch still reads it. Two stage-1 runs died that way ("Unknown scalar type" from
/// c10::Scalar in EnergyLoss, at iterations 330 and 619). TorchSharp also makes such a temporary inside
/// <c>a + b</c>, <c>a.add(b)</c> and <c>a.add_(b)</c> (alpha = 1) and in <c>SGD.step</c>: use <see cref="Plus(Tensor, Tensor)"/>,
/// <see cref="PlusInPlace"/> and <see cref="Training.KeptScalarSgd"/>. <c>ScalarLifetimeTests</c> scans our assemblies' IL
/// for any call that makes a temporary Scalar; <c>bench scalar-race</c> reproduces the crash.
/// </summary>
public static class KeptScalar
{
    /// <summary>The alpha of a plain sum, held by a static field so that it is never finalised.</summary>
    static readonly Scalar One = 1.ToScalar();

    /// <summary>Runs <paramref name="op"/> and disposes the Scalar only after it returned (the using keeps it reachable).</summary>
    static Tensor With(Scalar scalar, Func<Scalar, Tensor> op)
    {
        using (scalar) return op(scalar);
    }

    public static Tensor Times(this Tensor t, double value) => With(value.ToScalar(), t.mul);

    public static Tensor Plus(this Tensor t, double value) => With(value.ToScalar(), s => t.add(s));

    /// <summary>a + b (TorchSharp's <c>a + b</c> passes a temporary alpha Scalar).</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b in place; returns a.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    public static Tensor DividedBy(this Tensor t, double value) => With(value.ToScalar(), s => t.div(s));

    public static Tensor AtLeast(this Tensor t, double value) => With(value.ToScalar(), t.clamp_min);

    public static Tensor Power(this Tensor t, double value) => With(value.ToScalar(), t.pow);

    /// <summary>value − t.</summary>
    public static Tensor SubtractedFrom(this Tensor t, double value) => With(value.ToScalar(), s => t.neg().add(s));

    /// <summary>Elementwise t == value.</summary>
    public static Tensor Equal(this Tensor t, long value) => With(value.ToScalar(), t.eq);

    /// <summary>Elementwise t != value.</summary>
    public static Tensor NotEqual(this Tensor t, long value) => With(value.ToScalar(), t.ne);

    /// <summary>A 1-D tensor of <paramref name="size"/> elements, all <paramref name="value"/>.</summary>
    public static Tensor Full(long size, double value) => With(value.ToScalar(), s => full(size, s));

    public static Tensor MaskedFill(this Tensor t, Tensor mask, long value) => With(value.ToScalar(), s => t.masked_fill(mask, s));
}
