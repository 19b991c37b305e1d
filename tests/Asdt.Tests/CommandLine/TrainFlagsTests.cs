using Asdt.Cli.Commands;
using Asdt.Training;

namespace Asdt.Tests.CommandLine;

/// <summary>`asdt train` flags land in the config and are recorded as overrides of the preset.</summary>
public class TrainFlagsTests
{
    static Stage1Config Parse(params string[] args) => TrainCommand.FromFlags(TrainCommand.Create().Parse(["--out", "unused", .. args]));

    [Fact]
    public void PresetValuesStayWhenNoFlagIsGiven()
    {
        var c = Parse("--preset", "cpu");
        Assert.Equal(Stage1Presets.Cpu.Backbone.FrozenStages, c.Backbone.FrozenStages);
        Assert.Equal(Stage1Presets.Cpu.ClassifierWarmupLearningRate, c.ClassifierWarmupLearningRate);
        Assert.Empty(c.Overrides);
    }

    [Fact]
    public void FrozenStagesAndWarmupRateOverrideThePresetAndAreRecorded()
    {
        var c = Parse("--preset", "cpu", "--frozen-stages", "3", "--warmup-lr", "0.02", "--lr", "0.001");
        Assert.Equal(3, c.Backbone.FrozenStages);
        Assert.Equal(0.02, c.ClassifierWarmupLearningRate);
        Assert.Equal(0.001, c.Optimizer.LearningRate);
        Assert.Equal(["--frozen-stages=3", "--warmup-lr=0.02", "--lr=0.001"], c.Overrides);
    }

    [Fact]
    public void PaperPresetKeepsRrmSingleSchedule()
    {
        var c = Parse("--preset", "paper");
        Assert.Null(c.ClassifierWarmupLearningRate);
        Assert.Equal(0, c.Backbone.FrozenStages);
    }
}
