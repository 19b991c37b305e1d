namespace Asdt.Data;

/// <summary>A class-index map, row-major: <c>Labels[y * Width + x]</c> is the class of that pixel; 255 = ignore (void).</summary>
public sealed class LabelMask
{
    /// <summary>The class index meaning "ignore this pixel" (VOC's void / object border band).</summary>
    public const byte Ignore = 255;

    public int Width { get; init; }
    public int Height { get; init; }
    public byte[] Labels { get; init; } = [];

    public LabelMask() { }

    public LabelMask(int width, int height, byte[]? labels = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"mask size {width}x{height} must be positive");
        long n = (long)width * height;
        if (n > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(width), $"mask {width}x{height} is too large");
        if (labels != null && labels.Length != n) throw new ArgumentException($"label buffer has {labels.Length} bytes, {width}x{height} needs {n}", nameof(labels));
        Width = width; Height = height; Labels = labels ?? new byte[n];
    }

    public int PixelCount => Width * Height;

    /// <summary>Pixel count per label value (256 bins, 255 = ignore).</summary>
    public long[] Histogram()
    {
        var h = new long[256];
        foreach (byte b in Labels) h[b]++;
        return h;
    }
}
