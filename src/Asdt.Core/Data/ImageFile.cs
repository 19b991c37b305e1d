using SkiaSharp;

namespace Asdt.Data;

/// <summary>
/// Reading photos (JPEG, PNG and whatever else SkiaSharp decodes; binary PPM "P6" by our own code) into 8-bit RGB,
/// and writing RGB PNGs (our own encoder: deterministic bytes, atomic write). EXIF orientation is not applied,
/// as in the VOC tool chain: pixels are used in stored order. Alpha, if any, is dropped.
/// </summary>
public static class ImageFile
{
    /// <summary>Largest image file accepted (bytes).</summary>
    public const long MaxFileBytes = 512L << 20;

    public static RgbImage Read(string path) => Decode(DataFiles.ReadAllBytes(path, MaxFileBytes), path);

    public static RgbImage Decode(byte[] bytes, string path)
    {
        if (bytes.Length >= 2 && bytes[0] == (byte)'P' && bytes[1] == (byte)'6') return DecodePpm(bytes, path);
        if (bytes.Length == 0) throw new AsdtException(path, "image file is empty");
        using var stream = new MemoryStream(bytes, writable: false);
        using var codec = SKCodec.Create(stream, out SKCodecResult created);
        if (codec == null) throw new AsdtException(path, $"not a readable image ({Describe(created)})");
        int w = codec.Info.Width, h = codec.Info.Height;
        CheckSize(w, h, path);
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        // Row by row where the codec can (JPEG, non-interlaced PNG): memory grows with the rows the data really
        // holds, so a header claiming a huge size over a few bytes of data fails before allocating that size.
        if (codec.ScanlineOrder == SKCodecScanlineOrder.TopDown && codec.StartScanlineDecode(info) == SKCodecResult.Success)
            return DecodeRows(codec, w, h, path);
        if ((long)w * h > MaxPixelsWithoutStreaming && (long)w * h > MaxPixelsPerByte * bytes.Length)
            throw new AsdtException(path, $"image claims {w}x{h} pixels from only {bytes.Length} bytes (corrupt header)");
        var rgba = new byte[(long)w * h * 4];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = rgba) result = codec.GetPixels(info, (IntPtr)p);
        }
        if (result != SKCodecResult.Success) throw new AsdtException(path, $"corrupt or truncated image ({Describe(result)})");
        var image = new RgbImage(w, h);
        var px = image.Pixels;
        for (int i = 0, j = 0; i < px.Length; i += 3, j += 4)
        {
            px[i] = rgba[j]; px[i + 1] = rgba[j + 1]; px[i + 2] = rgba[j + 2];
        }
        return image;
    }

    /// <summary>For formats decoded in one piece (interlaced PNG, GIF, WebP, BMP…): above this many pixels, the file
    /// must hold at least one byte per <see cref="MaxPixelsPerByte"/> pixels, or its header is taken as corrupt
    /// (no real codec compresses further; zlib's limit is 1032:1 on bytes).</summary>
    public const long MaxPixelsWithoutStreaming = 1L << 22, MaxPixelsPerByte = 1L << 13;

    static RgbImage DecodeRows(SKCodec codec, int w, int h, string path)
    {
        int block = (int)Math.Clamp((1L << 20) / (4L * w), 1, h);
        var rgba = new byte[4L * w * block];
        var strips = new List<byte[]>();
        for (int y = 0; y < h; y += block)
        {
            int n = Math.Min(block, h - y), got;
            unsafe
            {
                fixed (byte* p = rgba) got = codec.GetScanlines((IntPtr)p, n, 4 * w);
            }
            if (got < n) throw new AsdtException(path, $"corrupt or truncated image (pixel data ends at row {y + got} of {h})");
            var strip = new byte[3L * w * n];
            for (int i = 0, j = 0; i < strip.Length; i += 3, j += 4)
            {
                strip[i] = rgba[j]; strip[i + 1] = rgba[j + 1]; strip[i + 2] = rgba[j + 2];
            }
            strips.Add(strip);
        }
        var image = new RgbImage(w, h);
        long o = 0;
        foreach (var strip in strips) { Array.Copy(strip, 0, image.Pixels, o, strip.Length); o += strip.Length; }
        return image;
    }

    /// <summary>Width and height from the file header, without decoding the pixels.</summary>
    public static (int Width, int Height) ReadSize(string path)
    {
        var bytes = DataFiles.ReadAllBytes(path, MaxFileBytes);
        if (bytes.Length >= 2 && bytes[0] == (byte)'P' && bytes[1] == (byte)'6')
        {
            var (w, h, _, _) = PpmHeader(bytes, path);
            return (w, h);
        }
        using var stream = new MemoryStream(bytes, writable: false);
        using var codec = SKCodec.Create(stream, out SKCodecResult created);
        if (codec == null) throw new AsdtException(path, $"not a readable image ({Describe(created)})");
        return (codec.Info.Width, codec.Info.Height);
    }

    static string Describe(SKCodecResult r) => r switch
    {
        SKCodecResult.IncompleteInput => "incomplete input: the file is truncated",
        SKCodecResult.ErrorInInput => "error in the encoded data",
        SKCodecResult.InvalidInput => "invalid input",
        SKCodecResult.Unimplemented => "unknown or unsupported format",
        _ => r.ToString(),
    };

    static void CheckSize(long w, long h, string path)
    {
        if (w <= 0 || h <= 0) throw new AsdtException(path, $"image has size {w}x{h}");
        if (w * h > PngFormat.MaxPixels) throw new AsdtException(path, $"image {w}x{h} is larger than the {PngFormat.MaxPixels} pixels accepted");
    }

    // ---------------------------------------------------------------- PPM (P6, maxval <= 255)
    static RgbImage DecodePpm(byte[] bytes, string path)
    {
        var (w, h, maxval, offset) = PpmHeader(bytes, path);
        long n = (long)w * h * 3;
        if (bytes.Length - offset < n) throw new AsdtException(path, $"truncated PPM ({bytes.Length - offset} of {n} pixel bytes)");
        var image = new RgbImage(w, h);
        Array.Copy(bytes, offset, image.Pixels, 0, n);
        if (maxval != 255)
            for (int i = 0; i < image.Pixels.Length; i++)
                image.Pixels[i] = (byte)Math.Min(255, (image.Pixels[i] * 255 + maxval / 2) / maxval);
        return image;
    }

    static (int W, int H, int MaxVal, int Offset) PpmHeader(byte[] b, string path)
    {
        int pos = 2;
        long ReadNumber()
        {
            while (true)
            {
                if (pos >= b.Length) throw new AsdtException(path, "truncated PPM header");
                if (b[pos] == '#') { while (pos < b.Length && b[pos] != '\n') pos++; continue; }
                if (b[pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r') { pos++; continue; }
                break;
            }
            long v = 0; int digits = 0;
            while (pos < b.Length && b[pos] >= '0' && b[pos] <= '9' && digits < 10) { v = v * 10 + (b[pos] - '0'); pos++; digits++; }
            if (digits == 0) throw new AsdtException(path, "corrupt PPM header (number expected)");
            return v;
        }
        long w = ReadNumber(), h = ReadNumber(), max = ReadNumber();
        if (pos >= b.Length) throw new AsdtException(path, "truncated PPM header");
        pos++; // the single whitespace before the pixels
        CheckSize(w, h, path);
        if (max is < 1 or > 255) throw new AsdtException(path, $"PPM with maxval {max} is not supported (8-bit only)");
        return ((int)w, (int)h, (int)max, pos);
    }

    // ---------------------------------------------------------------- writing
    /// <summary>Writes an 8-bit RGB PNG atomically (our encoder; identical bytes for identical pixels).</summary>
    public static void WritePng(string path, RgbImage image) => IO.AtomicFile.WriteAllBytes(path, EncodePng(image));

    public static byte[] EncodePng(RgbImage image, PngFilterMode filter = PngFilterMode.Adaptive)
    {
        if (image.Pixels.Length != (long)image.Width * image.Height * 3) throw new ArgumentException("pixel buffer does not match the image size");
        return PngFormat.Encode(image.Width, image.Height, colorType: 2, channels: 3, palette: null, image.Pixels, filter);
    }
}
