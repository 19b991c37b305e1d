using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Asdt.Models.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Models;

/// <summary>What <see cref="Checkpoint.Load"/> found besides the weights.</summary>
public sealed record CheckpointInfo(string Folder, string ConfigJson, IReadOnlyDictionary<string, string> Extra,
    IReadOnlyList<string> ExtraTensorNames);

/// <summary>
/// Our checkpoints: one folder holding
/// <list type="bullet">
/// <item><c>model.safetensors</c>: the model's state dict (parameters and buffers), our open safetensors writer;</item>
/// <item><c>config.json</c>: the configuration JSON that built the model, verbatim;</item>
/// <item><c>extra.safetensors</c> (optional): other named tensors, e.g. optimiser momentum buffers;</item>
/// <item>extra text files (optional), e.g. <c>state.json</c> with the iteration and RNG seeds;</item>
/// <item><c>checkpoint.json</c>: format name, version and the list of the above (written last).</item>
/// </list>
/// The folder is written under a temporary name beside the target and renamed into place, so a reader sees the
/// old checkpoint or the new one, never a mixture. (Replacing an existing folder takes two renames; if the process
/// dies between them the previous checkpoint is left as <c>.NAME.old-*</c> and <see cref="Load"/> says so.)
/// </summary>
public static class Checkpoint
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";
    public const string ExtraTensorsFile = "extra.safetensors";
    public const string ManifestFile = "checkpoint.json";
    public const string Format = "asdt-checkpoint";
    public const int Version = 1;

    static readonly Regex ExtraName = new(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$", RegexOptions.Compiled);
    static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase) { WeightsFile, ConfigFile, ExtraTensorsFile, ManifestFile };

    public static void Save(string folder, nn.Module model, string configJson, IReadOnlyDictionary<string, string>? extra = null,
        IReadOnlyDictionary<string, Tensor>? extraTensors = null)
    {
        try { JsonNode.Parse(configJson); }
        catch (JsonException e) { throw new ArgumentException($"config is not valid JSON ({e.Message})", nameof(configJson), e); }
        foreach (var name in extra?.Keys ?? [])
            if (!ExtraName.IsMatch(name) || Reserved.Contains(name))
                throw new ArgumentException($"'{name}' cannot be an extra file name", nameof(extra));

        string target = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        string parent = Path.GetDirectoryName(target) ?? throw new AsdtException(folder, "not a folder path");
        string name0 = Path.GetFileName(target);
        string tag = $"{Environment.ProcessId}-{Guid.NewGuid():N}";
        string temp = Path.Combine(parent, $".{name0}.tmp-{tag}");
        string old = Path.Combine(parent, $".{name0}.old-{tag}");
        try
        {
            Directory.CreateDirectory(temp);
            Safetensors.Write(Path.Combine(temp, WeightsFile), model.state_dict(), new Dictionary<string, string> { ["format"] = "pt" });
            WriteText(Path.Combine(temp, ConfigFile), configJson);
            if (extraTensors is { Count: > 0 }) Safetensors.Write(Path.Combine(temp, ExtraTensorsFile), extraTensors);
            foreach (var (n, text) in extra ?? new Dictionary<string, string>()) WriteText(Path.Combine(temp, n), text);
            var manifest = new JsonObject
            {
                ["format"] = Format,
                ["version"] = Version,
                ["weights"] = WeightsFile,
                ["config"] = ConfigFile,
                ["extra"] = new JsonArray((extra?.Keys ?? []).Order(StringComparer.Ordinal).Select(k => (JsonNode)k).ToArray()),
                ["extraTensors"] = extraTensors is { Count: > 0 } ? ExtraTensorsFile : null,
            };
            WriteText(Path.Combine(temp, ManifestFile), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

            if (Directory.Exists(target))
            {
                Directory.Move(target, old);
                Directory.Move(temp, target);
                Directory.Delete(old, true);
            }
            else Directory.Move(temp, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            if (!Directory.Exists(target) && Directory.Exists(old)) { try { Directory.Move(old, target); } catch (IOException) { } }
            throw new AsdtException(target, $"cannot write checkpoint ({e.Message})", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// Repairs what a process killed inside <see cref="Save"/> can leave beside <paramref name="folder"/>: if the
    /// checkpoint itself is missing but the previous one survives as <c>.NAME.old-*</c> (killed between the two
    /// renames), it is moved back; then stale <c>.NAME.tmp-*</c> and <c>.NAME.old-*</c> folders of processes that
    /// no longer run are deleted. Call it only where one writer owns the checkpoint (e.g. a training run folder).
    /// Returns true if a checkpoint was restored.
    /// </summary>
    public static bool Recover(string folder)
    {
        string target = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        string? parent = Path.GetDirectoryName(target);
        if (parent == null || !Directory.Exists(parent)) return false;
        string name0 = Path.GetFileName(target);
        bool restored = false;
        if (!File.Exists(Path.Combine(target, ManifestFile)))
        {
            var previous = Directory.GetDirectories(parent, $".{name0}.old-*")
                .Where(d => File.Exists(Path.Combine(d, ManifestFile)))
                .OrderByDescending(d => File.GetLastWriteTimeUtc(Path.Combine(d, ManifestFile)))
                .FirstOrDefault();
            if (previous != null)
            {
                if (Directory.Exists(target)) Directory.Delete(target, true); // cannot happen with atomic renames; be safe
                Directory.Move(previous, target);
                restored = true;
            }
        }
        foreach (var pattern in new[] { $".{name0}.tmp-*", $".{name0}.old-*" })
            foreach (var dir in Directory.GetDirectories(parent, pattern))
            {
                string tag = Path.GetFileName(dir)[(name0.Length + 6)..];
                int dash = tag.IndexOf('-');
                if (dash > 0 && int.TryParse(tag[..dash], out int pid) && (pid == Environment.ProcessId || IO.AtomicFile.ProcessIsAlive(pid))) continue;
                TryDelete(dir);
            }
        return restored;
    }

    static void WriteText(string path, string text)
    {
        using var fs = IO.AtomicFile.CreateNew(path);
        using (var w = new StreamWriter(fs, leaveOpen: true)) w.Write(text);
        if (fs is FileStream file) file.Flush(flushToDisk: true); else fs.Flush();
    }

    static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The config JSON stored in a checkpoint (to rebuild the model before <see cref="Load"/>).</summary>
    public static string ReadConfig(string folder)
    {
        ReadManifest(folder);
        return File.ReadAllText(Path.Combine(folder, ConfigFile));
    }

    static JsonNode ReadManifest(string folder)
    {
        string full = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar);
        string manifestPath = Path.Combine(full, ManifestFile);
        if (!File.Exists(manifestPath))
        {
            var parent = Path.GetDirectoryName(full);
            var leftover = parent != null && Directory.Exists(parent)
                ? Directory.GetDirectories(parent, $".{Path.GetFileName(full)}.old-*").FirstOrDefault() : null;
            throw new AsdtException(full, leftover != null
                ? $"no checkpoint here (an interrupted save left the previous one at {leftover})"
                : Directory.Exists(full) ? $"not a checkpoint folder ({ManifestFile} missing)" : "checkpoint folder not found");
        }
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(manifestPath)); }
        catch (JsonException e) { throw new AsdtException(manifestPath, $"corrupt checkpoint manifest ({e.Message})", e); }
        if (node?["format"]?.GetValue<string>() != Format) throw new AsdtException(manifestPath, "not an Asdt checkpoint manifest");
        int version = node["version"]?.GetValue<int>() ?? 0;
        if (version != Version) throw new AsdtException(manifestPath, $"checkpoint format version {version} is not supported (expected {Version})");
        return node;
    }

    /// <summary>
    /// Loads the weights into <paramref name="model"/> after checking that the stored config equals
    /// <paramref name="expectedConfigJson"/> (compared as JSON values, field by field; fields listed in
    /// <paramref name="ignoreConfigFields"/> as dotted paths, e.g. <c>"train.iterations"</c>, are not compared).
    /// A mismatch gives one <see cref="AsdtException"/> listing every differing field.
    /// </summary>
    public static CheckpointInfo Load(string folder, nn.Module model, string expectedConfigJson, IEnumerable<string>? ignoreConfigFields = null)
    {
        var manifest = ReadManifest(folder);
        string full = Path.GetFullPath(folder);
        string configJson = File.ReadAllText(Path.Combine(full, ConfigFile));
        var diffs = ConfigDifferences(configJson, expectedConfigJson, ignoreConfigFields);
        if (diffs.Count > 0)
            throw new AsdtException(Path.Combine(full, ConfigFile),
                $"checkpoint was made with a different config ({diffs.Count} field{(diffs.Count == 1 ? "" : "s")}: {string.Join("; ", diffs)})");
        StateDicts.Load(model, Path.Combine(full, WeightsFile));
        var extra = new Dictionary<string, string>();
        foreach (var n in manifest["extra"]?.AsArray() ?? [])
        {
            string name = n!.GetValue<string>();
            if (!ExtraName.IsMatch(name) || Reserved.Contains(name)) throw new AsdtException(Path.Combine(full, ManifestFile), $"invalid extra file name '{name}'");
            extra[name] = File.ReadAllText(Path.Combine(full, name));
        }
        return new CheckpointInfo(full, configJson, extra, ExtraTensorNames(full, manifest));
    }

    /// <summary>The names of the extra tensors saved with the checkpoint (from the file's header only; empty if none).</summary>
    public static IReadOnlyList<string> ReadExtraTensorNames(string folder) => ExtraTensorNames(folder, ReadManifest(folder));

    static List<string> ExtraTensorNames(string folder, JsonNode manifest) => manifest["extraTensors"] is null ? []
        : Safetensors.ReadHeader(Path.Combine(folder, ExtraTensorsFile)).Entries.Select(e => e.Name).ToList();

    /// <summary>Extra named tensors saved with the checkpoint (empty if none). The caller owns them.</summary>
    public static Dictionary<string, Tensor> ReadExtraTensors(string folder)
    {
        var manifest = ReadManifest(folder);
        return manifest["extraTensors"] is null ? new() : Safetensors.Read(Path.Combine(folder, ExtraTensorsFile));
    }

    /// <summary>"path: checkpoint A, expected B" for every leaf that differs (missing leaves shown as "absent").</summary>
    public static List<string> ConfigDifferences(string savedJson, string expectedJson, IEnumerable<string>? ignore = null)
    {
        var a = Flatten(JsonNode.Parse(savedJson));
        var b = Flatten(JsonNode.Parse(expectedJson));
        var skip = ignore?.ToHashSet() ?? [];
        bool Ignored(string path) => skip.Any(s => path == s || path.StartsWith(s + ".", StringComparison.Ordinal) || path.StartsWith(s + "[", StringComparison.Ordinal));
        var diffs = new List<string>();
        foreach (var key in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            if (Ignored(key)) continue;
            a.TryGetValue(key, out var va); b.TryGetValue(key, out var vb);
            if (va != vb) diffs.Add($"{key}: checkpoint {va ?? "absent"}, expected {vb ?? "absent"}");
        }
        return diffs;
    }

    static Dictionary<string, string> Flatten(JsonNode? root)
    {
        var result = new Dictionary<string, string>();
        void Walk(JsonNode? n, string path)
        {
            switch (n)
            {
                case JsonObject o:
                    if (o.Count == 0) result[path] = "{}";
                    foreach (var (k, child) in o) Walk(child, path.Length == 0 ? k : $"{path}.{k}");
                    break;
                case JsonArray arr:
                    if (arr.Count == 0) result[path] = "[]";
                    for (int i = 0; i < arr.Count; i++) Walk(arr[i], $"{path}[{i}]");
                    break;
                case null: result[path] = "null"; break;
                default:
                    // Numbers compare by value (1 == 1.0), strings and booleans by their JSON text.
                    var v = n.AsValue();
                    result[path] = v.TryGetValue<double>(out var d) && v.GetValueKind() == JsonValueKind.Number
                        ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : n.ToJsonString();
                    break;
            }
        }
        Walk(root, "");
        return result;
    }
}
