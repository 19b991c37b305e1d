namespace Asdt.Data;

/// <summary>An 8-bit RGB image, pixels interleaved row-major (HWC): <c>Pixels[(y * Width + x) * 3 + c]</c>, c = 0 R, 1 G, 2 B.</summary>
public sealed class RgbImage
{
    public int Width { get; init; }
    public int Height { get; init; }
    public byte[] Pixels { get; init; } = [];

    public RgbImage() { }

    public RgbImage(int width, int height, byte[]? pixels = null)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} must be positive");
        long n = (long)width * height * 3;
        if (n > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(width), $"image {width}x{height} is too large");
        if (pixels != null && pixels.Length != n) throw new ArgumentException($"pixel buffer has {pixels.Length} bytes, {width}x{height}x3 needs {n}", nameof(pixels));
        Width = width; Height = height; Pixels = pixels ?? new byte[n];
    }

    public int PixelCount => Width * Height;
}
