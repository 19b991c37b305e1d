namespace Asdt.IO;

/// <summary>
/// Writes files so that a reader never sees a half-written one: write to a temporary name in the
/// same folder, flush to disk, then rename over the target. A crash leaves either the old file or
/// the new one (plus, at worst, a stray "*.tmp" that the next write replaces).
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full)!;
        CreateFolder(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                if (fault.Value is { } wrap)
                {
                    var faulty = wrap(fs); // not disposed here: fs is flushed and disposed below
                    write(faulty);
                    faulty.Flush();
                }
                else write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(tmp);
            throw new AsdtException(full, $"cannot write ({e.Message})", e);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    /// <summary>Creates an output folder (and its parents), turning failures (a file in the way, no permission, a
    /// read-only file system) into one <see cref="AsdtException"/> naming the folder.</summary>
    public static void CreateFolder(string dir)
    {
        try { Directory.CreateDirectory(dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        { throw new AsdtException(dir, $"cannot create output folder ({e.Message})", e); }
    }

    static readonly AsyncLocal<Func<Stream, Stream>?> fault = new();

    /// <summary>
    /// Fault injection for tests (a full disk cannot be made without root): until the returned handle is disposed,
    /// every atomic write started from this execution flow (and tasks it starts) writes through
    /// <paramref name="wrap"/>, e.g. a stream that throws IOException("No space left on device") after N bytes.
    /// The wrapper should dispose the inner stream when it is disposed itself.
    /// Other threads and flows are unaffected.
    /// </summary>
    public static IDisposable InjectWriteFault(Func<Stream, Stream> wrap)
    {
        var previous = fault.Value;
        fault.Value = wrap;
        return new Restore(() => fault.Value = previous);
    }

    /// <summary>Opens a new file for writing under the same fault injection as <see cref="Write"/> (for writers that build a temporary folder).</summary>
    public static Stream CreateNew(string path)
    {
        var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        return fault.Value is { } wrap ? wrap(fs) : fs;
    }

    sealed class Restore(Action undo) : IDisposable
    {
        int done;
        public void Dispose() { if (Interlocked.Exchange(ref done, 1) == 0) undo(); }
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });

    /// <summary>
    /// Deletes the temporary files that killed writers left in <paramref name="folder"/> (".NAME.PID.TID.tmp" of
    /// processes that no longer run). Temporaries of live processes (e.g. another shard writing to the same
    /// folder) are left alone. Returns how many were deleted.
    /// </summary>
    public static int DeleteStaleTemporaries(string folder)
    {
        if (!Directory.Exists(folder)) return 0;
        int deleted = 0;
        foreach (var file in Directory.EnumerateFiles(folder, ".*.tmp"))
        {
            var parts = Path.GetFileName(file).Split('.');
            // "", name parts..., pid, tid, "tmp"
            if (parts.Length < 5 || !int.TryParse(parts[^3], out int pid) || !int.TryParse(parts[^2], out _)) continue;
            if (pid == Environment.ProcessId || ProcessIsAlive(pid)) continue;
            TryDelete(file);
            if (!File.Exists(file)) deleted++;
        }
        return deleted;
    }

    internal static bool ProcessIsAlive(int pid)
    {
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
