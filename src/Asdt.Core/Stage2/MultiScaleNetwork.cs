using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Stage2;

/// <summary>
/// deeplab-pytorch's MSC wrapper around any single-scale network (child <c>base</c>): the input at every scale
/// (first 1.0; others bilinearly resized by scale factor, align_corners false), each scale's logits resized
/// bilinearly to the 1.0 logits' size, and their element-wise max. <see cref="ForwardAll"/> returns
/// [logits at scale 1, resized logits of the other scales …, max] (training: every one gets a CE term);
/// forward returns the max (evaluation). With a single scale both return just the scale-1 logits.
/// </summary>
public sealed class MultiScaleNetwork : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> @base;

    public IReadOnlyList<double> Scales { get; }
    public nn.Module<Tensor, Tensor> Base => @base;
    public ISegmentationNetwork Network => (ISegmentationNetwork)@base;

    public MultiScaleNetwork(nn.Module<Tensor, Tensor> network, IReadOnlyList<double> scales) : base("MSC")
    {
        if (network is not ISegmentationNetwork) throw new ArgumentException("the network must implement ISegmentationNetwork", nameof(network));
        if (scales.Count == 0 || scales[0] != 1.0 || scales.Any(s => !(s > 0)))
            throw new AsdtException($"MSC scales must start with 1.0 and be positive (got [{string.Join(", ", scales)}])");
        @base = network;
        Scales = scales.ToArray();
        RegisterComponents();
    }

    /// <summary>[scale-1 logits, other scales' logits resized to it …, max]; a single scale gives [logits].</summary>
    public Tensor[] ForwardAll(Tensor x)
    {
        using var scope = NewDisposeScope();
        var full = @base.call(x);
        if (Scales.Count == 1) return [full.MoveToOuterDisposeScope()];
        var outputs = new List<Tensor> { full };
        long h = full.shape[2], w = full.shape[3];
        for (int i = 1; i < Scales.Count; i++)
        {
            double s = Scales[i];
            var scaled = F.interpolate(x, scale_factor: [s, s], mode: InterpolationMode.Bilinear, align_corners: false);
            var logits = @base.call(scaled);
            outputs.Add(F.interpolate(logits, size: [h, w], mode: InterpolationMode.Bilinear, align_corners: false));
        }
        var max = outputs[0];
        for (int i = 1; i < outputs.Count; i++) max = maximum(max, outputs[i]);
        outputs.Add(max);
        return outputs.Select(o => o.MoveToOuterDisposeScope()).ToArray();
    }

    /// <summary>The max-fused logits (N, C, h, w) at the scale-1 feature resolution.</summary>
    public override Tensor forward(Tensor x)
    {
        var all = ForwardAll(x);
        for (int i = 0; i < all.Length - 1; i++) all[i].Dispose();
        return all[^1];
    }

    public override void train(bool on = true)
    {
        base.train(on);
        @base.train(on);
    }
}
