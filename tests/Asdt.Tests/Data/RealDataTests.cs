using System.Collections.Concurrent;
using Asdt.Data;
using SkiaSharp;

namespace Asdt.Tests.Data;

/// <summary>Reads every real file under ../shared/data: all 334 MSRC-21 images and masks, all 1,749 VOC masks.</summary>
public class RealDataTests
{
    [Fact]
    public void Msrc21_AllImagesAndMasks_CountsSizesAndClassSets()
    {
        var ds = SegmentationDataset.Open("msrc21-raw", TestData.Msrc21);
        Assert.Equal(ClassLists.Msrc21, ds.ClassNames);
        var train = ds.Ids("train");
        var val = ds.Ids("val");
        Assert.Equal(276, train.Count);
        Assert.Equal(58, val.Count);
        Assert.Empty(train.Intersect(val));
        var all = train.Concat(val).ToArray();
        var sizes = new ConcurrentBag<(int, int)>();
        var values = new bool[256];
        var failures = new ConcurrentBag<string>();
        Parallel.ForEach(all, id =>
        {
            var (image, mask) = ds.LoadPair(id); // checks image size == mask size
            sizes.Add((image.Width, image.Height));
            var raw = ds.LoadRawMask(id);
            foreach (byte b in raw.Labels) values[b] = true;
            if (!raw.Labels.SequenceEqual(mask.Labels)) failures.Add(id + ": raw view is not the identity");
        });
        Assert.Empty(failures);
        Assert.Equal(334, sizes.Count);
        // The data README says 320x213 or 213x320; the files also hold 320x240, 240x320 and one 320x162.
        Assert.All(sizes, s => Assert.True(s is (320, 213) or (213, 320) or (320, 240) or (240, 320) or (320, 162), $"size {s}"));
        Assert.True(sizes.Count(s => s is (320, 213) or (213, 320)) > 250);
        Assert.Contains((213, 320), sizes);
        var present = Enumerable.Range(0, 256).Where(v => values[v]).ToArray();
        Assert.All(present, v => Assert.True(v <= 20 || v == 255, $"value {v}"));
        Assert.Contains(255, present);
        Assert.Equal(22, present.Length); // every one of the 21 classes occurs somewhere, plus void
    }

    /// <summary>
    /// Face and body: the pair MSRC's image labels barely separate (counted independently with a plain loop over the
    /// masks, and checked against a count made by hand with a PNG decoder outside .NET: train 29 both, 2 body only, 0 face only).
    /// </summary>
    [Fact]
    public void Msrc21Objects_FaceAndBodyAreTheOnlyPairTheImageLabelsBarelySeparate()
    {
        var ds = SegmentationDataset.Open("msrc21-objects", TestData.Msrc21);
        var st = DatasetStatistics.Compute(ds, "train");
        int face = st.ClassNames.ToList().IndexOf("face"), body = st.ClassNames.ToList().IndexOf("body");
        long both = 0, faceOnly = 0, bodyOnly = 0;
        foreach (var id in ds.Ids("train"))
        {
            var labels = ds.LoadMask(id).Labels;
            bool f = labels.Contains((byte)face), b = labels.Contains((byte)body);
            if (f && b) both++; else if (f) faceOnly++; else if (b) bodyOnly++;
        }
        Assert.Equal((29L, 0L, 2L), (both, faceOnly, bodyOnly));
        Assert.Equal(both, st.Together(face, body));
        Assert.Equal(both, st.Together(body, face));
        Assert.Equal(st.ImagesWithClass[face], st.Together(face, face));
        Assert.Equal([(face, body, 29L, 31L)], st.EntangledPairs().ToArray());
        // Lowering the bar finds more pairs, each with the counts its definition gives.
        foreach (var (a, b, together, either) in st.EntangledPairs(0.3))
            Assert.Equal(either, st.ImagesWithClass[a] + st.ImagesWithClass[b] - together);
    }

    [Fact]
    public void Voc2012_AllRealMasks_CountsAndClassSets()
    {
        var ds = SegmentationDataset.Open("voc2012-masks", TestData.Voc2012Masks);
        Assert.False(ds.HasImages);
        var val = ds.Ids("val");
        var train = ds.Ids("train_aug_sample300");
        Assert.Equal(1449, val.Count);
        Assert.Equal(300, train.Count);
        var valValues = new long[256];
        var trainValues = new long[256];
        var valWith255 = 0;
        Parallel.ForEach(val.Select(id => (id, valValues)).Concat(train.Select(id => (id, trainValues))), item =>
        {
            var h = ds.LoadMask(item.id).Histogram();
            lock (item.Item2) for (int i = 0; i < 256; i++) item.Item2[i] += h[i];
            if (ReferenceEquals(item.Item2, valValues) && h[255] > 0) Interlocked.Increment(ref valWith255);
        });
        for (int v = 21; v < 255; v++) { Assert.Equal(0, valValues[v]); Assert.Equal(0, trainValues[v]); }
        for (int v = 0; v <= 20; v++) Assert.True(valValues[v] > 0, $"class {v} absent from val");
        Assert.True(valValues[255] > 0);
        Assert.True(valWith255 > 1400, $"only {valWith255} val masks carry the 255 border band");
        // Most train_aug masks (SBD) have no border band; the ones from VOC's own train set do.
        Assert.True(trainValues[255] < valValues[255] / 5);
    }

    [Fact]
    public void Voc2012_DerivedLabels_MatchMaskContent()
    {
        var ds = SegmentationDataset.Open("voc2012-masks", TestData.Voc2012Masks);
        // Well-known VOC val images: 2007_000033 aeroplanes, 2007_000042 a train, 2007_000061 a boat,
        // 2007_000129 bicycles with riders.
        Assert.Equal([1], ds.ImageClasses("2007_000033"));
        Assert.Equal([19], ds.ImageClasses("2007_000042"));
        Assert.Equal([4], ds.ImageClasses("2007_000061"));
        Assert.Equal([2, 15], ds.ImageClasses("2007_000129"));
        var labels = ds.ImageLabels("2007_000129");
        Assert.Equal(20, labels.Length);
        Assert.True(labels[1] && labels[14]);
        Assert.Equal(2, labels.Count(b => b));
    }

    /// <summary>Our palette decode against SkiaSharp's colour decode mapped back through the file's own PLTE, on real
    /// files. (These files all use filter type 0; the other filters are exercised by PngCodecTests.)</summary>
    [Fact]
    public void PaletteDecode_AgreesWithSkiaSharp_OnRealFiles()
    {
        var files = Directory.GetFiles(Path.Combine(TestData.Msrc21, "SegmentationClass"), "*.png").Order().Take(20)
            .Concat(Directory.GetFiles(Path.Combine(TestData.Voc2012Masks, "SegmentationClassAug"), "*.png").Order().Take(20));
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(file);
            var mask = PalettePng.Decode(bytes, file, out var palette);
            Assert.NotNull(palette);
            using var bitmap = SKBitmap.Decode(bytes);
            Assert.Equal(mask.Width, bitmap.Width);
            Assert.Equal(mask.Height, bitmap.Height);
            for (int y = 0; y < mask.Height; y += 3)
                for (int x = 0; x < mask.Width; x += 3)
                {
                    var c = bitmap.GetPixel(x, y);
                    int idx = mask.Labels[y * mask.Width + x];
                    Assert.Equal((c.Red, c.Green, c.Blue), (palette![idx * 3], palette[idx * 3 + 1], palette[idx * 3 + 2]));
                }
        }
    }

    /// <summary>MSRC-21 objects view: label sets checked by eye on the photo and the rendered mask.</summary>
    [Theory]
    [InlineData("7_23_s", "car,bicycle")]          // a red hatchback, bicycles parked on the left
    [InlineData("6_23_s", "face,chair,body")]      // a man covering his eye; a garden chair behind him
    [InlineData("16_22_s", "face,dog,body")]       // two people on a bench, a white dog at their feet
    [InlineData("19_10_s", "face,flower,body")]
    [InlineData("15_2_s", "cat")]
    [InlineData("3_1_s", "")]                      // a country house, lawn and sky: stuff only
    [InlineData("10_14_s", "flower")]
    [InlineData("1_10_s", "cow")]                  // a cow on grass under the sky
    public void Msrc21Objects_HandCheckedImageLabels(string id, string expected)
    {
        var ds = SegmentationDataset.Open("msrc21-objects", TestData.Msrc21);
        Assert.Equal(16, ds.ClassNames.Count);
        Assert.Equal("background", ds.ClassNames[0]);
        var names = ds.ImageClasses(id).Select(c => ds.ClassNames[c]);
        Assert.Equal(expected, string.Join(",", names));
        var multiHot = ds.ImageLabels(id);
        Assert.Equal(15, multiHot.Length);
        Assert.Equal(expected.Length == 0 ? 0 : expected.Split(',').Length, multiHot.Count(b => b));
    }

    [Fact]
    public void Msrc21Objects_RemapsStuffToBackground_AndKeepsVoid()
    {
        var objects = SegmentationDataset.Open("msrc21-objects", TestData.Msrc21);
        var raw = SegmentationDataset.Open("msrc21-raw", TestData.Msrc21);
        string[] objectNames = ["cow", "sheep", "aeroplane", "face", "car", "bicycle", "flower", "sign", "bird", "book", "chair", "cat", "dog", "body", "boat"];
        Assert.Equal(objectNames, objects.ClassNames.Skip(1));
        foreach (var id in new[] { "7_23_s", "16_22_s", "3_1_s" })
        {
            var r = raw.LoadMask(id).Labels;
            var o = objects.LoadMask(id).Labels;
            for (int i = 0; i < r.Length; i++)
            {
                string rawName = r[i] == 255 ? "void" : ClassLists.Msrc21[r[i]];
                byte expected = r[i] == 255 ? (byte)255
                    : rawName is "building" or "grass" or "tree" or "sky" or "water" or "road" ? (byte)0
                    : (byte)(Array.IndexOf(objectNames, rawName) + 1);
                Assert.Equal(expected, o[i]);
            }
        }
    }
}
