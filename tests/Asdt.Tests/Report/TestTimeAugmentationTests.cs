using Asdt.Cli.Commands;
using Asdt.Data;
using Asdt.Evaluation;
using Asdt.Psm;
using Asdt.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Tests.Report;

/// <summary>
/// Multi-scale + flip inference of the heads (ALGORITHM.md §7, optional): checked against passes computed
/// here one by one — a plain forward, the mirrored image's pass mirrored back, and per-head averages taken
/// before P̄'s max.
/// </summary>
[Collection(TorchRandomCollection.Name)]
public class TestTimeAugmentationTests(TinyRunFixture fixture) : IClassFixture<TinyRunFixture>
{
    static readonly PsmSource[] All = [PsmSource.SegTeacher, PsmSource.Student, PsmSource.Max];

    [Fact]
    public void Single_scale_is_the_softmax_of_one_forward_pass_upsampled_to_the_image()
    {
        using var run = Stage1Run.Open(fixture.Run);
        var image = run.Dataset.LoadImage(run.Dataset.Ids("val")[0]);
        var got = HeadProbabilities.Compute(run.Network, run.Normalization, image, All, TestTimeAugmentation.None);

        run.Network.eval();
        float[] st, s;
        using (no_grad())
        using (NewDisposeScope())
        {
            using var outputs = run.Network.forward(PseudoMaskGenerator.ImageTensor(image, run.Normalization));
            Tensor Up(Tensor logits) => nn.functional.interpolate(logits, size: [image.Height, image.Width],
                mode: InterpolationMode.Bilinear, align_corners: false).softmax(1);
            st = Up(outputs.SegTeacherLogits).data<float>().ToArray();
            s = Up(outputs.StudentLogits).data<float>().ToArray();
        }
        int size = st.Length;
        Assert.Equal(3 * size, got.Length);
        for (int i = 0; i < size; i++)
        {
            Assert.Equal(st[i], got[i], 1e-6f);
            Assert.Equal(s[i], got[size + i], 1e-6f);
            Assert.Equal(Math.Max(st[i], s[i]), got[2 * size + i], 1e-6f);
        }
        // Every pixel's distribution sums to 1 for a single head.
        int classes = run.Network.Classes, n = image.PixelCount;
        for (int i = 0; i < n; i += 97)
            Assert.Equal(1.0, Enumerable.Range(0, classes).Sum(k => (double)got[k * n + i]), 1e-4);
    }

    [Fact]
    public void Flip_averages_the_mirrored_images_pass_mirrored_back()
    {
        using var run = Stage1Run.Open(fixture.Run);
        var image = run.Dataset.LoadImage(run.Dataset.Ids("val")[1]);
        var mirrored = Mirror(image);
        int n = image.PixelCount, w = image.Width, classes = run.Network.Classes;
        var plain = HeadProbabilities.Compute(run.Network, run.Normalization, image, [PsmSource.SegTeacher, PsmSource.Student], TestTimeAugmentation.None);
        var ofMirror = HeadProbabilities.Compute(run.Network, run.Normalization, mirrored, [PsmSource.SegTeacher, PsmSource.Student], TestTimeAugmentation.None);
        var flip = new TestTimeAugmentation { Flip = true };
        var got = HeadProbabilities.Compute(run.Network, run.Normalization, image, All, flip);

        int size = classes * n;
        for (int k = 0; k < 2 * classes; k++)
            for (int i = 0; i < n; i++)
            {
                int y = i / w, x = i % w;
                float expected = 0.5f * (plain[k * n + i] + ofMirror[k * n + y * w + (w - 1 - x)]);
                Assert.Equal(expected, got[k * n + i], 1e-5f);
            }
        // P̄ is the max of the two averaged heads, not an average of per-pass maxima.
        for (int i = 0; i < size; i++) Assert.Equal(Math.Max(got[i], got[size + i]), got[2 * size + i], 1e-6f);
        Assert.NotEqual(plain.Take(size), got.Take(size)); // the flip really changed something
    }

    [Fact]
    public void Scales_are_averaged_per_head()
    {
        using var run = Stage1Run.Open(fixture.Run);
        var image = run.Dataset.LoadImage(run.Dataset.Ids("train")[2]);
        PsmSource[] heads = [PsmSource.SegTeacher, PsmSource.Student];
        var one = HeadProbabilities.Compute(run.Network, run.Normalization, image, heads, TestTimeAugmentation.None);
        var half = HeadProbabilities.Compute(run.Network, run.Normalization, image, heads, new TestTimeAugmentation { Scales = [0.5] });
        var both = HeadProbabilities.Compute(run.Network, run.Normalization, image, heads, new TestTimeAugmentation { Scales = [1.0, 0.5] });
        for (int i = 0; i < both.Length; i++) Assert.Equal(0.5f * (one[i] + half[i]), both[i], 1e-5f);
        Assert.NotEqual(one, half);
    }

    [Fact]
    public void The_run_config_carries_the_inference_and_old_configs_read_as_single_scale()
    {
        Assert.True(Stage1Presets.Paper.Inference.IsSingleScale);
        var json = Runs.AsdtJson.Serialize(Stage1Presets.Quick with { Inference = new TestTimeAugmentation { Scales = [1.0, 1.5], Flip = true } });
        var back = System.Text.Json.JsonSerializer.Deserialize<Stage1Config>(json, Runs.AsdtJson.Options)!;
        Assert.Equal([1.0, 1.5], back.Inference.Scales);
        Assert.True(back.Inference.Flip);
        // A config.json written before the setting existed.
        var old = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        old.Remove("inference");
        Assert.True(System.Text.Json.JsonSerializer.Deserialize<Stage1Config>(old.ToJsonString(), Runs.AsdtJson.Options)!.Inference.IsSingleScale);
    }

    [Fact]
    public void Psm_folder_records_its_inference_and_refuses_masks_made_otherwise()
    {
        using var run = Stage1Run.Open(fixture.Run);
        using var output = TestData.NewTempFolder();
        var shard = Shard.Parse("0/6");
        var multi = new PsmSettings { Threads = 2, Augmentation = new TestTimeAugmentation { Scales = [1.0, 0.5], Flip = true } };
        PsmCommand.Generate(run, "val", output.Path, multi, shard);
        string record = File.ReadAllText(Path.Combine(output.Path, PsmCommand.SettingsFile));
        Assert.Contains("\"flip\": true", record);
        Assert.Contains("0.5", record);
        PsmCommand.Generate(run, "val", output.Path, multi, Shard.Parse("1/6")); // another shard, same settings: fine
        var error = Assert.Throws<AsdtException>(() => PsmCommand.Generate(run, "val", output.Path, multi with { Augmentation = TestTimeAugmentation.None }, shard));
        Assert.Contains(PsmCommand.SettingsFile, error.Message);
    }

    static RgbImage Mirror(RgbImage image)
    {
        int w = image.Width, h = image.Height;
        var pixels = new byte[image.Pixels.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    pixels[(y * w + x) * 3 + c] = image.Pixels[(y * w + (w - 1 - x)) * 3 + c];
        return new RgbImage(w, h, pixels);
    }
}
