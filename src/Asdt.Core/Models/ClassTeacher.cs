using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Asdt.Models;

/// <summary>How the class-teacher's 1x1 classifier starts.</summary>
public enum ClassifierInit
{
    /// <summary>Xavier-uniform, as PSA/RRM initialise fc8 before training from ImageNet weights.</summary>
    Xavier,
    /// <summary>
    /// All zeros. The multi-label loss is convex in the classifier on a frozen backbone, so zero is a valid start, and
    /// the weights then hold only what the data put there: two classes that nearly always appear together (MSRC face
    /// and body) are told apart by the few images where they do not, not by the random difference of their initial
    /// weights, which Xavier adds to every CAM and which a run of a few thousand iterations does not wash out.
    /// </summary>
    Zero,
}

/// <summary>
/// The class-teacher f_ct (paper §3.1, ALGORITHM.md §3): Dropout2d → global average pooling →
/// bias-free 1x1 classifier ("fc8") over the foreground classes, trained with the multi-label
/// soft-margin loss (mean over classes, A8). Its CAMs are ReLU(1x1 conv of F with the classifier
/// weights), without dropout.
/// </summary>
public sealed class ClassTeacher : Module<Tensor, Tensor>
{
    readonly Dropout2d dropout;
    readonly Conv2d fc8;

    public long ForegroundClasses { get; }

    public ClassTeacher(string name, long inChannels, long foregroundClasses, double dropout, ClassifierInit start = ClassifierInit.Xavier) : base(name)
    {
        ForegroundClasses = foregroundClasses;
        this.dropout = Dropout2d(dropout);
        fc8 = Conv2d(inChannels, foregroundClasses, 1, bias: false);
        if (start == ClassifierInit.Zero) init.zeros_(fc8.weight);
        else init.xavier_uniform_(fc8.weight);
        RegisterComponents();
    }

    /// <summary>Class logits z (N, C_fg).</summary>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var pooled = functional.adaptive_avg_pool2d(dropout.forward(features), 1);
        return FlopCounter.Conv(fc8.weight, pooled, BlockAlignedConv.Forward(fc8, pooled)).flatten(1).MoveToOuterDisposeScope();
    }

    /// <summary>Class activation maps ReLU(W·F) (N, C_fg, h, w) at the feature resolution.</summary>
    public Tensor Cam(Tensor features)
    {
        using var scope = NewDisposeScope();
        return functional.relu(FlopCounter.Conv(fc8.weight, features, BlockAlignedConv.Forward(fc8, features))).MoveToOuterDisposeScope();
    }

    /// <summary>L_cls: multi-label soft margin = mean over batch and classes of BCE-with-logits.</summary>
    public static Tensor Loss(Tensor logits, Tensor multiHot) =>
        functional.multilabel_soft_margin_loss(logits, multiHot);
}
