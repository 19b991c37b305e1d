using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Asdt.Models;

/// <summary>
/// The seg-teacher / student head shape (paper §3.2, ALGORITHM.md §6.1): two 3x3 dilated
/// convolutions with bias, ReLU between, reading the backbone features F directly.
/// Paper/RRM: 4096 → 512 → 21 with dilation 12 (keys fc8_seg_conv1/2 for the seg-teacher).
/// Xavier-uniform weights, PyTorch default biases.
/// </summary>
public sealed class SegmentationHead : Module<Tensor, Tensor>
{
    readonly Conv2d conv1;
    readonly Conv2d conv2;

    public SegmentationHead(string name, long inChannels, long hiddenChannels, long classes, long dilation) : base(name)
    {
        conv1 = Conv2d(inChannels, hiddenChannels, 3, dilation: dilation, padding: dilation, bias: true);
        conv2 = Conv2d(hiddenChannels, classes, 3, dilation: dilation, padding: dilation, bias: true);
        init.xavier_uniform_(conv1.weight);
        init.xavier_uniform_(conv2.weight);
        RegisterComponents();
    }

    /// <summary>
    /// Draws the head's weights afresh from torch's generator, exactly as a new head of this shape is drawn
    /// (<see cref="Training.Stage1Config.HeadSeed"/>).
    /// </summary>
    public void Redraw()
    {
        using var fresh = new SegmentationHead(GetName(), conv1.in_channels, conv1.out_channels, conv2.out_channels, conv1.dilation[0]);
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
            p.copy_(fresh.get_parameter(name)!);
    }

    public override Tensor forward(Tensor features)
    {
        using var hidden = functional.relu(FlopCounter.Conv(conv1.weight, features, BlockAlignedConv.Forward(conv1, features)));
        return FlopCounter.Conv(conv2.weight, hidden, BlockAlignedConv.Forward(conv2, hidden));
    }
}
