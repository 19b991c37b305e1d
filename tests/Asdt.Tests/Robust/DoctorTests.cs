using System.Runtime.Intrinsics.X86;
using Xunit.Abstractions;

namespace Asdt.Tests.Robust;

/// <summary>
/// <c>asdt doctor</c> in a child process, on the host's own oneDNN kernels and on the AVX2 kernels (blocks of 8) an
/// AVX2-only machine gets, which a process can only choose before libtorch starts (ONEDNN_MAX_CPU_ISA). Every
/// convolution shape our networks run, and the input channel counts 3–32, must come out of
/// <see cref="Asdt.Models.BlockAlignedConv"/> within 1e-4 of float64 over NaN-filled free memory.
/// </summary>
public class DoctorTests(ITestOutputHelper output)
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(null)]
    [InlineData("AVX2")]
    public void BlockAlignedConvIsExactOnTheHostsKernelsAndOnAvx2Kernels(string? isa)
    {
        if (isa == "AVX2" && !Avx2.IsSupported)
        {
            output.WriteLine("this CPU has no AVX2: oneDNN cannot run AVX2 kernels here");
            return;
        }
        var environment = new Dictionary<string, string> { ["ONEDNN_VERBOSE"] = "1" };
        if (isa != null) environment["ONEDNN_MAX_CPU_ISA"] = isa;
        using var tmp = TestData.NewTempFolder();
        var (code, stdout, stderr) = AsdtChild.Run(tmp.Path, Limit, environment, "doctor", "--repeats", "2", "--threads", "2");
        var lines = stdout.Split('\n', StringSplitOptions.TrimEntries);
        foreach (var line in lines.Where(l => !l.StartsWith("onednn_verbose", StringComparison.Ordinal) || l.Contains(",isa:")))
            output.WriteLine(line);

        Assert.True(code == 0, $"asdt doctor exited {code}: {stderr.Split('\n').LastOrDefault(l => l.StartsWith("asdt:")) ?? stderr}");
        // oneDNN says which kernels it took: the cap must have held (or, without one, anything the host has).
        string isaLine = Assert.Single(lines, l => l.StartsWith("onednn_verbose", StringComparison.Ordinal) && l.Contains(",isa:"));
        if (isa == "AVX2") Assert.EndsWith("isa:Intel AVX2", isaLine);

        var rows = lines.Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| geometry", StringComparison.Ordinal)).ToArray();
        Assert.Equal(23, rows.Length); // 6 network geometries + 17 input channel counts
        foreach (var row in rows)
        {
            var cells = row.Split('|', StringSplitOptions.TrimEntries);
            Assert.True(cells[3].StartsWith("ok: NaN 0/2;", StringComparison.Ordinal), $"BlockAlignedConv on {cells[1]}: {cells[3]}");
        }
        Assert.Contains("ok: BlockAlignedConv within 1e-4 of float64 in all 23 geometries", stdout);
        // The scan's small convolutions are the ones libtorch would try NNPACK for (73 warnings on the AMD hosts before
        // NnpackSwitch): it is off, and libtorch says so.
        Assert.Contains("NNPACK: off", stdout);
        Assert.DoesNotContain("Could not initialize NNPACK", stderr + stdout);
    }
}
