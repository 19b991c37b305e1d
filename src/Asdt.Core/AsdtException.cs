namespace Asdt;

/// <summary>
/// A problem with the user's input or environment (a missing file, a corrupt image, a bad flag).
/// The CLI prints <see cref="Exception.Message"/> as one line and exits non-zero, without a stack trace.
/// Messages name the file (when there is one) and the problem: "path: problem".
/// </summary>
public class AsdtException : Exception
{
    public string? FilePath { get; }

    public AsdtException(string message, Exception? inner = null) : base(OneLine(message), inner) { }

    public AsdtException(string filePath, string problem, Exception? inner = null)
        : base(OneLine($"{filePath}: {problem}"), inner) => FilePath = filePath;

    /// <summary>The CLI prints one line per error: control characters (e.g. a newline quoted from a corrupt file
    /// by a parser's own message) are shown escaped, as \n or \uXXXX.</summary>
    static string OneLine(string message)
    {
        if (!message.Any(char.IsControl)) return message;
        var sb = new System.Text.StringBuilder(message.Length + 8);
        foreach (char c in message)
            sb.Append(c switch
            {
                '\n' => "\\n", '\r' => "\\r", '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        return sb.ToString();
    }
}
