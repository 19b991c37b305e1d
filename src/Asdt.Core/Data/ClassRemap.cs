namespace Asdt.Data;

/// <summary>What happens to a source class that the remap does not name.</summary>
public enum UnmappedClasses
{
    /// <summary>It keeps its name: it must be a target class of the same name (case-insensitive), else the descriptor is refused.</summary>
    SameName,
    /// <summary>It becomes background (target class 0).</summary>
    Background,
    /// <summary>It becomes ignore (255).</summary>
    Ignore,
}

/// <summary>
/// Maps the class indices stored in a dataset's masks (source classes) to the classes used for training and
/// evaluation (target classes, index 0 = background). A source class can go to another class, to background or to
/// ignore (255). Source 255 always stays 255; a stored value that is neither a source class nor 255 is an error.
/// </summary>
public sealed class ClassRemap
{
    /// <summary>Names a remap value may use for the two special targets.</summary>
    public const string BackgroundTarget = "background", IgnoreTarget = "ignore";

    readonly short[] table; // source value -> target index (0..254), 255 = ignore, -1 = not a class

    public IReadOnlyList<string> SourceClasses { get; }
    public IReadOnlyList<string> TargetClasses { get; }

    ClassRemap(IReadOnlyList<string> source, IReadOnlyList<string> target, short[] table)
    {
        SourceClasses = source; TargetClasses = target; this.table = table;
    }

    public static ClassRemap Identity(IReadOnlyList<string> classes) =>
        Create(classes, classes, null, UnmappedClasses.SameName, "class list");

    /// <param name="remap">source class (name, or decimal index) → target class name, "background" or "ignore".</param>
    /// <param name="where">names the descriptor in error messages.</param>
    public static ClassRemap Create(IReadOnlyList<string> source, IReadOnlyList<string> target,
        IReadOnlyDictionary<string, string>? remap, UnmappedClasses unmapped, string where)
    {
        if (source.Count is 0 or > 255) throw new AsdtException(where, $"{source.Count} source classes; 1..255 are allowed (255 is the ignore index)");
        if (target.Count is < 2 or > 255) throw new AsdtException(where, $"{target.Count} target classes; 2..255 are allowed (background and at least one object class)");
        CheckUnique(source, "source", where);
        CheckUnique(target, "target", where);
        int TargetIndex(string name, string context)
        {
            if (name.Equals(IgnoreTarget, StringComparison.OrdinalIgnoreCase)) return 255;
            for (int i = 0; i < target.Count; i++) if (target[i].Equals(name, StringComparison.OrdinalIgnoreCase)) return i;
            if (name.Equals(BackgroundTarget, StringComparison.OrdinalIgnoreCase)) return 0;
            throw new AsdtException(where, $"{context}: '{name}' is not a target class (classes: {string.Join(", ", target)}), nor 'background' or 'ignore'");
        }
        int SourceIndex(string key)
        {
            for (int i = 0; i < source.Count; i++) if (source[i].Equals(key, StringComparison.OrdinalIgnoreCase)) return i;
            if (int.TryParse(key.TrimStart('#'), out int idx) && idx >= 0 && idx < source.Count) return idx;
            throw new AsdtException(where, $"remap names '{key}', which is not a source class (source classes: {string.Join(", ", source)})");
        }
        var table = new short[256];
        Array.Fill(table, (short)-1);
        table[255] = 255;
        var done = new bool[source.Count];
        if (remap != null)
            foreach (var (key, value) in remap)
            {
                int s = SourceIndex(key);
                if (done[s]) throw new AsdtException(where, $"source class '{source[s]}' is remapped twice");
                table[s] = (short)TargetIndex(value, $"remap of '{key}'");
                done[s] = true;
            }
        for (int s = 0; s < source.Count; s++)
        {
            if (done[s]) continue;
            table[s] = unmapped switch
            {
                UnmappedClasses.Background => 0,
                UnmappedClasses.Ignore => 255,
                _ => (short)TargetIndex(source[s], $"source class '{source[s]}' has no remap entry, and no target class has its name"),
            };
        }
        return new ClassRemap(source, target, table);
    }

    static void CheckUnique(IReadOnlyList<string> names, string what, string where)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var n in names)
        {
            if (string.IsNullOrWhiteSpace(n)) throw new AsdtException(where, $"empty {what} class name");
            if (!seen.Add(n)) throw new AsdtException(where, $"{what} class '{n}' is listed twice");
        }
    }

    /// <summary>The target index (0..254, or 255 = ignore) of a source value, or -1 when the value is not a source class.</summary>
    public int Map(int sourceValue) => (uint)sourceValue < 256 ? table[sourceValue] : -1;

    /// <summary>Target index of a source class given by name (e.g. from a VOC XML annotation), or -1 if unknown.</summary>
    public int MapName(string sourceName)
    {
        for (int i = 0; i < SourceClasses.Count; i++)
            if (SourceClasses[i].Equals(sourceName, StringComparison.OrdinalIgnoreCase)) return table[i];
        return -1;
    }

    /// <summary>Whether this remap changes nothing (source list = target list, identity table).</summary>
    public bool IsIdentity => SourceClasses.Count == TargetClasses.Count && Enumerable.Range(0, SourceClasses.Count).All(i => table[i] == i);

    /// <summary>Remaps a raw mask; a value that is neither a source class nor 255 throws, naming <paramref name="path"/>.</summary>
    public LabelMask Apply(LabelMask raw, string path)
    {
        var output = new LabelMask(raw.Width, raw.Height);
        var src = raw.Labels; var dst = output.Labels;
        for (int i = 0; i < src.Length; i++)
        {
            short t = table[src[i]];
            if (t < 0)
                throw new AsdtException(path, $"mask index {src[i]} at pixel ({i % raw.Width}, {i / raw.Width}) is neither a class (0..{SourceClasses.Count - 1}) nor 255 (ignore)");
            dst[i] = (byte)t;
        }
        return output;
    }
}
