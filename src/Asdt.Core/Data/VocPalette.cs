namespace Asdt.Data;

/// <summary>
/// The PASCAL VOC colour map (ALGORITHM.md §8.2): for index c and j = 0..7, bit 0 of c goes to bit (7 − j) of R,
/// bit 1 to G, bit 2 to B, then c >>= 3. Index 255 (ignore) is drawn as (224, 224, 192), as in VOC's own files.
/// </summary>
public static class VocPalette
{
    static readonly byte[] Table = Build();

    public static (byte R, byte G, byte B) Color(int index)
    {
        if ((uint)index > 255) throw new ArgumentOutOfRangeException(nameof(index), $"palette index {index} is outside 0..255");
        return (Table[index * 3], Table[index * 3 + 1], Table[index * 3 + 2]);
    }

    /// <summary>The 256-entry palette as 768 bytes R,G,B,R,G,B,... (a copy).</summary>
    public static byte[] Rgb() => (byte[])Table.Clone();

    static byte[] Build()
    {
        var t = new byte[768];
        for (int i = 0; i < 256; i++)
        {
            int c = i, r = 0, g = 0, b = 0;
            for (int j = 0; j < 8; j++)
            {
                r |= (c & 1) << (7 - j);
                g |= ((c >> 1) & 1) << (7 - j);
                b |= ((c >> 2) & 1) << (7 - j);
                c >>= 3;
            }
            t[i * 3] = (byte)r; t[i * 3 + 1] = (byte)g; t[i * 3 + 2] = (byte)b;
        }
        return t;
    }
}
