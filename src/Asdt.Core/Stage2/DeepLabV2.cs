using Asdt.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Asdt.Stage2;

/// <summary>
/// DeepLab-v2 (single scale): a dilated backbone (children key prefix <c>backbone.</c>) and <see cref="AsppV2"/>
/// (<c>aspp.</c>). Forward gives logits at the backbone's output stride.
/// </summary>
public sealed class DeepLabV2 : nn.Module<Tensor, Tensor>, ISegmentationNetwork
{
    readonly nn.Module<Tensor, Tensor> backbone;
    readonly AsppV2 aspp;

    public nn.Module<Tensor, Tensor> Backbone => backbone;
    public AsppV2 Aspp => aspp;
    public int NumClasses => aspp.NumClasses;
    public int OutputStride { get; }

    public DeepLabV2(nn.Module<Tensor, Tensor> backbone, int backboneChannels, int outputStride, int classes, IReadOnlyList<int> dilations,
        double initStd = 0.01) : base("DeepLabV2")
    {
        this.backbone = backbone;
        aspp = new AsppV2("aspp", backboneChannels, classes, dilations, initStd);
        OutputStride = outputStride;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var features = backbone.call(x);
        return aspp.call(features);
    }

    public IEnumerable<Parameter> BackboneParameters() => backbone.parameters().Where(p => p.requires_grad);
    public IEnumerable<Parameter> HeadWeights() => aspp.Weights();
    public IEnumerable<Parameter> HeadBiases() => aspp.Biases();

    public override void train(bool on = true)
    {
        base.train(on);
        backbone.train(on); // re-applies frozen BatchNorm in backbones that freeze it
    }
}
