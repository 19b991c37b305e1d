using Asdt.Models;
using Asdt.Stage2;
using Asdt.Training;

namespace Asdt.Tests.Models;

/// <summary>The one backbone factory both stages build on: which kinds each stage takes, weights, frozen stages.</summary>
public class BackbonesTests
{
    [Fact]
    public void EachStageRefusesTheKindsItDoesNotSupportAndNamesTheOnesItDoes()
    {
        // Res2Net-101 is a stage-2 backbone only (PSPNet); stage 1 lists its own four kinds.
        var ex = Assert.Throws<AsdtException>(() => Backbones.StagePrefixes("res2net101", Stage1Model.BackboneKinds));
        Assert.Contains("unknown backbone 'res2net101'", ex.Message);
        Assert.Contains(string.Join(", ", Stage1Model.BackboneKinds), ex.Message);
        Assert.Equal(5, Backbones.StagePrefixes("res2net101", Stage2Model.BackboneKinds).Length);
        Assert.Equal(7, Backbones.StagePrefixes("ResNet38d", Stage1Model.BackboneKinds).Length);
        Assert.Throws<AsdtException>(() => Backbones.StagePrefixes("vgg16", Stage2Model.BackboneKinds));
    }

    [Fact]
    public void AStateDictBackboneNeedsItsWeightsUnlessACheckpointOverwritesThemAndFreezesItsFirstStages()
    {
        var ex = Assert.Throws<AsdtException>(() => Backbones.Create("resnet50", null, 16, true, 0, Stage2Model.BackboneKinds));
        Assert.Contains("backbone 'resnet50' needs a weights file", ex.Message);

        // Evaluation builds the network without the file (a checkpoint supplies every weight), frozen stages included.
        var backbone = Backbones.Create("resnet50", null, 16, true, frozenStages: 3, Stage2Model.BackboneKinds, loadWeights: false);
        using var network = backbone.Network;
        Assert.Equal(2048, backbone.Channels);
        Assert.Equal(16, backbone.OutputStride);
        Assert.Empty(backbone.Classifier);
        var trainable = network.named_parameters().ToDictionary(np => np.name, np => np.parameter.requires_grad);
        Assert.False(trainable["conv1.weight"]);
        Assert.False(trainable["layer1.0.conv1.weight"]);
        Assert.False(trainable["layer2.3.conv3.weight"]);
        Assert.True(trainable["layer3.0.conv1.weight"]);
        Assert.True(trainable["layer4.2.conv3.weight"]);
        Assert.Throws<AsdtException>(() => Backbones.Create("resnet50", null, 16, true, frozenStages: 6, Stage2Model.BackboneKinds, loadWeights: false));
    }
}
