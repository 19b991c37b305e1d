using System.Buffers.Binary;
using System.IO.Compression;

namespace Asdt.Data;

/// <summary>How the PNG writer filters scanlines. <see cref="Adaptive"/> picks, per row, the filter with the
/// smallest sum of absolute (signed) residuals (the PNG specification's recommended heuristic).</summary>
public enum PngFilterMode { Adaptive = -1, None = 0, Sub = 1, Up = 2, Average = 3, Paeth = 4 }

/// <summary>The PNG container, written by us (PNG specification, ISO/IEC 15948): signature, length-type-data-CRC
/// chunks, zlib-compressed scanlines with one filter byte per row. Used for palette masks (which image libraries
/// expand to colours) and for deterministic RGB output.</summary>
internal static class PngFormat
{
    public static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Largest image we accept (pixels), checked before allocating anything.</summary>
    public const long MaxPixels = 1L << 28;

    /// <summary>Deflate's largest expansion (258-byte matches coded in about 2 bits: 1032:1).</summary>
    const long MaxDeflateRatio = 1032;

    public readonly record struct Header(int Width, int Height, int BitDepth, int ColorType, int Interlace)
    {
        public int Channels => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        public long RowBytes => ((long)Width * Channels * BitDepth + 7) / 8;
        /// <summary>Bytes per complete pixel for filtering (at least 1).</summary>
        public int FilterBpp => Math.Max(1, Channels * BitDepth / 8);
    }

    public sealed record Decoded(Header Header, byte[]? Palette, byte[] Rows);

    // ---------------------------------------------------------------- CRC-32 (ISO 3309, as PNG uses it)
    static readonly uint[] CrcTable = BuildCrcTable();

    static uint[] BuildCrcTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    public static uint Crc(ReadOnlySpan<byte> typeAndData)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in typeAndData) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    // ---------------------------------------------------------------- reading
    /// <summary>Parses and checks the container, inflates and unfilters the scanlines. <paramref name="accept"/>
    /// sees the header first and throws when the caller cannot use that pixel format.</summary>
    public static Decoded Decode(ReadOnlySpan<byte> file, string path, Action<Header> accept)
    {
        if (file.Length < 8 || !file[..8].SequenceEqual(Signature))
            throw new AsdtException(path, file.Length < 8 ? "not a PNG file (truncated signature)" : "not a PNG file (bad signature)");
        int pos = 8;
        Header? header = null;
        byte[]? palette = null;
        using var idat = new MemoryStream();
        bool sawEnd = false;
        while (pos < file.Length)
        {
            if (file.Length - pos < 12) throw new AsdtException(path, $"truncated PNG (incomplete chunk at byte {pos})");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(file[pos..]);
            if (length > int.MaxValue || length > file.Length - pos - 12)
                throw new AsdtException(path, $"truncated PNG (chunk at byte {pos} declares {length} bytes, {Math.Max(0, file.Length - pos - 12)} remain)");
            var typeAndData = file.Slice(pos + 4, 4 + (int)length);
            string type = System.Text.Encoding.ASCII.GetString(typeAndData[..4]);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(file[(pos + 8 + (int)length)..]);
            if (Crc(typeAndData) != crc) throw new AsdtException(path, $"corrupt PNG (CRC mismatch in {type} chunk at byte {pos})");
            var data = typeAndData[4..];
            pos += 12 + (int)length;
            if (header == null && type != "IHDR") throw new AsdtException(path, "corrupt PNG (first chunk is not IHDR)");
            switch (type)
            {
                case "IHDR":
                    if (header != null) throw new AsdtException(path, "corrupt PNG (two IHDR chunks)");
                    header = ReadHeader(data, path);
                    accept(header.Value);
                    break;
                case "PLTE":
                    if (length % 3 != 0 || length == 0 || length > 768) throw new AsdtException(path, $"corrupt PNG (PLTE of {length} bytes)");
                    palette = data.ToArray();
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
                default:
                    if ((typeAndData[0] & 0x20) == 0)
                        throw new AsdtException(path, $"unsupported PNG (unknown critical chunk {type})");
                    break; // ancillary chunk: skipped
            }
            if (sawEnd) break;
        }
        if (header == null) throw new AsdtException(path, "truncated PNG (no IHDR)");
        if (!sawEnd) throw new AsdtException(path, "truncated PNG (file ends before IEND)");
        if (idat.Length == 0) throw new AsdtException(path, "corrupt PNG (no image data)");
        var h = header.Value;
        long stride = h.RowBytes + 1;
        long expected = stride * h.Height;
        if (expected > int.MaxValue) throw new AsdtException(path, $"PNG {h.Width}x{h.Height} is too large");
        // Deflate cannot compress better than 1032:1, so image data this small cannot hold that many rows:
        // refuse before allocating them (a corrupt header must not cost gigabytes).
        if (expected > MaxDeflateRatio * idat.Length + 1024)
            throw new AsdtException(path, $"truncated PNG image data ({idat.Length} compressed bytes cannot hold {h.Width}x{h.Height} pixels)");
        var rows = new byte[expected];
        idat.Position = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            int got = 0;
            while (got < rows.Length)
            {
                int n = z.Read(rows, got, rows.Length - got);
                if (n == 0) break;
                got += n;
            }
            if (got < rows.Length) throw new AsdtException(path, $"truncated PNG image data ({got} of {expected} bytes)");
        }
        catch (Exception e) when (e is InvalidDataException or IOException) // ZLibException is an IOException
        { throw new AsdtException(path, $"corrupt PNG image data ({e.Message})", e); }
        Unfilter(rows, h.Height, (int)h.RowBytes, h.FilterBpp, path);
        return new Decoded(h, palette, rows);
    }

    static Header ReadHeader(ReadOnlySpan<byte> d, string path)
    {
        if (d.Length != 13) throw new AsdtException(path, $"corrupt PNG (IHDR of {d.Length} bytes)");
        uint w = BinaryPrimitives.ReadUInt32BigEndian(d), hgt = BinaryPrimitives.ReadUInt32BigEndian(d[4..]);
        if (w == 0 || hgt == 0 || w > int.MaxValue || hgt > int.MaxValue) throw new AsdtException(path, $"corrupt PNG (size {w}x{hgt})");
        if ((long)w * hgt > MaxPixels) throw new AsdtException(path, $"PNG {w}x{hgt} is larger than the {MaxPixels} pixels accepted");
        var h = new Header((int)w, (int)hgt, d[8], d[9], d[12]);
        bool valid = h.ColorType switch
        {
            0 => h.BitDepth is 1 or 2 or 4 or 8 or 16,
            3 => h.BitDepth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => h.BitDepth is 8 or 16,
            _ => false,
        };
        if (!valid) throw new AsdtException(path, $"corrupt PNG (colour type {h.ColorType} with bit depth {h.BitDepth})");
        if (d[10] != 0 || d[11] != 0) throw new AsdtException(path, "unsupported PNG (unknown compression or filter method)");
        if (h.Interlace > 1) throw new AsdtException(path, $"corrupt PNG (interlace method {h.Interlace})");
        return h;
    }

    /// <summary>Undoes the per-row filters in place; <paramref name="rows"/> holds (1 + rowBytes) per row, filter byte first.</summary>
    static void Unfilter(byte[] rows, int height, int rowBytes, int bpp, string path)
    {
        int stride = rowBytes + 1;
        for (int y = 0; y < height; y++)
        {
            int o = y * stride + 1, p = o - stride; // p: previous row's data (invalid for y = 0)
            byte filter = rows[o - 1];
            switch (filter)
            {
                case 0: break;
                case 1:
                    for (int i = bpp; i < rowBytes; i++) rows[o + i] += rows[o + i - bpp];
                    break;
                case 2:
                    if (y > 0) for (int i = 0; i < rowBytes; i++) rows[o + i] += rows[p + i];
                    break;
                case 3:
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int a = i >= bpp ? rows[o + i - bpp] : 0, b = y > 0 ? rows[p + i] : 0;
                        rows[o + i] += (byte)((a + b) >> 1);
                    }
                    break;
                case 4:
                    for (int i = 0; i < rowBytes; i++)
                    {
                        int a = i >= bpp ? rows[o + i - bpp] : 0, b = y > 0 ? rows[p + i] : 0, c = i >= bpp && y > 0 ? rows[p + i - bpp] : 0;
                        rows[o + i] += (byte)Paeth(a, b, c);
                    }
                    break;
                default:
                    throw new AsdtException(path, $"corrupt PNG (unknown filter type {filter} on row {y})");
            }
        }
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    // ---------------------------------------------------------------- writing
    /// <summary>Encodes packed 8-bit rows (<paramref name="channels"/> bytes per pixel, no filter bytes).</summary>
    public static byte[] Encode(int width, int height, int colorType, int channels, byte[]? palette, ReadOnlySpan<byte> pixels, PngFilterMode mode)
    {
        int rowBytes = width * channels;
        if (pixels.Length != (long)rowBytes * height) throw new ArgumentException("pixel buffer size does not match the image size");
        var filtered = new byte[(long)(rowBytes + 1) * height];
        var candidate = new byte[rowBytes];
        var best = new byte[rowBytes];
        for (int y = 0; y < height; y++)
        {
            var cur = pixels.Slice(y * rowBytes, rowBytes);
            var prev = y > 0 ? pixels.Slice((y - 1) * rowBytes, rowBytes) : default;
            int chosen;
            if (mode == PngFilterMode.Adaptive)
            {
                long bestScore = long.MaxValue; chosen = 0;
                for (int f = 0; f <= 4; f++)
                {
                    long score = Filter(f, cur, prev, channels, candidate);
                    if (score < bestScore) { bestScore = score; chosen = f; candidate.CopyTo(best, 0); }
                }
            }
            else
            {
                chosen = (int)mode;
                Filter(chosen, cur, prev, channels, best);
            }
            long o = (long)y * (rowBytes + 1);
            filtered[o] = (byte)chosen;
            Array.Copy(best, 0, filtered, o + 1, rowBytes);
        }
        using var ms = new MemoryStream();
        ms.Write(Signature);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = 8; ihdr[9] = (byte)colorType;
        WriteChunk(ms, "IHDR", ihdr);
        if (palette != null) WriteChunk(ms, "PLTE", palette);
        using (var z = new MemoryStream())
        {
            using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write(filtered);
            WriteChunk(ms, "IDAT", z.ToArray());
        }
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>Applies filter <paramref name="f"/> to one row into <paramref name="output"/>; returns the sum of |signed residual|.</summary>
    static long Filter(int f, ReadOnlySpan<byte> cur, ReadOnlySpan<byte> prev, int bpp, byte[] output)
    {
        long score = 0;
        bool hasPrev = !prev.IsEmpty;
        for (int i = 0; i < cur.Length; i++)
        {
            int a = i >= bpp ? cur[i - bpp] : 0, b = hasPrev ? prev[i] : 0, c = i >= bpp && hasPrev ? prev[i - bpp] : 0;
            int predictor = f switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) >> 1, _ => Paeth(a, b, c) };
            byte r = (byte)(cur[i] - predictor);
            output[i] = r;
            score += Math.Abs((int)(sbyte)r);
        }
        return score;
    }

    public static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(len, (uint)data.Length);
        s.Write(len);
        var typeAndData = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type, typeAndData);
        data.CopyTo(typeAndData.AsSpan(4));
        s.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc(typeAndData));
        s.Write(len);
    }
}
