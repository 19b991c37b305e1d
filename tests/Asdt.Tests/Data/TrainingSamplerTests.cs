using Asdt.Data;

namespace Asdt.Tests.Data;

/// <summary>An in-memory source: image R channel = 6·x, G = 5·y, B = 200; mask label = 1 + x / 10 (4 classes).</summary>
sealed class GradientSource(int count, int w, int h) : ITrainingSource
{
    public string Name => "gradient";
    public IReadOnlyList<string> ClassNames { get; } = ["background", "a", "b", "c", "d"];
    public IReadOnlyList<TrainingItem> Items => Enumerable.Range(0, count).Select(i => new TrainingItem(this, i.ToString())).ToArray();

    public RgbImage LoadImage(string id)
    {
        var img = new RgbImage(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = (y * w + x) * 3;
                img.Pixels[o] = (byte)Math.Min(255, 6 * x); img.Pixels[o + 1] = (byte)Math.Min(255, 5 * y); img.Pixels[o + 2] = (byte)(200 + int.Parse(id) % 50);
            }
        return img;
    }

    public LabelMask? TryLoadMask(string id)
    {
        var m = new LabelMask(w, h);
        for (int i = 0; i < m.Labels.Length; i++) m.Labels[i] = (byte)(1 + (i % w) / 10);
        return m;
    }

    public bool[] ImageLabels(string id) => [int.Parse(id) % 2 == 0, true, false, false];
}

public class TrainingSamplerTests
{
    static void AssertSame(TrainingBatch a, TrainingBatch b)
    {
        Assert.Equal(a.Scale, b.Scale);
        Assert.Equal(a.Items, b.Items);
        Assert.Equal(a.Flipped, b.Flipped);
        Assert.Equal(a.Images, b.Images);
        for (int j = 0; j < a.Size; j++)
        {
            Assert.Equal(a.CropRgb[j], b.CropRgb[j]);
            Assert.Equal(a.Roi[j], b.Roi[j]);
            Assert.Equal(a.Labels[j], b.Labels[j]);
            Assert.Equal(a.Masks[j], b.Masks[j]);
        }
    }

    [Fact]
    public void BatchK_DoesNotDependOnEarlierCalls_AndSeedMatters()
    {
        var src = new GradientSource(10, 40, 30);
        var options = new AugmentationOptions { BatchSize = 3, CropSize = 48, Seed = 7, IncludeMasks = true };
        var fresh = new TrainingSampler(src.Items, options, ImageNormalization.ImageNet);
        var used = new TrainingSampler(src.Items, options, ImageNormalization.ImageNet);
        for (int k = 0; k < 6; k++) used.Batch(k);
        AssertSame(fresh.Batch(5), used.Batch(5));
        AssertSame(fresh.Batch(2), used.Batch(2));
        var other = new TrainingSampler(src.Items, options with { Seed = 8 }, ImageNormalization.ImageNet);
        Assert.NotEqual(fresh.Batch(5).Images, other.Batch(5).Images);
        // Scales vary between batches, within [0.7, 1.3]
        var scales = Enumerable.Range(0, 20).Select(k => fresh.Batch(k).Scale).ToArray();
        Assert.All(scales, s => Assert.InRange(s, 0.7f, 1.3f));
        Assert.True(scales.Distinct().Count() > 15);
    }

    [Fact]
    public void ShuffleAndCycle_EachEpochVisitsEveryItemOnce_InADifferentOrder()
    {
        var src = new GradientSource(12, 8, 8);
        var s = new TrainingSampler(src.Items, new AugmentationOptions { BatchSize = 4, CropSize = 8, Seed = 1 }, ImageNormalization.ImageNet);
        var epoch0 = Enumerable.Range(0, 12).Select(p => s.ItemAt(p).Id).ToArray();
        var epoch1 = Enumerable.Range(12, 12).Select(p => s.ItemAt(p).Id).ToArray();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i.ToString()).Order(), epoch0.Order());
        Assert.Equal(epoch0.Order(), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);
        Assert.Equal(epoch0.Skip(4).Take(4), s.Batch(1).Items.Select(i => i.Id)); // batches are consecutive items
    }

    [Fact]
    public void SmallImage_IsPaddedWithTheMeanColour_RoiCoversExactlyTheImage()
    {
        var src = new GradientSource(4, 40, 30);
        var norm = ImageNormalization.ImageNet;
        var s = new TrainingSampler(src.Items, new AugmentationOptions { BatchSize = 4, CropSize = 64, MinScale = 1, MaxScale = 1, Seed = 3, IncludeMasks = true }, norm);
        var b = s.Batch(0);
        // ImageNet mean × 255 = (123.675, 116.28, 103.53), rounded.
        var padColour = new byte[] { 124, 116, 104 };
        int plane = 64 * 64;
        for (int j = 0; j < 4; j++)
        {
            Assert.Equal(40 * 30, b.Roi[j].Count(r => r == 1));
            // ROI is one 40x30 rectangle
            var ys = Enumerable.Range(0, plane).Where(i => b.Roi[j][i] == 1).Select(i => i / 64).ToArray();
            var xs = Enumerable.Range(0, plane).Where(i => b.Roi[j][i] == 1).Select(i => i % 64).ToArray();
            Assert.Equal(30, ys.Max() - ys.Min() + 1);
            Assert.Equal(40, xs.Max() - xs.Min() + 1);
            for (int i = 0; i < plane; i++)
            {
                if (b.Roi[j][i] == 1)
                {
                    for (int c = 0; c < 3; c++) // normalised value and I_crop agree
                        Assert.InRange(norm.Denormalize(b.Images[(j * 3 + c) * plane + i], c) - b.CropRgb[j][i * 3 + c], -1, 1);
                    continue;
                }
                Assert.Equal(padColour, b.CropRgb[j].AsSpan(i * 3, 3).ToArray());
                for (int c = 0; c < 3; c++) Assert.Equal(0f, b.Images[(j * 3 + c) * plane + i]);
                Assert.Equal(LabelMask.Ignore, b.Masks[j]![i]);
            }
            Assert.Equal(src.ImageLabels(b.Items[j].Id).Select(l => l ? 1f : 0f), b.Labels[j]);
        }
    }

    [Fact]
    public void Flip_IsConsistentBetweenImageAndMask_AndScaleShrinksTheImage()
    {
        var src = new GradientSource(16, 40, 30);
        var s = new TrainingSampler(src.Items, new AugmentationOptions { BatchSize = 8, CropSize = 50, MinScale = 0.5, MaxScale = 0.5, Seed = 11, IncludeMasks = true }, ImageNormalization.ImageNet);
        int flips = 0, plain = 0;
        for (int k = 0; k < 2; k++)
        {
            var b = s.Batch(k);
            for (int j = 0; j < b.Size; j++)
            {
                Assert.Equal(20 * 15, b.Roi[j].Count(r => r == 1)); // int(40·0.5) x int(30·0.5)
                // Along a row inside the ROI: red rises left→right unflipped, falls when flipped; the mask's label follows red.
                int row = Enumerable.Range(0, 50 * 50).First(i => b.Roi[j][i] == 1) / 50 + 5;
                var cols = Enumerable.Range(0, 50).Where(x => b.Roi[j][row * 50 + x] == 1).ToArray();
                int first = cols.First(), last = cols.Last();
                int redFirst = b.CropRgb[j][(row * 50 + first) * 3], redLast = b.CropRgb[j][(row * 50 + last) * 3];
                int labFirst = b.Masks[j]![row * 50 + first], labLast = b.Masks[j]![row * 50 + last];
                if (b.Flipped[j]) { flips++; Assert.True(redFirst > redLast); Assert.True(labFirst > labLast); }
                else { plain++; Assert.True(redFirst < redLast); Assert.True(labFirst < labLast); }
                // label 1 + x/10 in source coordinates: red 6·x ⇒ where red < 50 (x < ~8) the label must be 1
                for (int x = first; x <= last; x++)
                    if (b.CropRgb[j][(row * 50 + x) * 3] < 40) Assert.Equal(1, b.Masks[j]![row * 50 + x]);
            }
        }
        Assert.True(flips > 0 && plain > 0);
    }

    [Fact]
    public void LargeImage_IsCroppedToARandomWindow()
    {
        var src = new GradientSource(6, 120, 90);
        var s = new TrainingSampler(src.Items, new AugmentationOptions { BatchSize = 6, CropSize = 32, MinScale = 1, MaxScale = 1, Seed = 5, FlipProbability = 0 }, ImageNormalization.ImageNet);
        var b = s.Batch(0);
        var lefts = new HashSet<int>();
        for (int j = 0; j < 6; j++)
        {
            Assert.All(b.Roi[j], r => Assert.Equal(1, r));
            Assert.Null(b.Masks[j]);
            int red0 = b.CropRgb[j][0];
            Assert.Equal(Math.Min(255, red0 + 6 * 31), (int)b.CropRgb[j][31 * 3]); // a contiguous window, unscaled
            lefts.Add(red0);
        }
        Assert.True(lefts.Count > 1);
    }

    [Fact]
    public void BilinearResize_HalfPixelCentres()
    {
        // 2 pixels (0, 100) → 4: centres map to -0.25, 0.25, 0.75, 1.25 → clamped 0, 25, 75, 100.
        var img = new RgbImage(2, 1, [0, 0, 0, 100, 100, 100]);
        var r = ImageResize.BilinearFloat(img, 4, 1);
        Assert.Equal([0f, 25f, 75f, 100f], Enumerable.Range(0, 4).Select(i => r[i * 3]).ToArray());
        // Down by 2: each output averages a pixel pair.
        var wide = new RgbImage(4, 1, [0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30]);
        var d = ImageResize.BilinearFloat(wide, 2, 1);
        Assert.Equal([5f, 25f], new[] { d[0], d[3] });
    }
}
