using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Asdt.Models;
using Asdt.Models.Weights;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using OurSafetensors = Asdt.Models.Weights.Safetensors;

namespace Asdt.Tests.Models;

public class WeightsTests
{
    static ResNet TinyResNet(int depth, int? classes = 5) => ResNet.Create(depth, new ResNetOptions { BaseWidth = 8, NumClasses = classes });

    /// <summary>Random values in every parameter and buffer, so a round trip that drops anything shows.</summary>
    static void Randomize(nn.Module m)
    {
        using var _ = no_grad();
        foreach (var (name, t) in m.state_dict())
            if (t.is_floating_point()) t.copy_(name.EndsWith("running_var") ? rand_like(t) + 0.5 : randn_like(t) * 0.1);
            else t.fill_(7);
    }

    static void AssertSameState(nn.Module a, nn.Module b)
    {
        var sa = a.state_dict(); var sb = b.state_dict();
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var (k, t) in sa) Assert.True(t.equal(sb[k]).all().item<bool>() && t.shape.SequenceEqual(sb[k].shape), k);
    }

    // ---------- safetensors: the format itself ------------------------------------------------

    /// <summary>A file assembled byte by byte from the format description, independent of our writer.</summary>
    [Fact]
    public void ReadsAFileBuiltByteByByteFromTheSpecification()
    {
        using var tmp = TestData.NewTempFolder();
        var data = new List<byte>();
        float[] f32 = [1.5f, -2.25f, 3e-8f, 65504f, 0f, -0f];
        foreach (var v in f32) { var b = new byte[4]; BinaryPrimitives.WriteSingleLittleEndian(b, v); data.AddRange(b); }
        long[] i64 = [-3, long.MaxValue];
        foreach (var v in i64) { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); data.AddRange(b); }
        Half[] f16 = [(Half)0.5, (Half)(-1024)];
        foreach (var v in f16) { var b = new byte[2]; BinaryPrimitives.WriteHalfLittleEndian(b, v); data.AddRange(b); }
        byte[] u8 = [0, 255, 17];
        data.AddRange(u8);
        // Offsets deliberately not in name order; header padded with spaces as the reference writer does.
        string header = "{\"__metadata__\":{\"who\":\"test\"}," +
                        "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," +
                        "\"a.idx\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]}," +
                        "\"h\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[40,44]}," +
                        "\"bytes\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[44,47]}," +
                        "\"scalar_empty\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[47,47]}}   ";
        var hb = Encoding.UTF8.GetBytes(header);
        var file = new byte[8 + hb.Length + data.Count];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)hb.Length);
        hb.CopyTo(file, 8);
        data.ToArray().CopyTo(file, 8 + hb.Length);
        string path = tmp.File("spec.safetensors");
        File.WriteAllBytes(path, file);

        var dict = OurSafetensors.Read(path, out var meta);
        Assert.Equal("test", meta["who"]);
        Assert.Equal(new[] { "a.idx", "bytes", "h", "scalar_empty", "w" }, dict.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new long[] { 2, 3 }, dict["w"].shape);
        Assert.Equal(ScalarType.Float32, dict["w"].dtype);
        Assert.Equal(f32, dict["w"].data<float>().ToArray());
        Assert.Equal(i64, dict["a.idx"].data<long>().ToArray());
        Assert.Equal(ScalarType.Float16, dict["h"].dtype);
        Assert.Equal(new[] { 0.5f, -1024f }, dict["h"].to_type(ScalarType.Float32).data<float>().ToArray());
        Assert.Equal(u8, dict["bytes"].data<byte>().ToArray());
        Assert.Equal(0, dict["scalar_empty"].numel());
    }

    /// <summary>Our writer's bytes, decoded by hand in the test (not by our reader).</summary>
    [Fact]
    public void WriterProducesTheSpecifiedLayout()
    {
        using var tmp = TestData.NewTempFolder();
        using var scope = NewDisposeScope();
        var t1 = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [3, 2]);
        var t0 = tensor(new long[] { 9, -9 }, [2]);
        string path = tmp.File("ours.safetensors");
        OurSafetensors.Write(path, new Dictionary<string, Tensor> { ["z.w"] = t1.t(), ["a"] = t0 }, new Dictionary<string, string> { ["k"] = "v" });
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var root = doc.RootElement;
        Assert.Equal("v", root.GetProperty("__metadata__").GetProperty("k").GetString());
        var z = root.GetProperty("z.w");
        Assert.Equal("F32", z.GetProperty("dtype").GetString());
        Assert.Equal(new long[] { 2, 3 }, z.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        long zb = z.GetProperty("data_offsets")[0].GetInt64(), ze = z.GetProperty("data_offsets")[1].GetInt64();
        Assert.Equal(24, ze - zb);
        var floats = Enumerable.Range(0, 6).Select(i => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + (int)n + (int)zb + 4 * i))).ToArray();
        Assert.Equal(new float[] { 1, 3, 5, 2, 4, 6 }, floats); // the transposed view was written row-major
        var a = root.GetProperty("a");
        Assert.Equal("I64", a.GetProperty("dtype").GetString());
        long ab = a.GetProperty("data_offsets")[0].GetInt64();
        Assert.Equal(-9, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8 + (int)n + (int)ab + 8)));
        Assert.Equal(8 + (long)n + 24 + 16, bytes.Length);
    }

    [Theory]
    [InlineData("length")]
    [InlineData("hole")]
    [InlineData("size")]
    [InlineData("truncated")]
    [InlineData("json")]
    [InlineData("dtype")]
    public void CorruptSafetensorsGiveAClearError(string kind)
    {
        using var tmp = TestData.NewTempFolder();
        string header = kind switch
        {
            "hole" => "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            "size" => "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
            "json" => "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}",
            "dtype" => "{\"w\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            _ => "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
        };
        var hb = Encoding.UTF8.GetBytes(header);
        int dataBytes = kind == "hole" ? 12 : kind == "truncated" ? 5 : 8;
        var file = new byte[8 + hb.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, kind == "length" ? 1UL << 40 : (ulong)hb.Length);
        hb.CopyTo(file, 8);
        string path = tmp.File("bad.safetensors");
        File.WriteAllBytes(path, file);
        var ex = Assert.Throws<AsdtException>(() => OurSafetensors.Read(path));
        Assert.StartsWith(path + ": not a valid safetensors file", ex.Message);
    }

    // ---------- round trips through the libraries' writers -----------------------------------

    [Fact]
    public void ResNet101RoundTripsThroughPyBridgePthAndBothSafetensorsWriters()
    {
        using var tmp = TestData.NewTempFolder();
        using var scope = NewDisposeScope();
        using var source = TinyResNet(101);
        Randomize(source);
        source.save_py(tmp.File("r101.pth"));                                                  // PyBridge's PyTorch pickle writer
        TorchSharp.PyBridge.Safetensors.SaveStateDict(tmp.File("pybridge.safetensors"), source.state_dict()); // PyBridge's safetensors writer
        StateDicts.SaveSafetensors(source, tmp.File("ours.safetensors"));                       // ours

        foreach (var file in new[] { "r101.pth", "pybridge.safetensors", "ours.safetensors" })
        {
            using var target = TinyResNet(101);
            StateDicts.Load(target, tmp.File(file));
            AssertSameState(source, target);
        }
        // Our file is readable by PyBridge's independent safetensors reader too.
        var theirs = TorchSharp.PyBridge.Safetensors.LoadStateDict(tmp.File("ours.safetensors"));
        foreach (var (k, t) in source.state_dict()) Assert.True(t.equal(theirs[k]).all().item<bool>(), k);
    }

    [Fact]
    public void ResNet50ClassifierWeightsLoadIntoADilatedBackboneWithFcIgnored()
    {
        using var tmp = TestData.NewTempFolder();
        using var source = TinyResNet(50, classes: 1000);
        Randomize(source);
        source.save_py(tmp.File("r50.pth"));
        using var backbone = ResNet.Create(50, new ResNetOptions { BaseWidth = 8, OutputStride = 8, FrozenBatchNorm = true });
        var ex = Assert.Throws<AsdtException>(() => StateDicts.Load(backbone, tmp.File("r50.pth")));
        Assert.Contains("2 unexpected: fc.weight, fc.bias", ex.Message.Replace("fc.bias, fc.weight", "fc.weight, fc.bias"));
        StateDicts.Load(backbone, tmp.File("r50.pth"), ignorePrefixes: ["fc."]);
        Assert.True(source.state_dict()["layer4.2.conv2.weight"].equal(backbone.state_dict()["layer4.2.conv2.weight"]).all().item<bool>());
    }

    [Fact]
    public void MissingUnexpectedAndMisshapedKeysAreListedInOneError()
    {
        using var tmp = TestData.NewTempFolder();
        using var scope = NewDisposeScope();
        using var source = TinyResNet(50, classes: null);
        var dict = source.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        dict.Remove("layer2.1.conv1.weight");
        dict.Remove("bn1.running_var");
        dict["layer9.extra"] = zeros(3);
        dict["conv1.weight"] = zeros(8, 3, 5, 5);
        foreach (var k in dict.Keys.Where(k => k.EndsWith("num_batches_tracked")).ToList()) dict.Remove(k); // old checkpoints lack these: fine
        string path = tmp.File("bad.safetensors");
        OurSafetensors.Write(path, dict);
        using var target = TinyResNet(50, classes: null);
        var ex = Assert.Throws<AsdtException>(() => StateDicts.Load(target, path));
        Assert.StartsWith(path + ": ", ex.Message);
        Assert.Contains("2 missing: ", ex.Message);
        Assert.Contains("bn1.running_var", ex.Message);
        Assert.Contains("layer2.1.conv1.weight", ex.Message);
        Assert.Contains("1 unexpected: layer9.extra", ex.Message);
        Assert.Contains("1 with the wrong shape: conv1.weight (file [8, 3, 5, 5], model [8, 3, 7, 7])", ex.Message);
        // Nothing was copied.
        Assert.False(target.state_dict()["layer1.0.conv1.weight"].equal(source.state_dict()["layer1.0.conv1.weight"]).all().item<bool>());
    }

    [Fact]
    public void DataParallelPrefixIsStrippedAndLegacyPthIsExplained()
    {
        using var tmp = TestData.NewTempFolder();
        using var source = TinyResNet(18);
        Randomize(source);
        OurSafetensors.Write(tmp.File("dp.safetensors"), source.state_dict().ToDictionary(kv => "module." + kv.Key, kv => kv.Value));
        using var target = TinyResNet(18);
        StateDicts.Load(target, tmp.File("dp.safetensors"));
        AssertSameState(source, target);

        File.WriteAllBytes(tmp.File("legacy.pth"), [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20]); // pickle protocol 2 magic
        var ex = Assert.Throws<AsdtException>(() => StateDicts.Load(target, tmp.File("legacy.pth")));
        Assert.Contains("legacy format", ex.Message);
        File.WriteAllBytes(tmp.File("cut.pth"), File.ReadAllBytes(WriteTemp(source, tmp.File("full.pth"))).AsSpan(0, 200).ToArray());
        Assert.Throws<AsdtException>(() => StateDicts.Load(target, tmp.File("cut.pth")));
    }

    static string WriteTemp(nn.Module m, string path) { m.save_py(path); return path; }
}
