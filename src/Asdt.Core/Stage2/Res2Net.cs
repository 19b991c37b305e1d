using Asdt.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Stage2;

/// <summary>
/// The Res2Net bottleneck (Gao et al., "Res2Net", TPAMI 2019), written from the paper: a 1×1 conv to
/// <c>width·scale</c> channels, split into <c>scale</c> groups x₁…x_s; y₁ = K₁(x₁), yᵢ = Kᵢ(xᵢ + yᵢ₋₁) for
/// 1 &lt; i &lt; s (3×3 conv + BN + ReLU each), the last group passed through; concatenated and fused by a 1×1 conv.
/// The first block of a stage ("stage" type) does not add yᵢ₋₁ and replaces the pass-through group by a 3×3
/// average pool with the block's stride. Key names follow the official code: conv1, bn1, convs.i, bns.i, conv3,
/// bn3, downsample.0/.1.
/// </summary>
public sealed class Res2NetBottleneck : nn.Module<Tensor, Tensor>
{
    public const int Expansion = 4;
    readonly Conv2d conv1, conv3;
    readonly BatchNorm2d bn1, bn3;
    readonly ModuleList<Conv2d> convs;
    readonly ModuleList<BatchNorm2d> bns;
    readonly Sequential? downsample;
    readonly int width, scale, stride, dilation;
    readonly bool stage;

    // Read by the ONNX exporter.
    public Conv2d Conv1 => conv1;
    public BatchNorm2d Bn1 => bn1;
    public IReadOnlyList<Conv2d> Convs => convs.ToList();
    public IReadOnlyList<BatchNorm2d> Bns => bns.ToList();
    public Conv2d Conv3 => conv3;
    public BatchNorm2d Bn3 => bn3;
    /// <summary>The 1×1 conv and BatchNorm of the projection shortcut, or null.</summary>
    public (Conv2d Conv, BatchNorm2d Bn)? Downsample => downsample is null ? null : ((Conv2d)downsample[0], (BatchNorm2d)downsample[1]);
    public int Width => width;
    public int Scale => scale;
    public int Stride => stride;
    public int Dilation => dilation;
    public bool IsStageBlock => stage;

    public Res2NetBottleneck(string name, int inplanes, int planes, int stride, int dilation, bool stageBlock, int baseWidth, int scale, double eps)
        : base(name)
    {
        width = (int)Math.Floor(planes * (baseWidth / 64.0));
        this.scale = scale; this.stride = stride; this.dilation = dilation; stage = stageBlock;
        conv1 = nn.Conv2d(inplanes, width * scale, 1, bias: false);
        bn1 = nn.BatchNorm2d(width * scale, eps);
        var cs = new List<Conv2d>(); var bs = new List<BatchNorm2d>();
        for (int i = 0; i < Math.Max(1, scale - 1); i++)
        {
            cs.Add(nn.Conv2d(width, width, 3, stride: stride, padding: dilation, dilation: dilation, bias: false));
            bs.Add(nn.BatchNorm2d(width, eps));
        }
        convs = nn.ModuleList(cs.ToArray());
        bns = nn.ModuleList(bs.ToArray());
        conv3 = nn.Conv2d(width * scale, planes * Expansion, 1, bias: false);
        bn3 = nn.BatchNorm2d(planes * Expansion, eps);
        if (stride != 1 || inplanes != planes * Expansion)
            downsample = nn.Sequential(nn.Conv2d(inplanes, planes * Expansion, 1, stride: stride, bias: false), nn.BatchNorm2d(planes * Expansion, eps));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = F.relu(bn1.call(BlockAlignedConv.Forward(conv1, x)));
        var groups = y.split(width, 1);
        int n = Math.Max(1, scale - 1);
        var parts = new List<Tensor>();
        Tensor? sp = null;
        for (int i = 0; i < n; i++)
        {
            sp = i == 0 || stage ? groups[i] : sp!.Plus(groups[i]);
            sp = F.relu(bns[i].call(BlockAlignedConv.Forward(convs[i], sp)));
            parts.Add(sp);
        }
        if (scale != 1)
            parts.Add(stage ? F.avg_pool2d(groups[n], 3, stride, 1) : groups[n]);
        var z = bn3.call(BlockAlignedConv.Forward(conv3, cat(parts, 1)));
        var shortcut = downsample is null ? x : downsample.call(x);
        return F.relu(z.PlusInPlace(shortcut)).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Res2Net-50/101 (<c>res2net101_26w_4s</c>: blocks 3, 4, 23, 3, base width 26, scale 4) with the official
/// state-dict keys (conv1, bn1, layer1..4, fc ignored), dilated to output stride 8 or 16 like torchvision's
/// replace_stride_with_dilation. Forward returns the layer4 features (2048 channels).
/// </summary>
public sealed class Res2Net : nn.Module<Tensor, Tensor>, IBackbone
{
    readonly Conv2d conv1;
    readonly BatchNorm2d bn1;
    readonly Sequential layer1, layer2, layer3, layer4;

    public int OutChannels { get; }
    public int OutputStride { get; }
    public bool FrozenBatchNorm { get; }

    // Read by the ONNX exporter.
    public Conv2d Conv1 => conv1;
    public BatchNorm2d Bn1 => bn1;
    public IReadOnlyList<Res2NetBottleneck> Blocks =>
        new[] { layer1, layer2, layer3, layer4 }.SelectMany(l => l.children().Cast<Res2NetBottleneck>()).ToList();

    public static Res2Net Create101(int outputStride = 8, bool frozenBatchNorm = true, int baseWidth = 26, int scale = 4, int stemWidth = 64) =>
        new([3, 4, 23, 3], outputStride, frozenBatchNorm, baseWidth, scale, stemWidth);

    /// <param name="stemWidth">64 in Res2Net; smaller values give tiny networks with the same keys (tests).</param>
    public Res2Net(int[] layers, int outputStride = 8, bool frozenBatchNorm = true, int baseWidth = 26, int scale = 4, int stemWidth = 64, double eps = 1e-5)
        : base("Res2Net")
    {
        bool[] dilate = outputStride switch
        {
            32 => [false, false, false], 16 => [false, false, true], 8 => [false, true, true],
            _ => throw new AsdtException($"Res2Net output stride {outputStride} is not supported (use 8, 16 or 32)"),
        };
        OutputStride = outputStride; FrozenBatchNorm = frozenBatchNorm;
        int w = stemWidth;
        conv1 = nn.Conv2d(3, w, 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(w, eps);
        int inplanes = w, dilation = 1;
        Sequential Make(int planes, int blocks, int stride, bool dil)
        {
            int previous = dilation;
            if (dil) { dilation *= stride; stride = 1; }
            var list = new List<nn.Module<Tensor, Tensor>>();
            for (int i = 0; i < blocks; i++)
            {
                list.Add(new Res2NetBottleneck(i.ToString(), inplanes, planes, i == 0 ? stride : 1, i == 0 ? previous : dilation,
                    stageBlock: i == 0, baseWidth, scale, eps));
                inplanes = planes * Res2NetBottleneck.Expansion;
            }
            return nn.Sequential(list.ToArray());
        }
        layer1 = Make(w, layers[0], 1, false);
        layer2 = Make(2 * w, layers[1], 2, dilate[0]);
        layer3 = Make(4 * w, layers[2], 2, dilate[1]);
        layer4 = Make(8 * w, layers[3], 2, dilate[2]);
        OutChannels = inplanes;
        RegisterComponents();
        foreach (var m in modules())
            if (m is Conv2d c) nn.init.kaiming_normal_(c.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        if (frozenBatchNorm) Models.FrozenBatchNorm.Apply(this);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = F.max_pool2d(F.relu(bn1.call(conv1.call(x))), 3, 2, 1);
        return layer4.call(layer3.call(layer2.call(layer1.call(y)))).MoveToOuterDisposeScope();
    }

    public override void train(bool on = true)
    {
        base.train(on);
        if (FrozenBatchNorm) Models.FrozenBatchNorm.Apply(this);
    }

    public IEnumerable<Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad);
}
