using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Stage2;

/// <summary>One pyramid level: adaptive average pool to bin×bin, 1×1 conv (no bias), BatchNorm, ReLU.</summary>
public sealed class PoolingBranch : nn.Module<Tensor, Tensor>
{
    readonly Conv2d conv;
    readonly BatchNorm2d bn;
    public int Bin { get; }
    public Conv2d Conv => conv;
    public BatchNorm2d Bn => bn;

    public PoolingBranch(string name, int bin, int inChannels, int outChannels) : base(name)
    {
        Bin = bin;
        conv = nn.Conv2d(inChannels, outChannels, 1, bias: false);
        bn = nn.BatchNorm2d(outChannels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var p = F.adaptive_avg_pool2d(x, [Bin, Bin]);
        return F.relu(bn.call(conv.call(p))).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// PSPNet's pyramid pooling module (Zhao et al. 2017): one <see cref="PoolingBranch"/> per bin (1, 2, 3, 6),
/// each upsampled bilinearly (align_corners false) to the feature size and concatenated after the features:
/// output channels = in + bins·branch.
/// </summary>
public sealed class PyramidPooling : nn.Module<Tensor, Tensor>
{
    readonly ModuleList<PoolingBranch> stages;
    public int OutChannels { get; }
    public IReadOnlyList<PoolingBranch> Stages => stages.ToList();

    public PyramidPooling(string name, int inChannels, IReadOnlyList<int> bins, int branchChannels) : base(name)
    {
        if (bins.Count == 0 || bins.Any(b => b < 1)) throw new AsdtException($"pyramid bins must be positive (got [{string.Join(", ", bins)}])");
        stages = nn.ModuleList(bins.Select((b, i) => new PoolingBranch(i.ToString(), b, inChannels, branchChannels)).ToArray());
        OutChannels = inChannels + bins.Count * branchChannels;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long h = x.shape[2], w = x.shape[3];
        var parts = new List<Tensor> { x };
        foreach (var s in stages)
            parts.Add(F.interpolate(s.call(x), size: [h, w], mode: InterpolationMode.Bilinear, align_corners: false));
        return cat(parts, 1).MoveToOuterDisposeScope();
    }
}
