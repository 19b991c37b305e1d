using Asdt.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Asdt.Stage2;

/// <summary>
/// DeepLab-v2's atrous spatial pyramid pooling: parallel 3×3 convolutions (in → classes, bias) with
/// dilation = padding = each rate, summed. No BatchNorm, no image pooling. Weights N(0, std), biases 0.
/// Children are named <c>c0</c>, <c>c1</c>, … as in deeplab-pytorch.
/// </summary>
public sealed class AsppV2 : nn.Module<Tensor, Tensor>
{
    readonly Conv2d[] branches;

    public IReadOnlyList<int> Dilations { get; }
    public int InChannels { get; }
    public int NumClasses { get; }
    public IReadOnlyList<Conv2d> Branches => branches;

    public AsppV2(string name, int inChannels, int classes, IReadOnlyList<int> dilations, double initStd = 0.01) : base(name)
    {
        if (dilations.Count == 0 || dilations.Any(d => d < 1)) throw new AsdtException($"ASPP dilations must be positive (got [{string.Join(", ", dilations)}])");
        Dilations = dilations.ToArray(); InChannels = inChannels; NumClasses = classes;
        branches = new Conv2d[dilations.Count];
        for (int i = 0; i < branches.Length; i++)
        {
            var conv = nn.Conv2d(inChannels, classes, 3, stride: 1, padding: dilations[i], dilation: dilations[i], bias: true);
            using (no_grad())
            {
                nn.init.normal_(conv.weight, 0, initStd);
                nn.init.zeros_(conv.bias!);
            }
            branches[i] = conv;
            register_module($"c{i}", conv);
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var sum = BlockAlignedConv.Forward(branches[0], x);
        for (int i = 1; i < branches.Length; i++) sum = sum.Plus(BlockAlignedConv.Forward(branches[i], x));
        return sum.MoveToOuterDisposeScope();
    }

    public IEnumerable<Parameter> Weights() => branches.Select(b => b.weight!);
    public IEnumerable<Parameter> Biases() => branches.Select(b => b.bias!);
}
