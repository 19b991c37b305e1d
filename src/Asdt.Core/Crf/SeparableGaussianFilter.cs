using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Asdt.Crf;

/// <summary>
/// The dense CRF's position (Gaussian) kernel on a pixel grid, computed exactly with two 1-D convolutions:
/// result_i = Σ_j exp(−‖p_i − p_j‖² / (2 sxy²)) v_j over all pixels j of the image (self term included,
/// pixels outside the image simply absent), using exp(−(dx² + dy²)/2σ²) = exp(−dx²/2σ²) · exp(−dy²/2σ²).
/// <para>What is exact and what is not: the kernel is the true Gaussian (no lattice, no resampling, no
/// normalisation), the borders are the finite image's. The only approximation is the truncation of the 1-D
/// taps at <see cref="Radius"/>, the smallest r whose dropped tail mass 2·Σ_{k&gt;r} exp(−k²/2σ²) is below
/// 2^−24 (float epsilon / 2) of the full 1-D sum: r ≈ 5.3σ, always ≥ 4σ for σ ≥ 1 (σ = 3 → r = 16, 33 taps;
/// σ = 1 → r = 5). The
/// dropped 2-D mass is then below 1.2e-7 of the kernel sum, i.e. below float rounding; everything else is
/// float32 arithmetic: against double-accumulated brute-force sums on real crops the relative L2 error is
/// about 1e-7 and the largest elementwise relative error below 1e-5 (SeparableGaussianFilterTests).</para>
/// <para>Cost: 2·(2r+1) multiply-adds per pixel and channel, O(N·σ) instead of the lattice's O(N) — fine for
/// the presets' sxy of 1–3 pixels, slow for very large sxy (use <see cref="PositionKernel.Lattice"/> there).</para>
/// <para>Values are point-major <c>[n][channels]</c>, pixel i = y·width + x, as for
/// <see cref="PermutohedralLattice"/>. The class holds no mutable state: concurrent calls are safe.</para>
/// </summary>
public sealed class SeparableGaussianFilter
{
    readonly float[] _taps;   // _taps[r + k] = exp(−k²/2σ²), k = −r..r

    public int Width { get; }
    public int Height { get; }
    public float Sxy { get; }
    /// <summary>Truncation radius in pixels (see the class remarks).</summary>
    public int Radius { get; }
    /// <summary>The 1-D taps exp(−k²/2σ²) for k = −Radius..Radius (centre tap 1: the self term).</summary>
    public ReadOnlySpan<float> Taps => _taps;

    public SeparableGaussianFilter(int width, int height, float sxy)
    {
        if (width <= 0 || height <= 0 || (long)width * height > int.MaxValue / 64)
            throw new ArgumentOutOfRangeException(nameof(width), $"bad image size {width}x{height}");
        if (!(sxy > 0) || !float.IsFinite(sxy)) throw new ArgumentOutOfRangeException(nameof(sxy), "sxy must be positive and finite");
        Width = width; Height = height; Sxy = sxy;
        // Taps beyond the image never contribute: no need for more than max(width, height) − 1.
        Radius = Math.Min(RadiusFor(sxy), Math.Max(width, height) - 1);
        _taps = new float[2 * Radius + 1];
        for (int k = -Radius; k <= Radius; k++) _taps[Radius + k] = (float)Math.Exp(-0.5 * k * k / ((double)sxy * sxy));
    }

    /// <summary>The smallest r with 2·Σ_{k&gt;r} exp(−k²/2σ²) ≤ 2^−24 · Σ_k exp(−k²/2σ²) (computed in double).</summary>
    public static int RadiusFor(float sxy)
    {
        double s2 = 2.0 * sxy * sxy;
        int far = (int)Math.Ceiling(12.0 * sxy) + 2;    // exp(−72) is far below the tolerance
        double total = 1;
        for (int k = 1; k <= far; k++) total += 2 * Math.Exp(-k * (double)k / s2);
        double tail = total - 1, tolerance = total * Math.Pow(2, -24);
        int r = 0;
        while (tail > tolerance && r < far)
        {
            r++;
            tail -= 2 * Math.Exp(-r * (double)r / s2);
        }
        return r;
    }

    /// <summary>
    /// result_i = Σ_j exp(−‖p_i − p_j‖²/2σ²) v_j (self included), point-major <c>[n][channels]</c>; result may
    /// not overlap values. Convenience entry: allocates two scratch buffers per call (the mean field in
    /// <see cref="DenseCrf2D"/> uses the allocation-free passes directly).
    /// </summary>
    public void Filter(ReadOnlySpan<float> values, Span<float> result, int channels, int threads = 1)
    {
        int n = Width * Height;
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels));
        if (values.Length < (long)n * channels) throw new ArgumentException($"values has {values.Length} floats, need {n}x{channels}", nameof(values));
        if (result.Length < (long)n * channels) throw new ArgumentException($"result has {result.Length} floats, need {n}x{channels}", nameof(result));
        int stride = PermutohedralLattice.StrideFor(channels);
        var padded = new float[(long)n * stride];
        var tmp = new float[(long)n * stride];
        for (int i = 0; i < n; i++) values.Slice(i * channels, channels).CopyTo(padded.AsSpan(i * stride, channels));
        unsafe
        {
            fixed (float* pp = padded)
            fixed (float* tp = tmp)
            {
                Vertical((IntPtr)pp, stride, IntPtr.Zero, (IntPtr)tp, threads);
                Horizontal((IntPtr)tp, stride, (IntPtr)pp, threads);   // the input copy is free again: reuse it
            }
        }
        for (int i = 0; i < n; i++) padded.AsSpan(i * stride, channels).CopyTo(result.Slice(i * channels, channels));
    }

    /// <summary>
    /// Vertical pass, parallel over pixel ranges: dst_i = Σ_{k} t_k · s_j · src_j with j the pixel k rows below i
    /// (inside the image), s = <paramref name="pointScale"/> (null pointer: 1). Rows of <paramref name="stride"/>
    /// floats (4, or a multiple of 8); all stride lanes are filtered. src and dst must not overlap.
    /// </summary>
    internal unsafe void Vertical(IntPtr src, int stride, IntPtr pointScale, IntPtr dst, int threads)
    {
        CheckStride(stride);
        PermutohedralLattice.ForRanges(Width * Height, threads, (lo, hi) => VerticalRange((float*)src, stride, (float*)pointScale, (float*)dst, lo, hi));
    }

    /// <summary>Horizontal pass, parallel over pixel ranges: dst_i = Σ_k t_k · src_{i+k} (same row). No overlap.</summary>
    internal unsafe void Horizontal(IntPtr src, int stride, IntPtr dst, int threads)
    {
        CheckStride(stride);
        PermutohedralLattice.ForRanges(Width * Height, threads, (lo, hi) =>
        {
            fixed (float* taps = _taps)
            {
                float* t0 = taps + Radius;
                float* s = (float*)src, d = (float*)dst;
                int x = lo % Width;
                for (int i = lo; i < hi; i++)
                {
                    int k0 = Math.Max(-Radius, -x), k1 = Math.Min(Radius, Width - 1 - x);
                    long o = (long)i * stride;
                    if (stride == 4) Vector128.Store(Row4(s + o, t0, k0, k1), d + o);
                    else TapSum(s + o, stride, t0, null, 0, k0, k1, d + o, stride, 1f, accumulate: false);
                    if (++x == Width) x = 0;
                }
            }
        });
    }

    unsafe void VerticalRange(float* src, int stride, float* scale, float* dst, int lo, int hi)
    {
        int w = Width, h = Height, r = Radius;
        long step = (long)w * stride;
        fixed (float* taps = _taps)
        {
            float* t0 = taps + r;
            int y = lo / w, x = lo - y * w;
            for (int i = lo; i < hi; i++)
            {
                int k0 = Math.Max(-r, -y), k1 = Math.Min(r, h - 1 - y);
                float* s = src + (long)i * stride, d = dst + (long)i * stride;
                float* sc = scale == null ? null : scale + i;
                if (stride == 4)
                {
                    var acc = Vector128<float>.Zero;
                    for (int k = k0; k <= k1; k++)
                        acc = Vector128.FusedMultiplyAdd(Vector128.Load(s + k * step), Vector128.Create(sc == null ? t0[k] : t0[k] * sc[(long)k * w]), acc);
                    Vector128.Store(acc, d);
                }
                else TapSum(s, step, t0, sc, w, k0, k1, d, stride, 1f, accumulate: false);
                if (++x == w) { x = 0; y++; }
            }
        }
    }

    /// <summary>
    /// For the <paramref name="width"/> lanes (a multiple of 8) at p: Σ_{k=k0..k1} t0[k] · (scale?[k·scaleStep] ?? 1) ·
    /// p[k·step ..]; written to d (or, with <paramref name="accumulate"/>, d += outScale · Σ). Groups of four
    /// 256-bit accumulators share each tap's broadcast.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void TapSum(float* p, long step, float* t0, float* scale, long scaleStep, int k0, int k1, float* d, int width, float outScale, bool accumulate)
    {
        for (int c = 0; c < width; c += 32)
        {
            int nv = Math.Min(4, (width - c) >> 3);
            float* q = p + c;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int k = k0; k <= k1; k++)
            {
                var wv = Vector256.Create(scale == null ? t0[k] : t0[k] * scale[k * scaleStep]);
                float* row = q + k * step;
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(row), wv, a0);
                if (nv > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 8), wv, a1);
                if (nv > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 16), wv, a2);
                if (nv > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Load(row + 24), wv, a3);
            }
            float* o = d + c;
            if (accumulate)
            {
                var f = Vector256.Create(outScale);
                Vector256.Store(Vector256.FusedMultiplyAdd(a0, f, Vector256.Load(o)), o);
                if (nv > 1) Vector256.Store(Vector256.FusedMultiplyAdd(a1, f, Vector256.Load(o + 8)), o + 8);
                if (nv > 2) Vector256.Store(Vector256.FusedMultiplyAdd(a2, f, Vector256.Load(o + 16)), o + 16);
                if (nv > 3) Vector256.Store(Vector256.FusedMultiplyAdd(a3, f, Vector256.Load(o + 24)), o + 24);
            }
            else
            {
                Vector256.Store(a0, o);
                if (nv > 1) Vector256.Store(a1, o + 8);
                if (nv > 2) Vector256.Store(a2, o + 16);
                if (nv > 3) Vector256.Store(a3, o + 24);
            }
        }
    }

    /// <summary>Σ_{k=k0..k1} t0[k] · p[4k ..4k+4] (a row of 4-lane points).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector128<float> Row4(float* p, float* t0, int k0, int k1)
    {
        var acc = Vector128<float>.Zero;
        for (int k = k0; k <= k1; k++) acc = Vector128.FusedMultiplyAdd(Vector128.Load(p + 4 * k), Vector128.Create(t0[k]), acc);
        return acc;
    }

    internal float[] TapArray => _taps;

    static void CheckStride(int stride)
    {
        if (stride != 4 && (stride <= 0 || stride % 8 != 0)) throw new ArgumentOutOfRangeException(nameof(stride), "stride must be 4 or a multiple of 8");
    }
}
