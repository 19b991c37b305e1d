using System.Collections;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Asdt.Models.Weights;

/// <summary>
/// Loads PyTorch-style state dicts (<c>.pth</c>/<c>.pt</c> written by <c>torch.save(model.state_dict())</c>,
/// read with TorchSharp.PyBridge; or <c>.safetensors</c>, read by <see cref="Safetensors"/>) into our modules,
/// checking names and shapes first: missing, unexpected and mis-shaped keys are reported together in one
/// <see cref="AsdtException"/>.
/// </summary>
public static class StateDicts
{
    /// <summary>
    /// Reads a state dict file. <c>.safetensors</c> by its format; anything else as a PyTorch zip pickle
    /// (torch ≥ 1.6 default). A top-level <c>state_dict</c>/<c>model</c> entry holding the dict is unwrapped.
    /// The caller owns (disposes) the returned tensors.
    /// </summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return Safetensors.Read(path);
        if (!File.Exists(path)) throw new AsdtException(path, "weights file not found");
        var magic = new byte[4];
        using (var fs = File.OpenRead(path)) fs.ReadAtLeast(magic, 4, throwOnEndOfStream: false);
        if (!(magic[0] == (byte)'P' && magic[1] == (byte)'K'))
            throw new AsdtException(path, "not a PyTorch zip checkpoint (files saved by torch < 1.6 use the legacy format: " +
                "re-save them in Python with torch.save(torch.load(f), g), or convert to .safetensors)");
        PthValidator.Validate(path); // sizes in the pickle checked against the archive before PyBridge allocates them
        Hashtable table;
        try { table = PyTorchUnpickler.UnpickleStateDict(path); }
        catch (Exception e) when (e is not OutOfMemoryException)
        { throw new AsdtException(path, $"cannot read PyTorch state dict ({e.GetType().Name}: {e.Message})", e); }
        return Flatten(table, path);
    }

    static Dictionary<string, Tensor> Flatten(Hashtable table, string path)
    {
        foreach (var wrapper in new[] { "state_dict", "model" })
            if (table.Count == 1 && table[wrapper] is Hashtable inner) return Flatten(inner, path);
        var result = new Dictionary<string, Tensor>();
        var odd = new List<string>();
        foreach (DictionaryEntry e in table)
        {
            if (e.Key is string k && e.Value is Tensor t) result[k] = t;
            else odd.Add($"{e.Key} ({e.Value?.GetType().Name ?? "null"})");
        }
        if (odd.Count > 0)
        {
            foreach (var t in result.Values) t.Dispose();
            throw new AsdtException(path, $"not a plain state dict: {odd.Count} entries are not tensors ({string.Join(", ", odd.Take(10))})");
        }
        return result;
    }

    /// <summary>Reads <paramref name="path"/> and copies it into <paramref name="model"/> (see <see cref="Apply"/>).</summary>
    public static void Load(nn.Module model, string path, IEnumerable<string>? ignorePrefixes = null)
    {
        var dict = Read(path);
        try { Apply(model, dict, path, ignorePrefixes); }
        finally { foreach (var t in dict.Values) t.Dispose(); }
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the parameters and buffers of <paramref name="model"/> after checking
    /// that the key sets and shapes agree. Source keys starting with one of <paramref name="ignorePrefixes"/>
    /// (e.g. <c>"fc."</c> of an ImageNet classifier, <c>"fc8."</c> of res38_cls.pth) are skipped. BatchNorm's
    /// <c>num_batches_tracked</c> may be absent on either side (old checkpoints lack it). A DataParallel
    /// <c>module.</c> prefix on every source key is removed. Floating-point values are converted to the model's dtype.
    /// </summary>
    public static void Apply(nn.Module model, IReadOnlyDictionary<string, Tensor> source, string pathForErrors,
        IEnumerable<string>? ignorePrefixes = null)
    {
        var prefixes = ignorePrefixes?.ToArray() ?? [];
        var target = model.state_dict();
        var src = new Dictionary<string, Tensor>();
        bool stripModule = source.Count > 0 && source.Keys.All(k => k.StartsWith("module.", StringComparison.Ordinal))
                           && !target.Keys.Any(k => k.StartsWith("module.", StringComparison.Ordinal));
        foreach (var (k, v) in source)
        {
            string key = stripModule ? k["module.".Length..] : k;
            if (prefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal))) continue;
            src[key] = v;
        }
        static bool Optional(string k) => k.EndsWith("num_batches_tracked", StringComparison.Ordinal);
        var missing = target.Keys.Where(k => !src.ContainsKey(k) && !Optional(k)).ToList();
        var unexpected = src.Keys.Where(k => !target.ContainsKey(k) && !Optional(k)).ToList();
        var misshaped = new List<string>();
        foreach (var (k, t) in target)
        {
            if (!src.TryGetValue(k, out var s)) continue;
            if (!s.shape.SequenceEqual(t.shape))
                misshaped.Add($"{k} (file [{string.Join(", ", s.shape)}], model [{string.Join(", ", t.shape)}])");
            else if (s.is_floating_point() != t.is_floating_point() && !Optional(k))
                misshaped.Add($"{k} (file dtype {s.dtype}, model dtype {t.dtype})");
        }
        if (missing.Count + unexpected.Count + misshaped.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"{missing.Count} missing: {List(missing)}");
            if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected: {List(unexpected)}");
            if (misshaped.Count > 0) parts.Add($"{misshaped.Count} with the wrong shape: {List(misshaped)}");
            throw new AsdtException(pathForErrors, $"weights do not fit {model.GetName()} — " + string.Join("; ", parts));
        }
        using var _ = no_grad();
        foreach (var (k, t) in target)
            if (src.TryGetValue(k, out var s)) t.copy_(s);
    }

    static string List(List<string> items, int max = 40) =>
        string.Join(", ", items.Take(max)) + (items.Count > max ? $", … ({items.Count - max} more)" : "");

    /// <summary>Writes the model's state dict as a PyTorch zip pickle loadable by <c>torch.load</c> (via PyBridge).</summary>
    public static void SavePyTorch(nn.Module model, string path) =>
        Asdt.IO.AtomicFile.Write(path, s => model.save_py(s, leaveOpen: true));

    /// <summary>Writes the model's state dict as safetensors with our own writer.</summary>
    public static void SaveSafetensors(nn.Module model, string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        Safetensors.Write(path, model.state_dict(), metadata);
}
