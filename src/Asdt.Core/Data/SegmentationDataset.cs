using System.Collections.Concurrent;

namespace Asdt.Data;

/// <summary>
/// A segmentation dataset on disk, opened from a <see cref="DatasetDescriptor"/>: VOC layout (JPEGImages/,
/// SegmentationClass/ or SegmentationClassAug/, ImageSets/Segmentation/&lt;split&gt;.txt, optional Annotations/ and
/// classes.txt) or COCO-Stuff 10K (images/, annotations/*.mat, imageLists/&lt;split&gt;.txt). Masks come back
/// remapped to the target classes. Everything is read lazily, on demand; the object is safe to use from several
/// threads (caches are concurrent; every load reads its own file).
/// </summary>
public sealed class SegmentationDataset : ITrainingSource
{
    static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".ppm"];

    readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<string>>> splits = new();
    readonly ConcurrentDictionary<string, int[]> classesOf = new();

    public DatasetDescriptor Descriptor { get; }
    public string Name => Descriptor.Name;
    public string Root { get; }
    public DatasetLayout Layout => Descriptor.Layout;
    public ClassRemap Remap { get; }
    public IReadOnlyList<string> ClassNames => Remap.TargetClasses;
    public int NumForegroundClasses => ClassNames.Count - 1;
    /// <summary>Full path of the image folder; null when the dataset has none (masks only).</summary>
    public string? ImageFolder { get; }
    /// <summary>Full path of the mask folder; null when the dataset has none (images and annotations only).</summary>
    public string? MaskFolder { get; }
    public string? AnnotationFolder { get; }
    public bool HasImages => ImageFolder != null;
    public bool HasMasks => MaskFolder != null;
    string SplitFolder { get; }

    SegmentationDataset(DatasetDescriptor descriptor, string root)
    {
        Descriptor = descriptor;
        Root = root;
        if (!Directory.Exists(root)) throw new AsdtException(root, $"dataset root not found (dataset '{descriptor.Name}'; give the folder with --root or fix the descriptor's root)");
        bool voc = descriptor.Layout == DatasetLayout.Voc;
        string? Folder(string? name) => name != null && Directory.Exists(Path.Combine(root, name)) ? Path.Combine(root, name) : null;
        ImageFolder = Folder(descriptor.ImageFolder ?? (voc ? "JPEGImages" : "images"));
        if (descriptor.MaskFolder != null)
            MaskFolder = Folder(descriptor.MaskFolder) ?? throw new AsdtException(Path.Combine(root, descriptor.MaskFolder), "mask folder not found");
        else
            MaskFolder = voc ? Folder("SegmentationClassAug") ?? Folder("SegmentationClass") : Folder("annotations");
        AnnotationFolder = voc ? Folder("Annotations") : null;
        SplitFolder = Path.Combine(root, voc ? Path.Combine("ImageSets", "Segmentation") : "imageLists");
        if (ImageFolder == null && MaskFolder == null)
            throw new AsdtException(root, voc
                ? "not a VOC-layout dataset: neither JPEGImages/ nor SegmentationClass/ or SegmentationClassAug/ found"
                : "not a COCO-Stuff 10K dataset: neither images/ nor annotations/ found");
        if (!Directory.Exists(SplitFolder)) throw new AsdtException(SplitFolder, "split folder not found (it holds <split>.txt id lists)");

        string where = descriptor.BaseDirectory != null ? $"dataset descriptor '{descriptor.Name}'" : $"built-in dataset '{descriptor.Name}'";
        string classesFile = Path.Combine(root, "classes.txt");
        IReadOnlyList<string>? fileClasses = File.Exists(classesFile) ? DataFiles.ReadLines(classesFile) : null;
        if (fileClasses != null && descriptor.SourceClasses != null && !fileClasses.SequenceEqual(descriptor.SourceClasses, StringComparer.OrdinalIgnoreCase))
            throw new AsdtException(classesFile, $"lists {fileClasses.Count} classes ({string.Join(", ", fileClasses.Take(4))}, ...) that differ from the source classes of {where} ({string.Join(", ", descriptor.SourceClasses.Take(4))}, ...)");
        var source = descriptor.SourceClasses ?? fileClasses ?? (voc ? ClassLists.Voc : ClassLists.CocoStuff);
        var target = descriptor.Classes ?? source;
        Remap = ClassRemap.Create(source, target, descriptor.Remap, descriptor.Unmapped, where);
    }

    public static SegmentationDataset Open(DatasetDescriptor descriptor, string? rootOverride = null) =>
        new(descriptor, descriptor.ResolveRoot(rootOverride));

    /// <summary>Opens a descriptor file or a built-in dataset by name.</summary>
    public static SegmentationDataset Open(string descriptorFileOrBuiltin, string? rootOverride = null) =>
        Open(DatasetDescriptor.LoadOrBuiltin(descriptorFileOrBuiltin), rootOverride);

    /// <summary>A plain VOC-layout folder: classes from its classes.txt (else the 21 VOC names), no remap.</summary>
    public static SegmentationDataset OpenVoc(string root, ImageLabelSource labels = ImageLabelSource.Auto) =>
        Open(new DatasetDescriptor { Name = Path.GetFileName(Path.GetFullPath(root).TrimEnd('/')), Root = Path.GetFullPath(root), ImageLabels = labels });

    // ------------------------------------------------------------------ splits
    public IReadOnlyList<string> AvailableSplits() =>
        Directory.Exists(SplitFolder)
            ? Directory.GetFiles(SplitFolder, "*.txt").Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal).ToArray()
            : [];

    public string SplitFile(string split) => Path.Combine(SplitFolder, split + ".txt");

    /// <summary>The ids of a split, in file order (filtered to images with foreground when the descriptor asks).</summary>
    public IReadOnlyList<string> Ids(string split) =>
        splits.GetOrAdd(split, s => new Lazy<IReadOnlyList<string>>(() => LoadSplit(s))).Value;

    IReadOnlyList<string> LoadSplit(string split)
    {
        if (split.IndexOfAny(['/', '\\']) >= 0 || split.Contains("..")) throw new AsdtException(split, "a split is a name such as train or val, not a path");
        string file = SplitFile(split);
        if (!File.Exists(file))
            throw new AsdtException(file, $"split file not found (available splits: {string.Join(", ", AvailableSplits().DefaultIfEmpty("none"))})");
        var ids = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in DataFiles.ReadLines(file))
        {
            string id = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0];
            if (id.IndexOfAny(['/', '\\']) >= 0 || id == "..") throw new AsdtException(file, $"id '{id}' is not a plain file name");
            if (!seen.Add(id)) throw new AsdtException(file, $"id '{id}' is listed twice");
            ids.Add(id);
        }
        if (ids.Count == 0) throw new AsdtException(file, "split file lists no ids");
        if (!Descriptor.KeepOnlyImagesWithForeground) return ids;
        var keep = new bool[ids.Count];
        ParallelLoop.For(0, ids.Count, i => keep[i] = ImageClasses(ids[i]).Count > 0);
        return ids.Where((_, i) => keep[i]).ToArray();
    }

    // ------------------------------------------------------------------ files
    public string ImagePath(string id)
    {
        if (ImageFolder == null) throw new AsdtException(Root, $"dataset '{Name}' has no image folder (it holds masks only)");
        foreach (var ext in ImageExtensions)
        {
            string p = Path.Combine(ImageFolder, id + ext);
            if (File.Exists(p)) return p;
        }
        throw new AsdtException(Path.Combine(ImageFolder, id + ".jpg"), $"image of id '{id}' not found (tried .jpg, .jpeg, .png, .ppm)");
    }

    public string MaskPath(string id)
    {
        if (MaskFolder == null) throw new AsdtException(Root, $"dataset '{Name}' has no mask folder");
        return Path.Combine(MaskFolder, id + (Layout == DatasetLayout.Voc ? ".png" : ".mat"));
    }

    public RgbImage LoadImage(string id) => ImageFile.Read(ImagePath(id));

    /// <summary>The mask as stored (source class indices), not validated.</summary>
    public LabelMask LoadRawMask(string id)
    {
        string path = MaskPath(id);
        if (!File.Exists(path)) throw new AsdtException(path, $"mask of id '{id}' not found");
        return Layout == DatasetLayout.Voc ? PalettePng.Read(path) : ReadCocoStuffMask(path, Remap.SourceClasses.Count);
    }

    /// <summary>The mask remapped to the target classes; a value that is neither a source class nor 255 throws.</summary>
    public LabelMask LoadMask(string id) => Remap.Apply(LoadRawMask(id), MaskPath(id));

    LabelMask? ITrainingSource.TryLoadMask(string id) => HasMasks ? LoadMask(id) : null;

    /// <summary>Image and remapped mask, checked to have the same size.</summary>
    public (RgbImage Image, LabelMask Mask) LoadPair(string id)
    {
        var image = LoadImage(id);
        var mask = LoadMask(id);
        if (image.Width != mask.Width || image.Height != mask.Height)
            throw new AsdtException(MaskPath(id), $"mask is {mask.Width}x{mask.Height} but its image {Path.GetFileName(ImagePath(id))} is {image.Width}x{image.Height}");
        return (image, mask);
    }

    /// <summary>COCO-Stuff 10K: variable S (H×W, column-major in the file), 1-based ids, 0 = unlabeled.</summary>
    static LabelMask ReadCocoStuffMask(string path, int sourceClassCount)
    {
        var mat = MatFile.Read(path);
        var s = mat.Get("S");
        var values = s.ToRowMajorInt32(path);
        if (s.Rows <= 0 || s.Columns <= 0) throw new AsdtException(path, $"label map S is empty ({s.Rows}x{s.Columns})");
        var mask = new LabelMask(s.Columns, s.Rows);
        for (int i = 0; i < values.Length; i++)
        {
            int v = values[i];
            if (v < 0 || v >= sourceClassCount)
                throw new AsdtException(path, $"label {v} in S at ({i / s.Columns + 1},{i % s.Columns + 1}) is not a COCO-Stuff id (0..{sourceClassCount - 1})");
            mask.Labels[i] = (byte)v;
        }
        return mask;
    }

    // ------------------------------------------------------------------ image-level labels
    /// <summary>The foreground target classes present in an image (sorted): from Annotations/&lt;id&gt;.xml or from the mask, per the descriptor.</summary>
    public IReadOnlyList<int> ImageClasses(string id) => classesOf.GetOrAdd(id, ComputeClasses);

    /// <summary>Multi-hot over the foreground classes (element c is class c + 1).</summary>
    public bool[] ImageLabels(string id)
    {
        var labels = new bool[NumForegroundClasses];
        foreach (int c in ImageClasses(id)) labels[c - 1] = true;
        return labels;
    }

    int[] ComputeClasses(string id)
    {
        string? xml = AnnotationFolder != null ? Path.Combine(AnnotationFolder, id + ".xml") : null;
        bool useXml = Descriptor.ImageLabels switch
        {
            ImageLabelSource.Masks => false,
            ImageLabelSource.Annotations => true,
            _ => xml != null && File.Exists(xml),
        };
        var set = new SortedSet<int>();
        if (useXml)
        {
            if (xml == null) throw new AsdtException(Path.Combine(Root, "Annotations"), "annotation folder not found (the descriptor asks for image labels from annotations)");
            foreach (var name in VocAnnotation.ObjectNames(xml))
            {
                int t = Remap.MapName(name);
                if (t < 0) throw new AsdtException(xml, $"object name '{name}' is not a class of dataset '{Name}'");
                if (t is > 0 and < 255) set.Add(t);
            }
        }
        else
        {
            var mask = LoadMask(id);
            var seen = new bool[256];
            foreach (byte b in mask.Labels) seen[b] = true;
            for (int c = 1; c < ClassNames.Count; c++) if (seen[c]) set.Add(c);
        }
        return set.ToArray();
    }

    /// <summary>The images of a split as training items.</summary>
    public IReadOnlyList<TrainingItem> TrainingItems(string split) => Ids(split).Select(id => new TrainingItem(this, id)).ToArray();
}
