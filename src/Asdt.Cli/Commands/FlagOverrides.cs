using System.CommandLine;

namespace Asdt.Cli.Commands;

/// <summary>
/// Applies the flags a user gave on top of a preset's values and remembers each as "--flag=value",
/// so the run's config.json records what was changed from the preset.
/// </summary>
public sealed class FlagOverrides(ParseResult parse)
{
    /// <summary>
    /// For --resume, which continues a run with its own config.json: refuses every flag of <paramref name="options"/> that
    /// was given, except <paramref name="allowed"/> (settings that do not change what the run computes, RunFolder.ResumableFields).
    /// </summary>
    public static void RefuseOnResume(ParseResult parse, IEnumerable<Option> options, params Option[] allowed)
    {
        var given = options.Where(o => !allowed.Contains(o) && parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToArray();
        if (given.Length > 0)
            throw new AsdtException($"--resume continues a run with its own config.json; do not pass {string.Join(", ", given)} (only {string.Join(" and ", allowed.Select(o => o.Name))} may change)");
    }

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
