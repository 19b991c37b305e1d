using Asdt.Cli.Commands;
using Asdt.Data;
using Asdt.Reports;
using Asdt.Runs;
using Asdt.Training;

namespace Asdt.Tests.Training;

[Collection(TorchRandomCollection.Name)]
public class WarmupSelectionTests
{
    [Fact]
    public void CandidateSeedsOfDifferentAskedSeedsNeverOverlap()
    {
        Assert.Equal([1, 2, 3], WarmupSelection.CandidateSeeds(1, 3));
        Assert.Equal([4, 5, 6], WarmupSelection.CandidateSeeds(2, 3));
        Assert.Equal([13, 14, 15], WarmupSelection.CandidateSeeds(5, 3));
        var all = Enumerable.Range(1, 20).SelectMany(s => WarmupSelection.CandidateSeeds(s, 4)).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Throws<AsdtException>(() => WarmupSelection.CandidateSeeds(0, 3));
        Assert.Throws<AsdtException>(() => WarmupSelection.CandidateSeeds(1, 1));
    }

    [Fact]
    public void TheSelectionDoesNotChangeSharedWarmupNamesOrConfigsWrittenWithoutIt()
    {
        var plain = Stage1Presets.Cpu with { WarmupSelection = null };
        var selecting = plain with { WarmupSelection = new WarmupSelectionSettings { Candidates = 3 } };
        Assert.DoesNotContain("warmupSelection", AsdtJson.Serialize(plain));
        Assert.Equal(SharedWarmup.Folder("study", plain), SharedWarmup.Folder("study", selecting));
        var chosen = selecting with { Seed = 5, WarmupSelection = selecting.WarmupSelection with { Seed = 2 } };
        Assert.Equal(SharedWarmup.Folder("study", plain with { Seed = 5 }), SharedWarmup.Folder("study", chosen));
        Assert.Equal(AsdtJson.Serialize(selecting with { Seed = 2 }), AsdtJson.Serialize(WarmupSelection.Requested(chosen)));
    }

    [Fact]
    public void TheChosenRunIsThePlainRunOfTheBestCandidateAndOtherRowsReuseTheCandidates()
    {
        using var temp = TestData.NewTempFolder();
        string data = Path.Combine(temp.Path, "data");
        DemoDataset.Generate(data, count: 15);
        // Quick preset shrunk (crop 64, batch 2): 2 warm-up iterations, then 4 of the PW wave.
        var plain = Report.TinyRunFixture.TinyConfig(Path.Combine(data, "dataset.json"));
        var asked = plain with { Seed = 2, WarmupSelection = new WarmupSelectionSettings { Candidates = 2, Split = "val" } };
        string study = Path.Combine(temp.Path, "study"), run = Path.Combine(study, "row-V");

        var chosen = StudyRunner.TrainIfNeeded("V", asked, run, study);

        // Candidates 3 and 4 (seed 2 of two), each a shared warm-up scored on val; the best one is chosen.
        var record = AsdtJson.Read<WarmupSelectionRecord>(Path.Combine(run, WarmupSelectionRecord.FileName));
        Assert.Equal([3, 4], record.Candidates.Select(c => c.Seed));
        foreach (var c in record.Candidates)
        {
            var heads = AsdtJson.Read<HeadEvaluation>(Path.Combine(study, c.Warmup, "eval-val", HeadEvaluation.FileName));
            Assert.Equal("val", heads.Split);
            Assert.Equal(heads.Cam!.BestMeanIoU, c.CamMeanIoU);
            Assert.Equal(heads.Cam.BestThreshold, c.CamThreshold);
            Assert.Equal(plain.ClassifierWarmup, TrainingCheckpoint.FinishedIterations(Path.Combine(study, c.Warmup)));
        }
        var best = record.Candidates.First(c => c.CamMeanIoU == record.Candidates.Max(x => x.CamMeanIoU));
        Assert.Equal(best.Seed, record.Chosen);
        Assert.Equal(best.Seed, chosen.Seed);
        Assert.Equal(2, chosen.WarmupSelection!.Seed);
        Assert.Equal(AsdtJson.Serialize(chosen), File.ReadAllText(Path.Combine(run, Stage1Trainer.ConfigFile)));

        // It trained exactly like a plain whole run of the chosen seed.
        string whole = Path.Combine(temp.Path, "whole");
        new Stage1Trainer(plain with { Seed = best.Seed }, whole).Run(resume: false);
        Robust.TrainKillResumeTests.AssertSameTensors(Path.Combine(whole, "checkpoint", "model.safetensors"), Path.Combine(run, "checkpoint", "model.safetensors"));
        var a = MetricsLog.Read(Path.Combine(whole, Stage1Trainer.MetricsFile)).Select(e => e.GetProperty("loss").GetRawText());
        var b = MetricsLog.Read(Path.Combine(run, Stage1Trainer.MetricsFile)).Select(e => e.GetProperty("loss").GetRawText());
        Assert.Equal(a, b);

        Assert.Equal($" (warm-up of seed {best.Seed}, the best of 3–4 on val)", WarmupSelection.Note(run));
        Assert.Equal("", WarmupSelection.Note(whole));

        // The run's report shows what was compared.
        ReportCommand.Write(run);
        string html = File.ReadAllText(Path.Combine(run, RunReport.FileName));
        Assert.Contains("Warm-up selection", html);
        Assert.Contains($"<td>{best.Seed} (chosen)</td>", html);

        // Another row of the same seed scores the same candidates again from their heads.json and continues the same warm-up;
        // a finished run reads its choice back.
        var writes = record.Candidates.Select(c => File.GetLastWriteTimeUtc(Path.Combine(study, c.Warmup, "checkpoint", TrainingCheckpoint.StateFile))).ToList();
        var rowI = StudyRunner.TrainIfNeeded("I", asked with { Strategy = StudentStrategy.ClassTeacherOnly }, Path.Combine(study, "row-I"), study);
        Assert.Equal(best.Seed, rowI.Seed);
        Assert.Equal(writes, record.Candidates.Select(c => File.GetLastWriteTimeUtc(Path.Combine(study, c.Warmup, "checkpoint", TrainingCheckpoint.StateFile))));
        Assert.Equal(AsdtJson.Serialize(chosen), AsdtJson.Serialize(StudyRunner.TrainIfNeeded("V", asked, run, study)));
        // A folder trained for another seed is not taken for this one.
        var e = Assert.Throws<AsdtException>(() => StudyRunner.SelectWarmup("V", asked with { Seed = 1 }, run, study));
        Assert.Contains("seed 1", e.Message);
    }
}
