namespace Asdt.Data;

/// <summary>Reading whole input files with the checks every data reader needs: exists, bounded size, readable.</summary>
internal static class DataFiles
{
    public const long MaxFileBytes = 1L << 30;

    public static byte[] ReadAllBytes(string path, long maxBytes = MaxFileBytes)
    {
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            if (fs.Length > maxBytes) throw new AsdtException(path, $"file is {fs.Length} bytes, more than the {maxBytes} accepted");
            var bytes = new byte[fs.Length];
            fs.ReadExactly(bytes);
            return bytes;
        }
        catch (FileNotFoundException e) { throw new AsdtException(path, "file not found", e); }
        catch (DirectoryNotFoundException e) { throw new AsdtException(path, "file not found (folder missing)", e); }
        catch (EndOfStreamException e) { throw new AsdtException(path, "file changed while being read", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new AsdtException(path, $"cannot read ({e.Message})", e); }
    }

    /// <summary>Non-empty, trimmed lines (an id list, a class list); '#' starts a comment line.</summary>
    public static List<string> ReadLines(string path, long maxBytes = 64L << 20)
    {
        var text = System.Text.Encoding.UTF8.GetString(ReadAllBytes(path, maxBytes));
        var list = new List<string>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            list.Add(line);
        }
        return list;
    }
}
