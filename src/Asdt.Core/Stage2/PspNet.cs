using Asdt.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Stage2;

/// <summary>
/// PSPNet: backbone (<c>backbone.</c>), <see cref="PyramidPooling"/> (<c>ppm.</c>), then a 3×3 conv (no bias) +
/// BatchNorm + ReLU (<c>fuse</c>, <c>fuse_bn</c>), channel dropout and a 1×1 classifier with bias (<c>cls</c>).
/// Logits at the backbone's output stride.
/// </summary>
public sealed class PspNet : nn.Module<Tensor, Tensor>, ISegmentationNetwork
{
    readonly nn.Module<Tensor, Tensor> backbone;
    readonly PyramidPooling ppm;
    readonly Conv2d fuse;
    readonly BatchNorm2d fuse_bn;
    readonly Dropout2d dropout;
    readonly Conv2d cls;

    public int NumClasses { get; }
    public int OutputStride { get; }

    // Read by the ONNX exporter.
    public nn.Module<Tensor, Tensor> Backbone => backbone;
    public PyramidPooling Pyramid => ppm;
    public Conv2d Fuse => fuse;
    public BatchNorm2d FuseBn => fuse_bn;
    public Conv2d Classifier => cls;

    public PspNet(nn.Module<Tensor, Tensor> backbone, int backboneChannels, int outputStride, int classes, PspSettings settings) : base("PSPNet")
    {
        this.backbone = backbone;
        ppm = new PyramidPooling("ppm", backboneChannels, settings.Bins, settings.BranchChannels);
        fuse = nn.Conv2d(ppm.OutChannels, settings.HiddenChannels, 3, padding: 1, bias: false);
        fuse_bn = nn.BatchNorm2d(settings.HiddenChannels);
        dropout = nn.Dropout2d(settings.Dropout);
        cls = nn.Conv2d(settings.HiddenChannels, classes, 1, bias: true);
        NumClasses = classes; OutputStride = outputStride;
        RegisterComponents();
        foreach (var m in new nn.Module[] { ppm, fuse })
            foreach (var c in m.modules().OfType<Conv2d>())
                nn.init.kaiming_normal_(c.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var f = backbone.call(x);
        var y = F.relu(fuse_bn.call(fuse.call(ppm.call(f))));
        return BlockAlignedConv.Forward(cls, dropout.call(y)).MoveToOuterDisposeScope();
    }

    IEnumerable<nn.Module> Head() => [ppm, fuse, fuse_bn, cls];

    public IEnumerable<Parameter> BackboneParameters() => backbone.parameters().Where(p => p.requires_grad);
    public IEnumerable<Parameter> HeadWeights() =>
        Head().SelectMany(m => m.named_parameters()).Where(p => !p.name.EndsWith("bias") && p.parameter.requires_grad).Select(p => p.parameter);
    public IEnumerable<Parameter> HeadBiases() =>
        Head().SelectMany(m => m.named_parameters()).Where(p => p.name.EndsWith("bias") && p.parameter.requires_grad).Select(p => p.parameter);

    public override void train(bool on = true)
    {
        base.train(on);
        backbone.train(on);
    }
}
