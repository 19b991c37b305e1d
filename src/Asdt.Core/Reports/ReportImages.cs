using Asdt.Data;
using Asdt.Evaluation;

namespace Asdt.Reports;

/// <summary>Pictures of one image's stage-1 outputs for the report: label maps in VOC colours, CAM heat maps, confidence-shaded argmax.</summary>
public static class ReportImages
{
    /// <summary>VOC's colour for ignore (255).</summary>
    static readonly (byte R, byte G, byte B) IgnoreColor = (224, 224, 192);

    /// <summary>A label map in VOC palette colours; 255 in the ignore colour, or hatched (light stripes) with <paramref name="hatchIgnore"/>.</summary>
    public static RgbImage Labels(LabelMask mask, bool hatchIgnore = false)
    {
        var image = new RgbImage(mask.Width, mask.Height);
        for (int y = 0; y < mask.Height; y++)
            for (int x = 0; x < mask.Width; x++)
            {
                int i = y * mask.Width + x;
                byte l = mask.Labels[i];
                (byte R, byte G, byte B) c;
                if (l == LabelMask.Ignore)
                    c = hatchIgnore ? (((x + y) / 3) % 2 == 0 ? ((byte)235, (byte)235, (byte)235) : ((byte)150, (byte)150, (byte)150)) : IgnoreColor;
                else c = VocPalette.Color(l);
                image.Pixels[i * 3] = c.R; image.Pixels[i * 3 + 1] = c.G; image.Pixels[i * 3 + 2] = c.B;
            }
        return image;
    }

    /// <summary>Max CAM over the present classes as a heat map (blue → red, "jet"), blended 35 % with the grey image.</summary>
    public static RgbImage CamHeat(RgbImage image, ReadOnlySpan<float> cams, int foregroundClasses, IReadOnlyList<int> present)
    {
        int n = image.PixelCount;
        var output = new RgbImage(image.Width, image.Height);
        for (int i = 0; i < n; i++)
        {
            float m = 0;
            foreach (int c in present) m = Math.Max(m, cams[c * n + i]);
            var (r, g, b) = Jet(m);
            float grey = (image.Pixels[i * 3] * 0.299f + image.Pixels[i * 3 + 1] * 0.587f + image.Pixels[i * 3 + 2] * 0.114f);
            output.Pixels[i * 3] = (byte)(0.65f * r + 0.35f * grey);
            output.Pixels[i * 3 + 1] = (byte)(0.65f * g + 0.35f * grey);
            output.Pixels[i * 3 + 2] = (byte)(0.65f * b + 0.35f * grey);
        }
        return output;
    }

    /// <summary>Argmax of class-major probabilities in VOC colours, faded to white where the winning probability is low.</summary>
    public static RgbImage Confidence(int width, int height, ReadOnlySpan<float> probabilities, int classes, IReadOnlyList<int>? present)
    {
        int n = width * height;
        var allowed = new bool[classes];
        allowed[0] = true;
        if (present == null) Array.Fill(allowed, true); else foreach (int c in present) allowed[c + 1] = true;
        var output = new RgbImage(width, height);
        for (int i = 0; i < n; i++)
        {
            int best = 0; float value = float.NegativeInfinity, sum = 0;
            for (int k = 0; k < classes; k++)
            {
                if (!allowed[k]) continue;
                float v = probabilities[k * n + i];
                sum += v;
                if (v > value) { value = v; best = k; }
            }
            float confidence = sum > 0 ? Math.Clamp(value / sum, 0, 1) : 0;
            var c = VocPalette.Color(best);
            // Full colour at confidence 1, white at confidence 1 / (number of allowed classes) or less.
            float lowest = 1f / Math.Max(1, allowed.Count(a => a));
            float t = Math.Clamp((confidence - lowest) / (1 - lowest + 1e-6f), 0, 1);
            output.Pixels[i * 3] = (byte)(255 + (c.R - 255) * t);
            output.Pixels[i * 3 + 1] = (byte)(255 + (c.G - 255) * t);
            output.Pixels[i * 3 + 2] = (byte)(255 + (c.B - 255) * t);
        }
        return output;
    }

    static (float R, float G, float B) Jet(float v)
    {
        v = Math.Clamp(v, 0, 1);
        float r = Math.Clamp(1.5f - Math.Abs(4 * v - 3), 0, 1);
        float g = Math.Clamp(1.5f - Math.Abs(4 * v - 2), 0, 1);
        float b = Math.Clamp(1.5f - Math.Abs(4 * v - 1), 0, 1);
        return (255 * r, 255 * g, 255 * b);
    }

    /// <summary>
    /// mIoU of one image: the mean IoU over the classes that occur in its ground truth or prediction
    /// (255 ignored). NaN when the image has no labelled pixel.
    /// </summary>
    public static double ImageMeanIoU(LabelMask truth, LabelMask prediction, int classes)
    {
        var m = new ConfusionMatrix(classes);
        m.Add(truth.Labels, prediction.Labels);
        return m.MeanIoU();
    }
}
