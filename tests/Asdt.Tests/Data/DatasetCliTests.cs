using System.Diagnostics;

namespace Asdt.Tests.Data;

/// <summary>The asdt commands run as a separate process (the real binary, real exit codes, no shared Console).</summary>
public class DatasetCliTests
{
    static (int Code, string Out, string Err) Asdt(string workingDir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "asdt.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }

    [Fact]
    public void DemoData_ThenStats_PrintsTheTable()
    {
        using var tmp = TestData.NewTempFolder();
        var gen = Asdt(tmp.Path, "demo-data", "--out", "d", "--count", "20", "--seed", "3");
        Assert.True(gen.Code == 0, gen.Err);
        Assert.Contains("wrote 20 demo images (16 train, 4 val)", gen.Out);
        var stats = Asdt(tmp.Path, "dataset", "stats", "--dataset", "d/dataset.json", "--split", "val");
        Assert.True(stats.Code == 0, stats.Err);
        Assert.Contains("split val: 4 images, 5 object classes + background", stats.Out);
        foreach (var name in new[] { "beetle", "fish", "bird", "snail", "rocket", "ignore" }) Assert.Contains(name, stats.Out);
        // The built-in name with --root reads the same folder.
        var builtin = Asdt(tmp.Path, "dataset", "stats", "--dataset", "demo", "--root", "d", "--split", "val");
        Assert.Equal(stats.Out, builtin.Out);
    }

    [Fact]
    public void Msrc21Stats_NoteThePairTheImageLabelsBarelySeparate()
    {
        using var tmp = TestData.NewTempFolder();
        var stats = Asdt(tmp.Path, "dataset", "stats", "--dataset", "msrc21-objects", "--root", TestData.Msrc21, "--split", "train");
        Assert.True(stats.Code == 0, stats.Err);
        Assert.Contains("note: face and body appear together in 29 of the 31 images with either (only 2 tell them apart)", stats.Out);
        Assert.Single(stats.Out.Split('\n'), line => line.StartsWith("note:"));
    }

    [Fact]
    public void BadInput_IsOneLineOnStderr_Exit2()
    {
        using var tmp = TestData.NewTempFolder();
        var r = Asdt(tmp.Path, "dataset", "stats", "--dataset", "msrc21-objects", "--root", "missing");
        Assert.Equal(2, r.Code);
        Assert.Equal($"asdt: error: {Path.Combine(tmp.Path, "missing")}: dataset root not found (dataset 'msrc21-objects'; give the folder with --root or fix the descriptor's root)", r.Err.TrimEnd());
        var help = Asdt(tmp.Path, "dataset", "stats", "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains("--dataset", help.Out);
        Assert.Contains("msrc21-objects", help.Out);
    }

    [Fact]
    public void EvalRun_BctFlagsWithoutBct_IsOneLineOnStderr_Exit2()
    {
        using var tmp = TestData.NewTempFolder();
        // Refused before the run is opened: B^ct's flags would otherwise be silently ignored.
        var r = Asdt(tmp.Path, "eval-run", "--run", "no-such-run", "--alpha-low", "6", "--label-crf", "afa");
        Assert.Equal(2, r.Code);
        Assert.Equal("asdt: error: --alpha-low, --label-crf only apply with --bct (they change how B^ct is made)", r.Err.TrimEnd());
    }

    [Fact]
    public void EvalRun_BctCamScalesWithoutBct_IsRefusedToo_Exit2()
    {
        using var tmp = TestData.NewTempFolder();
        var r = Asdt(tmp.Path, "eval-run", "--run", "no-such-run", "--bct-cam-scales", "1,0.5,1.5");
        Assert.Equal(2, r.Code);
        Assert.Equal("asdt: error: --bct-cam-scales only apply with --bct (they change how B^ct is made)", r.Err.TrimEnd());
    }
}
