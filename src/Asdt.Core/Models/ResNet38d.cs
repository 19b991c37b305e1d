using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Models;

/// <summary>Options of <see cref="ResNet38d"/>.</summary>
public sealed record ResNet38Options
{
    /// <summary>BatchNorm always in eval mode and not trained (RRM/ASDT stage 1 does this).</summary>
    public bool FrozenBatchNorm { get; init; } = true;
    /// <summary>Divides every channel count (1 = the real network); &gt;1 makes tiny test networks with the same keys.</summary>
    public int WidthDivisor { get; init; } = 1;
    public double DropoutB6 { get; init; } = 0.3;
    public double DropoutB7 { get; init; } = 0.5;
    public double BatchNormEps { get; init; } = 1e-5;
}

/// <summary>
/// Pre-activation residual block of ResNet-38d (PSA/RRM "ResBlock"), ALGORITHM.md §2:
/// a = ReLU(BN_2a(x)); shortcut = x or conv_branch1(a); b = conv_branch2b1(ReLU(BN_2b1(conv_branch2a(a)))).
/// </summary>
public sealed class ResBlock38 : nn.Module<Tensor, Tensor>
{
    private readonly BatchNorm2d bn_branch2a, bn_branch2b1;
    private readonly Conv2d conv_branch2a, conv_branch2b1;
    private readonly Conv2d? conv_branch1;

    public ResBlock38(string name, int inChannels, int midChannels, int outChannels, int stride, int firstDilation, int dilation, double eps)
        : base(name)
    {
        bn_branch2a = nn.BatchNorm2d(inChannels, eps);
        conv_branch2a = nn.Conv2d(inChannels, midChannels, 3, stride: stride, padding: firstDilation, dilation: firstDilation, bias: false);
        bn_branch2b1 = nn.BatchNorm2d(midChannels, eps);
        conv_branch2b1 = nn.Conv2d(midChannels, outChannels, 3, padding: dilation, dilation: dilation, bias: false);
        if (inChannels != outChannels || stride != 1)
            conv_branch1 = nn.Conv2d(inChannels, outChannels, 1, stride: stride, bias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var a = F.relu(bn_branch2a.call(x));
        var shortcut = conv_branch1 is null ? x : conv_branch1.call(a);
        var b = conv_branch2b1.call(F.relu(bn_branch2b1.call(conv_branch2a.call(a))));
        return b.PlusInPlace(shortcut).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Bottleneck block of ResNet-38d (PSA/RRM "ResBlock_bot"), ALGORITHM.md §2: 1×1 projection shortcut on
/// a = ReLU(BN_2a(x)); 1×1 (out/4) → Dropout2d → 3×3 dilated (out/2) → Dropout2d → 1×1 (out).
/// </summary>
public sealed class BotBlock38 : nn.Module<Tensor, Tensor>
{
    private readonly BatchNorm2d bn_branch2a, bn_branch2b1, bn_branch2b2;
    private readonly Conv2d conv_branch2a, conv_branch2b1, conv_branch2b2, conv_branch1;
    private readonly Dropout2d dropout_2b1, dropout_2b2;

    public BotBlock38(string name, int inChannels, int outChannels, int dilation, double dropout, double eps) : base(name)
    {
        bn_branch2a = nn.BatchNorm2d(inChannels, eps);
        conv_branch2a = nn.Conv2d(inChannels, outChannels / 4, 1, bias: false);
        bn_branch2b1 = nn.BatchNorm2d(outChannels / 4, eps);
        dropout_2b1 = nn.Dropout2d(dropout);
        conv_branch2b1 = nn.Conv2d(outChannels / 4, outChannels / 2, 3, padding: dilation, dilation: dilation, bias: false);
        bn_branch2b2 = nn.BatchNorm2d(outChannels / 2, eps);
        dropout_2b2 = nn.Dropout2d(dropout);
        conv_branch2b2 = nn.Conv2d(outChannels / 2, outChannels, 1, bias: false);
        conv_branch1 = nn.Conv2d(inChannels, outChannels, 1, bias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var a = F.relu(bn_branch2a.call(x));
        var shortcut = conv_branch1.call(a);
        var b = dropout_2b1.call(F.relu(bn_branch2b1.call(conv_branch2a.call(a))));
        b = dropout_2b2.call(F.relu(bn_branch2b2.call(conv_branch2b1.call(b))));
        b = conv_branch2b2.call(b);
        return b.PlusInPlace(shortcut).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// ResNet-38d ("wide ResNet-38", PSA/RRM variant) with the checkpoint key names of ALGORITHM.md §2
/// (conv1a, b2, b2_1, b2_2, b3.., b4..b4_5, b5, b5_1, b5_2, b6, b7, bn7), so <c>res38_cls.pth</c>-style state
/// dicts load unchanged (their <c>fc8.*</c> classifier is the caller's). Output stride 8; forward returns
/// F = ReLU(bn7(b7(...))) with 4096 channels (4096 / WidthDivisor).
/// </summary>
public sealed class ResNet38d : nn.Module<Tensor, Tensor>, IBackbone
{
    private readonly Conv2d conv1a;
    private readonly ResBlock38 b2, b2_1, b2_2, b3, b3_1, b3_2, b4, b4_1, b4_2, b4_3, b4_4, b4_5, b5, b5_1, b5_2;
    private readonly BotBlock38 b6, b7;
    private readonly BatchNorm2d bn7;

    public ResNet38Options Options { get; }
    public int OutChannels { get; }
    public int OutputStride => 8;
    public bool FrozenBatchNorm => Options.FrozenBatchNorm;

    public ResNet38d(ResNet38Options? options = null) : base("ResNet38d")
    {
        Options = options ?? new ResNet38Options();
        int d = Options.WidthDivisor;
        if (d < 1 || 64 % d != 0) throw new AsdtException($"ResNet-38 width divisor {d} must divide 64");
        int C(int c) => c / d;
        double eps = Options.BatchNormEps;
        conv1a = nn.Conv2d(3, C(64), 3, padding: 1, bias: false);
        b2 = new ResBlock38("b2", C(64), C(128), C(128), 2, 1, 1, eps);
        b2_1 = new ResBlock38("b2_1", C(128), C(128), C(128), 1, 1, 1, eps);
        b2_2 = new ResBlock38("b2_2", C(128), C(128), C(128), 1, 1, 1, eps);
        b3 = new ResBlock38("b3", C(128), C(256), C(256), 2, 1, 1, eps);
        b3_1 = new ResBlock38("b3_1", C(256), C(256), C(256), 1, 1, 1, eps);
        b3_2 = new ResBlock38("b3_2", C(256), C(256), C(256), 1, 1, 1, eps);
        b4 = new ResBlock38("b4", C(256), C(512), C(512), 2, 1, 1, eps);
        b4_1 = new ResBlock38("b4_1", C(512), C(512), C(512), 1, 1, 1, eps);
        b4_2 = new ResBlock38("b4_2", C(512), C(512), C(512), 1, 1, 1, eps);
        b4_3 = new ResBlock38("b4_3", C(512), C(512), C(512), 1, 1, 1, eps);
        b4_4 = new ResBlock38("b4_4", C(512), C(512), C(512), 1, 1, 1, eps);
        b4_5 = new ResBlock38("b4_5", C(512), C(512), C(512), 1, 1, 1, eps);
        b5 = new ResBlock38("b5", C(512), C(512), C(1024), 1, 1, 2, eps);
        b5_1 = new ResBlock38("b5_1", C(1024), C(512), C(1024), 1, 2, 2, eps);
        b5_2 = new ResBlock38("b5_2", C(1024), C(512), C(1024), 1, 2, 2, eps);
        b6 = new BotBlock38("b6", C(1024), C(2048), 4, Options.DropoutB6, eps);
        b7 = new BotBlock38("b7", C(2048), C(4096), 4, Options.DropoutB7, eps);
        bn7 = nn.BatchNorm2d(C(4096), eps);
        OutChannels = C(4096);
        RegisterComponents();
        foreach (var m in modules())
            if (m is Conv2d conv)
                nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        if (Options.FrozenBatchNorm) Models.FrozenBatchNorm.Apply(this);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = conv1a.call(x);
        foreach (var block in new nn.Module<Tensor, Tensor>[] { b2, b2_1, b2_2, b3, b3_1, b3_2, b4, b4_1, b4_2, b4_3, b4_4, b4_5, b5, b5_1, b5_2, b6, b7 })
            y = block.call(y);
        return F.relu(bn7.call(y)).MoveToOuterDisposeScope();
    }

    public override void train(bool on = true)
    {
        base.train(on);
        if (Options.FrozenBatchNorm) Models.FrozenBatchNorm.Apply(this);
    }

    public IEnumerable<Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad);
}
