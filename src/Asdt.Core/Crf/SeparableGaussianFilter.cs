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
/// σ = 1 → r = 5). The dropped 2-D mass is then below 1.2e-7 of the kernel sum, i.e. below float rounding;
/// everything else is float32 arithmetic: against double-accumulated brute-force sums on real crops the relative L2 error is
/// about 1e-7 and the largest elementwise relative error below 1e-5 (SeparableGaussianFilterTests).</para>
/// <para>Cost: per pixel and channel 2·(2r+1) taps (symmetric taps paired: about 2r adds and 2r multiply-adds),
/// O(N·σ) instead of the lattice's O(N) — fine for the presets' sxy of 1–3 pixels, slow for very large sxy
/// (use <see cref="PositionKernel.Lattice"/> there).</para>
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
    /// not overlap values. Convenience entry: allocates a padded copy and scratch per call (the mean field in
    /// <see cref="DenseCrf2D"/> uses the allocation-free in-place passes directly).
    /// </summary>
    public void Filter(ReadOnlySpan<float> values, Span<float> result, int channels, int threads = 1)
    {
        int n = Width * Height;
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels));
        if (values.Length < (long)n * channels) throw new ArgumentException($"values has {values.Length} floats, need {n}x{channels}", nameof(values));
        if (result.Length < (long)n * channels) throw new ArgumentException($"result has {result.Length} floats, need {n}x{channels}", nameof(result));
        threads = Math.Max(1, threads);
        int stride = PermutohedralLattice.StrideFor(channels);
        var data = new float[(long)n * stride];
        for (int i = 0; i < n; i++) values.Slice(i * channels, channels).CopyTo(data.AsSpan(i * stride, channels));
        var scratch = new float[threads][];
        for (int t = 0; t < threads; t++) scratch[t] = new float[ScratchFloats(stride)];
        unsafe
        {
            fixed (float* d = data)
            {
                VerticalInPlace((IntPtr)d, stride, IntPtr.Zero, scratch, threads);
                HorizontalInPlace((IntPtr)d, stride, scratch, threads);
            }
        }
        for (int i = 0; i < n; i++) data.AsSpan(i * stride, channels).CopyTo(result.Slice(i * channels, channels));
    }

    /// <summary>Floats per row piece of a column tile in the vertical pass (768 bytes): the 2r+1 pieces a tile
    /// reads at once stay in L1 for r ≤ 20 and each piece is loaded from memory once per pass.</summary>
    internal const int TileFloats = 192;

    /// <summary>Pixels per column tile for a channel stride.</summary>
    int TilePixels(int stride) => Math.Clamp(TileFloats / stride, 1, Width);

    /// <summary>Floats of per-thread scratch the in-place passes need for a channel stride: the vertical pass's
    /// ring of the last r original row pieces plus one output piece, or the horizontal pass's row copy (and, for
    /// 4-lane rows, the filtered row).</summary>
    internal int ScratchFloats(int stride) => Math.Max((Radius + 1) * TilePixels(stride), 2 * Width) * stride;

    /// <summary>
    /// Vertical pass in place: data_i ← Σ_k t_k · s_j · data_j, j the pixel k rows below i (inside the image), s =
    /// <paramref name="pointScale"/> (null pointer: 1). Rows of <paramref name="stride"/> floats (4 or a multiple of
    /// 8; all lanes filtered). Parallel over column tiles; each tile walks down the image keeping the original
    /// values of the last r rows in a ring (scratch[part], <see cref="ScratchFloats"/> each).
    /// </summary>
    internal unsafe void VerticalInPlace(IntPtr data, int stride, IntPtr pointScale, float[][] scratch, int threads)
    {
        CheckStride(stride);
        int tp = TilePixels(stride), tiles = (Width + tp - 1) / tp;
        PermutohedralLattice.ForRanges(tiles, Math.Min(threads, scratch.Length), 1, (part, lo, hi) =>
        {
            for (int t = lo; t < hi; t++) VerticalTile((float*)data, stride, (float*)pointScale, scratch[part], t, tp);
        });
    }

    // AggressiveOptimization on the hot loops: compiled fully optimised at their first call, so one image (`asdt crf`)
    // does not run the JIT's quick first code; 16–32 % faster first image, steady state within 3 % (docs/benchmarks.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void VerticalTile(float* data, int stride, float* scale, float[] scratch, int tile, int tilePixels)
    {
        int w = Width, h = Height, r = Radius;
        int x0 = tile * tilePixels, tw = Math.Min(tilePixels, w - x0);
        int piece = tilePixels * stride;                        // floats per ring slot
        int pieceLen = tw * stride;                             // floats of this tile's row piece
        // at[k]: the row piece k rows from the current one (on the stack unless the radius is huge).
        nint[]? heap = r > 512 ? new nint[2 * r + 1] : null;
        float** stack = stackalloc float*[heap == null ? 2 * r + 1 : 1];
        fixed (nint* hp = heap)
        fixed (float* taps = _taps)
        fixed (float* ring = scratch)
        {
            float** at = (heap == null ? stack : (float**)hp) + r;
            float* t0 = taps + r;
            float* outPiece = ring + (long)r * piece;
            // The point scale is applied in place as a row piece enters the window (rows 0..r first, then row y + r
            // at row y), so the sums below have constant taps; the ring keeps the scaled originals.
            if (scale != null)
                for (int y = 0; y <= Math.Min(r, h - 1); y++) ScalePiece(data + ((long)y * w + x0) * stride, scale + (long)y * w + x0, tw, stride);
            for (int y = 0; y < h; y++)
            {
                if (scale != null && y > 0 && y + r < h)
                    ScalePiece(data + ((long)(y + r) * w + x0) * stride, scale + (long)(y + r) * w + x0, tw, stride);
                int k0 = Math.Max(-r, -y), k1 = Math.Min(r, h - 1 - y);
                for (int k = k0; k < 0; k++) at[k] = ring + (long)((y + k) % r) * piece;   // already overwritten: originals
                for (int k = 0; k <= k1; k++) at[k] = data + ((long)(y + k) * w + x0) * stride;
                FlatSum(at, t0, k0, k1, outPiece, pieceLen);
                float* cur = data + ((long)y * w + x0) * stride;
                if (r > 0) Buffer.MemoryCopy(cur, ring + (long)(y % r) * piece, pieceLen * 4L, pieceLen * 4L);
                Buffer.MemoryCopy(outPiece, cur, pieceLen * 4L, pieceLen * 4L);
            }
        }
    }

    static unsafe void ScalePiece(float* p, float* scale, int pixels, int stride)
    {
        for (int px = 0; px < pixels; px++, p += stride)
        {
            if (stride == 4) { Vector128.Store(Vector128.Load(p) * scale[px], p); continue; }
            var s = Vector256.Create(scale[px]);
            for (int c = 0; c < stride; c += 8) Vector256.Store(Vector256.Load(p + c) * s, p + c);
        }
    }

    /// <summary>d[0..len) = Σ_{k=k0..k1} t0[k] · at[k][0..len) (len a multiple of 4), in groups of four 256-bit
    /// vectors; where the window is whole (k0 = −k1) symmetric taps are paired: t_k · (at[−k] + at[k]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void FlatSum(float** at, float* t0, int k0, int k1, float* d, int len)
    {
        int c = 0;
        bool sym = k0 == -k1;
        for (; c + 32 <= len; c += 32)
        {
            Vector256<float> a0, a1, a2, a3;
            if (sym)
            {
                var w0 = Vector256.Create(t0[0]);
                float* m = at[0] + c;
                a0 = Vector256.Load(m) * w0; a1 = Vector256.Load(m + 8) * w0; a2 = Vector256.Load(m + 16) * w0; a3 = Vector256.Load(m + 24) * w0;
                for (int k = 1; k <= k1; k++)
                {
                    var wk = Vector256.Create(t0[k]);
                    float* lo = at[-k] + c, hi = at[k] + c;
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(lo) + Vector256.Load(hi), wk, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 8) + Vector256.Load(hi + 8), wk, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 16) + Vector256.Load(hi + 16), wk, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 24) + Vector256.Load(hi + 24), wk, a3);
                }
            }
            else
            {
                a0 = a1 = a2 = a3 = Vector256<float>.Zero;
                for (int k = k0; k <= k1; k++)
                {
                    var wk = Vector256.Create(t0[k]);
                    float* m = at[k] + c;
                    a0 = Vector256.FusedMultiplyAdd(Vector256.Load(m), wk, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.Load(m + 8), wk, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.Load(m + 16), wk, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.Load(m + 24), wk, a3);
                }
            }
            Vector256.Store(a0, d + c); Vector256.Store(a1, d + c + 8); Vector256.Store(a2, d + c + 16); Vector256.Store(a3, d + c + 24);
        }
        for (; c + 8 <= len; c += 8)
        {
            var a = Vector256<float>.Zero;
            for (int k = k0; k <= k1; k++) a = Vector256.FusedMultiplyAdd(Vector256.Load(at[k] + c), Vector256.Create(t0[k]), a);
            Vector256.Store(a, d + c);
        }
        if (c < len)
        {
            var a = Vector128<float>.Zero;
            for (int k = k0; k <= k1; k++) a = Vector128.FusedMultiplyAdd(Vector128.Load(at[k] + c), Vector128.Create(t0[k]), a);
            Vector128.Store(a, d + c);
        }
    }

    /// <summary>
    /// One row of 4-lane points: dst[x] = Σ_k t0[k] · src[x + k] (inside the row). Interior pixels go in pairs,
    /// one 256-bit vector holding two neighbouring points, with symmetric taps paired.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Row4(float* src, float* dst, int w, float* t0, int r)
    {
        int x = 0;
        for (; x < w && x < r; x++) Vector128.Store(Row4At(src + 4L * x, t0, -x, Math.Min(r, w - 1 - x)), dst + 4L * x);
        for (; x + 1 + r <= w - 1; x += 2)
        {
            float* m = src + 4L * x;
            var a = Vector256.Load(m) * Vector256.Create(t0[0]);
            var b = Vector256<float>.Zero;
            int k = 1;
            for (; k + 1 <= r; k += 2)
            {
                a = Vector256.FusedMultiplyAdd(Vector256.Load(m - 4 * k) + Vector256.Load(m + 4 * k), Vector256.Create(t0[k]), a);
                b = Vector256.FusedMultiplyAdd(Vector256.Load(m - 4 * (k + 1)) + Vector256.Load(m + 4 * (k + 1)), Vector256.Create(t0[k + 1]), b);
            }
            if (k <= r) a = Vector256.FusedMultiplyAdd(Vector256.Load(m - 4 * k) + Vector256.Load(m + 4 * k), Vector256.Create(t0[k]), a);
            Vector256.Store(a + b, dst + 4L * x);
        }
        for (; x < w; x++) Vector128.Store(Row4At(src + 4L * x, t0, Math.Max(-r, -x), Math.Min(r, w - 1 - x)), dst + 4L * x);
    }

    /// <summary>Horizontal pass in place: data_i ← Σ_k t_k · data_{i+k} (same row). Parallel over rows; each row is
    /// copied to scratch[part] first.</summary>
    internal unsafe void HorizontalInPlace(IntPtr data, int stride, float[][] scratch, int threads)
    {
        CheckStride(stride);
        PermutohedralLattice.ForRanges(Height, Math.Min(threads, scratch.Length), 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (part, lo, hi) =>
        {
            int w = Width;
            long rowLen = (long)w * stride;
            fixed (float* taps = _taps)
            fixed (float* copy = scratch[part])
            {
                float* t0 = taps + Radius;
                for (int y = lo; y < hi; y++)
                {
                    float* row = (float*)data + y * rowLen;
                    Buffer.MemoryCopy(row, copy, rowLen * 4, rowLen * 4);
                    if (stride == 4) { Row4(copy, row, w, t0, Radius); continue; }
                    for (int x = 0; x < w; x++)
                    {
                        int k0 = Math.Max(-Radius, -x), k1 = Math.Min(Radius, w - 1 - x);
                        long o = (long)x * stride;
                        TapSum(copy + o, stride, t0, k0, k1, row + o, stride, 1f, accumulate: false);
                    }
                }
            }
        });
    }

    /// <summary>
    /// For the <paramref name="width"/> lanes (a multiple of 8) at p: Σ_{k=k0..k1} t0[k] · p[k·step ..]; written to d
    /// (or, with <paramref name="accumulate"/>, d += outScale · Σ). Up to four 256-bit vectors per group share each
    /// tap's broadcast; even and odd taps go to separate accumulators (two FMA chains per vector).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void TapSum(float* p, long step, float* t0, int k0, int k1, float* d, int width, float outScale, bool accumulate)
    {
        for (int c = 0; c < width; c += 32)
        {
            int nv = Math.Min(4, (width - c) >> 3);
            float* q = p + c;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector256<float> b0 = default, b1 = default, b2 = default, b3 = default;
            int k = k0;
            if (k0 == -k1)
            {
                // Whole window: pair the symmetric taps, t_k · (p[−k] + p[k]); centre tap t_0 = 1.
                a0 = Vector256.Load(q);
                if (nv > 1) a1 = Vector256.Load(q + 8);
                if (nv > 2) a2 = Vector256.Load(q + 16);
                if (nv > 3) a3 = Vector256.Load(q + 24);
                for (k = 1; k <= k1; k++)
                {
                    var wk = Vector256.Create(t0[k]);
                    float* lo = q - k * step, hi = q + k * step;
                    if ((k & 1) == 1)
                    {
                        a0 = Vector256.FusedMultiplyAdd(Vector256.Load(lo) + Vector256.Load(hi), wk, a0);
                        if (nv > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 8) + Vector256.Load(hi + 8), wk, a1);
                        if (nv > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 16) + Vector256.Load(hi + 16), wk, a2);
                        if (nv > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 24) + Vector256.Load(hi + 24), wk, a3);
                    }
                    else
                    {
                        b0 = Vector256.FusedMultiplyAdd(Vector256.Load(lo) + Vector256.Load(hi), wk, b0);
                        if (nv > 1) b1 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 8) + Vector256.Load(hi + 8), wk, b1);
                        if (nv > 2) b2 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 16) + Vector256.Load(hi + 16), wk, b2);
                        if (nv > 3) b3 = Vector256.FusedMultiplyAdd(Vector256.Load(lo + 24) + Vector256.Load(hi + 24), wk, b3);
                    }
                }
                k = k1 + 1;   // skip the general loops below
            }
            for (; k < k1; k += 2)
            {
                var wa = Vector256.Create(t0[k]);
                var wb = Vector256.Create(t0[k + 1]);
                float* ra = q + k * step, rb = ra + step;
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(ra), wa, a0);
                b0 = Vector256.FusedMultiplyAdd(Vector256.Load(rb), wb, b0);
                if (nv > 1) { a1 = Vector256.FusedMultiplyAdd(Vector256.Load(ra + 8), wa, a1); b1 = Vector256.FusedMultiplyAdd(Vector256.Load(rb + 8), wb, b1); }
                if (nv > 2) { a2 = Vector256.FusedMultiplyAdd(Vector256.Load(ra + 16), wa, a2); b2 = Vector256.FusedMultiplyAdd(Vector256.Load(rb + 16), wb, b2); }
                if (nv > 3) { a3 = Vector256.FusedMultiplyAdd(Vector256.Load(ra + 24), wa, a3); b3 = Vector256.FusedMultiplyAdd(Vector256.Load(rb + 24), wb, b3); }
            }
            if (k == k1)
            {
                var wa = Vector256.Create(t0[k]);
                float* ra = q + k * step;
                a0 = Vector256.FusedMultiplyAdd(Vector256.Load(ra), wa, a0);
                if (nv > 1) a1 = Vector256.FusedMultiplyAdd(Vector256.Load(ra + 8), wa, a1);
                if (nv > 2) a2 = Vector256.FusedMultiplyAdd(Vector256.Load(ra + 16), wa, a2);
                if (nv > 3) a3 = Vector256.FusedMultiplyAdd(Vector256.Load(ra + 24), wa, a3);
            }
            float* o = d + c;
            if (accumulate)
            {
                var f = Vector256.Create(outScale);
                Vector256.Store(Vector256.FusedMultiplyAdd(a0 + b0, f, Vector256.Load(o)), o);
                if (nv > 1) Vector256.Store(Vector256.FusedMultiplyAdd(a1 + b1, f, Vector256.Load(o + 8)), o + 8);
                if (nv > 2) Vector256.Store(Vector256.FusedMultiplyAdd(a2 + b2, f, Vector256.Load(o + 16)), o + 16);
                if (nv > 3) Vector256.Store(Vector256.FusedMultiplyAdd(a3 + b3, f, Vector256.Load(o + 24)), o + 24);
            }
            else
            {
                Vector256.Store(a0 + b0, o);
                if (nv > 1) Vector256.Store(a1 + b1, o + 8);
                if (nv > 2) Vector256.Store(a2 + b2, o + 16);
                if (nv > 3) Vector256.Store(a3 + b3, o + 24);
            }
        }
    }

    /// <summary>Σ_{k=k0..k1} t0[k] · p[4k ..4k+4] (a row of 4-lane points), four interleaved accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe Vector128<float> Row4At(float* p, float* t0, int k0, int k1)
    {
        Vector128<float> a = default, b = default, c = default, e = default;
        int k = k0;
        for (; k + 3 <= k1; k += 4)
        {
            a = Vector128.FusedMultiplyAdd(Vector128.Load(p + 4 * k), Vector128.Create(t0[k]), a);
            b = Vector128.FusedMultiplyAdd(Vector128.Load(p + 4 * k + 4), Vector128.Create(t0[k + 1]), b);
            c = Vector128.FusedMultiplyAdd(Vector128.Load(p + 4 * k + 8), Vector128.Create(t0[k + 2]), c);
            e = Vector128.FusedMultiplyAdd(Vector128.Load(p + 4 * k + 12), Vector128.Create(t0[k + 3]), e);
        }
        for (; k <= k1; k++) a = Vector128.FusedMultiplyAdd(Vector128.Load(p + 4 * k), Vector128.Create(t0[k]), a);
        return (a + b) + (c + e);
    }

    internal float[] TapArray => _taps;

    static void CheckStride(int stride)
    {
        if (stride != 4 && (stride <= 0 || stride % 8 != 0)) throw new ArgumentOutOfRangeException(nameof(stride), "stride must be 4 or a multiple of 8");
    }
}
