using Asdt.Models;
using Asdt.Models.Onnx;
using Google.Protobuf;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

public class OnnxReaderTests
{
    static byte[] Field(int number, byte[] payload) => ProtobufBytes.Field(number, payload);

    static byte[] Varint(int number, long value) => ProtobufBytes.Varint(number, value);

    static byte[] Cat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>ModelProto { ir_version 7, graph { initializer { dims.., data_type FLOAT, name "w", raw_data } } }.</summary>
    static byte[] ModelWithTensor(long[] dims, byte[] raw) =>
        Cat(Varint(1, 7), Field(7, Field(5, Cat(Cat(dims.Select(d => Varint(1, d)).ToArray()), Varint(2, 1), Field(8, "w"u8.ToArray()), Field(9, raw)))));

    [Fact]
    public void ReadsAHandBuiltModel()
    {
        var raw = new byte[6 * 4];
        BitConverter.GetBytes(2.5f).CopyTo(raw, 20);
        var m = OnnxReader.Read(ModelWithTensor([2, 3], raw), "hand.onnx");
        Assert.Equal(7, m.IrVersion);
        var w = m.Graph.Initializers["w"];
        Assert.Equal(new long[] { 2, 3 }, w.Dims);
        Assert.Equal(2.5f, w.Data[5]);
    }

    [Fact]
    public void TensorSizeDisagreeingWithItsDimsIsRejectedBeforeAllocation()
    {
        var ex = Assert.Throws<AsdtException>(() => OnnxReader.Read(ModelWithTensor([2, 3], new byte[20]), "bad.onnx"));
        Assert.StartsWith("bad.onnx: corrupt ONNX file", ex.Message);
        Assert.Contains("need 24 bytes", ex.Message);
        // Huge dims with little data: refused by the count check, no 2^60-element allocation.
        ex = Assert.Throws<AsdtException>(() => OnnxReader.Read(ModelWithTensor([1L << 30, 1L << 30], new byte[8]), "huge.onnx"));
        Assert.Contains("huge.onnx: corrupt ONNX file", ex.Message);
    }

    [Fact]
    public void TruncatedOrGarbageFilesGiveAClearError()
    {
        var bytes = File.ReadAllBytes(ImageNetResNet18.DefaultModelPath);
        var ex = Assert.Throws<AsdtException>(() => OnnxReader.Read(bytes.AsSpan(0, bytes.Length / 3).ToArray(), "cut.onnx"));
        Assert.StartsWith("cut.onnx: corrupt ONNX file", ex.Message);
        // A length prefix far beyond the file.
        Assert.Throws<AsdtException>(() => OnnxReader.Read([0x3a, 0xff, 0xff, 0xff, 0xff, 0x07, 1, 2, 3], "len.onnx"));
        var random = new byte[4096];
        new Random(5).NextBytes(random);
        Assert.Throws<AsdtException>(() => OnnxReader.Read(random, "noise.onnx"));
    }

    /// <summary>
    /// Which padding reproduces the export: torchvision's symmetric padding gives the same features as the file's
    /// SAME_LOWER pads (the extra end pad of a floor-mode stride-2 window is never read), SAME_UPPER does not.
    /// Shows the reference comparison is sensitive to a one-pixel shift.
    /// </summary>
    [Fact]
    public void SymmetricPaddingEqualsSameLowerButSameUpperDoesNot()
    {
        using var imported = ImageNetResNet18.Load();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (int size in new[] { 224, 201 })
        {
            var x = imported.Normalization.Apply(TestImages.ToTensor(TestImages.LoadCenterCrop(TestImages.Msrc21Jpeg(20), size), size));
            var a = imported.Network.call(x);
            double Rel(PaddingMode mode)
            {
                using var other = new ResNet(ResNetBlock.Basic, [2, 2, 2, 3], imported.Network.Options with { Padding = mode });
                other.load_state_dict(imported.Network.state_dict());
                other.eval();
                var b = other.call(x);
                Assert.Equal(a.shape, b.shape);
                return (a - b).abs().max().item<float>() / a.abs().max().item<float>();
            }
            Assert.True(Rel(PaddingMode.Symmetric) < 1e-6);
            if (size % 2 == 0) Assert.True(Rel(PaddingMode.SameUpper) > 1e-2);
        }
    }
}
