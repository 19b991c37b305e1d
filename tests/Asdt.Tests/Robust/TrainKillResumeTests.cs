using System.Text.Json;
using Asdt.Data;
using Asdt.Models.Weights;
using Asdt.Runs;
using Asdt.Training;
using static TorchSharp.torch;

namespace Asdt.Tests.Robust;

/// <summary>
/// Issue 8: `asdt train` SIGKILLed at arbitrary iterations (twice) and restarted with --resume ends with weights,
/// optimizer state and metrics bitwise equal to an uninterrupted run with the same seed (CPU). Covers all three
/// phases (warm-up, class-teacher, seg-teacher) and SGD momentum buffers.
/// </summary>
public class TrainKillResumeTests
{
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    internal static string[] TrainArgs(string root, string run) =>
    [
        "train", "--out", run, "--root", root, "--iterations", "8", "--checkpoint-every", "2", "--crop", "64",
        "--batch-size", "2", "--warmup", "2", "--period", "4", "--momentum", "0.9", "--seed", "7",
    ];

    internal static int MetricLines(string path)
    {
        if (!File.Exists(path)) return 0;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(fs);
        int n = 0;
        while (reader.ReadLine() is string line) if (line.EndsWith('}')) n++;
        return n;
    }

    [Fact]
    public void KilledTwice_AndResumed_EqualsUninterrupted_Bitwise()
    {
        using var tmp = TestData.NewTempFolder("asdt-killresume-");
        string data = Path.Combine(tmp.Path, "data");
        DemoDataset.Generate(data, count: 24);
        string straight = Path.Combine(tmp.Path, "straight"), killed = Path.Combine(tmp.Path, "killed");

        var r = AsdtChild.Run(tmp.Path, Limit, TrainArgs(data, straight));
        Assert.True(r.Code == 0, r.Err);

        string metrics = Path.Combine(killed, Stage1Trainer.MetricsFile);
        // Kill 1: after the first checkpoint (iteration 2). Kill 2: after resuming, past checkpoint 4.
        using (var child = AsdtChild.Start(tmp.Path, TrainArgs(data, killed)))
            child.KillWhen(() => MetricLines(metrics) >= 4, Limit, "4 logged iterations");
        long first = TrainingStateIteration(killed);
        Assert.InRange(first, 2, 7);
        using (var child = AsdtChild.Start(tmp.Path, "train", "--out", killed, "--resume"))
            child.KillWhen(() => MetricLines(metrics) >= 7, Limit, "7 logged iterations");
        Assert.InRange(TrainingStateIteration(killed), Math.Max(first, 4), 7);
        r = AsdtChild.Run(tmp.Path, Limit, "train", "--out", killed, "--resume");
        Assert.True(r.Code == 0, r.Err);

        AssertSameTensors(Path.Combine(straight, "checkpoint", "model.safetensors"), Path.Combine(killed, "checkpoint", "model.safetensors"));
        AssertSameTensors(Path.Combine(straight, "checkpoint", "extra.safetensors"), Path.Combine(killed, "checkpoint", "extra.safetensors"));
        Assert.Equal(8, TrainingStateIteration(killed));

        // metrics.jsonl: one line per iteration 0..7, in order, with the same losses as the straight run.
        var a = MetricsLog.Read(Path.Combine(straight, Stage1Trainer.MetricsFile)).ToList();
        var b = MetricsLog.Read(metrics).ToList();
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (long)i), b.Select(e => e.GetProperty("iteration").GetInt64()));
        Assert.Equal(8, File.ReadAllLines(metrics).Length);
        foreach (var field in new[] { "phase", "loss", "classLoss", "learningRate", "studentCe", "studentEnergy", "segTeacherCe", "segTeacherEnergy" })
            Assert.Equal(a.Select(e => Field(e, field)), b.Select(e => Field(e, field)));
        // All three phases were crossed by the kills.
        Assert.Equal(["classTeacher", "segTeacher", "warmup"], b.Select(e => e.GetProperty("phase").GetString()!).Distinct().Order());
        // No leftovers from the killed saves.
        Assert.Empty(Directory.GetFileSystemEntries(killed, ".*"));
    }

    static string Field(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.GetRawText() : "absent";

    internal static long TrainingStateIteration(string run) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoint", TrainingCheckpoint.StateFile))).RootElement.GetProperty("Iteration").GetInt64();

    internal static void AssertSameTensors(string expectedPath, string actualPath)
    {
        var a = Safetensors.Read(expectedPath);
        var b = Safetensors.Read(actualPath);
        try
        {
            Assert.Equal(a.Keys.Order(), b.Keys.Order());
            var different = new List<string>();
            foreach (var (name, ta) in a)
            {
                var tb = b[name];
                if (!ta.shape.SequenceEqual(tb.shape) || ta.dtype != tb.dtype || !ta.bytes.SequenceEqual(tb.bytes))
                {
                    string diff = ta.is_floating_point() && ta.shape.SequenceEqual(tb.shape) ? $" (max |Δ| {(ta - tb).abs().max().item<float>()})" : "";
                    different.Add(name + diff);
                }
            }
            Assert.True(different.Count == 0, $"{different.Count} tensors differ: {string.Join(", ", different.Take(10))}");
            Assert.Equal(File.ReadAllBytes(expectedPath), File.ReadAllBytes(actualPath));
        }
        finally
        {
            foreach (var t in a.Values.Concat(b.Values)) t.Dispose();
        }
    }
}
