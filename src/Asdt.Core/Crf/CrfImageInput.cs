using System.Runtime.InteropServices;
using Asdt.IO;
using SkiaSharp;

namespace Asdt.Crf;

/// <summary>
/// Small image I/O for the CRF command and tests until the shared codecs (Asdt.Data) land: decode
/// PNG/JPEG with SkiaSharp or binary PPM (P6) to interleaved RGB, and write label maps as PNG (8-bit label
/// indices or VOC palette colours, ALGORITHM.md §8.2).
/// </summary>
public static class CrfImageInput
{
    /// <summary>Reads an image as interleaved HWC RGB bytes. Throws <see cref="AsdtException"/> on a missing or corrupt file.</summary>
    public static byte[] ReadRgb(string path, out int width, out int height)
    {
        if (!File.Exists(path)) throw new AsdtException(path, "file not found");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new AsdtException(path, $"cannot read ({e.Message})", e); }
        if (bytes.Length >= 2 && bytes[0] == (byte)'P' && bytes[1] == (byte)'6') return ReadPpm(path, bytes, out width, out height);

        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new AsdtException(path, "not a readable image (PNG, JPEG or PPM P6 expected)");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new AsdtException(path, $"cannot decode image ({result})");
        width = info.Width; height = info.Height;
        return RgbaToRgb(bitmap.GetPixelSpan(), width, height, bitmap.RowBytes);
    }

    static byte[] RgbaToRgb(ReadOnlySpan<byte> rgba, int width, int height, int rowBytes)
    {
        var rgb = new byte[width * height * 3];
        int o = 0;
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> row = rgba.Slice(y * rowBytes, width * 4);
            for (int x = 0; x < width; x++)
            {
                rgb[o++] = row[4 * x]; rgb[o++] = row[4 * x + 1]; rgb[o++] = row[4 * x + 2];
            }
        }
        return rgb;
    }

    /// <summary>Binary PPM (P6), maxval ≤ 255, comments allowed in the header.</summary>
    static byte[] ReadPpm(string path, byte[] bytes, out int width, out int height)
    {
        int pos = 2;
        int Next()
        {
            while (true)
            {
                while (pos < bytes.Length && char.IsWhiteSpace((char)bytes[pos])) pos++;
                if (pos < bytes.Length && bytes[pos] == (byte)'#') { while (pos < bytes.Length && bytes[pos] != (byte)'\n') pos++; continue; }
                break;
            }
            long v = 0; int start = pos;
            while (pos < bytes.Length && bytes[pos] >= (byte)'0' && bytes[pos] <= (byte)'9' && v < int.MaxValue) v = v * 10 + (bytes[pos++] - '0');
            if (pos == start || v > int.MaxValue) throw new AsdtException(path, "corrupt PPM header");
            return (int)v;
        }
        width = Next(); height = Next();
        int maxval = Next();
        if (maxval is < 1 or > 255) throw new AsdtException(path, $"PPM maxval {maxval} not supported (8-bit only)");
        if (width <= 0 || height <= 0 || (long)width * height > int.MaxValue / 3) throw new AsdtException(path, $"bad PPM size {width}x{height}");
        pos++; // single whitespace after maxval
        long need = (long)width * height * 3;
        if (bytes.Length - pos < need) throw new AsdtException(path, $"truncated PPM: {bytes.Length - pos} pixel bytes, need {need}");
        var rgb = bytes.AsSpan(pos, (int)need).ToArray();
        if (maxval != 255)
            for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)Math.Min(255, (rgb[i] * 255 + maxval / 2) / maxval);
        return rgb;
    }

    /// <summary>Resizes interleaved RGB with SkiaSharp (linear filtering + mipmaps when shrinking).</summary>
    public static byte[] Resize(ReadOnlySpan<byte> rgb, int width, int height, int newWidth, int newHeight)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var src = new SKBitmap(info);
        Span<byte> px = src.GetPixelSpan();
        for (int i = 0, n = width * height; i < n; i++)
        {
            px[4 * i] = rgb[3 * i]; px[4 * i + 1] = rgb[3 * i + 1]; px[4 * i + 2] = rgb[3 * i + 2]; px[4 * i + 3] = 255;
        }
        using var dst = src.Resize(new SKImageInfo(newWidth, newHeight, SKColorType.Rgba8888, SKAlphaType.Opaque),
            new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)) ?? throw new InvalidOperationException("resize failed");
        return RgbaToRgb(dst.GetPixelSpan(), newWidth, newHeight, dst.RowBytes);
    }

    /// <summary>VOC palette colour of a label index (bit interleaving, ALGORITHM.md §8.2).</summary>
    public static (byte R, byte G, byte B) VocColour(int index)
    {
        int r = 0, g = 0, b = 0, c = index;
        for (int j = 0; j < 8; j++)
        {
            r |= (c & 1) << (7 - j);
            g |= ((c >> 1) & 1) << (7 - j);
            b |= ((c >> 2) & 1) << (7 - j);
            c >>= 3;
        }
        return ((byte)r, (byte)g, (byte)b);
    }

    /// <summary>Writes a label map as PNG atomically: 8-bit grayscale label indices, or RGB VOC colours.</summary>
    public static void WriteLabelPng(string path, ReadOnlySpan<byte> labels, int width, int height, bool vocColours)
    {
        if (labels.Length < width * height) throw new ArgumentException("labels too short", nameof(labels));
        SKImageInfo info = vocColours
            ? new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque)
            : new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        Span<byte> px = bitmap.GetPixelSpan();
        int rowBytes = bitmap.RowBytes;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte l = labels[y * width + x];
                if (vocColours)
                {
                    var (r, g, b) = VocColour(l);
                    int o = y * rowBytes + 4 * x;
                    px[o] = r; px[o + 1] = g; px[o + 2] = b; px[o + 3] = 255;
                }
                else px[y * rowBytes + x] = l;
            }
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100) ?? throw new AsdtException(path, "PNG encoding failed");
        AtomicFile.WriteAllBytes(path, png.AsSpan());
    }

    /// <summary>Reads a raw little-endian float32 file.</summary>
    public static float[] ReadFloat32(string path)
    {
        if (!File.Exists(path)) throw new AsdtException(path, "file not found");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new AsdtException(path, $"cannot read ({e.Message})", e); }
        if (bytes.Length % 4 != 0) throw new AsdtException(path, $"size {bytes.Length} bytes is not a multiple of 4 (raw float32 expected)");
        var f = new float[bytes.Length / 4];
        if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(bytes).CopyTo(f);
        else for (int i = 0; i < f.Length; i++) f[i] = BitConverter.ToSingle(bytes, 4 * i); // unreachable on x64
        return f;
    }

    /// <summary>Writes a raw little-endian float32 file atomically.</summary>
    public static void WriteFloat32(string path, ReadOnlySpan<float> values) =>
        AtomicFile.WriteAllBytes(path, MemoryMarshal.AsBytes(values));
}
