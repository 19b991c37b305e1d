namespace Asdt.Data;

/// <summary>
/// Dataset descriptors shipped with Asdt, by name:
/// <list type="bullet">
/// <item><c>demo</c>: the generated demo dataset (<see cref="DemoDataset"/>), root <c>demo-data</c>.</item>
/// <item><c>voc2012</c>: PASCAL VOC 2012 with SBD (train_aug / val), root <c>VOCdevkit/VOC2012</c>.</item>
/// <item><c>voc2012-masks</c>: the real VOC masks in ../shared/data/voc2012-masks (no images; splits val, train_aug_sample300).</item>
/// <item><c>msrc21-objects</c>: MSRC-21 with the stuff classes as background, 15 object classes.</item>
/// <item><c>msrc21-raw</c>: MSRC-21 as stored (21 classes, index 0 "building" plays the background role).</item>
/// <item><c>coco-stuff-10k-voc</c>: COCO-Stuff 10K v1.1 mapped to the 20 VOC classes + background (ALGORITHM.md A24).</item>
/// </list>
/// </summary>
public static class BuiltinDatasets
{
    static readonly Dictionary<string, DatasetDescriptor> All = Build().ToDictionary(d => d.Name, StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyList<string> Names { get; } = Build().Select(d => d.Name).ToArray();

    public static bool TryGet(string name, out DatasetDescriptor descriptor) => All.TryGetValue(name, out descriptor!);

    public static DatasetDescriptor Get(string name) => TryGet(name, out var d) ? d
        : throw new AsdtException(name, $"no built-in dataset of that name (built-in: {string.Join(", ", Names)})");

    static IEnumerable<DatasetDescriptor> Build()
    {
        yield return new DatasetDescriptor
        {
            Name = "demo",
            Description = "Generated demo dataset (asdt demo-data): 5 object classes, each a small distinctive part on a larger body with shared texture.",
            Root = "demo-data",
            ImageLabels = ImageLabelSource.Masks,
        };
        yield return new DatasetDescriptor
        {
            Name = "voc2012",
            Description = "PASCAL VOC 2012 + SBD: train_aug (10,582) / val (1,449); image labels from Annotations/*.xml.",
            Root = "VOCdevkit/VOC2012",
            SourceClasses = ClassLists.Voc,
            TrainSplit = "train_aug",
        };
        yield return new DatasetDescriptor
        {
            Name = "voc2012-masks",
            Description = "Real PASCAL VOC 2012 masks without images (../shared/data/voc2012-masks).",
            Root = "shared/data/voc2012-masks",
            SourceClasses = ClassLists.Voc,
            ImageLabels = ImageLabelSource.Masks,
            TrainSplit = "train_aug_sample300",
        };
        yield return new DatasetDescriptor
        {
            Name = "msrc21-objects",
            Description = "MSRC-21, objects vs background: building, grass, tree, sky, water, road -> background; 15 object classes.",
            Root = "shared/data/msrc21",
            SourceClasses = ClassLists.Msrc21,
            Classes = ClassLists.Msrc21Objects,
            Remap = ClassLists.Msrc21Stuff.ToDictionary(c => c, _ => ClassRemap.BackgroundTarget),
            ImageLabels = ImageLabelSource.Masks,
        };
        yield return new DatasetDescriptor
        {
            Name = "msrc21-raw",
            Description = "MSRC-21 as stored: 21 classes, no background class (index 0 'building' is treated as background).",
            Root = "shared/data/msrc21",
            SourceClasses = ClassLists.Msrc21,
            ImageLabels = ImageLabelSource.Masks,
        };
        yield return new DatasetDescriptor
        {
            Name = "coco-stuff-10k-voc",
            Description = "COCO-Stuff 10K v1.1 -> 20 VOC classes + background: images with at least one VOC class; other things and stuff -> background, unlabeled -> ignore.",
            Layout = DatasetLayout.CocoStuff10k,
            Root = "cocostuff-10k-v1.1",
            SourceClasses = ClassLists.CocoStuff,
            Classes = ClassLists.Voc,
            Remap = new Dictionary<string, string>(ClassLists.CocoToVoc.Select(t => KeyValuePair.Create(t.CocoId.ToString(), t.VocName)))
            {
                ["0"] = ClassRemap.IgnoreTarget,
            },
            Unmapped = UnmappedClasses.Background,
            ImageLabels = ImageLabelSource.Masks,
            KeepOnlyImagesWithForeground = true,
            ValSplit = "test",
        };
    }
}
