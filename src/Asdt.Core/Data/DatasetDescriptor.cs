using System.Text.Json;
using System.Text.Json.Serialization;

namespace Asdt.Data;

/// <summary>Folder layouts the dataset reader understands.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DatasetLayout>))]
public enum DatasetLayout
{
    /// <summary>PASCAL VOC: JPEGImages/, SegmentationClass(Aug)/ palette PNGs, ImageSets/Segmentation/&lt;split&gt;.txt, optional Annotations/ and classes.txt.</summary>
    [JsonStringEnumMemberName("voc")] Voc,
    /// <summary>COCO-Stuff 10K v1.1: images/*.jpg, annotations/*.mat (variable S, 1-based COCO-Stuff ids, 0 = unlabeled), imageLists/&lt;split&gt;.txt.</summary>
    [JsonStringEnumMemberName("coco-stuff-10k")] CocoStuff10k,
}

/// <summary>Where image-level labels come from.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ImageLabelSource>))]
public enum ImageLabelSource
{
    /// <summary>Annotations/&lt;id&gt;.xml when that file exists, else the mask.</summary>
    [JsonStringEnumMemberName("auto")] Auto,
    /// <summary>Always from the mask: every target class with at least one pixel, except background and ignore.</summary>
    [JsonStringEnumMemberName("masks")] Masks,
    /// <summary>Always from Annotations/&lt;id&gt;.xml (&lt;object&gt;&lt;name&gt;); a missing file is an error.</summary>
    [JsonStringEnumMemberName("annotations")] Annotations,
}

/// <summary>
/// A dataset described in JSON: its root folder, layout, class lists and class remap. Example (MSRC-21 objects):
/// <code>
/// { "name": "msrc21-objects", "layout": "voc", "root": "../shared/data/msrc21",
///   "sourceClasses": null,                       // null: root/classes.txt, else the 21 VOC names
///   "classes": ["background", "cow", "sheep", ...],   // target classes, index 0 = background; null: = source
///   "remap": { "building": "background", "grass": "background", ... },   // or "ignore", or another class
///   "unmapped": "same-name" }                    // or "background" / "ignore"
/// </code>
/// A relative root is resolved against the descriptor file's folder (built-in descriptors: the current folder and
/// its ancestors); a root given on the command line overrides it.
/// </summary>
public sealed record DatasetDescriptor
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public DatasetLayout Layout { get; init; } = DatasetLayout.Voc;
    public string? Root { get; init; }
    /// <summary>Image folder (VOC default JPEGImages, COCO-Stuff default images).</summary>
    public string? ImageFolder { get; init; }
    /// <summary>Mask folder (VOC default: SegmentationClassAug if present, else SegmentationClass; COCO-Stuff: annotations).</summary>
    public string? MaskFolder { get; init; }
    /// <summary>The classes stored in the masks, in index order. Null: root/classes.txt, else the layout's default.</summary>
    public IReadOnlyList<string>? SourceClasses { get; init; }
    /// <summary>Target classes, index 0 = background. Null: the source classes.</summary>
    public IReadOnlyList<string>? Classes { get; init; }
    /// <summary>Source class (name or decimal index) → target class name, "background" or "ignore".</summary>
    public IReadOnlyDictionary<string, string>? Remap { get; init; }
    [JsonConverter(typeof(UnmappedConverter))]
    public UnmappedClasses Unmapped { get; init; } = UnmappedClasses.SameName;
    public ImageLabelSource ImageLabels { get; init; } = ImageLabelSource.Auto;
    /// <summary>Keep only images whose (remapped) mask contains at least one foreground class (the COCO-Stuff → VOC protocol).</summary>
    public bool KeepOnlyImagesWithForeground { get; init; }
    /// <summary>Split names used by default for training and for evaluation.</summary>
    public string TrainSplit { get; init; } = "train";
    public string ValSplit { get; init; } = "val";

    /// <summary>The folder a relative <see cref="Root"/> is resolved against (the descriptor file's folder); null for built-ins.</summary>
    [JsonIgnore] public string? BaseDirectory { get; init; }


    public static DatasetDescriptor Load(string path)
    {
        var bytes = DataFiles.ReadAllBytes(path, 4L << 20);
        DatasetDescriptor? d;
        try { d = JsonSerializer.Deserialize(bytes, DescriptorJson.Default.DatasetDescriptor); }
        catch (JsonException e) { throw new AsdtException(path, $"not a valid dataset descriptor ({e.Message})", e); }
        if (d == null) throw new AsdtException(path, "not a valid dataset descriptor (null)");
        return d with { BaseDirectory = Path.GetDirectoryName(Path.GetFullPath(path)) };
    }

    public string ToJson() => JsonSerializer.Serialize(this, DescriptorJson.Default.DatasetDescriptor);

    public void Save(string path) => IO.AtomicFile.WriteAllText(path, ToJson() + "\n");

    /// <summary>Loads a descriptor file, or a built-in one by name (<see cref="BuiltinDatasets.Names"/>).</summary>
    public static DatasetDescriptor LoadOrBuiltin(string fileOrName)
    {
        if (BuiltinDatasets.TryGet(fileOrName, out var builtin)) return builtin;
        if (File.Exists(fileOrName) || fileOrName.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return Load(fileOrName);
        throw new AsdtException(fileOrName, $"neither a descriptor file nor a built-in dataset (built-in: {string.Join(", ", BuiltinDatasets.Names)})");
    }

    /// <summary>The dataset root: <paramref name="rootOverride"/> if given (relative to the current folder), else
    /// <see cref="Root"/> relative to the descriptor's folder; built-ins search the current folder and its ancestors.</summary>
    public string ResolveRoot(string? rootOverride = null)
    {
        if (!string.IsNullOrEmpty(rootOverride)) return Path.GetFullPath(rootOverride);
        if (string.IsNullOrEmpty(Root)) throw new AsdtException(Name, "the descriptor names no root folder; give one (--root)");
        if (Path.IsPathRooted(Root)) return Path.GetFullPath(Root);
        if (BaseDirectory != null) return Path.GetFullPath(Path.Combine(BaseDirectory, Root));
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir != null; dir = dir.Parent)
        {
            string candidate = Path.GetFullPath(Path.Combine(dir.FullName, Root));
            if (Directory.Exists(candidate)) return candidate;
        }
        return Path.GetFullPath(Root);
    }

    internal sealed class UnmappedConverter : JsonConverter<UnmappedClasses>
    {
        public override UnmappedClasses Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString() switch
            {
                "same-name" => UnmappedClasses.SameName,
                "background" => UnmappedClasses.Background,
                "ignore" => UnmappedClasses.Ignore,
                var s => throw new JsonException($"unmapped must be \"same-name\", \"background\" or \"ignore\", not \"{s}\""),
            };

        public override void Write(Utf8JsonWriter writer, UnmappedClasses value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value switch { UnmappedClasses.Background => "background", UnmappedClasses.Ignore => "ignore", _ => "same-name" });
    }
}

/// <summary>Source-generated JSON metadata (works with trimming and with reflection-based serialisation disabled).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DatasetDescriptor))]
internal sealed partial class DescriptorJson : JsonSerializerContext;
