using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Asdt.Crf;

/// <summary>
/// Fully connected CRF with pydensecrf <c>DenseCRF2D</c> semantics (ALGORITHM.md §4.1): unary
/// U = −log(clip(p, 1e-5, 1)), Potts compatibility, a Gaussian (position) and a bilateral (position + RGB)
/// kernel, symmetric normalisation D^-½ K D^-½ (D = K·1, computed once with the same filter as K, self term
/// included), and T mean-field steps Q ← softmax(−U + Σ_m w_m · D_m^-½ K_m D_m^-½ Q).
/// The bilateral kernel is computed with a permutohedral lattice (approximate, as in pydensecrf); the position
/// kernel exactly with <see cref="SeparableGaussianFilter"/> by default, or with a lattice like pydensecrf when
/// <see cref="CrfParameters.PositionKernel"/> is <see cref="PositionKernel.Lattice"/>.
/// (pydensecrf's Potts term applies −w·K·Q and subtracts it, so the message is added: labels that the
/// neighbours agree with are raised, the CRF smooths.)
/// </summary>
public static class DenseCrf
{
    /// <summary>Runs the CRF. rgb: interleaved HWC uint8; probabilities: label-major <c>[labels][height·width]</c>;
    /// returns Q label-major <c>[labels][height·width]</c> (columns sum to 1).</summary>
    public static float[] Infer(ReadOnlySpan<byte> rgb, int width, int height, ReadOnlySpan<float> probabilities, int labels, CrfParameters p, int threads = 1)
    {
        var crf = new DenseCrf2D(rgb, width, height, p, threads);
        return crf.Infer(probabilities, labels, threads);
    }

    /// <summary>Per-pixel index of the largest Q (first one on ties), from label-major <c>[labels][pixelCount]</c>.</summary>
    public static byte[] Argmax(ReadOnlySpan<float> q, int labels, int pixelCount)
    {
        if (labels <= 0 || labels > 256) throw new ArgumentOutOfRangeException(nameof(labels), "labels must be 1..256");
        if (q.Length < (long)labels * pixelCount) throw new ArgumentException($"q has {q.Length} floats, need {labels}x{pixelCount}", nameof(q));
        var result = new byte[pixelCount];
        var best = q[..pixelCount].ToArray();
        for (int l = 1; l < labels; l++)
        {
            ReadOnlySpan<float> row = q.Slice(l * pixelCount, pixelCount);
            for (int i = 0; i < pixelCount; i++)
                if (row[i] > best[i]) { best[i] = row[i]; result[i] = (byte)l; }
        }
        return result;
    }

    /// <summary>Probabilities are clipped to [1e-5, 1] (pydensecrf unary_from_softmax: U = −log(clip(p, 1e-5))).</summary>
    internal const float ProbabilityFloor = 1e-5f;
}

/// <summary>
/// A dense CRF for one image: the kernels (bilateral lattice; exact separable position filter or position lattice)
/// and their normalisations are built once in the constructor;
/// <see cref="Infer(ReadOnlySpan{float}, int, Span{float}, int)"/> can then run many times with different
/// unaries (e.g. the two background alphas of the reliable label, §4.3), reusing its buffers.
/// Infer calls on one instance are serialised by a lock; use one instance per concurrent image.
/// </summary>
public sealed class DenseCrf2D
{
    readonly int _n;
    readonly PermutohedralLattice? _gauss, _bilat;
    readonly SeparableGaussianFilter? _gaussExact;
    readonly float[]? _normG, _normB;
    readonly object _sync = new();
    float[] _pc = [], _q = [];
    // Per-thread scratch of the exact position kernel's in-place passes (a few rows; none with the lattice).
    float[][] _scratch = [];

    public int Width { get; }
    public int Height { get; }
    public CrfParameters Parameters { get; }
    /// <summary>The position-kernel lattice (null unless <see cref="CrfParameters.PositionKernel"/> is Lattice).</summary>
    public PermutohedralLattice? GaussianLattice => _gauss;
    /// <summary>The exact position-kernel filter (null when the lattice is used or the kernel is disabled).</summary>
    public SeparableGaussianFilter? GaussianFilter => _gaussExact;
    public PermutohedralLattice? BilateralLattice => _bilat;
    /// <summary>Time spent building lattices and normalisations.</summary>
    public TimeSpan BuildTime { get; }
    /// <summary>Duration of the last <c>Infer</c> call.</summary>
    public TimeSpan LastInferTime { get; private set; }

    public DenseCrf2D(ReadOnlySpan<byte> rgb, int width, int height, CrfParameters p, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(p);
        p.Validate();
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"bad image size {width}x{height}");
        long n = (long)width * height;
        if (n > int.MaxValue / 64) throw new ArgumentOutOfRangeException(nameof(width), $"image too large ({width}x{height})");
        if (rgb.Length < n * 3) throw new ArgumentException($"rgb has {rgb.Length} bytes, need {width}x{height}x3", nameof(rgb));
        var sw = Stopwatch.StartNew();
        Width = width; Height = height; Parameters = p; _n = (int)n;
        var ones = new float[_n];
        Array.Fill(ones, 1f);
        if (p.GaussianWeight > 0 && p.PositionKernel == PositionKernel.Exact)
        {
            _gaussExact = new SeparableGaussianFilter(width, height, p.GaussianSxy);
            _normG = new float[_n];
            _gaussExact.Filter(ones, _normG, 1, threads);   // D = K·1 with the same exact filter
            for (int i = 0; i < _n; i++) _normG[i] = 1f / MathF.Sqrt(_normG[i] + 1e-20f);
        }
        else if (p.GaussianWeight > 0)
        {
            _gauss = PermutohedralLattice.Build(LatticeFeatures.Gaussian(width, height, p.GaussianSxy), _n, 2, threads);
            _normG = SymmetricNorm(_gauss, ones, threads);
        }
        if (p.BilateralWeight > 0)
        {
            _bilat = PermutohedralLattice.Build(LatticeFeatures.Bilateral(rgb, width, height, p.BilateralSxy, p.BilateralSrgb), _n, 5, threads);
            _normB = SymmetricNorm(_bilat, ones, threads);
        }
        BuildTime = sw.Elapsed;
    }

    static float[] SymmetricNorm(PermutohedralLattice lattice, float[] ones, int threads)
    {
        var norm = new float[ones.Length];
        lattice.Filter(ones, norm, 1, threads);
        for (int i = 0; i < norm.Length; i++) norm[i] = 1f / MathF.Sqrt(norm[i] + 1e-20f);
        return norm;
    }

    /// <summary>Runs mean field; returns Q label-major <c>[labels][height·width]</c>.</summary>
    public float[] Infer(ReadOnlySpan<float> probabilities, int labels, int threads = 1)
    {
        var q = new float[(long)labels * _n];
        Infer(probabilities, labels, q, threads);
        return q;
    }

    /// <summary>Runs mean field from label-major probabilities <c>[labels][height·width]</c> into label-major Q.</summary>
    public void Infer(ReadOnlySpan<float> probabilities, int labels, Span<float> q, int threads = 1)
    {
        if (labels <= 0 || labels > 4096) throw new ArgumentOutOfRangeException(nameof(labels), "labels must be 1..4096");
        if (probabilities.Length < (long)labels * _n) throw new ArgumentException($"probabilities has {probabilities.Length} floats, need {labels}x{_n}", nameof(probabilities));
        if (q.Length < (long)labels * _n) throw new ArgumentException($"q has {q.Length} floats, need {labels}x{_n}", nameof(q));
        threads = Math.Max(1, threads);
        lock (_sync)
        lock (_gauss?.Sync ?? _sync)
        lock (_bilat?.Sync ?? _sync)
        {
            var sw = Stopwatch.StartNew();
            int stride = PermutohedralLattice.StrideFor(labels);
            long need = (long)_n * stride;
            if (_pc.Length != need) { _pc = new float[need]; _q = new float[need]; }
            if (_gaussExact != null && (_scratch.Length < threads || _scratch[0].Length != _gaussExact.ScratchFloats(stride)))
            {
                _scratch = new float[threads][];
                for (int t = 0; t < threads; t++) _scratch[t] = new float[_gaussExact.ScratchFloats(stride)];
            }
            LoadUnary(probabilities, labels, stride, threads);
            _gauss?.EnsureBuffers(stride, threads);
            _bilat?.EnsureBuffers(stride, threads);
            // Q0 = softmax(−U)
            PermutohedralLattice.ForRanges(_n, threads, InitRange(stride));
            for (int it = 0; it < Parameters.Iterations; it++) Step(stride, threads);
            StoreQ(q, labels, stride, threads);   // point-major padded → label-major
            LastInferTime = sw.Elapsed;
        }
    }

    Action<int, int> InitRange(int stride) => (lo, hi) =>
    {
        for (int i = lo; i < hi; i++)
        {
            ReadOnlySpan<float> pc = _pc.AsSpan(i * stride, stride);
            float sum = 0;
            foreach (float v in pc) sum += v;
            float inv = 1f / sum;
            Span<float> q = _q.AsSpan(i * stride, stride);
            for (int k = 0; k < q.Length; k++) q[k] = pc[k] * inv;
        }
    };

    /// <summary>
    /// Stores the clipped probabilities p_c = clip(p, 1e-5, 1) point-major padded (padding lanes 0). Mean field
    /// then computes softmax(log p_c + m) as p_c·exp(m − max m) / Σ — the same numbers without any logarithm.
    /// </summary>
    // AggressiveOptimization on the hot loops: compiled fully optimised at their first call, so one image (`asdt crf`)
    // does not run the JIT's quick first code; 16–32 % faster first image, steady state within 3 % (docs/benchmarks.md).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void LoadUnary(ReadOnlySpan<float> p, int labels, int stride, int threads)
    {
        fixed (float* pp = p)
        {
            var src = (IntPtr)pp;
            PermutohedralLattice.ForRanges(_n, threads, (lo, hi) =>
            {
                var pc = _pc;
                float* p0 = (float*)src;
                for (int i = lo; i < hi; i++)
                {
                    Span<float> row = pc.AsSpan(i * stride, stride);
                    for (int l = 0; l < labels; l++)
                    {
                        float x = p0[(long)l * _n + i];
                        row[l] = x >= DenseCrf.ProbabilityFloor ? (x <= 1f ? x : 1f) : DenseCrf.ProbabilityFloor; // NaN → floor
                    }
                    row[labels..].Clear();
                }
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void StoreQ(Span<float> q, int labels, int stride, int threads)
    {
        fixed (float* qp = q)
        {
            var dst = (IntPtr)qp;
            PermutohedralLattice.ForRanges(_n, threads, (lo, hi) =>
            {
                float* d = (float*)dst;
                for (int i = lo; i < hi; i++)
                {
                    ReadOnlySpan<float> row = _q.AsSpan(i * stride, labels);
                    for (int l = 0; l < row.Length; l++) d[(long)l * _n + i] = row[l];
                }
            });
        }
    }

    unsafe void Step(int stride, int threads)
    {
        fixed (float* qp = _q)
        fixed (float* ng = _normG)
        {
            var q = (IntPtr)qp;
            float[]? bg = null, bb = null;
            if (_gauss != null) { _gauss.SplatCore(q, stride, stride, _normG, threads); bg = _gauss.BlurCore(threads); }
            if (_bilat != null) _bilat.SplatCore(q, stride, stride, _normB, threads);
            if (_gaussExact != null)
            {
                // Exact position kernel: Q has been splatted, so its buffer takes the vertical pass of D^-½ Q in
                // place; the horizontal pass is fused into the softmax, which writes the new Q over it row by row.
                _gaussExact.VerticalInPlace(q, stride, (IntPtr)ng, _scratch, threads);
                if (_bilat != null) bb = _bilat.BlurCore(threads);
                int grain = Math.Max(1, 4096 / Width);   // rows per range, as the lattice path's 4,096 points
                PermutohedralLattice.ForRanges(Height, threads, grain, (part, lo, hi) => SliceSoftmaxRange(bg, bb, stride, lo * Width, hi * Width, _scratch[part]));
                return;
            }
            if (_bilat != null) bb = _bilat.BlurCore(threads);
            if (threads == 1 || _n < 8192) SliceSoftmaxRange(bg, bb, stride, 0, _n, null);
            else SliceSoftmaxParallel(bg, bb, stride, threads);
        }
    }

    void SliceSoftmaxParallel(float[]? bg, float[]? bb, int stride, int threads) =>
        PermutohedralLattice.ForRanges(_n, threads, (lo, hi) => SliceSoftmaxRange(bg, bb, stride, lo, hi, null));

    /// <summary>Q_i = softmax(−U_i + w_g α norm_g,i Σ_r w K_g[...] + w_b α norm_b,i Σ_r w K_b[...]); with the exact
    /// position kernel the Gaussian term is w_g norm_g,i Σ_k t_k V_{i+k}, the horizontal pass over the vertical
    /// pass V that <c>_q</c> holds on entry: each row of V is copied to <paramref name="rowCopy"/> before the new Q
    /// overwrites it (then lo and hi must be row starts).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    unsafe void SliceSoftmaxRange(float[]? bg, float[]? bb, int stride, int lo, int hi, float[]? rowCopy)
    {
        var empty = Array.Empty<float>();
        var emptyI = Array.Empty<int>();
        var g = _gauss; var b = _bilat;
        int dg = g == null ? 0 : g.Dimensions + 1, db = b == null ? 0 : b.Dimensions + 1;
        float cg = g == null ? 0 : g.Alpha * Parameters.GaussianWeight;
        float cb = b == null ? 0 : b.Alpha * Parameters.BilateralWeight;
        var e = _gaussExact;
        float ce = Parameters.GaussianWeight;
        int w = Width, radius = e?.Radius ?? 0, x = lo % w;
        fixed (float* qp = _q)
        fixed (float* up = _pc)
        fixed (float* bufG = bg ?? empty)
        fixed (float* bufB = bb ?? empty)
        fixed (int* rowsG = g?.Rows ?? emptyI)
        fixed (int* rowsB = b?.Rows ?? emptyI)
        fixed (float* wG = g?.Weights ?? empty)
        fixed (float* wB = b?.Weights ?? empty)
        fixed (float* nG = _normG ?? empty)
        fixed (float* nB = _normB ?? empty)
        fixed (float* copy = rowCopy ?? empty)
        fixed (float* taps = e?.TapArray ?? empty)
        {
            float* t0 = taps + radius;
            for (int i = lo; i < hi; i++, x = x + 1 == w ? 0 : x + 1)
            {
                float* row = qp + (long)i * stride;
                float* u = up + (long)i * stride;
                int k0 = Math.Max(-radius, -x), k1 = Math.Min(radius, w - 1 - x);
                if (e != null && x == 0)
                {
                    // 4 lanes: the whole row's horizontal pass into the scratch at once (pixel pairs); wider: a copy of V's row.
                    if (stride == 4) SeparableGaussianFilter.Row4(row, copy, w, t0, radius);
                    else Buffer.MemoryCopy(row, copy, (long)w * stride * 4, (long)w * stride * 4);
                }
                if (stride == 4)
                {
                    var m = Vector128<float>.Zero;
                    if (dg > 0) m = Vector128.FusedMultiplyAdd(Gather4(bufG, rowsG + (long)i * dg, wG + (long)i * dg, dg), Vector128.Create(cg * nG[i]), m);
                    if (db > 0) m = Vector128.FusedMultiplyAdd(Gather4(bufB, rowsB + (long)i * db, wB + (long)i * db, db), Vector128.Create(cb * nB[i]), m);
                    if (e != null) m = Vector128.FusedMultiplyAdd(Vector128.Load(copy + (long)x * 4), Vector128.Create(ce * nG[i]), m);
                    Vector128.Store(m, row);
                    Softmax4(row, u);
                    continue;
                }
                for (int k = 0; k < stride; k += 8)
                {
                    var m = Vector256<float>.Zero;
                    if (dg > 0) m = Vector256.FusedMultiplyAdd(Gather8(bufG + k, stride, rowsG + (long)i * dg, wG + (long)i * dg, dg), Vector256.Create(cg * nG[i]), m);
                    if (db > 0) m = Vector256.FusedMultiplyAdd(Gather8(bufB + k, stride, rowsB + (long)i * db, wB + (long)i * db, db), Vector256.Create(cb * nB[i]), m);
                    Vector256.Store(m, row + k);
                }
                if (e != null) SeparableGaussianFilter.TapSum(copy + (long)x * stride, stride, t0, k0, k1, row, stride, ce * nG[i], accumulate: true);
                Softmax8(row, u, stride);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector128<float> Gather4(float* buf, int* rows, float* w, int d1)
    {
        var acc = Vector128<float>.Zero;
        for (int r = 0; r < d1; r++) acc = Vector128.FusedMultiplyAdd(Vector128.Load(buf + (long)rows[r] * 4), Vector128.Create(w[r]), acc);
        return acc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe Vector256<float> Gather8(float* buf, int stride, int* rows, float* w, int d1)
    {
        var acc = Vector256<float>.Zero;
        for (int r = 0; r < d1; r++) acc = Vector256.FusedMultiplyAdd(Vector256.Load(buf + (long)rows[r] * stride), Vector256.Create(w[r]), acc);
        return acc;
    }

    /// <summary>q ← p_c ⊙ exp(m − max m) / Σ (in place over the message row m); = softmax(log p_c + m).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Softmax4(float* m, float* pc)
    {
        var v = Vector128.Load(m);
        var mx = Vector128.Max(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        mx = Vector128.Max(mx, Vector128.Shuffle(mx, Vector128.Create(1, 0, 3, 2)));
        var e = FastMath.Exp(v - mx) * Vector128.Load(pc);
        Vector128.Store(e * (1f / Vector128.Sum(e)), m);
    }

    /// <summary>As <see cref="Softmax4"/> for a row whose length is a multiple of 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Softmax8(float* m, float* pc, int n)
    {
        var mx = Vector256.Load(m);
        for (int k = 8; k < n; k += 8) mx = Vector256.Max(mx, Vector256.Load(m + k));
        var m128 = Vector128.Max(mx.GetLower(), mx.GetUpper());
        m128 = Vector128.Max(m128, Vector128.Shuffle(m128, Vector128.Create(2, 3, 0, 1)));
        m128 = Vector128.Max(m128, Vector128.Shuffle(m128, Vector128.Create(1, 0, 3, 2)));
        var mv = Vector256.Create(m128, m128);
        var sum = Vector256<float>.Zero;
        for (int k = 0; k < n; k += 8)
        {
            var e = FastMath.Exp(Vector256.Load(m + k) - mv) * Vector256.Load(pc + k);
            Vector256.Store(e, m + k);
            sum += e;
        }
        var inv = Vector256.Create(1f / Vector256.Sum(sum));
        for (int k = 0; k < n; k += 8) Vector256.Store(Vector256.Load(m + k) * inv, m + k);
    }
}
