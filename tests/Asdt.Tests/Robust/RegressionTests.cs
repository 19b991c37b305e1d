using System.Buffers.Binary;
using System.IO.Compression;
using Asdt.Data;

namespace Asdt.Tests.Robust;

/// <summary>Regression tests for the problems the issue-8 fuzzers and failure tests found.</summary>
public class RegressionTests
{
    static long Allocated(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try { action(); }
        catch (AsdtException) { }
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(len, (uint)data.Length);
        s.Write(len);
        var td = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(td);
        BinaryPrimitives.WriteUInt32BigEndian(len, FuzzTests.Crc32(td));
        s.Write(len);
    }

    /// <summary>A valid-looking palette PNG whose IHDR claims <paramref name="w"/>×<paramref name="h"/> over a few bytes of image data.</summary>
    static byte[] PngClaiming(int w, int h)
    {
        using var ms = new MemoryStream();
        ms.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)w);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)h);
        ihdr[8] = 8; ihdr[9] = 3;
        Chunk(ms, "IHDR", ihdr);
        Chunk(ms, "PLTE", new byte[6]);
        using (var z = new MemoryStream())
        {
            using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write(new byte[100]);
            Chunk(ms, "IDAT", z.ToArray());
        }
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>Found by Fuzz_PalettePng: a 16384×16384 IHDR over 20 bytes of IDAT made the decoder allocate 256 MiB of rows before noticing the data was missing.</summary>
    [Fact]
    public void Png_HugeHeaderOverTinyData_IsRefusedBeforeAllocating()
    {
        var png = PngClaiming(16384, 16384);
        var e = Assert.Throws<AsdtException>(() => PalettePng.Decode(png, "huge.png", out _));
        Assert.Contains("huge.png: truncated PNG image data", e.Message);
        Assert.True(Allocated(() => PalettePng.Decode(png, "huge.png", out _)) < 1 << 20);
        // Through SkiaSharp (photos): also refused without a w×h buffer.
        Assert.True(Allocated(() => ImageFile.Decode(png, "huge.png")) < 8 << 20);
        Assert.Throws<AsdtException>(() => ImageFile.Decode(png, "huge.png"));
    }

    /// <summary>Found by Fuzz_ImageFile_JpegPngPpm: a JPEG whose SOF size was inflated made ImageFile allocate w×h×4 bytes up
    /// front (here 20000×5000: 400 MB from a 20 KB file); the codec fills missing rows silently, so it must be refused by ratio.</summary>
    [Fact]
    public void Jpeg_InflatedSize_IsRefusedBeforeAllocating()
    {
        var jpeg = File.ReadAllBytes(Path.Combine(TestData.Msrc21, "JPEGImages", "12_18_s.jpg"));
        int sof = -1;
        for (int i = 2; i + 1 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] is 0xC0 or 0xC1 or 0xC2) { sof = i; break; }
        Assert.True(sof > 0);
        var bad = (byte[])jpeg.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(bad.AsSpan(sof + 5), 5000);  // height
        BinaryPrimitives.WriteUInt16BigEndian(bad.AsSpan(sof + 7), 20000); // width
        var e = Assert.Throws<AsdtException>(() => ImageFile.Decode(bad, "big.jpg"));
        Assert.Equal($"big.jpg: image header claims 20000x5000 pixels, more than {jpeg.Length} bytes of Jpeg data can hold (corrupt header or truncated file)", e.Message);
        long used = Allocated(() => ImageFile.Decode(bad, "big.jpg"));
        Assert.True(used < 1 << 20, $"{used} bytes");
        var ok = ImageFile.Decode(jpeg, "ok.jpg"); // the real file is well inside the ratio
        Assert.Equal(3 * ok.Width * ok.Height, ok.Pixels.Length);
    }

    /// <summary>Found by Fuzz_VocAnnotation: XmlException quotes the offending character, a newline made the CLI's error two lines.</summary>
    [Fact]
    public void ErrorMessages_AreOneLine_EvenWhenAParserQuotesANewline()
    {
        using var tmp = TestData.NewTempFolder();
        string path = tmp.File("a.xml");
        File.WriteAllBytes(path, File.ReadAllBytes(FailureInput("voc-regression.bin"))); // the fuzzer's input: "<\n" in a tag
        var e = Assert.Throws<AsdtException>(() => VocAnnotation.ObjectNames(path));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Matches(@"\\[nr]|\\u00", e.Message);
    }

    /// <summary>Found by Fuzz_Safetensors: a header with invalid UTF-8 threw InvalidOperationException from System.Text.Json.</summary>
    [Fact]
    public void Safetensors_InvalidUtf8Header_IsAClearError()
    {
        using var tmp = TestData.NewTempFolder();
        var header = System.Text.Encoding.UTF8.GetBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"__metadata__\":{\"k\":\"v\"}}");
        var json = header.ToList();
        json[json.LastIndexOf((byte)'v')] = 0xFF; // invalid UTF-8 inside a string
        var file = new List<byte>();
        var len = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)json.Count);
        file.AddRange(len); file.AddRange(json); file.AddRange(new byte[4]);
        File.WriteAllBytes(tmp.File("x.safetensors"), file.ToArray());
        var e = Assert.Throws<AsdtException>(() => Asdt.Models.Weights.Safetensors.Read(tmp.File("x.safetensors")));
        Assert.Contains("header is not valid UTF-8", e.Message);
    }

    /// <summary>Found by Fuzz_MatFile: a damaged zlib stream threw ZLibException (not InvalidDataException) out of the MAT reader.</summary>
    [Fact]
    public void Mat_DamagedZlibStream_IsAClearError()
    {
        var bytes = File.ReadAllBytes(FailureInput("mat-regression.bin"));
        var e = Assert.Throws<AsdtException>(() => MatFile.Decode(bytes, "z.mat"));
        Assert.StartsWith("z.mat: ", e.Message);
    }

    /// <summary>Found by Fuzz_PthStateDict: a 1.6 KB .pth whose pickle declares a huge storage made PyBridge allocate 1.2 GB
    /// (it sizes the buffer from the pickle, not from the archive). PthValidator now checks sizes first.</summary>
    [Fact]
    public void Pth_StorageLargerThanItsData_IsRefusedBeforeAllocating()
    {
        using var tmp = TestData.NewTempFolder();
        string path = tmp.File("bad.pth");
        File.Copy(FailureInput("pth-regression.bin"), path);
        var e = Assert.Throws<AsdtException>(() => Asdt.Models.Weights.StateDicts.Read(path));
        Assert.StartsWith($"{path}: not a valid PyTorch state dict: ", e.Message);
        Assert.True(Allocated(() => Asdt.Models.Weights.StateDicts.Read(path)) < 1 << 20);
        // A real file written by PyBridge still reads.
        var model = TorchSharp.torch.nn.Sequential(("conv", TorchSharp.torch.nn.Conv2d(3, 2, 3)), ("bn", TorchSharp.torch.nn.BatchNorm2d(2)));
        Asdt.Models.Weights.StateDicts.SavePyTorch(model, tmp.File("ok.pth"));
        var dict = Asdt.Models.Weights.StateDicts.Read(tmp.File("ok.pth"));
        Assert.Equal(model.state_dict().Keys.Order(), dict.Keys.Order());
        foreach (var t in dict.Values) t.Dispose();
    }

    static string FailureInput(string name) => Path.Combine(TestData.RepoRoot, "tests", "Asdt.Tests", "Robust", "inputs", name);
}
