namespace Asdt.Crf;

/// <summary>
/// Exact Gaussian filtering result_i = Σ_j exp(−½‖f_i − f_j‖²) v_j (self included) with an explicit N×N kernel
/// matrix. O(N²) memory and time: a reference for tests on small images (N ≤ 6000), not for production.
/// </summary>
public sealed class ExactGaussianFilter
{
    public const int MaxPoints = 6000;
    readonly float[] _k;   // n×n, symmetric
    public int PointCount { get; }

    ExactGaussianFilter(int n, float[] k) { PointCount = n; _k = k; }

    public static ExactGaussianFilter Build(ReadOnlySpan<float> features, int n, int d)
    {
        if (n <= 0 || n > MaxPoints) throw new ArgumentOutOfRangeException(nameof(n), $"exact filter supports 1..{MaxPoints} points");
        if (features.Length < n * d) throw new ArgumentException("features too short", nameof(features));
        var k = new float[(long)n * n];
        for (int i = 0; i < n; i++)
        {
            k[(long)i * n + i] = 1f;
            ReadOnlySpan<float> fi = features.Slice(i * d, d);
            for (int j = i + 1; j < n; j++)
            {
                ReadOnlySpan<float> fj = features.Slice(j * d, d);
                double s = 0;
                for (int c = 0; c < d; c++) { double t = fi[c] - fj[c]; s += t * t; }
                float v = (float)Math.Exp(-0.5 * s);
                k[(long)i * n + j] = v;
                k[(long)j * n + i] = v;
            }
        }
        return new ExactGaussianFilter(n, k);
    }

    /// <summary>Point-major values <c>[n][channels]</c> → point-major result (double accumulation).</summary>
    public void Filter(ReadOnlySpan<float> values, Span<float> result, int channels)
    {
        int n = PointCount;
        Span<double> acc = channels <= 256 ? stackalloc double[channels] : new double[channels];
        for (int i = 0; i < n; i++)
        {
            acc.Clear();
            ReadOnlySpan<float> row = _k.AsSpan((int)((long)i * n), n);
            for (int j = 0; j < n; j++)
            {
                double w = row[j];
                if (w < 1e-30) continue;
                ReadOnlySpan<float> v = values.Slice(j * channels, channels);
                for (int c = 0; c < channels; c++) acc[c] += w * v[c];
            }
            for (int c = 0; c < channels; c++) result[i * channels + c] = (float)acc[c];
        }
    }
}

/// <summary>
/// The dense CRF of <see cref="DenseCrf"/> with exact kernel sums instead of the lattice (same unary, Potts,
/// symmetric normalisation with the self term, same update). For small images; used by tests as the reference.
/// </summary>
public static class ExactDenseCrf
{
    public static float[] Infer(ReadOnlySpan<byte> rgb, int width, int height, ReadOnlySpan<float> probabilities, int labels, CrfParameters p)
    {
        p.Validate();
        int n = width * height;
        var kernels = new List<(ExactGaussianFilter K, double[] Norm, double W)>();
        var ones = new float[n];
        Array.Fill(ones, 1f);
        var tmp = new float[n];
        void Add(float[] features, int d, double w)
        {
            var k = ExactGaussianFilter.Build(features, n, d);
            k.Filter(ones, tmp, 1);
            kernels.Add((k, tmp.Select(x => 1.0 / Math.Sqrt(x + 1e-20)).ToArray(), w));
        }
        if (p.GaussianWeight > 0) Add(LatticeFeatures.Gaussian(width, height, p.GaussianSxy), 2, p.GaussianWeight);
        if (p.BilateralWeight > 0) Add(LatticeFeatures.Bilateral(rgb, width, height, p.BilateralSxy, p.BilateralSrgb), 5, p.BilateralWeight);

        var negU = new double[n * labels];   // point-major
        for (int l = 0; l < labels; l++)
            for (int i = 0; i < n; i++)
                negU[i * labels + l] = Math.Log(Math.Clamp(probabilities[l * n + i], 1e-5f, 1f));
        var q = new double[n * labels];
        var x = new double[n * labels];
        Array.Copy(negU, x, x.Length);
        SoftmaxRows(x, q, labels);
        var scaled = new float[n * labels];
        var filtered = new float[n * labels];
        for (int it = 0; it < p.Iterations; it++)
        {
            Array.Copy(negU, x, x.Length);
            foreach (var (k, norm, w) in kernels)
            {
                for (int i = 0; i < n; i++)
                    for (int l = 0; l < labels; l++) scaled[i * labels + l] = (float)(q[i * labels + l] * norm[i]);
                k.Filter(scaled, filtered, labels);
                for (int i = 0; i < n; i++)
                    for (int l = 0; l < labels; l++) x[i * labels + l] += w * norm[i] * filtered[i * labels + l];
            }
            SoftmaxRows(x, q, labels);
        }
        var result = new float[n * labels];
        for (int i = 0; i < n; i++)
            for (int l = 0; l < labels; l++) result[l * n + i] = (float)q[i * labels + l];
        return result;
    }

    static void SoftmaxRows(double[] x, double[] q, int labels)
    {
        for (int o = 0; o < x.Length; o += labels)
        {
            double m = double.NegativeInfinity;
            for (int l = 0; l < labels; l++) m = Math.Max(m, x[o + l]);
            double s = 0;
            for (int l = 0; l < labels; l++) s += q[o + l] = Math.Exp(x[o + l] - m);
            for (int l = 0; l < labels; l++) q[o + l] /= s;
        }
    }
}
