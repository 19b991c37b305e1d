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
        // A header claiming far more pixels than the data can encode (corrupt or hostile) is refused before the
        // w×h buffer is allocated: the codecs fill missing rows silently, so only the ratio can tell.
        long perByte = codec.EncodedFormat == SKEncodedImageFormat.Jpeg ? JpegPixelsPerByte : OtherPixelsPerByte;
        if ((long)w * h > perByte * bytes.Length)
            throw new AsdtException(path, $"image header claims {w}x{h} pixels, more than {bytes.Length} bytes of {codec.EncodedFormat} data can hold (corrupt header or truncated file)");
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

    /// <summary>
    /// Most pixels one byte of a file can encode. Huffman-coded JPEG spends at least one bit per 8×8 luma block
    /// (512 pixels per byte); the limit allows twice that. PNG and the rest: deflate expands at most 1032:1 and a
    /// pixel takes at least one bit (8256 per byte).
    /// </summary>
    public const long JpegPixelsPerByte = 1024, OtherPixelsPerByte = 8 * 1032;

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
