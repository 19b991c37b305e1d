using Asdt.Crf;
using Xunit.Abstractions;

namespace Asdt.Tests.Crf;

/// <summary>
/// The exact position kernel (two 1-D convolutions) against brute-force Gaussian sums Σ_j exp(−½‖f_i − f_j‖²) v_j
/// (<see cref="ExactGaussianFilter"/>, double accumulation over every pixel pair) on crops of real MSRC-21 photos.
/// Unlike the lattice there is no global scale to fit: the numbers are compared as they are.
/// </summary>
public class SeparableGaussianFilterTests(ITestOutputHelper output)
{
    static readonly (string Name, int X, int Y)[] Crops = [("2_13_s.jpg", 100, 60), ("10_14_s.jpg", 150, 100), ("5_12_s.jpg", 30, 20)];

    /// <summary>Positive test values [n][channels] from the photo: red, green, smoothed noise, a soft label, ...</summary>
    static float[] Values(byte[] rgb, int w, int h, int channels, int seed)
    {
        var rnd = new Random(seed);
        int n = w * h;
        var v = new float[n * channels];
        for (int c = 0; c < channels; c++)
        {
            var noise = CrfTestImages.SmoothNoise(w, h, rnd, 1 + c % 4);
            for (int i = 0; i < n; i++)
                v[i * channels + c] = (c % 3) switch
                {
                    0 => rgb[i * 3 + c / 3 % 3] / 255f + 0.05f,
                    1 => 1f / (1f + MathF.Exp(-2f * noise[i])),
                    _ => rgb[i * 3 + 1] > rgb[i * 3 + 2] ? 0.9f : 0.1f,
                };
        }
        return v;
    }

    /// <summary>(relative L2 error, max elementwise relative error) of the separable filter vs brute force.</summary>
    static (double L2, double Max) Errors(int w, int h, float sxy, float[] values, int channels, int threads = 1)
    {
        int n = w * h;
        var exact = ExactGaussianFilter.Build(LatticeFeatures.Gaussian(w, h, sxy), n, 2);
        var sep = new SeparableGaussianFilter(w, h, sxy);
        var e = new float[n * channels];
        var s = new float[n * channels];
        exact.Filter(values, e, channels);
        sep.Filter(values, s, channels, threads);
        double num = 0, den = 0, max = 0;
        for (int k = 0; k < e.Length; k++)
        {
            double d = s[k] - (double)e[k];
            num += d * d; den += (double)e[k] * e[k];
            max = Math.Max(max, Math.Abs(d) / Math.Abs(e[k]));
        }
        return (Math.Sqrt(num / den), max);
    }

    [Theory]
    // Measured (worst of 3 crops, 3 and 21 channels): about 1e-7 L2 and a few 1e-7 elementwise (float rounding).
    [InlineData(3f)]
    [InlineData(1f)]
    [InlineData(5f)]
    [InlineData(0.5f)]
    [InlineData(12f)]
    public void MatchesBruteForceSums_OnRealCrops(float sxy)
    {
        const int w = 48, h = 48;
        double worstL2 = 0, worstMax = 0;
        foreach (var (name, x, y) in Crops)
            foreach (int channels in new[] { 1, 3, 21 })
            {
                var rgb = CrfTestImages.Crop(name, x, y, w, h);
                var (l2, max) = Errors(w, h, sxy, Values(rgb, w, h, channels, 7), channels);
                worstL2 = Math.Max(worstL2, l2); worstMax = Math.Max(worstMax, max);
            }
        output.WriteLine($"sxy={sxy} (radius {SeparableGaussianFilter.RadiusFor(sxy)}): relative L2 error {worstL2:E2}, max elementwise {worstMax:E2}");
        Assert.True(worstL2 <= 1e-6, $"relative L2 error {worstL2:E2} > 1e-6");
        Assert.True(worstMax <= 1e-5, $"max elementwise relative error {worstMax:E2} > 1e-5");
    }

    [Fact]
    public void Borders_AndOddShapes_MatchBruteForce()
    {
        // Non-square crops, crops narrower than the truncation radius, single rows and columns: every pixel is a
        // border pixel for some tap. The last one has a radius over 512 (tap pointers off the stack). Checked elementwise, corners included, with 2 threads (ranges split mid-row).
        var (photo, pw, _) = CrfTestImages.Photo("4_24_s.jpg");
        foreach (var (w, h, sxy) in new[] { (61, 37, 3f), (9, 70, 3f), (70, 5, 3f), (1, 40, 3f), (40, 1, 2f), (1, 1, 3f), (13, 11, 30f), (3, 1400, 100f) })
        {
            var rgb = new byte[w * h * 3];
            for (int y = 0; y < h; y++) photo.AsSpan((((40 + y) % 200) * pw + 30) * 3, w * 3).CopyTo(rgb.AsSpan(y * w * 3));
            foreach (int channels in new[] { 3, 5 })   // 4-lane rows (pixel pairs) and 8-lane rows
            {
                var (l2, max) = Errors(w, h, sxy, Values(rgb, w, h, channels, 3), channels, threads: 2);
                output.WriteLine($"{w}x{h} sxy={sxy}, {channels} channels: L2 {l2:E2}, max {max:E2}");
                Assert.True(max <= 1e-5, $"{w}x{h}, {channels} channels: max relative error {max:E2}");
            }
        }
        // K·1 in a corner is the product of the two one-sided 1-D sums (a closed form the filter does not use).
        var f = new SeparableGaussianFilter(50, 40, 3f);
        var ones = Enumerable.Repeat(1f, 50 * 40).ToArray();
        var k1 = new float[50 * 40];
        f.Filter(ones, k1, 1);
        double half = 0;
        for (int k = 0; k <= f.Radius; k++) half += Math.Exp(-k * k / 18.0);
        Assert.Equal(half * half, k1[0], 1e-5 * half * half);
        Assert.Equal(half * half, k1[50 * 40 - 1], 1e-5 * half * half);
        double full = 2 * half - 1;
        Assert.Equal(full * full, k1[20 * 50 + 25], 1e-5 * full * full);
    }

    [Fact]
    public void IsSymmetric_AndThreadsAndChannelLayoutsAgree()
    {
        const int w = 120, h = 90, n = w * h;
        var (photo, pw, _) = CrfTestImages.Photo("2_13_s.jpg");
        var rgb = new byte[n * 3];
        for (int y = 0; y < h; y++) photo.AsSpan((y * pw) * 3, w * 3).CopyTo(rgb.AsSpan(y * w * 3));
        var f = new SeparableGaussianFilter(w, h, 3f);
        // <u, K v> = <K u, v>: the operator is the symmetric Gaussian matrix.
        var rnd = new Random(5);
        var u = Enumerable.Range(0, n).Select(_ => (float)rnd.NextDouble()).ToArray();
        var v = Enumerable.Range(0, n).Select(i => rgb[3 * i] / 255f).ToArray();
        var ku = new float[n];
        var kv = new float[n];
        f.Filter(u, ku, 1);
        f.Filter(v, kv, 1);
        double a = 0, b = 0;
        for (int i = 0; i < n; i++) { a += (double)u[i] * kv[i]; b += (double)ku[i] * v[i]; }
        Assert.Equal(1.0, a / b, 1e-6);

        // 21 channels (stride 24) = each channel alone (stride 4) = 2 threads (bitwise: same per-pixel sums).
        const int ch = 21;
        var vals = Values(rgb, w, h, ch, 9);
        var all = new float[n * ch];
        var par = new float[n * ch];
        f.Filter(vals, all, ch);
        f.Filter(vals, par, ch, threads: 2);
        Assert.Equal(all, par);
        var one = new float[n];
        var res = new float[n];
        foreach (int c in new[] { 0, 7, 8, 20 })
        {
            for (int i = 0; i < n; i++) one[i] = vals[i * ch + c];
            f.Filter(one, res, 1);
            for (int i = 0; i < n; i++) Assert.Equal(res[i], all[i * ch + c], res[i] * 2e-6f);
        }
        // 40 channels: stride 40 = one group of four vectors + one.
        var v40 = Values(rgb, w, h, 40, 2);
        var r40 = new float[n * 40];
        f.Filter(v40, r40, 40, threads: 2);
        for (int i = 0; i < n; i++) one[i] = v40[i * 40 + 35];
        f.Filter(one, res, 1);
        for (int i = 0; i < n; i++) Assert.Equal(res[i], r40[i * 40 + 35], res[i] * 2e-6f);
    }

    [Fact]
    public void Radius_DropsOnlyTailsBelowFloatPrecision()
    {
        Assert.Equal(16, SeparableGaussianFilter.RadiusFor(3f));   // 33 taps
        Assert.Equal(5, SeparableGaussianFilter.RadiusFor(1f));
        foreach (float s in new[] { 0.3f, 1f, 3f, 7.5f, 40f })
        {
            int r = SeparableGaussianFilter.RadiusFor(s);
            if (s >= 1) Assert.True(r >= 4 * s, $"sxy {s}: radius {r} < 4σ");
            double total = 0, tail = 0;
            for (int k = -(int)(15 * s) - 2; k <= (int)(15 * s) + 2; k++)
            {
                double t = Math.Exp(-k * (double)k / (2.0 * s * s));
                total += t;
                if (Math.Abs(k) > r) tail += t;
            }
            Assert.True(tail <= total * Math.Pow(2, -24), $"sxy {s}: dropped {tail / total:E2}");
            if (r > 0) Assert.True(tail + 2 * Math.Exp(-r * (double)r / (2.0 * s * s)) > total * Math.Pow(2, -24), "radius not minimal");
        }
        Assert.Equal(9, new SeparableGaussianFilter(10, 4, 30f).Radius);   // never more than the image needs
    }
}
