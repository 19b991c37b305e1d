using Asdt.Data;
using Asdt.IO;
using Asdt.Models;
using Asdt.Training;

namespace Asdt.Tests.Robust;

/// <summary>
/// Issue 8: PSM generation killed and resumed, a non-finite loss, an unwritable or full output location. Each ends
/// in complete files or one clear error, never in a truncated file.
/// </summary>
public class FailureTests
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    /// <summary>A demo dataset and a stage-1 run of 3 warm-up iterations (enough weights for PSMs).</summary>
    static (string Data, string Run) TinyRun(TempFolder tmp, int count = 24)
    {
        string data = Path.Combine(tmp.Path, "data"), run = Path.Combine(tmp.Path, "run");
        DemoDataset.Generate(data, count);
        var r = AsdtChild.Run(tmp.Path, Limit, "train", "--out", run, "--root", data, "--iterations", "3", "--checkpoint-every", "3",
            "--crop", "64", "--batch-size", "2", "--warmup", "3", "--seed", "3");
        Assert.True(r.Code == 0, r.Err);
        return (data, run);
    }

    static void AssertOneLineError((int Code, string Out, string Err) r, string contains)
    {
        Assert.Equal(2, r.Code);
        var lines = r.Err.Trim().Split('\n');
        Assert.True(lines.Length == 1, "expected one line on stderr, got:\n" + r.Err);
        Assert.StartsWith("asdt: error: ", lines[0]);
        Assert.Contains(contains, lines[0]);
    }

    /// <summary>What a killed writer left visible is complete: every PNG decodes and equals the uninterrupted run's file.</summary>
    static string[] AssertPartialOutputsComplete(string straight, string killed, int atLeast, int atMost)
    {
        var partial = Directory.GetFiles(killed, "*.png");
        Assert.InRange(partial.Length, atLeast, atMost);
        foreach (var f in partial)
        {
            ImageFile.Read(f);
            Assert.Equal(File.ReadAllBytes(Path.Combine(straight, Path.GetFileName(f))), File.ReadAllBytes(f));
        }
        return partial;
    }

    /// <summary>After the resume the folder holds exactly the uninterrupted run's files (no temporaries, hidden or not), byte for byte.</summary>
    static void AssertSameFiles(string straight, string killed, string?[] expected)
    {
        Assert.Equal(expected, Directory.GetFiles(killed).Select(Path.GetFileName).Order().ToArray());
        foreach (var name in expected)
            Assert.Equal(File.ReadAllBytes(Path.Combine(straight, name!)), File.ReadAllBytes(Path.Combine(killed, name!)));
    }

    [Fact]
    public void Psm_KilledMidway_Resumes_SkipsDoneImages_SameBytes_NoTruncatedFiles()
    {
        using var tmp = TestData.NewTempFolder("asdt-psmkill-");
        var (_, run) = TinyRun(tmp);
        string straight = Path.Combine(tmp.Path, "psm-a"), killed = Path.Combine(tmp.Path, "psm-b");
        var r = AsdtChild.Run(tmp.Path, Limit, "psm", "--run", run, "--out", straight, "--threads", "2", "--single-scale");
        Assert.True(r.Code == 0, r.Err);
        // Batch-1 inference on small images is where libtorch asks for NNPACK; it is off (NnpackSwitch), so no warnings.
        Assert.DoesNotContain("Could not initialize NNPACK", r.Err);
        var expected = Directory.GetFiles(straight).Select(Path.GetFileName).Order().ToArray();
        Assert.True(expected.Length >= 15, $"{expected.Length} masks");

        using (var child = AsdtChild.Start(tmp.Path, "psm", "--run", run, "--out", killed, "--threads", "2", "--single-scale"))
            child.KillWhen(() => Directory.Exists(killed) && Directory.GetFiles(killed, "*.png").Length >= 6, Limit, "6 masks written");
        var partial = AssertPartialOutputsComplete(straight, killed, 6, expected.Length);
        foreach (var f in partial) PalettePng.Read(f);                       // and is a palette PNG

        r = AsdtChild.Run(tmp.Path, Limit, "psm", "--run", run, "--out", killed, "--threads", "2", "--single-scale");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains($"{partial.Length} already there", r.Out);
        AssertSameFiles(straight, killed, expected);
    }

    [Fact]
    public void Segment_KilledMidway_Resumes_SkipsDoneImages_SameBytes_NoTruncatedFiles()
    {
        using var tmp = TestData.NewTempFolder("asdt-segkill-");
        string data = Path.Combine(tmp.Path, "data"), run = Path.Combine(tmp.Path, "seg-run");
        DemoDataset.Generate(data, 24);
        var r = AsdtChild.Run(tmp.Path, Limit, "seg-train", "--preset", "quick", "--root", data, "--labels", "gt", "--out", run,
            "--iterations", "2", "--crop", "65", "--batch-size", "2");
        Assert.True(r.Code == 0, r.Err);
        string images = Path.Combine(data, "JPEGImages");
        string straight = Path.Combine(tmp.Path, "seg-a"), killed = Path.Combine(tmp.Path, "seg-b");
        r = AsdtChild.Run(tmp.Path, Limit, "segment", images, "--model", run, "--out", straight);
        Assert.True(r.Code == 0, r.Err);
        var expected = Directory.GetFiles(straight).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(48, expected.Length);                                   // a mask and an overlay per image

        using (var child = AsdtChild.Start(tmp.Path, "segment", images, "--model", run, "--out", killed))
            child.KillWhen(() => Directory.Exists(killed) && Directory.GetFiles(killed, "*.png").Length >= 10, Limit, "10 outputs written");
        AssertPartialOutputsComplete(straight, killed, 10, expected.Length);

        r = AsdtChild.Run(tmp.Path, Limit, "segment", images, "--model", run, "--out", killed);
        Assert.True(r.Code == 0, r.Err);
        AssertSameFiles(straight, killed, expected);
    }

    [Fact]
    public void NonFiniteLoss_StopsWithIterationAndTerm_LastCheckpointIntact()
    {
        using var tmp = TestData.NewTempFolder("asdt-nan-");
        string data = Path.Combine(tmp.Path, "data"), run = Path.Combine(tmp.Path, "run");
        DemoDataset.Generate(data, 12);
        var r = AsdtChild.Run(tmp.Path, Limit, "train", "--out", run, "--root", data, "--iterations", "10", "--checkpoint-every", "1",
            "--crop", "64", "--batch-size", "2", "--warmup", "10", "--warmup-lr", "1e30");
        Assert.NotEqual(0, r.Code);
        AssertOneLineError(r, "iteration ");
        Assert.Matches(@"(loss became (NaN|-?∞|-?Infinity) at iteration \d+ \(non-finite term: L_cls; the weights it started from were (finite|already non-finite: .+)\))|(weights became non-finite \(.+\) in the update of iteration \d+)", r.Err);
        Assert.Contains("last good checkpoint", r.Err);
        // The checkpoint on disk is complete, loadable and finite.
        long saved = TrainKillResumeTests.TrainingStateIteration(run);
        Assert.InRange(saved, 1, 9);
        using var stage1 = Stage1Run.Open(run);
        foreach (var p in stage1.Network.parameters()) Assert.True(p.isfinite().all().item<bool>());
        Assert.Empty(Directory.GetFileSystemEntries(run, ".*"));
    }

    [Fact]
    public void Train_OutUnderAFile_OneLineError_NothingWritten()
    {
        using var tmp = TestData.NewTempFolder("asdt-unwritable-");
        string file = Path.Combine(tmp.Path, "a-file");
        File.WriteAllText(file, "x");
        string data = Path.Combine(tmp.Path, "data");
        DemoDataset.Generate(data, 6);
        var r = AsdtChild.Run(tmp.Path, Limit, "train", "--out", Path.Combine(file, "run"), "--root", data, "--iterations", "1");
        AssertOneLineError(r, Path.Combine(file, "run") + ": cannot create output folder");
        Assert.Equal("x", File.ReadAllText(file));
        Assert.Equal(["a-file", "data"], Directory.GetFileSystemEntries(tmp.Path).Select(p => Path.GetFileName(p)!).Order().ToArray());
    }

    [Fact]
    public void Psm_OutUnderAFile_OneLineError()
    {
        using var tmp = TestData.NewTempFolder("asdt-unwritable-");
        var (_, run) = TinyRun(tmp, count: 6);
        string file = Path.Combine(tmp.Path, "a-file");
        File.WriteAllText(file, "x");
        var r = AsdtChild.Run(tmp.Path, Limit, "psm", "--run", run, "--out", Path.Combine(file, "psm"));
        AssertOneLineError(r, ": cannot create output folder");
        var proc = AsdtChild.Run(tmp.Path, Limit, "psm", "--run", run, "--out", "/proc/asdt-psm");
        AssertOneLineError(proc, "/proc/asdt-psm: cannot create output folder");
    }

    /// <summary>Free space shared by every stream of one simulated disk.</summary>
    sealed class Disk(long free) { public long Free = free; }

    /// <summary>A stream on a disk with little free space: fails like a full disk (ENOSPC) once it runs out.</summary>
    sealed class FullDisk(Stream inner, Disk disk) : Stream
    {
        public FullDisk(Stream inner, long free) : this(inner, new Disk(free)) { }
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (buffer.Length > disk.Free) throw new IOException("No space left on device");
            disk.Free -= buffer.Length;
            inner.Write(buffer);
        }
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
    }

    [Fact]
    public void FullDisk_AtomicWrites_OneClearError_OldFileKept_NoTemporaries()
    {
        using var tmp = TestData.NewTempFolder("asdt-full-");
        string mask = tmp.File("m.png");
        var small = new LabelMask(4, 4, new byte[16]);
        PalettePng.Write(mask, small);
        var before = File.ReadAllBytes(mask);
        var big = new LabelMask(300, 300, Enumerable.Range(0, 90000).Select(i => (byte)(i * 7919 % 21)).ToArray());
        using (AtomicFile.InjectWriteFault(s => new FullDisk(s, 100)))
        {
            var e = Assert.Throws<AsdtException>(() => PalettePng.Write(mask, big));
            Assert.Equal($"{mask}: cannot write (No space left on device)", e.Message);
            var e2 = Assert.Throws<AsdtException>(() => PalettePng.Write(tmp.File("new.png"), big));
            Assert.Contains("No space left on device", e2.Message);
        }
        Assert.Equal(before, File.ReadAllBytes(mask));
        Assert.Equal(["m.png"], Directory.GetFileSystemEntries(tmp.Path).Select(p => Path.GetFileName(p)!).ToArray());
        PalettePng.Write(tmp.File("new.png"), big); // the fault is gone with its handle
        Assert.Equal(big.Labels, PalettePng.Read(tmp.File("new.png")).Labels);
    }

    [Fact]
    public void FullDisk_CheckpointSave_KeepsThePreviousCheckpoint()
    {
        using var tmp = TestData.NewTempFolder("asdt-full-");
        string folder = tmp.File("checkpoint");
        using var model = TorchSharp.torch.nn.Linear(64, 32);
        Checkpoint.Save(folder, model, "{\"a\":1}", new Dictionary<string, string> { ["state.json"] = "{\"i\":1}" });
        var weights = File.ReadAllBytes(Path.Combine(folder, Checkpoint.WeightsFile));
        using (TorchSharp.torch.no_grad()) model.weight!.add_(1);
        // Out of space in the weights, in the config, in the extra file, in the manifest.
        long w = weights.Length; // config.json and state.json are 7 bytes each; the manifest is longer
        foreach (long free in new long[] { 0, w / 2, w - 1, w + 3, w + 7 + 3, w + 7 + 7 + 10 })
        {
            var disk = new Disk(free);
            using (AtomicFile.InjectWriteFault(s => new FullDisk(s, disk)))
            {
                var e = Assert.ThrowsAny<AsdtException>(() => Checkpoint.Save(folder, model, "{\"a\":1}", new Dictionary<string, string> { ["state.json"] = "{\"i\":2}" }));
                Assert.Contains("No space left on device", e.Message);
                Assert.DoesNotContain('\n', e.Message);
            }
        }
        Assert.Equal(weights, File.ReadAllBytes(Path.Combine(folder, Checkpoint.WeightsFile)));
        Assert.Equal("{\"i\":1}", File.ReadAllText(Path.Combine(folder, "state.json")));
        Assert.Equal(["checkpoint"], Directory.GetFileSystemEntries(tmp.Path).Select(p => Path.GetFileName(p)!).ToArray());
    }

    [Fact]
    public void KilledBetweenTheTwoRenamesOfASave_RecoverPutsThePreviousCheckpointBack()
    {
        using var tmp = TestData.NewTempFolder("asdt-recover-");
        string folder = tmp.File("checkpoint");
        using var model = TorchSharp.torch.nn.Linear(4, 2);
        Checkpoint.Save(folder, model, "{}");
        // What SIGKILL between Directory.Move(target, old) and Directory.Move(temp, target) leaves, plus half-written
        // temporaries; the writer's pid (in the names) is one that cannot be running.
        const int deadPid = int.MaxValue;
        Directory.Move(folder, tmp.File($".checkpoint.old-{deadPid}-abc"));
        Directory.CreateDirectory(tmp.File($".checkpoint.tmp-{deadPid}-abc"));
        File.WriteAllText(tmp.File($".checkpoint.tmp-{deadPid}-abc/model.safetensors"), "half");
        File.WriteAllText(tmp.File($".metrics.jsonl.{deadPid}.1.tmp"), "half");
        Assert.True(Checkpoint.Recover(folder));
        Assert.Equal(1, AtomicFile.DeleteStaleTemporaries(tmp.Path));
        Assert.Equal(["checkpoint"], Directory.GetFileSystemEntries(tmp.Path).Select(p => Path.GetFileName(p)!).ToArray());
        Checkpoint.Load(folder, model, "{}");
        Assert.False(Checkpoint.Recover(folder));
    }
}
