using System.Runtime.InteropServices;

namespace Asdt.Reports;

/// <summary>Where a result was measured: CPU model, cores, OS, runtime. Printed at the top of result tables.</summary>
public sealed record MachineInfo
{
    public string Cpu { get; init; } = "";
    public int Cores { get; init; }
    public string Os { get; init; } = "";
    public string Runtime { get; init; } = "";
    public string TorchSharp { get; init; } = "";
    public string Date { get; init; } = "";

    public static MachineInfo Current() => new()
    {
        Cpu = CpuModel(),
        Cores = Environment.ProcessorCount,
        Os = RuntimeInformation.OSDescription,
        Runtime = RuntimeInformation.FrameworkDescription,
        TorchSharp = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?",
        Date = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"),
    };

    static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int i and >= 0)
                        return line[(i + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    public override string ToString() => $"{Cpu}, {Cores} cores, {Os}, {Runtime}, TorchSharp {TorchSharp}";
}
