using System.Buffers.Binary;
using System.IO.Compression;

namespace Asdt.Tests.Data;

/// <summary>Test-side PNG helpers written independently of the code under test: inspects filter bytes, and builds
/// PNG files byte by byte with a chosen filter per row.</summary>
public static class PngTestFiles
{
    /// <summary>Filter type byte of every row (decompresses the IDAT stream; 8-bit, non-interlaced files).</summary>
    public static IEnumerable<int> FilterTypes(byte[] png)
    {
        var (w, h, depth, colorType, idat) = Chunks(png);
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int rowBytes = (w * channels * depth + 7) / 8;
        using var z = new ZLibStream(new MemoryStream(idat), CompressionMode.Decompress);
        var raw = new byte[(rowBytes + 1) * h];
        z.ReadExactly(raw);
        for (int y = 0; y < h; y++) yield return raw[y * (rowBytes + 1)];
    }

    static (int W, int H, int Depth, int ColorType, byte[] Idat) Chunks(byte[] png)
    {
        int pos = 8, w = 0, h = 0, depth = 0, ct = 0;
        var idat = new MemoryStream();
        while (pos < png.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            if (type == "IHDR")
            {
                w = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos + 8));
                h = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos + 12));
                depth = png[pos + 16]; ct = png[pos + 17];
            }
            if (type == "IDAT") idat.Write(png, pos + 8, len);
            pos += 12 + len;
        }
        return (w, h, depth, ct, idat.ToArray());
    }

    /// <summary>A PNG built byte by byte: <paramref name="rows"/> are the unfiltered row bytes; row y is filtered with
    /// <paramref name="filterOf"/>(y) using the textbook definitions (PNG spec §9.2).</summary>
    public static byte[] Build(int width, int height, int bitDepth, int colorType, byte[]? plte, byte[][] rows, Func<int, int> filterOf, int bpp)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            int f = filterOf(y);
            raw.WriteByte((byte)f);
            var cur = rows[y];
            var prev = y > 0 ? rows[y - 1] : new byte[cur.Length];
            for (int i = 0; i < cur.Length; i++)
            {
                int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                int pred = f switch
                {
                    0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2,
                    _ => PaethTextbook(a, b, c),
                };
                raw.WriteByte((byte)((cur[i] - pred) & 0xFF));
            }
        }
        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) z.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = (byte)bitDepth; ihdr[9] = (byte)colorType;
        Chunk(png, "IHDR", ihdr);
        if (plte != null) Chunk(png, "PLTE", plte);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    static int PaethTextbook(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        if (pb <= pc) return b;
        return c;
    }

    public static void Chunk(Stream s, string type, byte[] data)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type, 0, 4, head, 4);
        s.Write(head);
        s.Write(data);
        var crcInput = head.AsSpan(4).ToArray().Concat(data).ToArray();
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(crcInput));
        s.Write(crc);
    }

    /// <summary>Bitwise CRC-32 (reflected polynomial 0xEDB88320), no table, so it is independent of the library's table version.</summary>
    public static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }
}
