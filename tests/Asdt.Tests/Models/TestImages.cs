using SkiaSharp;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

/// <summary>Decodes real MSRC-21 photos with SkiaSharp (the project's own codecs are written elsewhere).</summary>
public static class TestImages
{
    public static string Msrc21Jpeg(int index) =>
        Directory.GetFiles(Path.Combine(TestData.Msrc21, "JPEGImages"), "*.jpg").OrderBy(f => f, StringComparer.Ordinal).ElementAt(index);

    /// <summary>
    /// RGB values 0..255 as float32, channel-major (3·H·W): the shorter side resized to <paramref name="size"/>
    /// (bilinear), then the centre <paramref name="size"/>×<paramref name="size"/> crop.
    /// </summary>
    public static float[] LoadCenterCrop(string path, int size)
    {
        using var bmp = SKBitmap.Decode(path) ?? throw new InvalidOperationException("cannot decode " + path);
        double s = (double)size / Math.Min(bmp.Width, bmp.Height);
        int w = Math.Max(size, (int)Math.Round(bmp.Width * s)), h = Math.Max(size, (int)Math.Round(bmp.Height * s));
        using var resized = bmp.Resize(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Premul),
            new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None)) ?? throw new InvalidOperationException("resize failed");
        int x0 = (w - size) / 2, y0 = (h - size) / 2;
        var data = new float[3 * size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                var c = resized.GetPixel(x0 + x, y0 + y);
                data[0 * size * size + y * size + x] = c.Red;
                data[1 * size * size + y * size + x] = c.Green;
                data[2 * size * size + y * size + x] = c.Blue;
            }
        return data;
    }

    public static Tensor ToTensor(float[] chw, int size) => tensor(chw, [1, 3, size, size]);
}
