namespace Asdt.Crf;

/// <summary>Feature vectors for the two dense-CRF kernels (ALGORITHM.md §4.1), point-major, pixel i = y·width + x.</summary>
public static class LatticeFeatures
{
    /// <summary>Position kernel features (x/sxy, y/sxy): <c>[n][2]</c>.</summary>
    public static float[] Gaussian(int width, int height, float sxy)
    {
        CheckSize(width, height);
        if (!(sxy > 0)) throw new ArgumentOutOfRangeException(nameof(sxy), "sxy must be positive");
        var f = new float[width * height * 2];
        float inv = 1f / sxy;
        int o = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                f[o++] = x * inv;
                f[o++] = y * inv;
            }
        return f;
    }

    /// <summary>Bilateral kernel features (x/sxy, y/sxy, r/srgb, g/srgb, b/srgb) from interleaved HWC RGB: <c>[n][5]</c>.</summary>
    public static float[] Bilateral(ReadOnlySpan<byte> rgb, int width, int height, float sxy, float srgb)
    {
        CheckSize(width, height);
        if (!(sxy > 0)) throw new ArgumentOutOfRangeException(nameof(sxy), "sxy must be positive");
        if (!(srgb > 0)) throw new ArgumentOutOfRangeException(nameof(srgb), "srgb must be positive");
        int n = width * height;
        if (rgb.Length < n * 3) throw new ArgumentException($"rgb has {rgb.Length} bytes, need {width}x{height}x3", nameof(rgb));
        var f = new float[n * 5];
        float ixy = 1f / sxy, ic = 1f / srgb;
        int o = 0, p = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                f[o++] = x * ixy;
                f[o++] = y * ixy;
                f[o++] = rgb[p++] * ic;
                f[o++] = rgb[p++] * ic;
                f[o++] = rgb[p++] * ic;
            }
        return f;
    }

    static void CheckSize(int width, int height)
    {
        if (width <= 0 || height <= 0 || (long)width * height > int.MaxValue / 8)
            throw new ArgumentOutOfRangeException(nameof(width), $"bad image size {width}x{height}");
    }
}
