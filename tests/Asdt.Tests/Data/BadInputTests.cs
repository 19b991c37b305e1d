using Asdt.Data;

namespace Asdt.Tests.Data;

/// <summary>Issue 2 §6: damaged copies of real files from ../shared/data give one clear error naming the file and the problem.</summary>
public class BadInputTests
{
    const string A = "7_23_s", B = "16_22_s";

    /// <summary>A two-image copy of MSRC-21 (real files) in a temp folder, to damage.</summary>
    static string CopyMsrc(TempFolder tmp)
    {
        string root = Path.Combine(tmp.Path, "msrc");
        foreach (var dir in new[] { "JPEGImages", "SegmentationClass", "ImageSets/Segmentation" }) Directory.CreateDirectory(Path.Combine(root, dir));
        foreach (var id in new[] { A, B })
        {
            File.Copy(Path.Combine(TestData.Msrc21, "JPEGImages", id + ".jpg"), Path.Combine(root, "JPEGImages", id + ".jpg"));
            File.Copy(Path.Combine(TestData.Msrc21, "SegmentationClass", id + ".png"), Path.Combine(root, "SegmentationClass", id + ".png"));
        }
        File.Copy(Path.Combine(TestData.Msrc21, "classes.txt"), Path.Combine(root, "classes.txt"));
        File.WriteAllText(Path.Combine(root, "ImageSets/Segmentation/train.txt"), $"{A}\n{B}\n");
        return root;
    }

    static AsdtException Fails(Action action, string file, string problem)
    {
        var e = Assert.ThrowsAny<AsdtException>(action);
        Assert.StartsWith(file + ": ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    static SegmentationDataset Open(string root) => SegmentationDataset.Open("msrc21-objects", root);

    [Fact]
    public void TheCopy_IsReadable()
    {
        using var tmp = TestData.NewTempFolder();
        var ds = Open(CopyMsrc(tmp));
        Assert.Equal([A, B], ds.Ids("train"));
        Assert.Equal("car,bicycle", string.Join(",", ds.ImageClasses(A).Select(c => ds.ClassNames[c])));
        Assert.Equal(2, DatasetStatistics.Compute(ds, "train").Images);
    }

    [Fact]
    public void MissingRoot_AndMissingSplitFile()
    {
        using var tmp = TestData.NewTempFolder();
        string root = CopyMsrc(tmp);
        string missing = Path.Combine(tmp.Path, "nope");
        Fails(() => Open(missing), missing, "dataset root not found");
        var ds = Open(root);
        Fails(() => ds.Ids("val"), Path.Combine(root, "ImageSets", "Segmentation", "val.txt"), "split file not found (available splits: train)");
    }

    [Fact]
    public void ListedIdWithoutImage()
    {
        using var tmp = TestData.NewTempFolder();
        string root = CopyMsrc(tmp);
        File.Delete(Path.Combine(root, "JPEGImages", B + ".jpg"));
        var ds = Open(root);
        Fails(() => ds.LoadImage(B), Path.Combine(root, "JPEGImages", B + ".jpg"), $"image of id '{B}' not found");
        Fails(() => DatasetStatistics.Compute(ds, "train"), Path.Combine(root, "JPEGImages", B + ".jpg"), "not found");
    }

    [Fact]
    public void ImageMaskSizeMismatch()
    {
        using var tmp = TestData.NewTempFolder();
        string root = CopyMsrc(tmp);
        string maskPath = Path.Combine(root, "SegmentationClass", A + ".png");
        var real = PalettePng.Read(maskPath);
        var cropped = new LabelMask(real.Width - 1, real.Height);
        for (int y = 0; y < real.Height; y++) Array.Copy(real.Labels, y * real.Width, cropped.Labels, y * cropped.Width, cropped.Width);
        PalettePng.Write(maskPath, cropped);
        var ds = Open(root);
        Fails(() => ds.LoadPair(A), maskPath, $"mask is 319x213 but its image {A}.jpg is 320x213");
        Fails(() => DatasetStatistics.Compute(ds, "train"), maskPath, "mask is 319x213");
    }

    [Fact]
    public void MaskIndexNeitherClassNor255()
    {
        using var tmp = TestData.NewTempFolder();
        string root = CopyMsrc(tmp);
        string maskPath = Path.Combine(root, "SegmentationClass", A + ".png");
        var m = PalettePng.Read(maskPath);
        m.Labels[5 * m.Width + 17] = 42;
        PalettePng.Write(maskPath, m);
        Fails(() => Open(root).LoadMask(A), maskPath, "mask index 42 at pixel (17, 5) is neither a class (0..20) nor 255 (ignore)");
    }

    [Fact]
    public void CorruptAndTruncatedImages()
    {
        using var tmp = TestData.NewTempFolder();
        string root = CopyMsrc(tmp);
        string jpg = Path.Combine(root, "JPEGImages", A + ".jpg");
        var bytes = File.ReadAllBytes(jpg);
        File.WriteAllBytes(jpg, bytes[..(bytes.Length / 2)]);
        Fails(() => Open(root).LoadImage(A), jpg, "truncated");
        var garbage = (byte[])bytes.Clone();
        for (int i = 0; i < 64; i++) garbage[i] = (byte)(i * 37);
        File.WriteAllBytes(jpg, garbage);
        Fails(() => Open(root).LoadImage(A), jpg, "not a readable image");
        File.WriteAllBytes(jpg, []);
        Fails(() => Open(root).LoadImage(A), jpg, "empty");
    }

    [Fact]
    public void TruncatedOrCorruptMask_AndMaskThatIsNot8BitPalette()
    {
        using var tmp = TestData.NewTempFolder();
        string root = CopyMsrc(tmp);
        string maskPath = Path.Combine(root, "SegmentationClass", A + ".png");
        var original = File.ReadAllBytes(maskPath);
        File.WriteAllBytes(maskPath, original[..(original.Length * 2 / 3)]);
        Fails(() => Open(root).LoadMask(A), maskPath, "truncated");
        var flipped = (byte[])original.Clone();
        flipped[original.Length / 2] ^= 0xFF;
        File.WriteAllBytes(maskPath, flipped);
        Fails(() => Open(root).LoadMask(A), maskPath, "CRC mismatch");
        // The photo saved as an RGB PNG in place of the mask.
        ImageFile.WritePng(maskPath, ImageFile.Read(Path.Combine(root, "JPEGImages", A + ".jpg")));
        Fails(() => Open(root).LoadMask(A), maskPath, "mask is not 8-bit palette (PNG colour type 2 RGB, bit depth 8)");
    }
}
