namespace Asdt.Tests;

/// <summary>Locations of the repository and of the real data in ../shared/data (read in place, never copied).</summary>
public static class TestData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared/data beside the checkout (CI has it at the same place). A checkout elsewhere fails every
    /// real-data test with this one message instead of a missing-file error per test.</summary>
    public static string SharedData => FindSharedData();

    static string FindSharedData()
    {
        string path = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));
        if (!Directory.Exists(path))
            throw new DirectoryNotFoundException($"the real test data is not at {path}: the tests read ../shared/data beside the checkout " +
                                                 "(clone the repository next to shared/, as on CI)");
        return path;
    }

    public static string Msrc21 => Path.Combine(SharedData, "msrc21");
    public static string Voc2012Masks => Path.Combine(SharedData, "voc2012-masks");

    /// <summary>A fresh temporary folder, deleted when disposed.</summary>
    public static TempFolder NewTempFolder(string prefix = "asdt-test-") => new(prefix);

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Asdt.slnx"))) return dir.FullName;
        throw new InvalidOperationException("Asdt.slnx not found above " + AppContext.BaseDirectory);
    }
}

public sealed class TempFolder : IDisposable
{
    public string Path { get; }
    public TempFolder(string prefix) => Path = Directory.CreateTempSubdirectory(prefix).FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
