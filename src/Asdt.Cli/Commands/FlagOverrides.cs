using System.CommandLine;

namespace Asdt.Cli.Commands;

/// <summary>
/// Applies the flags a user gave on top of a preset's values and remembers each as "--flag=value",
/// so the run's config.json records what was changed from the preset.
/// </summary>
public sealed class FlagOverrides(ParseResult parse)
{
    readonly List<string> applied = [];

    public IReadOnlyList<string> Applied => applied;

    /// <summary>The flag's value if given, else <paramref name="current"/>.</summary>
    public T Value<T>(Option<T?> option, T current) where T : struct
    {
        var v = parse.GetValue(option);
        if (v is null) return current;
        applied.Add($"{option.Name}={v}");
        return v.Value;
    }

    /// <summary>The flag's value if given, else <paramref name="current"/> (for settings that may be unset).</summary>
    public T? Optional<T>(Option<T?> option, T? current) where T : struct =>
        parse.GetValue(option) is null ? current : Value(option, default(T));

    /// <summary>The flag's text if given, else <paramref name="current"/>.</summary>
    public string? Text(Option<string?> option, string? current)
    {
        var v = parse.GetValue(option);
        if (v is null) return current;
        applied.Add($"{option.Name}={v}");
        return v;
    }
}
