using System.Diagnostics;
using System.Runtime.Intrinsics;

namespace Asdt.Crf;

/// <summary>
/// Fully connected CRF with pydensecrf <c>DenseCRF2D</c> semantics (ALGORITHM.md §4.1): unary
/// U = −log(clip(p, 1e-5, 1)), Potts compatibility, a Gaussian (position) and a bilateral (position + RGB)
/// kernel computed with a permutohedral lattice, symmetric normalisation D^-½ K D^-½ (D = K·1, computed once,
/// self term included), and T mean-field steps Q ← softmax(−U + Σ_m w_m · D_m^-½ K_m D_m^-½ Q).
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

    /// <summary>Unary from probabilities as pydensecrf's unary_from_softmax: −log(clip(p, 1e-5, 1)) (returned negated, i.e. log).</summary>
    internal const float ProbabilityFloor = 1e-5f;
}

/// <summary>
/// A dense CRF for one image: the two lattices and their normalisations are built once in the constructor;
/// <see cref="Infer(ReadOnlySpan{float}, int, Span{float}, int)"/> can then run many times with different
/// unaries (e.g. the two background alphas of the reliable label, §4.3), reusing its buffers.
/// Infer calls on one instance are serialised by a lock; use one instance per concurrent image.
/// </summary>
public sealed class DenseCrf2D
{
    const float PadLogit = -1e30f;
    readonly int _n;
    readonly PermutohedralLattice? _gauss, _bilat;
    readonly float[]? _normG, _normB;
    readonly object _sync = new();
    float[] _negU = [], _q = [];

    public int Width { get; }
    public int Height { get; }
    public CrfParameters Parameters { get; }
    public PermutohedralLattice? GaussianLattice => _gauss;
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
        if (p.GaussianWeight > 0)
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
            if (_negU.Length != need) { _negU = new float[need]; _q = new float[need]; }
            LoadUnary(probabilities, labels, stride);
            _gauss?.EnsureBuffers(stride, threads);
            _bilat?.EnsureBuffers(stride, threads);
            // Q0 = softmax(−U)
            PermutohedralLattice.ForRanges(_n, threads, InitRange(stride));
            for (int it = 0; it < Parameters.Iterations; it++) Step(stride, threads);
            // Point-major padded → label-major.
            for (int i = 0; i < _n; i++)
            {
                int o = i * stride;
                for (int l = 0; l < labels; l++) q[l * _n + i] = _q[o + l];
            }
            LastInferTime = sw.Elapsed;
        }
    }

    Action<int, int> InitRange(int stride) => (lo, hi) =>
    {
        _negU.AsSpan(lo * stride, (hi - lo) * stride).CopyTo(_q.AsSpan(lo * stride));
        for (int i = lo; i < hi; i++) Softmax(_q.AsSpan(i * stride, stride));
    };

    /// <summary>negU = log(clip(p, 1e-5, 1)) point-major padded; padding lanes get a huge negative logit so that Q stays 0 there.</summary>
    void LoadUnary(ReadOnlySpan<float> p, int labels, int stride)
    {
        var negU = _negU;
        if (stride > labels)
            for (int i = 0; i < _n; i++) negU.AsSpan(i * stride + labels, stride - labels).Fill(PadLogit);
        var lo = Vector256.Create(DenseCrf.ProbabilityFloor);
        var hi = Vector256.Create(1f);
        for (int l = 0; l < labels; l++)
        {
            ReadOnlySpan<float> row = p.Slice(l * _n, _n);
            int i = 0;
            for (; i + 8 <= _n; i += 8)
            {
                var v = Vector256.Log(Vector256.Min(Vector256.Max(Vector256.Create(row.Slice(i, 8)), lo), hi));
                for (int k = 0; k < 8; k++) negU[(i + k) * stride + l] = v.GetElement(k);
            }
            for (; i < _n; i++)
            {
                float x = row[i];
                negU[i * stride + l] = MathF.Log(float.IsNaN(x) ? DenseCrf.ProbabilityFloor : Math.Clamp(x, DenseCrf.ProbabilityFloor, 1f));
            }
        }
    }

    unsafe void Step(int stride, int threads)
    {
        fixed (float* qp = _q)
        {
            var q = (IntPtr)qp;
            float[]? bg = null, bb = null;
            if (_gauss != null) { _gauss.SplatCore(q, stride, stride, _normG, threads); bg = _gauss.BlurCore(threads); }
            if (_bilat != null) { _bilat.SplatCore(q, stride, stride, _normB, threads); bb = _bilat.BlurCore(threads); }
            if (threads == 1 || _n < 8192) SliceSoftmaxRange(bg, bb, stride, 0, _n);
            else SliceSoftmaxParallel(bg, bb, stride, threads);
        }
    }

    void SliceSoftmaxParallel(float[]? bg, float[]? bb, int stride, int threads) =>
        PermutohedralLattice.ForRanges(_n, threads, (lo, hi) => SliceSoftmaxRange(bg, bb, stride, lo, hi));

    /// <summary>Q_i = softmax(−U_i + w_g α norm_g,i Σ_r w K_g[...] + w_b α norm_b,i Σ_r w K_b[...]).</summary>
    unsafe void SliceSoftmaxRange(float[]? bg, float[]? bb, int stride, int lo, int hi)
    {
        var q = _q;
        fixed (float* qp = q)
        fixed (float* up = _negU)
        {
            for (int i = lo; i < hi; i++)
            {
                float* row = qp + (long)i * stride;
                new ReadOnlySpan<float>(up + (long)i * stride, stride).CopyTo(new Span<float>(row, stride));
                if (_gauss != null) AddSlice(_gauss, bg!, _normG![i] * _gauss.Alpha * Parameters.GaussianWeight, i, row, stride);
                if (_bilat != null) AddSlice(_bilat, bb!, _normB![i] * _bilat.Alpha * Parameters.BilateralWeight, i, row, stride);
                Softmax(new Span<float>(row, stride));
            }
        }
    }

    static unsafe void AddSlice(PermutohedralLattice lattice, float[] bufArr, float scale, int i, float* row, int stride)
    {
        int d1 = lattice.Dimensions + 1;
        fixed (float* buf = bufArr)
        fixed (int* rowsAll = lattice.Rows)
        fixed (float* wAll = lattice.Weights)
        {
            int* rr = rowsAll + (long)i * d1;
            float* ww = wAll + (long)i * d1;
            if (stride == 4)
            {
                var acc = Vector128<float>.Zero;
                for (int r = 0; r < d1; r++) acc = Vector128.FusedMultiplyAdd(Vector128.Load(buf + (long)rr[r] * 4), Vector128.Create(ww[r]), acc);
                Vector128.Store(Vector128.FusedMultiplyAdd(acc, Vector128.Create(scale), Vector128.Load(row)), row);
                return;
            }
            var s = Vector256.Create(scale);
            for (int k = 0; k < stride; k += 8)
            {
                var acc = Vector256<float>.Zero;
                for (int r = 0; r < d1; r++) acc = Vector256.FusedMultiplyAdd(Vector256.Load(buf + (long)rr[r] * stride + k), Vector256.Create(ww[r]), acc);
                Vector256.Store(Vector256.FusedMultiplyAdd(acc, s, Vector256.Load(row + k)), row + k);
            }
        }
    }

    /// <summary>In-place softmax over a padded row (stride 4 or a multiple of 8).</summary>
    static unsafe void Softmax(Span<float> x)
    {
        fixed (float* p = x)
        {
            int n = x.Length;
            if (n == 4)
            {
                var v = Vector128.Load(p);
                float m4 = MathF.Max(MathF.Max(v[0], v[1]), MathF.Max(v[2], v[3]));
                var e = Vector128.Exp(v - Vector128.Create(m4));
                float s4 = Vector128.Sum(e);
                Vector128.Store(e * (1f / s4), p);
                return;
            }
            var mx = Vector256.Load(p);
            for (int k = 8; k < n; k += 8) mx = Vector256.Max(mx, Vector256.Load(p + k));
            var lo = mx.GetLower(); var hi = mx.GetUpper();
            var m128 = Vector128.Max(lo, hi);
            float m = MathF.Max(MathF.Max(m128[0], m128[1]), MathF.Max(m128[2], m128[3]));
            var mv = Vector256.Create(m);
            var sum = Vector256<float>.Zero;
            for (int k = 0; k < n; k += 8)
            {
                var e = Vector256.Exp(Vector256.Load(p + k) - mv);
                Vector256.Store(e, p + k);
                sum += e;
            }
            var inv = Vector256.Create(1f / Vector256.Sum(sum));
            for (int k = 0; k < n; k += 8) Vector256.Store(Vector256.Load(p + k) * inv, p + k);
        }
    }
}
