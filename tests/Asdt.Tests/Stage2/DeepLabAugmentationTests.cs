using Asdt.Data;
using Asdt.Stage2;

namespace Asdt.Tests.Stage2;

/// <summary>The stage-2 augmentation geometry: padding values, nearest label resize, crop and flip consistency.</summary>
public class DeepLabAugmentationTests
{
    static readonly ImageNormalization Norm = new([100f, 110f, 120f], [1f, 1f, 1f], Bgr: true, Scale: 1f);

    static (RgbImage, LabelMask) Gradient(int w, int h)
    {
        var img = new RgbImage(w, h);
        var mask = new LabelMask(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = y * w + x;
                img.Pixels[i * 3] = (byte)(x * 7 % 256); img.Pixels[i * 3 + 1] = (byte)(y * 5 % 256); img.Pixels[i * 3 + 2] = (byte)((x + y) % 256);
                mask.Labels[i] = (byte)((x / 3 + y / 4) % 5);
            }
        return (img, mask);
    }

    [Fact]
    public void SmallImage_IsPaddedBottomRightWithMeanAndIgnore()
    {
        var (img, mask) = Gradient(20, 12);
        int s = 32;
        var im = new float[3 * s * s]; var lab = new byte[s * s];
        DeepLabAugmentation.Augment(img, mask, 1.0, 0.9, 0.9, flip: false, s, Norm, im, lab);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
            {
                int d = y * s + x;
                if (x < 20 && y < 12)
                {
                    // Inside: the pixel itself (no offset is possible when the padded size equals the crop), BGR minus mean.
                    int i = y * 20 + x;
                    Assert.Equal(mask.Labels[i], lab[d]);
                    Assert.Equal(img.Pixels[i * 3 + 2] - 100f, im[d], 3);
                    Assert.Equal(img.Pixels[i * 3 + 1] - 110f, im[s * s + d], 3);
                    Assert.Equal(img.Pixels[i * 3] - 120f, im[2 * s * s + d], 3);
                }
                else
                {
                    Assert.Equal(255, lab[d]);
                    for (int c = 0; c < 3; c++) Assert.Equal(0f, im[c * s * s + d]); // the mean colour
                }
            }
    }

    [Fact]
    public void ScaledLabels_AreNearestResized_AndTheCropIsAWindowOfThem()
    {
        var (img, mask) = Gradient(40, 30);
        int s = 16;
        var im = new float[3 * s * s]; var lab = new byte[s * s];
        DeepLabAugmentation.Augment(img, mask, 0.75, 0.5, 0.25, flip: false, s, Norm, im, lab);
        var resized = ImageResize.Nearest(mask, 30, 22);
        int x0 = (int)(0.5 * (30 - s + 1)), y0 = (int)(0.25 * (22 - s + 1));
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                Assert.Equal(resized.Labels[(y0 + y) * 30 + x0 + x], lab[y * s + x]);
        Assert.True(lab.All(v => v < 5)); // no interpolated (non-class) label values
    }

    [Fact]
    public void Flip_MirrorsImageAndLabelsTogether()
    {
        var (img, mask) = Gradient(37, 29);
        int s = 24;
        var a = new float[3 * s * s]; var la = new byte[s * s];
        var b = new float[3 * s * s]; var lb = new byte[s * s];
        DeepLabAugmentation.Augment(img, mask, 1.25, 0.3, 0.6, flip: false, s, Norm, a, la);
        DeepLabAugmentation.Augment(img, mask, 1.25, 0.3, 0.6, flip: true, s, Norm, b, lb);
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
            {
                Assert.Equal(la[y * s + x], lb[y * s + s - 1 - x]);
                for (int c = 0; c < 3; c++) Assert.Equal(a[c * s * s + y * s + x], b[c * s * s + y * s + s - 1 - x]);
            }
    }

    [Fact]
    public void Batches_AreAFunctionOfTheIndex()
    {
        var (img, mask) = Gradient(30, 30);
        var ids = Enumerable.Range(0, 7).Select(i => $"img{i}").ToArray();
        var options = new DeepLabAugmentationOptions { BatchSize = 3, CropSize = 16, Seed = 4 };
        var s1 = new DeepLabAugmentation(ids, _ => (img, mask), options, Norm);
        var s2 = new DeepLabAugmentation(ids, _ => (img, mask), options, Norm);
        var late = s1.Batch(5);
        _ = s2.Batch(0); _ = s2.Batch(1);
        var again = s2.Batch(5);
        Assert.Equal(late.Ids, again.Ids);
        Assert.Equal(late.Images, again.Images);
        Assert.Equal(late.Labels, again.Labels);
        Assert.All(late.Scales, sc => Assert.Contains(sc, options.Scales));
    }
}
