using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Asdt.Models;

/// <summary>One forward pass at scale 1: features F, class logits z, seg-teacher and student logits (all at the feature resolution).</summary>
public sealed record AsdtOutputs(Tensor Features, Tensor ClassLogits, Tensor SegTeacherLogits, Tensor StudentLogits) : IDisposable
{
    public void Dispose()
    {
        Features.Dispose(); ClassLogits.Dispose(); SegTeacherLogits.Dispose(); StudentLogits.Dispose();
    }
}

/// <summary>
/// The ASDT network (paper Fig. 2, ALGORITHM.md §0): one backbone feeding three branches — the
/// class-teacher f_ct (<see cref="ClassTeacher"/>), the seg-teacher f_st and the student f_s
/// (two <see cref="SegmentationHead"/>s of the same shape with independent weights).
/// Component names follow RRM's checkpoint keys where they exist (fc8, fc8_seg_*).
/// </summary>
public sealed class AsdtNetwork : Module<Tensor, AsdtOutputs>
{
    readonly Module<Tensor, Tensor> backbone;
    readonly ClassTeacher fc8;
    readonly SegmentationHead fc8_seg;
    readonly SegmentationHead fc8_stu;

    public ClassTeacher ClassTeacher => fc8;
    public SegmentationHead SegTeacher => fc8_seg;
    public SegmentationHead Student => fc8_stu;
    public Module<Tensor, Tensor> Backbone => backbone;
    public int ForegroundClasses { get; }
    /// <summary>Segmentation classes: background + foreground.</summary>
    public int Classes => ForegroundClasses + 1;

    public AsdtNetwork(Module<Tensor, Tensor> backbone, long featureChannels, int foregroundClasses,
        long hiddenChannels, long dilation, double classifierDropout, ClassifierInit classifierInit = ClassifierInit.Xavier) : base("AsdtNetwork")
    {
        ForegroundClasses = foregroundClasses;
        this.backbone = backbone;
        fc8 = new ClassTeacher("fc8", featureChannels, foregroundClasses, classifierDropout, classifierInit);
        fc8_seg = new SegmentationHead("fc8_seg", featureChannels, hiddenChannels, foregroundClasses + 1, dilation);
        fc8_stu = new SegmentationHead("fc8_stu", featureChannels, hiddenChannels, foregroundClasses + 1, dilation);
        RegisterComponents();
    }

    public override AsdtOutputs forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var features = backbone.forward(input);
        var outputs = new AsdtOutputs(features, fc8.forward(features), fc8_seg.forward(features), fc8_stu.forward(features));
        outputs.Features.MoveToOuterDisposeScope();
        outputs.ClassLogits.MoveToOuterDisposeScope();
        outputs.SegTeacherLogits.MoveToOuterDisposeScope();
        outputs.StudentLogits.MoveToOuterDisposeScope();
        return outputs;
    }

    /// <summary>CAMs of an input at another scale (no gradient), at that scale's feature resolution.</summary>
    public Tensor CamAt(Tensor input)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return fc8.Cam(backbone.forward(input)).MoveToOuterDisposeScope();
    }

    /// <summary>Trainable backbone parameters (frozen BatchNorm and frozen stages excluded).</summary>
    public IEnumerable<Parameter> BackboneParameters() => backbone.parameters().Where(p => p.requires_grad);

    /// <summary>Weights of the layers trained from scratch (fc8 and both heads): ×10 learning rate in RRM.</summary>
    public IEnumerable<Parameter> NewLayerWeights() => NewLayerParameters().Where(p => p.name.EndsWith("weight")).Select(p => p.parameter);

    /// <summary>Biases of the new layers: ×20 learning rate, no weight decay in RRM.</summary>
    public IEnumerable<Parameter> NewLayerBiases() => NewLayerParameters().Where(p => p.name.EndsWith("bias")).Select(p => p.parameter);

    IEnumerable<(string name, Parameter parameter)> NewLayerParameters() =>
        new Module[] { fc8, fc8_seg, fc8_stu }.SelectMany(m => m.named_parameters());
}
