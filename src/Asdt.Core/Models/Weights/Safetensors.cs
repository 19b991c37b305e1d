using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Asdt.IO;
using static TorchSharp.torch;

namespace Asdt.Models.Weights;

/// <summary>
/// Reader and writer of the safetensors format (huggingface/safetensors, format as specified in its README):
/// 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
/// <c>{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {str: str}}</c>,
/// then the byte buffer; offsets are relative to the buffer start, little-endian, row-major.
/// Every size and offset is checked against the file before any tensor is allocated: the buffer must be
/// covered exactly (no holes, no overlaps), as the reference implementation's validation demands.
/// </summary>
public static class Safetensors
{
    /// <summary>The specification caps the header at 100 MB.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    static readonly Dictionary<string, ScalarType> DTypes = new()
    {
        ["F64"] = ScalarType.Float64, ["F32"] = ScalarType.Float32, ["F16"] = ScalarType.Float16,
        ["BF16"] = ScalarType.BFloat16, ["I64"] = ScalarType.Int64, ["I32"] = ScalarType.Int32,
        ["I16"] = ScalarType.Int16, ["I8"] = ScalarType.Int8, ["U8"] = ScalarType.Byte, ["BOOL"] = ScalarType.Bool,
    };

    static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    static string DTypeName(ScalarType t) =>
        DTypes.FirstOrDefault(kv => kv.Value == t).Key ?? throw new ArgumentException($"dtype {t} cannot be stored in safetensors");

    /// <summary>One entry of the header, validated.</summary>
    public sealed record Entry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

    /// <summary>Reads and validates the header only (names, dtypes, shapes, offsets, metadata).</summary>
    public static (IReadOnlyList<Entry> Entries, IReadOnlyDictionary<string, string> Metadata, long DataStart) ReadHeader(string path)
    {
        using var fs = OpenRead(path);
        return ReadHeader(fs, path);
    }

    static FileStream OpenRead(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (FileNotFoundException e) { throw new AsdtException(path, "safetensors file not found", e); }
        catch (DirectoryNotFoundException e) { throw new AsdtException(path, "safetensors file not found", e); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new AsdtException(path, $"cannot read ({e.Message})", e); }
    }

    static (IReadOnlyList<Entry>, IReadOnlyDictionary<string, string>, long) ReadHeader(FileStream fs, string path)
    {
        long fileLength = fs.Length;
        Span<byte> lenBytes = stackalloc byte[8];
        if (fileLength < 8 || fs.Read(lenBytes) != 8) throw Corrupt(path, $"file of {fileLength} bytes is shorter than the 8-byte header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (n < 2 || n > MaxHeaderBytes) throw Corrupt(path, $"header length {n} is outside 2..{MaxHeaderBytes}");
        if ((long)n > fileLength - 8) throw Corrupt(path, $"header length {n} runs past the end of the {fileLength}-byte file");
        var headerBytes = new byte[n];
        fs.ReadExactly(headerBytes);
        if (headerBytes[0] != (byte)'{') throw Corrupt(path, "header does not start with '{'");
        if (!System.Text.Unicode.Utf8.IsValid(headerBytes)) throw Corrupt(path, "header is not valid UTF-8");
        long dataStart = 8 + (long)n, dataLength = fileLength - dataStart;

        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>();
        try
        {
            using var doc = JsonDocument.Parse(headerBytes, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Corrupt(path, "header is not a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw Corrupt(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Corrupt(path, $"__metadata__ value '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                entries.Add(ParseEntry(prop, path));
            }
        }
        catch (JsonException e) { throw Corrupt(path, $"header is not valid JSON ({e.Message})", e); }

        if (entries.Select(e => e.Name).Distinct().Count() != entries.Count) throw Corrupt(path, "a tensor name appears twice");
        long expected = 0;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin != expected)
                throw Corrupt(path, $"tensor '{e.Name}' starts at {e.Begin}, expected {expected} (holes and overlaps are not allowed)");
            expected = e.End;
        }
        if (expected != dataLength) throw Corrupt(path, $"tensors cover {expected} bytes but the data buffer has {dataLength}");
        return (entries, metadata, dataStart);
    }

    static Entry ParseEntry(JsonProperty prop, string path)
    {
        var v = prop.Value;
        string name = prop.Name;
        if (v.ValueKind != JsonValueKind.Object) throw Corrupt(path, $"entry '{name}' is not an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Corrupt(path, $"entry '{name}' has no dtype");
        if (!DTypes.TryGetValue(dt.GetString()!, out var dtype)) throw Corrupt(path, $"entry '{name}' has unsupported dtype '{dt.GetString()}'");
        if (!v.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Corrupt(path, $"entry '{name}' has no shape");
        if (sh.GetArrayLength() > 32) throw Corrupt(path, $"entry '{name}' has rank above 32");
        var shape = new long[sh.GetArrayLength()];
        long count = 1;
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0) throw Corrupt(path, $"entry '{name}' has an invalid dimension");
            shape[i++] = dim;
            try { count = checked(count * dim); } catch (OverflowException) { throw Corrupt(path, $"entry '{name}' has too many elements"); }
        }
        if (!v.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Corrupt(path, $"entry '{name}' has no data_offsets [begin, end]");
        if (!off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw Corrupt(path, $"entry '{name}' has invalid data_offsets");
        long bytes;
        try { bytes = checked(count * ElementSize(dtype)); } catch (OverflowException) { throw Corrupt(path, $"entry '{name}' is too large"); }
        if (end - begin != bytes)
            throw Corrupt(path, $"entry '{name}' {dt.GetString()} [{string.Join(", ", shape)}] needs {bytes} bytes but data_offsets span {end - begin}");
        return new Entry(name, dtype, shape, begin, end);
    }

    static AsdtException Corrupt(string path, string problem, Exception? inner = null) =>
        new(path, "not a valid safetensors file: " + problem, inner);

    /// <summary>Reads every tensor (CPU, the file's dtype). The caller owns (disposes) the tensors.</summary>
    public static Dictionary<string, Tensor> Read(string path) => Read(path, out _);

    public static Dictionary<string, Tensor> Read(string path, out IReadOnlyDictionary<string, string> metadata)
    {
        using var fs = OpenRead(path);
        var (entries, meta, dataStart) = ReadHeader(fs, path);
        metadata = meta;
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var e in entries)
            {
                var t = empty(e.Shape, e.DType);
                result[e.Name] = t;
                if (e.End == e.Begin) continue;
                fs.Seek(dataStart + e.Begin, SeekOrigin.Begin);
                t.ReadBytesFromStream(fs);
            }
        }
        catch (Exception ex) when (ex is IOException)
        {
            foreach (var t in result.Values) t.Dispose();
            throw new AsdtException(path, $"cannot read tensor data ({ex.Message})", ex);
        }
        return result;
    }

    /// <summary>
    /// Writes tensors (any device/layout: copied to contiguous CPU) atomically. Tensors are laid out in name
    /// order; the header is padded with spaces to a multiple of 8 bytes so the buffer starts aligned.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        if (list.Select(kv => kv.Key).Distinct().Count() != list.Count) throw new ArgumentException("duplicate tensor names");
        if (list.Any(kv => kv.Key == "__metadata__")) throw new ArgumentException("'__metadata__' is reserved");
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, t) in list)
        {
            long bytes = t.numel() * ElementSize(t.dtype);
            header[name] = new Dictionary<string, object>
            {
                ["dtype"] = DTypeName(t.dtype),
                ["shape"] = t.shape,
                ["data_offsets"] = new[] { offset, offset + bytes },
            };
            offset += bytes;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        json.CopyTo(headerBytes, 0);
        for (int i = json.Length; i < padded; i++) headerBytes[i] = (byte)' ';

        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            s.Write(len);
            s.Write(headerBytes);
            foreach (var (_, t) in list)
            {
                if (t.numel() == 0) continue;
                using var cpu = t.detach().cpu().contiguous();
                cpu.WriteBytesToStream(s);
            }
        });
    }
}
