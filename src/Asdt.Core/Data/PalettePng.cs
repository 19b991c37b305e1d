namespace Asdt.Data;

/// <summary>
/// Palette-indexed PNG label masks, read and written by our own PNG code: the class of a pixel is the PNG's own
/// palette index (image libraries expand palettes to colours, and the VOC colour map is not guaranteed in every file).
/// Reads colour type 3 at bit depth 8 (also 1, 2 and 4) and 8-bit greyscale (value = class); anything else is
/// refused with "mask is not 8-bit palette". Writes colour type 3, bit depth 8, with the VOC colour map as PLTE,
/// so any image viewer shows the usual VOC colours.
/// </summary>
public static class PalettePng
{
    /// <summary>Largest mask file accepted (bytes).</summary>
    public const long MaxFileBytes = 256L << 20;

    public static LabelMask Read(string path) => Decode(DataFiles.ReadAllBytes(path, MaxFileBytes), path, out _);

    /// <summary>Decodes a palette PNG held in memory; <paramref name="palette"/> receives the PLTE bytes (RGB triplets) if present.</summary>
    public static LabelMask Decode(ReadOnlySpan<byte> png, string path, out byte[]? palette)
    {
        var d = PngFormat.Decode(png, path, h =>
        {
            bool ok = (h.ColorType == 3 && h.BitDepth is 1 or 2 or 4 or 8) || (h.ColorType == 0 && h.BitDepth == 8);
            if (!ok) throw new AsdtException(path, $"mask is not 8-bit palette (PNG colour type {h.ColorType} {ColorTypeName(h.ColorType)}, bit depth {h.BitDepth})");
            if (h.Interlace != 0) throw new AsdtException(path, "interlaced (Adam7) PNG masks are not supported; re-save the mask without interlacing");
        });
        var h = d.Header;
        palette = d.Palette;
        var mask = new LabelMask(h.Width, h.Height);
        int rowBytes = (int)h.RowBytes, stride = rowBytes + 1;
        if (h.BitDepth == 8)
        {
            for (int y = 0; y < h.Height; y++) Array.Copy(d.Rows, y * stride + 1, mask.Labels, y * h.Width, h.Width);
        }
        else
        {
            int bits = h.BitDepth, perByte = 8 / bits, maskBits = (1 << bits) - 1;
            for (int y = 0; y < h.Height; y++)
            {
                int o = y * stride + 1;
                for (int x = 0; x < h.Width; x++)
                {
                    int b = d.Rows[o + x / perByte];
                    int shift = 8 - bits * (x % perByte + 1);
                    mask.Labels[y * h.Width + x] = (byte)((b >> shift) & maskBits);
                }
            }
        }
        return mask;
    }

    static string ColorTypeName(int t) => t switch
    {
        0 => "greyscale", 2 => "RGB", 3 => "palette", 4 => "greyscale+alpha", 6 => "RGBA", _ => "unknown",
    };

    /// <summary>Writes <paramref name="mask"/> atomically as an 8-bit palette PNG with the VOC colour map.</summary>
    public static void Write(string path, LabelMask mask) => IO.AtomicFile.WriteAllBytes(path, Encode(mask));

    public static byte[] Encode(LabelMask mask, PngFilterMode filter = PngFilterMode.Adaptive)
    {
        if (mask.Labels.Length != (long)mask.Width * mask.Height) throw new ArgumentException("mask buffer does not match its size");
        return PngFormat.Encode(mask.Width, mask.Height, colorType: 3, channels: 1, VocPalette.Rgb(), mask.Labels, filter);
    }
}
