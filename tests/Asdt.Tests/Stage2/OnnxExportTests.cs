using Asdt.Data;
using Asdt.Models.Onnx;
using Asdt.Psm;
using Asdt.Stage2;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Tests.Stage2;

/// <summary>
/// The exported ONNX file against TorchSharp: real MSRC-21 photos through the ImageNet ResNet-18 DeepLab-v2 (fresh ASPP,
/// MSC 1/0.5/0.75) in TorchSharp and in ONNX Runtime, at two different sizes through one session (dynamic shapes).
/// </summary>
public class OnnxExportTests(ITestOutputHelper output)
{
    static Stage2Config Config(double[] scales) => Stage2Presets.Cpu with { MscScales = scales, Aspp = new AsppSettings { Dilations = [3, 6, 9, 12], InitStd = 0.01 } };

    static RgbImage Crop(RgbImage image, int w, int h)
    {
        var r = new RgbImage(w, h);
        for (int y = 0; y < h; y++) Array.Copy(image.Pixels, y * image.Width * 3, r.Pixels, y * w * 3, w * 3);
        return r;
    }

    [Theory]
    [InlineData(new[] { 1.0, 0.5, 0.75 })]
    [InlineData(new[] { 1.0 })]
    public void ExportedLogits_MatchTorchSharp_InOnnxRuntime(double[] scales)
    {
        manual_seed(11);
        var (network, normalization) = Stage2Model.Create(Config(scales), 16);
        using var _ = network;
        network.eval();
        byte[] model = OnnxExporter.Export(network, normalization);
        // Our reader understands our writer.
        var parsed = OnnxReader.Read(model, "exported");
        Assert.Equal(17, parsed.Opsets[""]);
        Assert.Contains(parsed.Graph.Nodes, n => n.OpType == "Resize");
        output.WriteLine($"{model.Length / 1e6:0.0} MB, {parsed.Graph.Nodes.Count} nodes: " +
                         string.Join(", ", parsed.Graph.Nodes.GroupBy(n => n.OpType).Select(g => $"{g.Key} {g.Count()}")));

        var ds = SegmentationDataset.Open("msrc21-objects", TestData.Msrc21);
        var photo = ds.LoadImage(ds.Ids("val")[0]);
        // One model, two sizes: the graph's shapes are dynamic.
        foreach (var image in new[] { photo, Crop(ds.LoadImage(ds.Ids("val")[1]), 201, 147) })
        {
            float[] reference;
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var x = PseudoMaskGenerator.ImageTensor(image, normalization);
                var logits = F.interpolate(network.call(x), size: [image.Height, image.Width], mode: InterpolationMode.Bilinear, align_corners: false);
                reference = logits.contiguous().data<float>().ToArray();
            }
            double error = RelativeError(model, image, reference, 16);
            output.WriteLine($"{image.Width}x{image.Height}, scales [{string.Join(", ", scales)}]: max|diff|/max|ref| {error:E3}");
            Assert.True(error <= 1e-4, $"max|diff|/max|ref| = {error:E3}");
        }
    }

    /// <summary>max|diff| / max|ref| between ONNX Runtime on <paramref name="model"/> and the given TorchSharp logits.</summary>
    static double RelativeError(byte[] model, RgbImage image, float[] reference, int classes)
    {
        using var session = new InferenceSession(model);
        int n = image.Width * image.Height;
        var input = new float[3 * n];
        for (int c = 0; c < 3; c++) for (int i = 0; i < n; i++) input[c * n + i] = image.Pixels[i * 3 + c];
        using var value = OrtValue.CreateTensorValueFromMemory(input, [1, 3, image.Height, image.Width]);
        using var run = new RunOptions();
        using var results = session.Run(run, new Dictionary<string, OrtValue> { ["image"] = value }, ["logits"]);
        Assert.Equal(new long[] { 1, classes, image.Height, image.Width }, results[0].GetTensorTypeAndShape().Shape);
        var actual = results[0].GetTensorDataAsSpan<float>().ToArray();
        Assert.Equal(reference.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++) { maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - reference[i])); maxRef = Math.Max(maxRef, Math.Abs(reference[i])); }
        Assert.True(maxRef > 0.1, $"max|ref| = {maxRef}");
        return maxDiff / maxRef;
    }

    /// <summary>
    /// PSPNet on a small Res2Net (OS 8, all four block types: stage blocks with stride 1 and 2, dilated blocks) with random
    /// BatchNorm statistics everywhere, at input sizes whose feature maps (10×8, 9×13) make the adaptive bins overlap.
    /// </summary>
    [Theory]
    [InlineData(73, 61)]
    [InlineData(66, 97)]
    public void PspNetRes2Net_ExportedLogits_MatchTorchSharp_InOnnxRuntime(int height, int width)
    {
        manual_seed(5);
        using var backbone = new Res2Net([1, 2, 2, 1], 8, stemWidth: 16);
        using var network = new MultiScaleNetwork(new PspNet(backbone, backbone.OutChannels, 8, 5, new PspSettings { BranchChannels = 8, HiddenChannels = 16 }), [1.0]);
        using (no_grad())
            foreach (var bn in network.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
            {
                bn.running_mean!.copy_(randn(bn.running_mean.shape).mul_(0.1));
                bn.running_var!.copy_(rand(bn.running_var.shape).add_(0.5));
                bn.weight!.copy_(rand(bn.weight.shape).add_(0.5));
                bn.bias!.copy_(randn(bn.bias.shape).mul_(0.1));
            }
        network.eval();
        var ds = SegmentationDataset.Open("msrc21-objects", TestData.Msrc21);
        var image = Crop(ds.LoadImage(ds.Ids("val")[2]), width, height);
        var normalization = ImageNormalization.ImageNet;
        float[] reference;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var x = PseudoMaskGenerator.ImageTensor(image, normalization);
            reference = F.interpolate(network.call(x), size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false)
                .contiguous().data<float>().ToArray();
        }
        byte[] model = OnnxExporter.Export(network, normalization, inputSize: (height, width));
        var parsed = OnnxReader.Read(model, "exported");
        Assert.Contains(parsed.Graph.Nodes, n => n.OpType == "AveragePool");
        Assert.Equal(8, parsed.Graph.Nodes.Count(n => n.OpType == "MatMul"));   // two per pyramid level
        double error = RelativeError(model, image, reference, 5);
        output.WriteLine($"PSPNet/Res2Net {width}x{height}: {model.Length / 1e3:0} kB, {parsed.Graph.Nodes.Count} nodes, max|diff|/max|ref| {error:E3}");
        Assert.True(error <= 1e-4, $"max|diff|/max|ref| = {error:E3}");
    }

    [Fact]
    public void UnsupportedExports_AreRefusedWithAMessage()
    {
        using var backbone = new Res2Net([1, 1, 1, 1], 8, stemWidth: 8);
        using var psp = new MultiScaleNetwork(new PspNet(backbone, backbone.OutChannels, 8, 3, new PspSettings { BranchChannels = 4, HiddenChannels = 8 }), [1.0]);
        var e = Assert.Throws<AsdtException>(() => OnnxExporter.Export(psp, ImageNormalization.ImageNet));
        Assert.Contains("--input-size", e.Message);
        using var mscPsp = new MultiScaleNetwork(psp.Base, [1.0, 0.5]);
        e = Assert.Throws<AsdtException>(() => OnnxExporter.Export(mscPsp, ImageNormalization.ImageNet, inputSize: (64, 64)));
        Assert.Contains("single-scale", e.Message);
    }
}
