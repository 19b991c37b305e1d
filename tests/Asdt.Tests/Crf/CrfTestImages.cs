using Asdt.Data;
using Asdt.Crf;

namespace Asdt.Tests.Crf;

/// <summary>Real MSRC-21 photo crops and realistic unaries for the CRF tests.</summary>
static class CrfTestImages
{
    static readonly Dictionary<string, (byte[] Rgb, int W, int H)> Cache = new();

    public static (byte[] Rgb, int W, int H) Photo(string name)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(name, out var img))
            {
                var image = ImageFile.Read(Path.Combine(TestData.Msrc21, "JPEGImages", name));
                Cache[name] = img = (image.Pixels, image.Width, image.Height);
            }
            return img;
        }
    }

    /// <summary>A w×h crop at (x0, y0) of an MSRC-21 photo, interleaved RGB.</summary>
    public static byte[] Crop(string name, int x0, int y0, int w, int h)
    {
        var (rgb, W, H) = Photo(name);
        Assert.True(x0 + w <= W && y0 + h <= H, $"crop outside {name} ({W}x{H})");
        var c = new byte[w * h * 3];
        for (int y = 0; y < h; y++) rgb.AsSpan(((y0 + y) * W + x0) * 3, w * 3).CopyTo(c.AsSpan(y * w * 3));
        return c;
    }

    /// <summary>
    /// Realistic label-major probabilities [labels][n]: a colour model (each label owns a colour picked from the
    /// image, p ∝ exp(−‖c − c_l‖²/2σ²)) mixed with spatially smoothed noise, like an uncertain classifier.
    /// </summary>
    public static float[] ColourModelProbabilities(byte[] rgb, int w, int h, int labels, int seed, float sigma = 40f, float noise = 0.5f)
    {
        var rnd = new Random(seed);
        int n = w * h;
        var centres = new float[labels * 3];
        for (int l = 0; l < labels; l++)
        {
            int i = rnd.Next(n);
            for (int c = 0; c < 3; c++) centres[l * 3 + c] = rgb[i * 3 + c];
        }
        var logits = new float[labels * n];
        for (int l = 0; l < labels; l++)
        {
            var field = SmoothNoise(w, h, rnd, 4);
            for (int i = 0; i < n; i++)
            {
                float d2 = 0;
                for (int c = 0; c < 3; c++) { float t = rgb[i * 3 + c] - centres[l * 3 + c]; d2 += t * t; }
                logits[l * n + i] = -d2 / (2 * sigma * sigma) + noise * field[i] * 3f;
            }
        }
        return Softmax(logits, labels, n);
    }

    /// <summary>Zero-mean unit-variance noise smoothed with a box filter of radius r (repeated 3 times).</summary>
    public static float[] SmoothNoise(int w, int h, Random rnd, int r)
    {
        var a = new float[w * h];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(rnd.NextDouble() * 2 - 1);
        for (int pass = 0; pass < 3; pass++) a = BoxBlur(a, w, h, r);
        double mean = a.Average(), sd = Math.Sqrt(a.Select(v => (v - mean) * (v - mean)).Average());
        for (int i = 0; i < a.Length; i++) a[i] = (float)((a[i] - mean) / (sd + 1e-12));
        return a;
    }

    /// <summary>The ground-truth label map of an MSRC-21 photo (palette indices; 255 = void).</summary>
    public static byte[] GroundTruth(string name, int x0, int y0, int w, int h)
    {
        var png = Path.Combine(TestData.Msrc21, "SegmentationClass", Path.ChangeExtension(name, ".png"));
        var mask = PalettePng.Read(png);
        int W = mask.Width;
        var labels = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) labels[y * w + x] = mask.Labels[(y0 + y) * W + x0 + x];
        return labels;
    }

    /// <summary>
    /// Segmentation-network-like probabilities [labels][n] from the ground truth: the one-hot map (classes present
    /// in the crop, in increasing index, plus <paramref name="extra"/> absent labels) blurred with a box of radius
    /// <paramref name="blur"/> (soft, misplaced boundaries as from upsampled logits), mixed with smoothed noise,
    /// softmax with temperature. Void pixels get no evidence. Returns the label count.
    /// </summary>
    public static float[] GroundTruthProbabilities(byte[] gt, int w, int h, int seed, out int labels, int extra = 1, int blur = 4, float strength = 3f, float noise = 1f)
    {
        int n = w * h;
        var classes = gt.Where(l => l != 255).Distinct().OrderBy(l => l).ToArray();
        labels = classes.Length + extra;
        var rnd = new Random(seed);
        var logits = new float[labels * n];
        for (int k = 0; k < labels; k++)
        {
            var plane = new float[n];
            if (k < classes.Length) for (int i = 0; i < n; i++) plane[i] = gt[i] == classes[k] ? 1f : 0f;
            var blurred = BoxBlur(plane, w, h, blur);
            var field = SmoothNoise(w, h, rnd, 3);
            for (int i = 0; i < n; i++) logits[k * n + i] = strength * blurred[i] + noise * field[i];
        }
        return Softmax(logits, labels, n);
    }

    /// <summary>Softmax over the label planes of logits <c>[labels][n]</c>, per pixel.</summary>
    static float[] Softmax(float[] logits, int labels, int n)
    {
        var p = new float[labels * n];
        for (int i = 0; i < n; i++)
        {
            float m = float.NegativeInfinity, s = 0;
            for (int l = 0; l < labels; l++) m = Math.Max(m, logits[l * n + i]);
            for (int l = 0; l < labels; l++) s += p[l * n + i] = MathF.Exp(logits[l * n + i] - m);
            for (int l = 0; l < labels; l++) p[l * n + i] /= s;
        }
        return p;
    }

    static float[] BoxBlur(float[] a, int w, int h, int r)
    {
        var b = new float[a.Length];
        var c = new float[a.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float s = 0; int k = 0;
                for (int dx = -r; dx <= r; dx++) { int xx = x + dx; if (xx >= 0 && xx < w) { s += a[y * w + xx]; k++; } }
                b[y * w + x] = s / k;
            }
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float s = 0; int k = 0;
                for (int dy = -r; dy <= r; dy++) { int yy = y + dy; if (yy >= 0 && yy < h) { s += b[yy * w + x]; k++; } }
                c[y * w + x] = s / k;
            }
        return c;
    }
}
