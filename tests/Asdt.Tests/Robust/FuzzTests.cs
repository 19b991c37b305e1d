using System.Buffers.Binary;
using System.Text;
using Asdt.Data;
using Asdt.Models.Onnx;
using Asdt.Models.Weights;
using Asdt.Tests.Data;
using Google.Protobuf;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Asdt.Tests.Robust;

/// <summary>
/// Issue 8, hostile input: a bounded, seeded fuzz test per reader of outside data, on real files from
/// ../shared/data and on files the tests write. Each mutated input gives a result or one AsdtException; no hang,
/// no crash, no allocation out of proportion to the input (see <see cref="Fuzz"/>).
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    void Log(Fuzz.Report r, string name)
    {
        output.WriteLine($"{name}: {r.Inputs} inputs, {r.Accepted} read, {r.Rejected} rejected, max allocation {r.MaxAllocation / 1024} KiB");
        foreach (var (k, v) in r.Errors.OrderByDescending(kv => kv.Value).Take(25)) output.WriteLine($"  {v,5} × {k}");
        Assert.True(r.Rejected > 0, "no mutation was rejected: the fuzzer is not reaching the checks");
    }

    static byte[] Real(params string[] parts) => File.ReadAllBytes(Path.Combine([TestData.SharedData, .. parts]));

    // ------------------------------------------------------------------ PNG helpers
    /// <summary>Recomputes the CRC of every complete chunk, so that mutations get past the CRC check to the decoder.</summary>
    internal static byte[] FixPngCrcs(byte[] png, Random _)
    {
        var b = (byte[])png.Clone();
        int pos = 8;
        while (pos + 12 <= b.Length)
        {
            uint len = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(pos));
            if (len > b.Length - pos - 12) break;
            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(pos + 8 + (int)len), Crc32(b.AsSpan(pos + 4, 4 + (int)len)));
            pos += 12 + (int)len;
        }
        return b;
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    internal static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte x in data) c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    static byte[][] MaskSeeds() =>
    [
        Real("voc2012-masks", "SegmentationClassAug", "2008_008546.png"),
        Real("voc2012-masks", "SegmentationClassAug", "2011_002979.png"),
        Real("msrc21", "SegmentationClass", "11_12_s.png"),
        PalettePng.Encode(new LabelMask(7, 5, Enumerable.Range(0, 35).Select(i => (byte)(i % 4)).ToArray())),
    ];

    [Fact]
    public void Fuzz_PalettePng()
    {
        var r = new Fuzz
        {
            Name = "palette-png", Seed = 11, Iterations = 12000, Seeds = MaskSeeds(), Fixup = FixPngCrcs,
            // Deflate expands at most 1032:1, so the decoded rows can legitimately be ~1000× the file.
            AllocSlack = 2L << 20, AllocFactor = 2 * 1032 + 16,
            Read = b => PalettePng.Decode(b, "fuzz.png", out _),
            Check = (_, m) => Assert.Equal(((LabelMask)m!).Width * ((LabelMask)m).Height, ((LabelMask)m).Labels.Length),
        }.Run();
        Log(r, "palette png");
    }

    [Fact]
    public void Fuzz_ImageFile_JpegPngPpm()
    {
        var ppm = Encoding.ASCII.GetBytes("P6\n# test\n4 3\n255\n").Concat(Enumerable.Range(0, 36).Select(i => (byte)(i * 7))).ToArray();
        var r = new Fuzz
        {
            Name = "image", Seed = 12, Iterations = 8000,
            Seeds =
            [
                Real("msrc21", "JPEGImages", "12_18_s.jpg"), Real("msrc21", "JPEGImages", "11_4_s.jpg"),
                Real("voc2012-masks", "SegmentationClassAug", "2008_008546.png"), ppm,
                ImageFile.EncodePng(new RgbImage(9, 4)),
            ],
            Fixup = (b, rng) => b.Length > 8 && b[0] == 137 ? FixPngCrcs(b, rng) : b,
            // A JPEG may claim up to ImageFile.JpegPixelsPerByte pixels per file byte (RGBA buffer + RGB image: 7 bytes each).
            AllocSlack = 8L << 20, AllocFactor = 7 * ImageFile.JpegPixelsPerByte + 64,
            Read = b => ImageFile.Decode(b, "fuzz.img"),
            Check = (_, img) => Assert.Equal(3L * ((RgbImage)img!).Width * ((RgbImage)img).Height, ((RgbImage)img).Pixels.Length),
        }.Run();
        Log(r, "image");
    }

    [Fact]
    public void Fuzz_MatFile()
    {
        var labels = new[] { new[] { 0, 1, 2, 3 }, new[] { 10, 11, 12, 13 }, new[] { 20, 21, 182, 44 } };
        byte[] File1 = [.. MatBytes.Header(), .. MatBytes.NumericMatrix("S", MatBytes.mxUINT16, MatBytes.miUINT16, labels), .. MatBytes.CharRow("names", "sky,grass")];
        byte[] File2 = [.. MatBytes.Header(), .. MatBytes.Compressed(MatBytes.NumericMatrix("LabelMap", MatBytes.mxDOUBLE, MatBytes.miDOUBLE, labels))];
        byte[] File3 = [.. MatBytes.Header(), .. MatBytes.Compressed(MatBytes.CharRow("t", "hello")), .. MatBytes.NumericMatrix("u", MatBytes.mxUINT8, MatBytes.miUINT8, labels)];
        var r = new Fuzz
        {
            Name = "mat", Seed = 13, Iterations = 40000, Seeds = [File1, File2, File3],
            // Numbers widen to double (8 bytes per stored byte), compressed elements inflate up to 1032:1.
            AllocSlack = 1L << 20, AllocFactor = 64,
            Read = b =>
            {
                var m = MatFile.Decode(b, "fuzz.mat");
                foreach (var v in m.Variables.Values)
                    if (v.Class is not (MatClass.Cell or MatClass.Char) && v.Dimensions.Length == 2) v.ToRowMajorInt32("fuzz.mat");
                return m;
            },
        }.Run();
        Log(r, "mat");
    }

    // ------------------------------------------------------------------ ONNX
    static byte[] Field(int number, byte[] payload) => ProtobufBytes.Field(number, payload);

    static byte[] Varint(int number, long value) => ProtobufBytes.Varint(number, value);

    static byte[] Str(int number, string s) => Field(number, Encoding.UTF8.GetBytes(s));
    static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>A small model: opset, two initializers (raw_data and packed float_data), a Conv node with int and ints attributes, inputs and outputs.</summary>
    static byte[] SmallOnnx()
    {
        var raw = new byte[2 * 3 * 4];
        for (int i = 0; i < 6; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * i), i * 0.5f);
        var packedFloats = new byte[4 * 4];
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteSingleLittleEndian(packedFloats.AsSpan(4 * i), -i);
        byte[] w = Cat(Varint(1, 2), Varint(1, 3), Varint(2, 1), Str(8, "w"), Field(9, raw));
        byte[] b = Cat(Varint(1, 4), Varint(2, 1), Field(4, packedFloats), Str(8, "b"));
        byte[] attrInt = Cat(Str(1, "group"), Varint(3, 1), Varint(20, 2));
        byte[] attrInts = Cat(Str(1, "pads"), Field(8, Cat(new byte[] { 1, 1, 1, 1 })), Varint(20, 7));
        byte[] node = Cat(Str(1, "x"), Str(1, "w"), Str(1, "b"), Str(2, "y"), Str(3, "conv0"), Str(4, "Conv"), Field(5, attrInt), Field(5, attrInts));
        byte[] valueInfo(string n) => Str(1, n);
        byte[] graph = Cat(Field(1, node), Str(2, "g"), Field(5, w), Field(5, b), Field(11, valueInfo("x")), Field(12, valueInfo("y")));
        return Cat(Varint(1, 7), Str(2, "asdt-test"), Str(3, "1"), Field(8, Cat(Str(1, ""), Varint(2, 13))), Field(7, graph));
    }

    [Fact]
    public void Fuzz_OnnxReader()
    {
        var small = SmallOnnx();
        Assert.Equal(2, OnnxReader.Read(small, "small.onnx").Graph.Initializers.Count); // the seed itself reads
        // The real ResNet-18 export: its first 32 KiB (graph structure, the first initializers), read as a whole prefix.
        byte[] real = File.ReadAllBytes(ImageNetResNet18.DefaultModelPath).AsSpan(0, 32 << 10).ToArray();
        var r = new Fuzz
        {
            Name = "onnx", Seed = 14, Iterations = 20000, Seeds = [small, small, real],
            AllocSlack = 1L << 20, AllocFactor = 16,
            Read = b => OnnxReader.Read(b, "fuzz.onnx"),
        }.Run();
        Log(r, "onnx");
    }

    // ------------------------------------------------------------------ weights
    static Dictionary<string, Tensor> SmallStateDict() => new()
    {
        ["conv.weight"] = arange(0, 2 * 3 * 3 * 3, dtype: ScalarType.Float32).reshape(2, 3, 3, 3),
        ["conv.bias"] = tensor(new float[] { 1, -1 }),
        ["bn.num_batches_tracked"] = tensor(7L),
        ["half"] = ones(3, dtype: ScalarType.Float16),
        ["mask"] = tensor(new[] { true, false, true }),
    };

    static void DisposeAll(object? o)
    {
        if (o is Dictionary<string, Tensor> d) foreach (var t in d.Values) t.Dispose();
    }

    [Fact]
    public void Fuzz_Safetensors()
    {
        using var tmp = TestData.NewTempFolder("asdt-fuzz-");
        var dict = SmallStateDict();
        Safetensors.Write(tmp.File("seed.safetensors"), dict, new Dictionary<string, string> { ["format"] = "pt" });
        Safetensors.Write(tmp.File("seed2.safetensors"), dict.Take(2));
        DisposeAll(dict);
        string path = tmp.File("fuzz.safetensors");
        var r = new Fuzz
        {
            Name = "safetensors", Seed = 15, Iterations = 2000,
            Seeds = [File.ReadAllBytes(tmp.File("seed.safetensors")), File.ReadAllBytes(tmp.File("seed2.safetensors"))],
            AllocSlack = 1L << 20, AllocFactor = 16,
            Read = b => { File.WriteAllBytes(path, b); return Safetensors.Read(path); },
            Check = (_, d) => DisposeAll(d),
        }.Run();
        Log(r, "safetensors");
    }

    [Fact]
    public void Fuzz_PthStateDict()
    {
        using var tmp = TestData.NewTempFolder("asdt-fuzz-");
        var model = nn.Sequential(("conv", nn.Conv2d(3, 2, 3)), ("bn", nn.BatchNorm2d(2)));
        StateDicts.SavePyTorch(model, tmp.File("seed.pth"));
        string path = tmp.File("fuzz.pth");
        var r = new Fuzz
        {
            Name = "pth", Seed = 16, Iterations = 3000, Seeds = [File.ReadAllBytes(tmp.File("seed.pth"))],
            AllocSlack = 4L << 20, AllocFactor = 64,
            Read = b => { File.WriteAllBytes(path, b); return StateDicts.Read(path); },
            Check = (_, d) => DisposeAll(d),
        }.Run();
        Log(r, "pth");
    }

    // ------------------------------------------------------------------ text formats
    [Fact]
    public void Fuzz_DatasetDescriptor()
    {
        using var tmp = TestData.NewTempFolder("asdt-fuzz-");
        DemoDataset.Generate(tmp.File("demo"), 2);
        byte[][] seeds =
        [
            File.ReadAllBytes(tmp.File("demo/dataset.json")),
            Encoding.UTF8.GetBytes(DatasetDescriptor.LoadOrBuiltin("msrc21-objects").ToJson()),
            Encoding.UTF8.GetBytes(DatasetDescriptor.LoadOrBuiltin("coco-stuff-10k-voc").ToJson()),
        ];
        string path = tmp.File("fuzz.json");
        var r = new Fuzz
        {
            Name = "descriptor", Seed = 17, Iterations = 2500, Seeds = seeds,
            AllocSlack = 1L << 20, AllocFactor = 64,
            Read = b => { File.WriteAllBytes(path, b); return DatasetDescriptor.Load(path); },
        }.Run();
        Log(r, "descriptor");
    }

    internal const string VocXml = """
        <annotation>
          <folder>VOC2012</folder>
          <filename>2007_000027.jpg</filename>
          <source><database>The VOC2007 Database</database></source>
          <size><width>486</width><height>500</height><depth>3</depth></size>
          <segmented>0</segmented>
          <object>
            <name>person</name><pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
            <bndbox><xmin>174</xmin><ymin>101</ymin><xmax>349</xmax><ymax>351</ymax></bndbox>
            <part><name>head</name><bndbox><xmin>169</xmin><ymin>104</ymin><xmax>209</xmax><ymax>146</ymax></bndbox></part>
          </object>
          <object><name>dog</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax><ymax>4</ymax></bndbox></object>
        </annotation>
        """;

    [Fact]
    public void Fuzz_VocAnnotation()
    {
        using var tmp = TestData.NewTempFolder("asdt-fuzz-");
        string path = tmp.File("fuzz.xml");
        File.WriteAllText(path, VocXml);
        Assert.Equal(["person", "dog"], VocAnnotation.ObjectNames(path));
        var r = new Fuzz
        {
            Name = "voc-xml", Seed = 18, Iterations = 3000, Seeds = [Encoding.UTF8.GetBytes(VocXml)],
            AllocSlack = 1L << 20, AllocFactor = 64,
            Read = b => { File.WriteAllBytes(path, b); return VocAnnotation.ObjectNames(path); },
        }.Run();
        Log(r, "voc xml");
    }
}
