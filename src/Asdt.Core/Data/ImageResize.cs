namespace Asdt.Data;

/// <summary>Resizing with half-pixel centres, as OpenCV's INTER_LINEAR / INTER_NEAREST_EXACT do:
/// source coordinate = (destination + 0.5) · (source size / destination size) − 0.5.</summary>
public static class ImageResize
{
    /// <summary>Bilinear resize to float RGB (HWC), clamping at the borders (OpenCV replicate border).</summary>
    public static float[] BilinearFloat(RgbImage image, int width, int height)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width));
        var output = new float[(long)width * height * 3];
        var (x0, x1, wx) = Taps(image.Width, width);
        var (y0, y1, wy) = Taps(image.Height, height);
        var src = image.Pixels;
        int stride = image.Width * 3;
        for (int y = 0; y < height; y++)
        {
            int r0 = y0[y] * stride, r1 = y1[y] * stride;
            float fy = wy[y];
            for (int x = 0; x < width; x++)
            {
                int c0 = x0[x] * 3, c1 = x1[x] * 3;
                float fx = wx[x];
                int o = (y * width + x) * 3;
                for (int c = 0; c < 3; c++)
                {
                    float top = src[r0 + c0 + c] + (src[r0 + c1 + c] - src[r0 + c0 + c]) * fx;
                    float bottom = src[r1 + c0 + c] + (src[r1 + c1 + c] - src[r1 + c0 + c]) * fx;
                    output[o + c] = top + (bottom - top) * fy;
                }
            }
        }
        return output;
    }

    /// <summary>Bilinear resize to 8-bit RGB (rounded).</summary>
    public static RgbImage Bilinear(RgbImage image, int width, int height)
    {
        var f = BilinearFloat(image, width, height);
        var output = new RgbImage(width, height);
        for (int i = 0; i < f.Length; i++) output.Pixels[i] = (byte)Math.Clamp(MathF.Round(f[i]), 0, 255);
        return output;
    }

    /// <summary>Nearest-neighbour resize of a label mask (source index = floor((d + 0.5) · src / dst)).</summary>
    public static LabelMask Nearest(LabelMask mask, int width, int height)
    {
        var output = new LabelMask(width, height);
        var xs = new int[width];
        for (int x = 0; x < width; x++) xs[x] = Math.Min(mask.Width - 1, (int)((x + 0.5) * mask.Width / width));
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min(mask.Height - 1, (int)((y + 0.5) * mask.Height / height));
            for (int x = 0; x < width; x++) output.Labels[y * width + x] = mask.Labels[sy * mask.Width + xs[x]];
        }
        return output;
    }

    static (int[] I0, int[] I1, float[] W) Taps(int src, int dst)
    {
        var i0 = new int[dst]; var i1 = new int[dst]; var w = new float[dst];
        double scale = (double)src / dst;
        for (int d = 0; d < dst; d++)
        {
            double s = (d + 0.5) * scale - 0.5;
            if (s < 0) s = 0;
            int a = (int)Math.Floor(s);
            if (a >= src - 1) { i0[d] = i1[d] = src - 1; w[d] = 0; continue; }
            i0[d] = a; i1[d] = a + 1; w[d] = (float)(s - a);
        }
        return (i0, i1, w);
    }
}
