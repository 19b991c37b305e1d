namespace Asdt.Data;

/// <summary>Class lists of the datasets Asdt knows.</summary>
public static class ClassLists
{
    /// <summary>PASCAL VOC 2012, index 0 = background (ALGORITHM.md §1.1). Classifier index c ↔ label c + 1.</summary>
    public static IReadOnlyList<string> Voc { get; } =
    [
        "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ];

    /// <summary>MSRC-21 as stored in ../shared/data/msrc21/classes.txt (no background class).</summary>
    public static IReadOnlyList<string> Msrc21 { get; } =
    [
        "building", "grass", "tree", "cow", "sheep", "sky", "aeroplane", "water", "face", "car", "bicycle",
        "flower", "sign", "bird", "book", "chair", "road", "cat", "dog", "body", "boat",
    ];

    /// <summary>The MSRC-21 "stuff" classes that the objects-vs-background view turns into background.</summary>
    public static IReadOnlyList<string> Msrc21Stuff { get; } = ["building", "grass", "tree", "sky", "water", "road"];

    /// <summary>MSRC-21 objects view: background + the 15 object classes in classes.txt order.</summary>
    public static IReadOnlyList<string> Msrc21Objects { get; } =
        ["background", .. Msrc21.Where(c => !Msrc21Stuff.Contains(c))];

    /// <summary>
    /// COCO-Stuff label ids of the things that are PASCAL VOC classes, with the VOC class each becomes.
    /// Source: the COCO-Stuff label table (github.com/nightrome/cocostuff, labels.md: 0 = unlabeled, 1–91 things
    /// with the official COCO category ids, 92–182 stuff), which COCO-Stuff 10K v1.1 stores 1-based in the S
    /// variable of each annotations/*.mat. COCO names differ from VOC's for five of them (airplane, motorcycle,
    /// couch, dining table, tv).
    /// </summary>
    public static IReadOnlyList<(int CocoId, string CocoName, string VocName)> CocoToVoc { get; } =
    [
        (1, "person", "person"), (2, "bicycle", "bicycle"), (3, "car", "car"), (4, "motorcycle", "motorbike"),
        (5, "airplane", "aeroplane"), (6, "bus", "bus"), (7, "train", "train"), (9, "boat", "boat"),
        (16, "bird", "bird"), (17, "cat", "cat"), (18, "dog", "dog"), (19, "horse", "horse"), (20, "sheep", "sheep"),
        (21, "cow", "cow"), (44, "bottle", "bottle"), (62, "chair", "chair"), (63, "couch", "sofa"),
        (64, "potted plant", "pottedplant"), (67, "dining table", "diningtable"), (72, "tv", "tvmonitor"),
    ];

    /// <summary>COCO-Stuff 10K v1.1 source classes by id 0..182: "unlabeled", the 20 VOC-relevant thing names,
    /// and "coco-&lt;id&gt;" for the other things and stuff (their names are not needed for the VOC protocol).</summary>
    public static IReadOnlyList<string> CocoStuff { get; } = Enumerable.Range(0, 183)
        .Select(id => id == 0 ? "unlabeled" : CocoToVoc.FirstOrDefault(t => t.CocoId == id).CocoName ?? $"coco-{id}")
        .ToArray();
}
