using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Asdt.Bench;

/// <summary>Machine description and process memory, shared by the benchmarks.</summary>
static class BenchMachine
{
    /// <summary>Start info that runs this benchmark executable again with <paramref name="arguments"/> (a child measurement in a fresh process).</summary>
    public static System.Diagnostics.ProcessStartInfo ChildStartInfo(params IEnumerable<string> arguments)
    {
        string self = Environment.ProcessPath!;
        var psi = new System.Diagnostics.ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(BenchMachine).Assembly.Location);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Runs this benchmark executable again with <paramref name="arguments"/> and waits: exit code, standard output and error.</summary>
    public static (int ExitCode, string Output, string Error) RunChild(params IEnumerable<string> arguments)
    {
        using var p = System.Diagnostics.Process.Start(ChildStartInfo(arguments))!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result, error.Result);
    }

    /// <summary>A fresh temporary folder, deleted on dispose.</summary>
    public sealed class TempFolder(string prefix = "asdt-bench-") : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;
        public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
    }

    public static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name")) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    public static string Describe() =>
        $"CPU: {CpuModel()}, {Environment.ProcessorCount} cores; {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription}; " +
        $"AVX2 {Vector256.IsHardwareAccelerated}, AVX-512 {Vector512.IsHardwareAccelerated}, Vector<float> {System.Numerics.Vector<float>.Count} lanes";

    /// <summary>The load average line a benchmark prints with its numbers (the machine is shared).</summary>
    public static string LoadLine() => $"Load while measuring (1/5/15 min): {File.ReadAllText("/proc/loadavg").Trim()}";

    /// <summary>Peak resident set (VmHWM) of this process in MiB, from /proc/self/status (or PeakWorkingSet64).</summary>
    public static double PeakMiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:"))
                    return long.Parse(line[6..].Trim().Split(' ')[0]) / 1024.0;
        }
        catch (IOException) { }
        return System.Diagnostics.Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    }

    public static string? SharedData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Asdt.slnx")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
        return null;
    }
}
