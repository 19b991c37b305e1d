using Asdt.Crf;
using Xunit.Abstractions;

namespace Asdt.Tests.Crf;

/// <summary>
/// The lattice against brute-force Gaussian sums Σ_j exp(−½‖f_i − f_j‖²) v_j on crops of real MSRC-21 photos.
/// <para>How we compare (ALGORITHM.md §5.4): Krähenbühl's lattice is not normalised, its output for v ≡ 1 is
/// about 0.6× the exact sum. The CRF only ever uses it symmetrically normalised, so a global scale does not
/// matter. We therefore report (a) the relative L2 error after fitting one global scale c (least squares,
/// c ≈ 1/0.6) and (b) the relative L2 error of the row-normalised filter K v / K 1 (what a normalised filter
/// would return; independent of the scale). Thresholds are the measured values plus a small margin.</para>
/// </summary>
public class PermutohedralLatticeTests(ITestOutputHelper output)
{
    static readonly (string Name, int X, int Y)[] Crops = [("2_13_s.jpg", 100, 60), ("10_14_s.jpg", 150, 100), ("5_12_s.jpg", 30, 20)];
    const int W = 48, H = 48, N = W * H;

    /// <summary>Positive test values [n][3]: red channel, smoothed noise, a soft label.</summary>
    static float[] Values(byte[] rgb, int seed)
    {
        var rnd = new Random(seed);
        var noise = CrfTestImages.SmoothNoise(W, H, rnd, 3);
        var v = new float[N * 3];
        for (int i = 0; i < N; i++)
        {
            v[i * 3] = rgb[i * 3] / 255f + 0.05f;
            v[i * 3 + 1] = 1f / (1f + MathF.Exp(-2f * noise[i]));
            v[i * 3 + 2] = rgb[i * 3 + 1] > rgb[i * 3 + 2] ? 0.9f : 0.1f;
        }
        return v;
    }

    static (double Fit, double Normalised, double Scale) Errors(float[] features, int d, float[] values, int channels)
    {
        var lattice = PermutohedralLattice.Build(features, N, d);
        var exact = ExactGaussianFilter.Build(features, N, d);
        var l = new float[N * channels];
        var e = new float[N * channels];
        lattice.Filter(values, l, channels);
        exact.Filter(values, e, channels);
        var ones = Enumerable.Repeat(1f, N).ToArray();
        var l1 = new float[N];
        var e1 = new float[N];
        lattice.Filter(ones, l1, 1);
        exact.Filter(ones, e1, 1);

        double le = 0, ll = 0;
        for (int k = 0; k < l.Length; k++) { le += (double)l[k] * e[k]; ll += (double)l[k] * l[k]; }
        double c = le / ll, num = 0, den = 0, numN = 0, denN = 0;
        for (int i = 0; i < N; i++)
            for (int ch = 0; ch < channels; ch++)
            {
                int k = i * channels + ch;
                num += Sq(c * l[k] - e[k]); den += Sq(e[k]);
                double nl = l[k] / l1[i], ne = e[k] / e1[i];
                numN += Sq(nl - ne); denN += Sq(ne);
            }
        return (Math.Sqrt(num / den), Math.Sqrt(numN / denN), c);
    }

    static double Sq(double x) => x * x;

    [Theory]
    // Measured (3 crops, worst): sxy 3 → 1.18 % / 0.69 %; sxy 1 → 2.53 % / 0.58 %; sxy 5 → 1.65 % / 0.97 %.
    [InlineData(3f, 0.013, 0.008)]
    [InlineData(1f, 0.027, 0.007)]
    [InlineData(5f, 0.018, 0.011)]
    public void PositionKernel_MatchesExactSums(float sxy, double maxFit, double maxNormalised)
    {
        (double Fit, double Norm) worst = (0, 0);
        foreach (var (name, x, y) in Crops)
        {
            var rgb = CrfTestImages.Crop(name, x, y, W, H);
            var (fit, norm, c) = Errors(LatticeFeatures.Gaussian(W, H, sxy), 2, Values(rgb, 7), 3);
            output.WriteLine($"position sxy={sxy} {name}: fit error {fit:P2} (scale {c:F3}), normalised error {norm:P2}");
            worst = (Math.Max(worst.Fit, fit), Math.Max(worst.Norm, norm));
        }
        Assert.True(worst.Fit <= maxFit, $"scale-fitted relative error {worst.Fit:P2} > {maxFit:P2}");
        Assert.True(worst.Norm <= maxNormalised, $"normalised relative error {worst.Norm:P2} > {maxNormalised:P2}");
    }

    [Theory]
    // Measured (worst of 3 crops): 80/13 → 5.74 % / 1.09 %; 83/5 → 9.06 % / 2.51 %; 10/13 → 7.87 % / 2.46 %.
    // The scale-fitted error is dominated by the per-pixel variation of the lattice's total weight
    // (lattice(1)/exact(1) varies by a few % between pixels, as §5.4 measured for the C++ lattice); the
    // normalised output, which is what the CRF's symmetric normalisation sees, is within 1–2.5 %.
    [InlineData(80f, 13f, 0.065, 0.013)]
    [InlineData(83f, 5f, 0.10, 0.028)]
    [InlineData(10f, 13f, 0.085, 0.028)]
    public void BilateralKernel_MatchesExactSums(float sxy, float srgb, double maxFit, double maxNormalised)
    {
        (double Fit, double Norm) worst = (0, 0);
        foreach (var (name, x, y) in Crops)
        {
            var rgb = CrfTestImages.Crop(name, x, y, W, H);
            var (fit, norm, c) = Errors(LatticeFeatures.Bilateral(rgb, W, H, sxy, srgb), 5, Values(rgb, 11), 3);
            output.WriteLine($"bilateral {sxy}/{srgb} {name}: fit error {fit:P2} (scale {c:F3}), normalised error {norm:P2}");
            worst = (Math.Max(worst.Fit, fit), Math.Max(worst.Norm, norm));
        }
        Assert.True(worst.Fit <= maxFit, $"scale-fitted relative error {worst.Fit:P2} > {maxFit:P2}");
        Assert.True(worst.Norm <= maxNormalised, $"normalised relative error {worst.Norm:P2} > {maxNormalised:P2}");
    }

    [Fact]
    public void Filter_ChannelCountsAndThreads_Agree()
    {
        // 21 channels at once (SIMD body + tail) == each channel alone (scalar tail path) == padded 24, and
        // the parallel splat/blur/slice gives the same sums up to float rounding.
        const int w = 120, h = 100, n = w * h, ch = 21;
        var (photo, pw, _) = CrfTestImages.Photo("2_13_s.jpg");
        var rgb = new byte[n * 3];
        for (int y = 0; y < h; y++) photo.AsSpan((y * pw) * 3, w * 3).CopyTo(rgb.AsSpan(y * w * 3));
        var lattice = PermutohedralLattice.Build(LatticeFeatures.Bilateral(rgb, w, h, 20, 13), n, 5, threads: 2);
        var single = PermutohedralLattice.Build(LatticeFeatures.Bilateral(rgb, w, h, 20, 13), n, 5, threads: 1);
        Assert.Equal(single.VertexCount, lattice.VertexCount);
        var rnd = new Random(3);
        var v = new float[n * ch];
        for (int i = 0; i < v.Length; i++) v[i] = (float)rnd.NextDouble();
        var all = new float[n * ch];
        lattice.Filter(v, all, ch);
        var par = new float[n * ch];
        lattice.Filter(v, par, ch, threads: 2);
        var one = new float[n];
        var res = new float[n];
        foreach (int c in new[] { 0, 7, 8, 20 })
        {
            for (int i = 0; i < n; i++) one[i] = v[i * ch + c];
            single.Filter(one, res, 1);
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(res[i], all[i * ch + c], res[i] * 1e-5f + 1e-5f);
                Assert.Equal(res[i], par[i * ch + c], res[i] * 1e-5f + 1e-5f);
            }
        }
        // Three channels (stride 4, Vector128 blur) agree too.
        var v3 = new float[n * 3];
        var r3 = new float[n * 3];
        for (int i = 0; i < n; i++) for (int c = 0; c < 3; c++) v3[i * 3 + c] = v[i * ch + c];
        lattice.Filter(v3, r3, 3);
        for (int i = 0; i < n * 3; i++) Assert.Equal(all[i / 3 * ch + i % 3], r3[i], Math.Abs(r3[i]) * 1e-5f + 1e-5f);
    }

    [Fact]
    public void Filter_IsLinearAndSymmetric()
    {
        // Splat and slice use the same weights and each axis blur is symmetric, so the operator is symmetric up
        // to the order of the d+1 axis blurs (they do not commute where vertices are missing): <u, K v> ≈ <K u, v>.
        var rgb = CrfTestImages.Crop("10_14_s.jpg", 0, 0, W, H);
        var lattice = PermutohedralLattice.Build(LatticeFeatures.Bilateral(rgb, W, H, 30, 13), N, 5);
        var rnd = new Random(5);
        var u = Enumerable.Range(0, N).Select(_ => (float)rnd.NextDouble()).ToArray();
        var v = Enumerable.Range(0, N).Select(_ => (float)rnd.NextDouble()).ToArray();
        var ku = new float[N];
        var kv = new float[N];
        lattice.Filter(u, ku, 1);
        lattice.Filter(v, kv, 1);
        double a = 0, b = 0;
        for (int i = 0; i < N; i++) { a += (double)u[i] * kv[i]; b += (double)ku[i] * v[i]; }
        Assert.Equal(1.0, a / b, 2e-3);
    }
}
