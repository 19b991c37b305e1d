using System.Diagnostics;
using System.Text;

namespace Asdt.Tests.Robust;

/// <summary>
/// The built asdt CLI (asdt.dll beside the test assembly) as a real child process: run to completion, or start
/// it, wait for a condition on the files it writes, and SIGKILL it (<see cref="Process.Kill()"/> is SIGKILL on Unix).
/// Every wait is bounded so a hang fails the test instead of blocking CI.
/// </summary>
public sealed class AsdtChild : IDisposable
{
    readonly Process process;
    readonly StringBuilder stdout = new(), stderr = new();

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "asdt.dll");

    AsdtChild(string workingDir, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static AsdtChild Start(string workingDir, params string[] args) => new(workingDir, args);

    public static (int Code, string Out, string Err) Run(string workingDir, TimeSpan timeout, params string[] args) =>
        Run(workingDir, timeout, new Dictionary<string, string>(), args);

    /// <summary>Runs to completion with <paramref name="environment"/> added to this process's environment.</summary>
    public static (int Code, string Out, string Err) Run(string workingDir, TimeSpan timeout, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        using var child = new AsdtChild(workingDir, args, environment);
        return child.WaitForExit(timeout);
    }

    public string Out { get { lock (stdout) return stdout.ToString(); } }
    public string Err { get { lock (stderr) return stderr.ToString(); } }

    public (int Code, string Out, string Err) WaitForExit(TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"asdt {string.Join(' ', process.StartInfo.ArgumentList.Skip(1))} did not finish in {timeout}; stderr: {Err}");
        }
        process.WaitForExit(); // drains the asynchronous readers
        return (process.ExitCode, Out, Err);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, then SIGKILLs the child. Fails if the child exits first.</summary>
    public void KillWhen(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (process.HasExited)
                throw new InvalidOperationException($"asdt exited (code {process.ExitCode}) before {what}; stderr: {Err}");
            if (clock.Elapsed > timeout)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{what} did not happen in {timeout}; stderr: {Err}");
            }
            Thread.Sleep(20);
        }
        process.Kill();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30))) throw new TimeoutException("the killed process did not exit");
    }

    public void Dispose()
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        process.Dispose();
    }
}
