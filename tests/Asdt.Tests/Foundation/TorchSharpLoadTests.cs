using Asdt.Build;
using static TorchSharp.torch;

namespace Asdt.Tests.Foundation;

/// <summary>
/// Proves, in the test process of a fresh clone, that TorchSharp's native shim loads and computes
/// (it does not on Debian 12 without the build-time GLIBCXX fix), and checks the ELF patch itself.
/// </summary>
public class TorchSharpLoadTests
{
    const string Version = "GLIBCXX_3.4.32";

    [Fact]
    public void Conv2dAndMatmulRunAndMatchBruteForce()
    {
        using var scope = NewDisposeScope();
        var a = arange(12, dtype: ScalarType.Float32).reshape(3, 4);
        var b = arange(8, dtype: ScalarType.Float32).reshape(4, 2);
        var c = a.matmul(b).data<float>().ToArray();
        var expected = new float[6];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
                for (int k = 0; k < 4; k++) expected[i * 2 + j] += (i * 4 + k) * (k * 2 + j);
        Assert.Equal(expected, c);

        var x = ones(1, 1, 5, 5);
        var w = ones(1, 1, 3, 3);
        var y = nn.functional.conv2d(x, w, padding: new long[] { 1, 1 });
        Assert.Equal(9f, y[0, 0, 2, 2].item<float>());
        Assert.Equal(4f, y[0, 0, 0, 0].item<float>());
    }

    static string OutputShim => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void OutputCopyOfShimIsPatchedExactlyWhenTheSystemNeedsIt()
    {
        if (!OperatingSystem.IsLinux()) return;
        Assert.True(File.Exists(OutputShim), "missing " + OutputShim);
        var need = ElfVersionPatch.ReadVersionNeeds(File.ReadAllBytes(OutputShim), OutputShim)
            .Single(v => v.File == "libstdc++.so.6" && v.Version == Version);
        Assert.Equal(new[] { "_ZSt21ios_base_library_initv" }, need.Symbols);
        Assert.False(need.ReferencedByRelocation);
        bool systemHasIt = ElfVersionPatch.SystemLibstdcxxHasVersion(Version);
        Assert.Equal(!systemHasIt, (need.Flags & ElfVersionPatch.VerFlgWeak) != 0);
    }

    [Fact]
    public void PatchIsIdempotentAndTouchesOnlyOneFlag()
    {
        if (!OperatingSystem.IsLinux()) return;
        var dir = Directory.CreateTempSubdirectory("asdt-elf-");
        try
        {
            var copy = Path.Combine(dir.FullName, "libLibTorchSharp.so");
            File.Copy(OutputShim, copy);
            byte[] original = File.ReadAllBytes(copy);
            // Undo the weak bit (if the build set it) to get the package's original bytes.
            var need = ElfVersionPatch.ReadVersionNeeds(original, copy).Single(v => v.Version == Version);
            original[need.FlagsOffset] &= unchecked((byte)~ElfVersionPatch.VerFlgWeak);
            File.WriteAllBytes(copy, original);

            Assert.Equal(ElfPatchOutcome.Patched, ElfVersionPatch.MakeVersionNeedWeak(copy, "libstdc++.so.6", Version, "_ZSt21ios_base_library_initv"));
            byte[] patched = File.ReadAllBytes(copy);
            int differing = Enumerable.Range(0, original.Length).Count(i => original[i] != patched[i]);
            Assert.Equal(1, differing);
            Assert.Equal(ElfVersionPatch.VerFlgWeak, patched[need.FlagsOffset] & ElfVersionPatch.VerFlgWeak);
            Assert.Equal(ElfPatchOutcome.AlreadyWeak, ElfVersionPatch.MakeVersionNeedWeak(copy, "libstdc++.so.6", Version, "_ZSt21ios_base_library_initv"));
            Assert.Equal(ElfPatchOutcome.NotNeeded, ElfVersionPatch.MakeVersionNeedWeak(copy, "libstdc++.so.6", "GLIBCXX_9.9.99", "x"));
            var ex = Assert.Throws<ElfPatchException>(() => ElfVersionPatch.MakeVersionNeedWeak(copy, "libc.so.6", "GLIBC_2.2.5", "x"));
            Assert.Contains("refusing to patch", ex.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void TruncatedElfGivesAClearError()
    {
        var bytes = File.ReadAllBytes(OutputShim).AsSpan(0, 4096).ToArray();
        var ex = Assert.Throws<ElfPatchException>(() => ElfVersionPatch.ReadVersionNeeds(bytes, "cut.so"));
        Assert.StartsWith("cut.so:", ex.Message);
        Assert.Throws<ElfPatchException>(() => ElfVersionPatch.ReadVersionNeeds(new byte[100], "zero.so"));
    }
}
