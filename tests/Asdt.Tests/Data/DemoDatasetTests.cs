using Asdt.Data;

namespace Asdt.Tests.Data;

public class DemoDatasetTests
{
    [Fact]
    public void Generate_IsBitIdenticalForASeed_AndOpensAsAVocDataset()
    {
        using var a = TestData.NewTempFolder();
        using var b = TestData.NewTempFolder();
        using var c = TestData.NewTempFolder();
        DemoDataset.Generate(a.Path, 30, seed: 4);
        DemoDataset.Generate(b.Path, 30, seed: 4);
        DemoDataset.Generate(c.Path, 30, seed: 5);
        var files = Directory.GetFiles(a.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a.Path, f)).Order().ToArray();
        Assert.Equal(30 * 2 + 4, files.Length); // images, masks, train.txt, val.txt, classes.txt, dataset.json
        Assert.Equal(files, Directory.GetFiles(b.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b.Path, f)).Order());
        foreach (var f in files) Assert.Equal(File.ReadAllBytes(Path.Combine(a.Path, f)), File.ReadAllBytes(Path.Combine(b.Path, f)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a.Path, "JPEGImages", "demo_0000.png")), File.ReadAllBytes(Path.Combine(c.Path, "JPEGImages", "demo_0000.png")));

        var ds = SegmentationDataset.Open(Path.Combine(a.Path, "dataset.json"));
        Assert.Equal(DemoDataset.ClassNames, ds.ClassNames);
        Assert.Equal(24, ds.Ids("train").Count);
        Assert.Equal(6, ds.Ids("val").Count);
        var viaBuiltin = SegmentationDataset.Open("demo", a.Path);
        foreach (var id in ds.Ids("val"))
        {
            var (image, mask) = ds.LoadPair(id);
            Assert.InRange(image.Width, 96, 128);
            Assert.Equal(DemoDataset.Render(int.Parse(id[5..]), 4).Mask.Labels, mask.Labels); // files hold what Render makes
            Assert.Equal(ds.ImageClasses(id), viaBuiltin.ImageClasses(id));
        }
    }

    [Fact]
    public void DemoData_HasThePromisedProperties()
    {
        var samples = Enumerable.Range(0, 120).Select(i => DemoDataset.Render(i, 1)).ToArray();
        // several classes, often several per image
        Assert.All(samples, s => Assert.NotEmpty(s.ObjectClasses));
        Assert.True(samples.Count(s => s.ObjectClasses.Length >= 2) > 120 * 0.3);
        Assert.Equal([1, 2, 3, 4, 5], samples.SelectMany(s => s.ObjectClasses).Distinct().Order());
        // labels derived from the mask equal the classes present
        foreach (var s in samples)
            Assert.Equal(s.ObjectClasses, Enumerable.Range(1, 5).Where(c => s.Mask.Labels.Contains((byte)c)));

        // parts are small relative to objects; per class part colours differ much more than body colours
        var partSum = new double[6, 3]; var partN = new long[6];
        var bodySum = new double[6, 3]; var bodyN = new long[6];
        long partPixels = 0, objectPixels = 0;
        foreach (var s in samples)
            for (int i = 0; i < s.Mask.Labels.Length; i++)
            {
                int l = s.Mask.Labels[i];
                if (l is 0 or 255) continue;
                objectPixels++;
                bool part = s.PartMask[i];
                if (part) partPixels++;
                for (int c = 0; c < 3; c++)
                {
                    if (part) partSum[l, c] += s.Image.Pixels[i * 3 + c]; else bodySum[l, c] += s.Image.Pixels[i * 3 + c];
                }
                if (part) partN[l]++; else bodyN[l]++;
            }
        double partShare = (double)partPixels / objectPixels;
        Assert.InRange(partShare, 0.04, 0.25);
        double Dist(double[,] sum, long[] n, int a, int b) =>
            Math.Sqrt(Enumerable.Range(0, 3).Sum(c => Math.Pow(sum[a, c] / n[a] - sum[b, c] / n[b], 2)));
        double minPart = double.MaxValue, maxBody = 0;
        for (int a = 1; a <= 5; a++)
            for (int b = a + 1; b <= 5; b++)
            {
                minPart = Math.Min(minPart, Dist(partSum, partN, a, b));
                maxBody = Math.Max(maxBody, Dist(bodySum, bodyN, a, b));
            }
        Assert.True(minPart > 3 * maxBody, $"part colours differ by ≥{minPart:F0}, bodies by ≤{maxBody:F0}");
        // the background is cluttered: not a flat colour
        var bg = samples[0].Image.Pixels.Where((_, i) => samples[0].Mask.Labels[i / 3] == 0).ToArray();
        Assert.True(bg.Distinct().Count() > 50);
    }
}
