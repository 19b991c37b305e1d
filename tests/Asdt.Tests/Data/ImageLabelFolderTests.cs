using Asdt.Data;

namespace Asdt.Tests.Data;

public class ImageLabelFolderTests
{
    [Fact]
    public void FolderPerClass_MapsNames_SkipsUnknown_MixesWithVocData()
    {
        using var tmp = TestData.NewTempFolder();
        string root = Path.Combine(tmp.Path, "caltech");
        void Img(string folder, string file) => ImageFile.WritePng(Path.Combine(root, folder, file), new RgbImage(20, 16));
        Img("038.chimp", "a.png");                   // not a class: skipped
        Img("beetle", "x.png");
        Img("045.FISH", "y1.png"); Img("045.FISH", "y2.png");
        Img("251.airplanes-101", "p.png");            // mapped by name to rocket
        File.WriteAllText(Path.Combine(root, "beetle", "notes.txt"), "not an image");
        var folder = new ImageLabelFolder(root, DemoDataset.ClassNames, new Dictionary<string, string> { ["airplanes-101"] = "rocket" });
        Assert.Equal(["045.FISH/y1.png", "045.FISH/y2.png", "251.airplanes-101/p.png", "beetle/x.png"], folder.Ids);
        Assert.Equal(["038.chimp"], folder.SkippedFolders);
        Assert.Equal([false, true, false, false, false], folder.ImageLabels("045.FISH/y1.png"));
        Assert.Equal(5, folder.ClassOf("251.airplanes-101/p.png"));
        Assert.Null(folder.TryLoadMask("beetle/x.png"));
        Assert.Contains("matches no object class", Assert.Throws<AsdtException>(() => new ImageLabelFolder(root, DemoDataset.ClassNames, strict: true)).Message);

        DemoDataset.Generate(Path.Combine(tmp.Path, "demo"), 10, 1);
        var demo = SegmentationDataset.Open(Path.Combine(tmp.Path, "demo", "dataset.json"));
        var items = demo.TrainingItems("train").Concat(folder.TrainingItems()).ToArray();
        var sampler = new TrainingSampler(items, new AugmentationOptions { BatchSize = items.Length, CropSize = 32, IncludeMasks = true }, ImageNormalization.ImageNet);
        var batch = sampler.Batch(0);
        for (int j = 0; j < batch.Size; j++)
        {
            bool fromFolder = batch.Items[j].Source == folder;
            Assert.Equal(fromFolder, batch.Masks[j] == null);
            Assert.Equal(5, batch.Labels[j].Length);
        }
        // A source with another class list cannot be mixed in.
        var msrc = SegmentationDataset.Open("msrc21-objects", TestData.Msrc21);
        Assert.Contains("share one class list", Assert.Throws<AsdtException>(() =>
            new TrainingSampler([.. items, .. msrc.TrainingItems("val")], new AugmentationOptions(), ImageNormalization.ImageNet)).Message);
    }
}
