namespace Asdt;

/// <summary>
/// A problem with the user's input or environment (a missing file, a corrupt image, a bad flag).
/// The CLI prints <see cref="Exception.Message"/> as one line and exits non-zero, without a stack trace.
/// Messages name the file (when there is one) and the problem: "path: problem".
/// </summary>
public class AsdtException : Exception
{
    public string? FilePath { get; }

    public AsdtException(string message, Exception? inner = null) : base(message, inner) { }

    public AsdtException(string filePath, string problem, Exception? inner = null)
        : base($"{filePath}: {problem}", inner) => FilePath = filePath;
}
