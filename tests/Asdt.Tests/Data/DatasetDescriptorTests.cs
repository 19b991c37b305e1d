using Asdt.Data;

namespace Asdt.Tests.Data;

public class DatasetDescriptorTests
{
    static void WriteVoc(string root, string[] ids, Func<int, LabelMask> mask, string? classes = null)
    {
        Directory.CreateDirectory(Path.Combine(root, "ImageSets", "Segmentation"));
        File.WriteAllLines(Path.Combine(root, "ImageSets", "Segmentation", "train.txt"), ids);
        for (int i = 0; i < ids.Length; i++)
        {
            var m = mask(i);
            PalettePng.Write(Path.Combine(root, "SegmentationClass", ids[i] + ".png"), m);
            ImageFile.WritePng(Path.Combine(root, "JPEGImages", ids[i] + ".png"), new RgbImage(m.Width, m.Height));
        }
        if (classes != null) File.WriteAllText(Path.Combine(root, "classes.txt"), classes);
    }

    [Fact]
    public void UserDescriptor_RemapsToClassBackgroundAndIgnore_RelativeRoot()
    {
        using var tmp = TestData.NewTempFolder();
        string root = Path.Combine(tmp.Path, "data", "mine");
        WriteVoc(root, ["a"], _ => new LabelMask(4, 1, [0, 1, 2, 3]), "sky\ncat\nkitten\nblur\n");
        File.WriteAllText(tmp.File("mine.json"), """
            {
              // comments and trailing commas are fine
              "name": "mine",
              "root": "data/mine",
              "classes": ["background", "cat"],
              "remap": { "sky": "background", "kitten": "cat", "#3": "ignore", },
            }
            """);
        var ds = SegmentationDataset.Open(tmp.File("mine.json"));
        Assert.Equal(Path.GetFullPath(root), ds.Root);
        Assert.Equal(new byte[] { 0, 1, 1, 255 }, ds.LoadMask("a").Labels);
        Assert.Equal([true], ds.ImageLabels("a"));
        // --root overrides
        Assert.Equal(Path.GetFullPath(root), SegmentationDataset.Open(tmp.File("mine.json"), root).Root);
    }

    [Fact]
    public void BadDescriptors_AreRefusedClearly()
    {
        using var tmp = TestData.NewTempFolder();
        string root = Path.Combine(tmp.Path, "d");
        WriteVoc(root, ["a"], _ => new LabelMask(2, 1, [0, 1]), "background\ncat\ndog\n");
        void Expect(string json, string fragment)
        {
            File.WriteAllText(tmp.File("x.json"), json);
            var e = Assert.ThrowsAny<AsdtException>(() => SegmentationDataset.Open(tmp.File("x.json")));
            Assert.Contains(fragment, e.Message);
        }
        Expect("""{"name":"x","root":"d","classes":["background","cat"]}""", "'dog' has no remap entry");
        Expect("""{"name":"x","root":"d","classes":["background","cat"],"remap":{"dgo":"background"}}""", "'dgo', which is not a source class");
        Expect("""{"name":"x","root":"d","remap":{"dog":"wolf"}}""", "'wolf' is not a target class");
        Expect("""{"name":"x","root":"d","rooot":"d"}""", "not a valid dataset descriptor");
        Expect("""{"root":"d"}""", "not a valid dataset descriptor");
        Expect("""{"name":"x","root":"d","sourceClasses":["background","cat"]}""", "differ from the source classes");
        Expect("""{"name":"x","root":"nowhere"}""", "dataset root not found");
        // unmapped: background maps everything not named
        File.WriteAllText(tmp.File("ok.json"), """{"name":"x","root":"d","classes":["background","dog"],"unmapped":"background"}""");
        Assert.Equal(new byte[] { 0, 0 }, SegmentationDataset.Open(tmp.File("ok.json")).LoadMask("a").Labels);
    }

    [Fact]
    public void BuiltinDescriptors_RoundTripThroughJson()
    {
        using var tmp = TestData.NewTempFolder();
        foreach (var name in BuiltinDatasets.Names)
        {
            var d = BuiltinDatasets.Get(name);
            d.Save(tmp.File(name + ".json"));
            var back = DatasetDescriptor.Load(tmp.File(name + ".json"));
            Assert.Equal(d.ToJson(), back.ToJson());
        }
        Assert.Equal(["demo", "voc2012", "voc2012-masks", "msrc21-objects", "msrc21-raw", "coco-stuff-10k-voc"], BuiltinDatasets.Names);
    }

    [Fact]
    public void VocXmlAnnotations_GiveImageLabels_PartsIgnored_DtdRefused()
    {
        using var tmp = TestData.NewTempFolder();
        string root = tmp.Path;
        WriteVoc(root, ["a", "b"], _ => new LabelMask(2, 1, [0, 0]));
        Directory.CreateDirectory(Path.Combine(root, "Annotations"));
        File.WriteAllText(Path.Combine(root, "Annotations", "a.xml"), """
            <annotation><filename>a.jpg</filename>
              <object><name>person</name><part><name>head</name></part></object>
              <object><name>dog</name><difficult>1</difficult></object>
              <object><name>person</name></object>
            </annotation>
            """);
        File.WriteAllText(Path.Combine(root, "Annotations", "b.xml"), """
            <?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "boom">]><annotation><object><name>&x;</name></object></annotation>
            """);
        var ds = SegmentationDataset.OpenVoc(root);
        Assert.Equal([12, 15], ds.ImageClasses("a")); // dog, person (from XML although the mask is all background)
        Assert.Contains("not a valid annotation XML", Assert.Throws<AsdtException>(() => ds.ImageClasses("b")).Message);
        var fromMasks = SegmentationDataset.OpenVoc(root, ImageLabelSource.Masks);
        Assert.Empty(fromMasks.ImageClasses("a"));
    }

    /// <summary>COCO-Stuff 10K layout with .mat annotations written byte by byte; the VOC protocol keeps images with a VOC class.</summary>
    [Fact]
    public void CocoStuff10k_ToVoc_MapsIdsAndKeepsImagesWithVocClasses()
    {
        using var tmp = TestData.NewTempFolder();
        string root = tmp.Path;
        Directory.CreateDirectory(Path.Combine(root, "annotations"));
        Directory.CreateDirectory(Path.Combine(root, "imageLists"));
        // COCO ids: 0 unlabeled, 1 person, 63 couch, 72 tv, 8 truck (not VOC), 100 cardboard (stuff), 4 motorcycle
        var maps = new Dictionary<string, int[][]>
        {
            ["img1"] = [[1, 63, 72], [8, 100, 0]],
            ["img2"] = [[8, 100, 100], [0, 105, 8]],      // no VOC class: dropped by the protocol
            ["img3"] = [[4, 4, 182], [92, 0, 1]],
        };
        foreach (var (id, m) in maps)
        {
            var bytes = MatBytes.Header().Concat(MatBytes.Compressed(MatBytes.NumericMatrix("S", MatBytes.mxDOUBLE, MatBytes.miUINT8, m))).ToArray();
            File.WriteAllBytes(Path.Combine(root, "annotations", id + ".mat"), bytes);
            ImageFile.WritePng(Path.Combine(root, "images", id + ".png"), new RgbImage(3, 2));
        }
        File.WriteAllText(Path.Combine(root, "imageLists", "train.txt"), "img1\nimg2\nimg3\n");
        var ds = SegmentationDataset.Open("coco-stuff-10k-voc", root);
        Assert.Equal(ClassLists.Voc, ds.ClassNames);
        Assert.Equal(["img1", "img3"], ds.Ids("train"));
        int V(string n) => ClassLists.Voc.ToList().IndexOf(n);
        Assert.Equal(new byte[] { (byte)V("person"), (byte)V("sofa"), (byte)V("tvmonitor"), 0, 0, 255 }, ds.LoadPair("img1").Mask.Labels);
        Assert.Equal(new byte[] { (byte)V("motorbike"), (byte)V("motorbike"), 0, 0, 255, (byte)V("person") }, ds.LoadMask("img3").Labels);
        Assert.Equal([V("motorbike"), V("person")], ds.ImageClasses("img3"));
        // Every one of the 20 VOC classes has exactly one COCO id.
        Assert.Equal(ClassLists.Voc.Skip(1).Order(), ClassLists.CocoToVoc.Select(t => t.VocName).Order());
        // An id beyond 182 is refused.
        File.WriteAllBytes(Path.Combine(root, "annotations", "img3.mat"),
            MatBytes.Header().Concat(MatBytes.NumericMatrix("S", MatBytes.mxDOUBLE, MatBytes.miUINT16, [[183, 1, 1], [1, 1, 1]])).ToArray());
        Assert.Contains("not a COCO-Stuff id", Assert.Throws<AsdtException>(() => ds.LoadMask("img3")).Message);
    }
}
