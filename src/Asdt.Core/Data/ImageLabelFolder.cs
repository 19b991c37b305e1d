using System.Text.RegularExpressions;

namespace Asdt.Data;

/// <summary>
/// Image-label-only training data in a folder-per-class layout (<c>&lt;root&gt;/&lt;class&gt;/*.jpg</c>, as Caltech-256;
/// the paper's Table 3 adds ~4,000 such single-label images): every image gets the one label of its folder and has no
/// mask. Folders are matched to the target classes by name, case-insensitively, after dropping a numeric prefix such
/// as Caltech's "009." (so "009.bear" matches "bear"); <paramref name="nameMap"/> maps other folder names
/// ("251.airplanes-101" → "aeroplane"). Folders matching no foreground class are <b>skipped</b> and listed in
/// <see cref="SkippedFolders"/> (a Caltech-256 root holds 257 categories of which only a few are target classes);
/// with <c>strict</c> they are an error instead. Ids are "&lt;folder&gt;/&lt;file name&gt;", sorted ordinally.
/// </summary>
public sealed partial class ImageLabelFolder : ITrainingSource
{
    static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".ppm"];
    readonly Dictionary<string, int> classOfFolder = new(StringComparer.Ordinal);

    public string Name { get; }
    public string Root { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public IReadOnlyList<string> Ids { get; }
    public IReadOnlyList<string> SkippedFolders { get; }

    public ImageLabelFolder(string root, IReadOnlyList<string> classNames, IReadOnlyDictionary<string, string>? nameMap = null, bool strict = false)
    {
        Root = Path.GetFullPath(root);
        Name = Path.GetFileName(Root.TrimEnd('/'));
        ClassNames = classNames;
        if (!Directory.Exists(Root)) throw new AsdtException(Root, "image-label folder not found");
        var ids = new List<string>();
        var skipped = new List<string>();
        foreach (var dir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            string folder = Path.GetFileName(dir);
            int cls = Resolve(folder, nameMap);
            if (cls <= 0)
            {
                if (strict) throw new AsdtException(dir, $"folder name matches no object class ({string.Join(", ", classNames.Skip(1))}); rename it or map it");
                skipped.Add(folder);
                continue;
            }
            classOfFolder[folder] = cls;
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                if (Extensions.Contains(Path.GetExtension(file).ToLowerInvariant()))
                    ids.Add(folder + "/" + Path.GetFileName(file));
        }
        if (ids.Count == 0) throw new AsdtException(Root, $"no images in folders named after object classes (skipped folders: {string.Join(", ", skipped.Take(10))}{(skipped.Count > 10 ? ", ..." : "")})");
        Ids = ids;
        SkippedFolders = skipped;
    }

    int Resolve(string folder, IReadOnlyDictionary<string, string>? nameMap)
    {
        string name = folder;
        if (nameMap != null && (nameMap.TryGetValue(folder, out var mapped) || nameMap.TryGetValue(StripPrefix(folder), out mapped)))
            name = mapped;
        else name = StripPrefix(folder);
        for (int c = 1; c < ClassNames.Count; c++)
            if (ClassNames[c].Equals(name, StringComparison.OrdinalIgnoreCase)) return c;
        return nameMap != null && nameMap.ContainsKey(folder)
            ? throw new AsdtException(Path.Combine(Root, folder), $"is mapped to '{name}', which is not an object class")
            : -1;
    }

    static string StripPrefix(string folder) => NumericPrefix().Replace(folder, "");

    [GeneratedRegex(@"^\d+\.")]
    private static partial Regex NumericPrefix();

    /// <summary>The class index (1..) of an id.</summary>
    public int ClassOf(string id)
    {
        int slash = id.IndexOf('/');
        if (slash <= 0 || !classOfFolder.TryGetValue(id[..slash], out int c)) throw new AsdtException(id, $"not an image of {Root}");
        return c;
    }

    public RgbImage LoadImage(string id)
    {
        ClassOf(id);
        return ImageFile.Read(Path.Combine(Root, id));
    }

    public LabelMask? TryLoadMask(string id) => null;

    public bool[] ImageLabels(string id)
    {
        var labels = new bool[ClassNames.Count - 1];
        labels[ClassOf(id) - 1] = true;
        return labels;
    }

    public IReadOnlyList<TrainingItem> TrainingItems() => Ids.Select(id => new TrainingItem(this, id)).ToArray();
}
