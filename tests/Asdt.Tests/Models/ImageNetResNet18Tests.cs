using Asdt.Models;
using Asdt.Models.Onnx;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Asdt.Tests.Models;

/// <summary>
/// The imported ImageNet ResNet-18 against ONNX Runtime running the original ONNX files of the NuGet package
/// (preprocessing graph, then the network) on real MSRC-21 photos.
/// </summary>
public class ImageNetResNet18Tests(ITestOutputHelper output)
{
    static readonly Lazy<PretrainedBackbone> Os32 = new(() => ImageNetResNet18.Load());

    static float[] RunOrt(InferenceSession session, float[] input, long[] shape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var run = new RunOptions();
        using var results = session.Run(run, new Dictionary<string, OrtValue> { [session.InputNames[0]] = value }, session.OutputNames);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void FilesAreFoundThroughTheBuildOutput()
    {
        Assert.StartsWith(AppContext.BaseDirectory, ImageNetResNet18.DefaultModelPath);
        Assert.True(File.Exists(ImageNetResNet18.DefaultModelPath));
        Assert.True(File.Exists(ImageNetResNet18.DefaultPreprocessPath));
    }

    [Fact]
    public void GraphWalkFindsTheCntkLayoutAndSameLowerPadding()
    {
        var info = Os32.Value.Info;
        Assert.Equal(new[] { 2, 2, 2, 3 }, info.BlocksPerStage); // 9 residual blocks: the issue's 22 Conv / 22 BN / 9 Add
        Assert.Equal(22, info.ConvCount);
        Assert.Equal(22, info.BatchNormCount);
        Assert.Equal(9, info.AddCount);
        Assert.Equal(PaddingMode.SameLower, info.Padding);
        Assert.Equal((224, 224), (info.InputHeight, info.InputWidth));
        Assert.Equal(512, Os32.Value.Network.OutChannels);
    }

    [Fact]
    public void PreprocessingIsBgrMinusMeanImageWithoutDivision()
    {
        var n = Os32.Value.Normalization;
        Assert.Equal(ChannelOrder.Bgr, n.ChannelOrder);
        Assert.Equal(1f, n.Scale);
        Assert.Equal(new[] { 1f, 1f, 1f }, n.Std);
        Assert.Equal(224, n.MeanImageHeight);
        Assert.InRange(n.Mean[0], 102.6, 103.6);
        Assert.InRange(n.Mean[1], 115.4, 116.4);
        Assert.InRange(n.Mean[2], 122.7, 123.7);
        output.WriteLine($"per-channel mean (B,G,R) = {string.Join(", ", n.Mean)}");
    }

    [Fact]
    public void PooledFeaturesMatchOnnxRuntimeOnRealPhotos()
    {
        var backbone = Os32.Value;
        using var prep = new InferenceSession(backbone.PreprocessPath);
        using var resnet = new InferenceSession(backbone.ModelPath);
        long[] shape = [1, 3, 224, 224];
        double worst = 0, worstPrep = 0;
        foreach (int index in new[] { 0, 57, 190, 333 })
        {
            var file = TestImages.Msrc21Jpeg(index);
            var rgb = TestImages.LoadCenterCrop(file, 224);
            var refPrep = RunOrt(prep, rgb, shape);
            var refFeatures = RunOrt(resnet, refPrep, shape);
            Assert.Equal(512, refFeatures.Length);

            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var x = backbone.Normalization.ApplyExact(TestImages.ToTensor(rgb, 224));
            var ours = backbone.Network.PooledFeatures(x).data<float>().ToArray();
            var ourPrep = x.data<float>().ToArray();

            double prepRel = MaxAbsDiff(ourPrep, refPrep) / MaxAbs(refPrep);
            double rel = MaxAbsDiff(ours, refFeatures) / MaxAbs(refFeatures);
            output.WriteLine($"{Path.GetFileName(file)}: features max|diff|/max|ref| = {rel:E2} (max|ref| {MaxAbs(refFeatures):F3}), preprocessing {prepRel:E2}");
            Assert.True(MaxAbs(refFeatures) > 0.1);
            Assert.True(rel <= 1e-4, $"{file}: relative difference {rel}");
            worst = Math.Max(worst, rel); worstPrep = Math.Max(worstPrep, prepRel);

            // The per-channel mean (used for other sizes) changes the features, but not their character.
            var approx = backbone.Network.PooledFeatures(backbone.Normalization.Apply(TestImages.ToTensor(rgb, 224))).data<float>().ToArray();
            output.WriteLine($"   per-channel-mean variant: max|diff|/max|ref| = {MaxAbsDiff(approx, refFeatures) / MaxAbs(refFeatures):E2}, cosine {Cosine(approx, refFeatures):F4}");
        }
        output.WriteLine($"worst: features {worst:E2}, preprocessing {worstPrep:E2}");
    }

    [Fact]
    public void DilatedImportHasCeilShapesForOddSizesAndMatchesOutputStride32WhereSampled()
    {
        using var os8 = ImageNetResNet18.Load(outputStride: 8);
        using var os16 = ImageNetResNet18.Load(outputStride: 16);
        Assert.Equal(8, os8.Network.OutputStride);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var big = os8.Normalization.Apply(TestImages.ToTensor(TestImages.LoadCenterCrop(TestImages.Msrc21Jpeg(3), 321), 321));
        Assert.Equal(new long[] { 1, 512, 41, 41 }, os8.Network.call(big).shape);
        Assert.Equal(new long[] { 1, 512, 21, 21 }, os16.Network.call(big).shape);
        Assert.Equal(new long[] { 1, 512, 11, 11 }, Os32.Value.Network.call(big).shape);

        // A non-multiple-of-32 input that the ONNX graph itself could not run: dense (dilated) maps sampled every
        // 32/os pixels equal the OS-32 map.
        var x = os8.Normalization.Apply(TestImages.ToTensor(TestImages.LoadCenterCrop(TestImages.Msrc21Jpeg(9), 200), 200));
        var y32 = Os32.Value.Network.call(x);
        var y8 = os8.Network.call(x)[.., .., TensorIndex.Slice(null, null, 4), TensorIndex.Slice(null, null, 4)];
        var y16 = os16.Network.call(x)[.., .., TensorIndex.Slice(null, null, 2), TensorIndex.Slice(null, null, 2)];
        Assert.Equal(new long[] { 1, 512, 7, 7 }, y32.shape);
        double scale = y32.abs().max().item<float>();
        double d8 = (y8 - y32).abs().max().item<float>() / scale, d16 = (y16 - y32).abs().max().item<float>() / scale;
        output.WriteLine($"OS8 vs OS32 {d8:E2}, OS16 vs OS32 {d16:E2}");
        Assert.True(d8 < 1e-4 && d16 < 1e-4);
    }

    [Fact]
    public void MissingFileIsAUserError()
    {
        var ex = Assert.Throws<AsdtException>(() => ImageNetResNet18.Load("/nonexistent/ResNet18.onnx"));
        Assert.Contains("/nonexistent/ResNet18.onnx", ex.Message);
    }

    static double MaxAbs(float[] a) => a.Max(v => Math.Abs((double)v));
    static double MaxAbsDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
    static double Cosine(float[] a, float[] b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
        return ab / Math.Sqrt(aa * bb);
    }
}
