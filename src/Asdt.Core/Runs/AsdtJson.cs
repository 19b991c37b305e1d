using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Asdt.Runs;

/// <summary>One JSON convention for every file a run writes: camelCase, enums as strings, indented.</summary>
public static class AsdtJson
{
    public static JsonSerializerOptions Options { get; } = Create(indented: true);

    /// <summary>Single-line form for JSON Lines files (metrics.jsonl).</summary>
    public static JsonSerializerOptions Line { get; } = Create(indented: false);

    static JsonSerializerOptions Create(bool indented)
    {
        var o = new JsonSerializerOptions
        {
            WriteIndented = indented,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            ReadCommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        return o;
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Reads a JSON file; a missing or malformed file is a user error naming the file.</summary>
    public static T Read<T>(string path)
    {
        if (!File.Exists(path)) throw new AsdtException(path, "file not found");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options)
                   ?? throw new AsdtException(path, "empty JSON document");
        }
        catch (JsonException e)
        {
            throw new AsdtException(path, $"invalid JSON ({e.Message})", e);
        }
    }
}
