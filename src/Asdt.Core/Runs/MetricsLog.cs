using System.Text.Json;

namespace Asdt.Runs;

/// <summary>
/// metrics.jsonl: one JSON object per line (per iteration or per step), flushed as it is written so
/// a killed run keeps everything up to its last line. On resume, lines at or after the resumed
/// step are dropped first, so the file always describes exactly one history.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    readonly StreamWriter writer;

    public string Path { get; }

    public MetricsLog(string path, long resumeFromStep = 0, string stepField = "iteration")
    {
        Path = path;
        if (resumeFromStep > 0 && File.Exists(path))
        {
            var kept = File.ReadLines(path).Where(line => KeepLine(line, resumeFromStep, stepField)).ToList();
            IO.AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
        }
        else if (resumeFromStep == 0 && File.Exists(path))
        {
            File.Delete(path);
        }
        writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true };
    }

    static bool KeepLine(string line, long resumeFromStep, string stepField)
    {
        if (string.IsNullOrWhiteSpace(line)) return false;
        try
        {
            using var doc = JsonDocument.Parse(line);
            return doc.RootElement.TryGetProperty(stepField, out var step) && step.GetInt64() < resumeFromStep;
        }
        catch (JsonException) { return false; } // a torn last line from a crash
    }

    public void Append<T>(T record) => writer.WriteLine(JsonSerializer.Serialize(record, AsdtJson.Line));

    /// <summary>Reads every record of a metrics file (for reports and tests).</summary>
    public static IEnumerable<JsonElement> Read(string path)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement element;
            try { element = JsonDocument.Parse(line).RootElement.Clone(); }
            catch (JsonException) { continue; }
            yield return element;
        }
    }

    public void Dispose() => writer.Dispose();
}
