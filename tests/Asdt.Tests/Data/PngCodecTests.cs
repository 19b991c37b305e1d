using Asdt.Data;
using SkiaSharp;

namespace Asdt.Tests.Data;

public class PngCodecTests
{
    static LabelMask RandomMask(int w, int h, int seed, int classes = 21)
    {
        var rng = new Random(seed);
        var m = new LabelMask(w, h);
        for (int i = 0; i < m.Labels.Length; i++)
        {
            // blocky regions (realistic) with some noise and 255 pixels
            int x = i % w, y = i / w;
            m.Labels[i] = rng.Next(20) == 0 ? (byte)255 : (byte)(((x / 7) * 3 + (y / 5) * 5 + (rng.Next(8) == 0 ? 1 : 0)) % classes);
        }
        return m;
    }

    [Fact]
    public void VocPalette_MatchesTheTableOfAlgorithmMd()
    {
        // ALGORITHM.md §8.2, typed from the table.
        var expected = new Dictionary<int, (byte, byte, byte)>
        {
            [0] = (0, 0, 0), [1] = (128, 0, 0), [2] = (0, 128, 0), [3] = (128, 128, 0), [4] = (0, 0, 128), [5] = (128, 0, 128),
            [6] = (0, 128, 128), [7] = (128, 128, 128), [8] = (64, 0, 0), [9] = (192, 0, 0), [10] = (64, 128, 0),
            [11] = (192, 128, 0), [12] = (64, 0, 128), [13] = (192, 0, 128), [14] = (64, 128, 128), [15] = (192, 128, 128),
            [16] = (0, 64, 0), [17] = (128, 64, 0), [18] = (0, 192, 0), [19] = (128, 192, 0), [20] = (0, 64, 128), [255] = (224, 224, 192),
        };
        foreach (var (i, c) in expected) Assert.Equal(c, VocPalette.Color(i));
    }

    [Fact]
    public void PaletteRoundTrip_AndSkiaSharpSeesVocColours()
    {
        using var tmp = TestData.NewTempFolder();
        var mask = RandomMask(53, 37, 1);
        string path = tmp.File("m.png");
        PalettePng.Write(path, mask);
        var back = PalettePng.Read(path);
        Assert.Equal((53, 37), (back.Width, back.Height));
        Assert.Equal(mask.Labels, back.Labels);
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        for (int y = 0; y < 37; y++)
            for (int x = 0; x < 53; x++)
            {
                var c = bitmap.GetPixel(x, y);
                Assert.Equal(VocPalette.Color(mask.Labels[y * 53 + x]), (c.Red, c.Green, c.Blue));
            }
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp")); // atomic write leaves no temp file
    }

    [Theory]
    [InlineData(PngFilterMode.None)]
    [InlineData(PngFilterMode.Sub)]
    [InlineData(PngFilterMode.Up)]
    [InlineData(PngFilterMode.Average)]
    [InlineData(PngFilterMode.Paeth)]
    [InlineData(PngFilterMode.Adaptive)]
    public void OurEncoder_EveryFilter_DecodesIdentically_InSkiaSharpAndOurs(PngFilterMode mode)
    {
        var mask = RandomMask(41, 29, 2);
        var bytes = PalettePng.Encode(mask, mode);
        if (mode != PngFilterMode.Adaptive) Assert.All(PngTestFiles.FilterTypes(bytes), f => Assert.Equal((int)mode, f));
        Assert.Equal(mask.Labels, PalettePng.Decode(bytes, "x.png", out _).Labels);

        var rng = new Random(3);
        var rgb = new RgbImage(31, 23);
        rng.NextBytes(rgb.Pixels);
        for (int i = 0; i < rgb.Pixels.Length; i += 7) rgb.Pixels[i] = 0; // some structure
        var png = ImageFile.EncodePng(rgb, mode);
        using var bitmap = SKBitmap.Decode(png);
        for (int y = 0; y < 23; y++)
            for (int x = 0; x < 31; x++)
            {
                var c = bitmap.GetPixel(x, y);
                int o = (y * 31 + x) * 3;
                Assert.Equal((rgb.Pixels[o], rgb.Pixels[o + 1], rgb.Pixels[o + 2]), (c.Red, c.Green, c.Blue));
            }
        Assert.Equal(rgb.Pixels, ImageFile.Decode(png, "x.png").Pixels);
    }

    /// <summary>PNGs built byte by byte by the test (textbook filters, rows cycling through all five), decoded by our reader.</summary>
    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    [InlineData(2)]
    [InlineData(1)]
    public void HandBuiltPalettePngs_AllFiltersAndBitDepths(int depth)
    {
        int w = 19, h = 11, max = (1 << depth) - 1;
        var rng = new Random(depth);
        var values = new byte[h][];
        var rows = new byte[h][];
        for (int y = 0; y < h; y++)
        {
            values[y] = new byte[w];
            for (int x = 0; x < w; x++) values[y][x] = (byte)rng.Next(Math.Min(max, 20) + 1);
            int perByte = 8 / depth;
            rows[y] = new byte[(w + perByte - 1) / perByte];
            for (int x = 0; x < w; x++) rows[y][x / perByte] |= (byte)(values[y][x] << (8 - depth * (x % perByte + 1)));
        }
        var plte = VocPalette.Rgb().Take(3 * (max + 1)).ToArray();
        var png = PngTestFiles.Build(w, h, depth, 3, plte, rows, y => y % 5, bpp: 1);
        Assert.Equal([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], PngTestFiles.FilterTypes(png));
        var mask = PalettePng.Decode(png, "hand.png", out var palette);
        Assert.Equal(plte, palette);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                Assert.Equal(values[y][x], mask.Labels[y * w + x]);
    }

    [Fact]
    public void HandBuiltGreyscale8_IsReadAsClassIndices()
    {
        var rows = new[] { new byte[] { 0, 1, 2, 255 }, new byte[] { 3, 3, 0, 7 } };
        var png = PngTestFiles.Build(4, 2, 8, 0, null, rows, y => 4 - y, bpp: 1);
        Assert.Equal(new byte[] { 0, 1, 2, 255, 3, 3, 0, 7 }, PalettePng.Decode(png, "g.png", out _).Labels);
    }

    [Theory]
    [InlineData(2, 8, "colour type 2")]     // RGB
    [InlineData(0, 16, "bit depth 16")]     // 16-bit greyscale
    [InlineData(6, 8, "colour type 6")]     // RGBA
    public void NonPaletteMasks_AreRefused(int colorType, int depth, string detail)
    {
        int channels = colorType switch { 2 => 3, 6 => 4, _ => 1 } * depth / 8;
        var rows = new[] { new byte[4 * channels] };
        var png = PngTestFiles.Build(4, 1, depth, colorType, null, rows, _ => 0, bpp: channels);
        var e = Assert.Throws<AsdtException>(() => PalettePng.Decode(png, "bad.png", out _));
        Assert.Contains("mask is not 8-bit palette", e.Message);
        Assert.Contains(detail, e.Message);
        Assert.StartsWith("bad.png: ", e.Message);
    }

    [Fact]
    public void InterlacedAndCorruptFiles_GiveClearErrors()
    {
        var png = PngTestFiles.Build(4, 1, 8, 3, VocPalette.Rgb().Take(12).ToArray(), [new byte[4]], _ => 0, bpp: 1);
        var interlaced = (byte[])png.Clone();
        interlaced[8 + 8 + 12] = 1; // IHDR interlace byte
        FixIhdrCrc(interlaced);
        Assert.Contains("interlaced", Assert.Throws<AsdtException>(() => PalettePng.Decode(interlaced, "i.png", out _)).Message);

        var badCrc = (byte[])png.Clone();
        badCrc[8 + 8 + 2] ^= 0x40; // width byte, CRC not updated
        Assert.Contains("CRC mismatch", Assert.Throws<AsdtException>(() => PalettePng.Decode(badCrc, "c.png", out _)).Message);

        Assert.Contains("truncated", Assert.Throws<AsdtException>(() => PalettePng.Decode(png.AsSpan(0, png.Length - 20), "t.png", out _)).Message);
        Assert.Contains("not a PNG", Assert.Throws<AsdtException>(() => PalettePng.Decode("GIF89a...."u8, "n.png", out _)).Message);

        // Huge declared size: refused before allocating.
        var huge = (byte[])png.Clone();
        huge[16] = 0x7F; huge[20] = 0x7F;
        FixIhdrCrc(huge);
        Assert.Contains("larger than", Assert.Throws<AsdtException>(() => PalettePng.Decode(huge, "h.png", out _)).Message);
    }

    static void FixIhdrCrc(byte[] png)
    {
        var crc = PngTestFiles.Crc32(png.AsSpan(12, 17).ToArray());
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), crc);
    }

    [Fact]
    public void ImageFile_ReadsPpm_AndJpegViaSkia()
    {
        using var tmp = TestData.NewTempFolder();
        var header = "P6\n# comment\n3 2\n255\n"u8.ToArray();
        var pixels = Enumerable.Range(0, 18).Select(i => (byte)(i * 10)).ToArray();
        File.WriteAllBytes(tmp.File("a.ppm"), [.. header, .. pixels]);
        var img = ImageFile.Read(tmp.File("a.ppm"));
        Assert.Equal((3, 2), (img.Width, img.Height));
        Assert.Equal(pixels, img.Pixels);

        var jpeg = ImageFile.Read(Path.Combine(TestData.Msrc21, "JPEGImages", "7_23_s.jpg"));
        using var skia = SKBitmap.Decode(Path.Combine(TestData.Msrc21, "JPEGImages", "7_23_s.jpg"));
        Assert.Equal((skia.Width, skia.Height), (jpeg.Width, jpeg.Height));
        var c = skia.GetPixel(100, 50);
        int o = (50 * jpeg.Width + 100) * 3;
        Assert.Equal((c.Red, c.Green, c.Blue), (jpeg.Pixels[o], jpeg.Pixels[o + 1], jpeg.Pixels[o + 2]));
    }
}
