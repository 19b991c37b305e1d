using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Models;

/// <summary>
/// Options of a torchvision-layout ResNet. <see cref="OutputStride"/> 32 is the classification network;
/// 16 replaces the stride of layer4 by dilation 2, 8 also the stride of layer3 (dilations 2 and 4),
/// as DeepLab / torchvision's <c>replace_stride_with_dilation</c>.
/// </summary>
public sealed record ResNetOptions
{
    public int OutputStride { get; init; } = 32;
    /// <summary>BatchNorm always in eval mode and excluded from training (see <see cref="FrozenBatchNorm"/>).</summary>
    public bool FrozenBatchNorm { get; init; }
    /// <summary>Adds the classifier <c>fc</c> (Linear(C, NumClasses)) when set.</summary>
    public int? NumClasses { get; init; }
    public PaddingMode Padding { get; init; } = PaddingMode.Symmetric;
    /// <summary>Channels of the stem and layer1 (64 in torchvision); smaller values make tiny test networks with the same keys.</summary>
    public int BaseWidth { get; init; } = 64;
    public double BatchNormEps { get; init; } = 1e-5;
}

public enum ResNetBlock { Basic, Bottleneck }

/// <summary>The shortcut of a residual block, shared by <see cref="BasicBlock"/> and <see cref="Bottleneck"/>: identity, or a
/// 1×1 projection + BatchNorm (state-dict keys <c>downsample.0</c>/<c>.1</c>) when the stride or the width changes.</summary>
static class ResidualShortcut
{
    public static Sequential? Projection(int inplanes, int outplanes, int stride, PaddingMode mode, double eps) =>
        stride != 1 || inplanes != outplanes
            ? nn.Sequential(new PaddedConv2d("0", inplanes, outplanes, 1, stride, 1, mode), nn.BatchNorm2d(outplanes, eps))
            : null;

    /// <summary>relu(y + shortcut(x)), adding in place into y.</summary>
    public static Tensor AddAndRelu(Tensor y, Tensor x, Sequential? projection) =>
        F.relu(y.PlusInPlace(projection is null ? x : projection.call(x)));
}

/// <summary>torchvision's BasicBlock (ResNet-18/34): two 3×3 convolutions and an identity or 1×1 projection shortcut.</summary>
public sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    public const int Expansion = 1;
    private readonly PaddedConv2d conv1, conv2;
    private readonly BatchNorm2d bn1, bn2;
    private readonly Sequential? downsample;

    /// <param name="firstDilation">dilation of conv1 (the layer that carries the stride); <paramref name="dilation"/> for conv2.</param>
    public BasicBlock(string name, int inplanes, int planes, int stride, int firstDilation, int dilation,
        PaddingMode mode, double eps) : base(name)
    {
        conv1 = new PaddedConv2d("conv1", inplanes, planes, 3, stride, firstDilation, mode);
        bn1 = nn.BatchNorm2d(planes, eps);
        conv2 = new PaddedConv2d("conv2", planes, planes, 3, 1, dilation, mode);
        bn2 = nn.BatchNorm2d(planes, eps);
        downsample = ResidualShortcut.Projection(inplanes, planes * Expansion, stride, mode, eps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = F.relu(bn1.call(conv1.call(x)));
        y = bn2.call(conv2.call(y));
        return ResidualShortcut.AddAndRelu(y, x, downsample).MoveToOuterDisposeScope();
    }
}

/// <summary>torchvision's Bottleneck (ResNet-50/101, "v1.5": the stride sits on the 3×3 convolution).</summary>
public sealed class Bottleneck : nn.Module<Tensor, Tensor>
{
    public const int Expansion = 4;
    private readonly PaddedConv2d conv1, conv2, conv3;
    private readonly BatchNorm2d bn1, bn2, bn3;
    private readonly Sequential? downsample;

    /// <param name="firstDilation">dilation of conv2 (the 3×3 that carries the stride); later blocks of a layer pass the layer's dilation.</param>
    public Bottleneck(string name, int inplanes, int planes, int stride, int firstDilation, int dilation,
        PaddingMode mode, double eps) : base(name)
    {
        _ = dilation; // a bottleneck has one 3×3 only
        conv1 = new PaddedConv2d("conv1", inplanes, planes, 1, 1, 1, mode);
        bn1 = nn.BatchNorm2d(planes, eps);
        conv2 = new PaddedConv2d("conv2", planes, planes, 3, stride, firstDilation, mode);
        bn2 = nn.BatchNorm2d(planes, eps);
        conv3 = new PaddedConv2d("conv3", planes, planes * Expansion, 1, 1, 1, mode);
        bn3 = nn.BatchNorm2d(planes * Expansion, eps);
        downsample = ResidualShortcut.Projection(inplanes, planes * Expansion, stride, mode, eps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = F.relu(bn1.call(conv1.call(x)));
        y = F.relu(bn2.call(conv2.call(y)));
        y = bn3.call(conv3.call(y));
        return ResidualShortcut.AddAndRelu(y, x, downsample).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// ResNet-18/34/50/101 in torchvision's layout and state-dict key names (conv1, bn1, layer1..4 with
/// downsample.0/.1, optional fc). Forward returns the last feature map (N, OutChannels, ⌈H/os⌉, ⌈W/os⌉).
/// </summary>
public sealed class ResNet : nn.Module<Tensor, Tensor>, IBackbone
{
    private readonly PaddedConv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly PaddedMaxPool2d maxpool;
    private readonly Sequential layer1, layer2, layer3, layer4;
    private readonly Linear? fc;

    /// <summary>Number of weighted layers (convolutions on the main path + fc): 18, 34, 50, 101, or e.g. 20 for [2,2,2,3].</summary>
    public int Depth { get; }
    public ResNetBlock Block { get; }
    public IReadOnlyList<int> BlocksPerStage { get; }

    static int DepthOf(ResNetBlock block, int[] blocks) => 2 + (block == ResNetBlock.Basic ? 2 : 3) * blocks.Sum();
    public ResNetOptions Options { get; }
    public int OutChannels { get; }
    public int OutputStride => Options.OutputStride;
    public bool FrozenBatchNorm => Options.FrozenBatchNorm;
    /// <summary>Dilation of layer1..layer4 (all 1 at output stride 32).</summary>
    public IReadOnlyList<int> LayerDilations { get; }

    public static readonly IReadOnlyList<int> SupportedDepths = [18, 34, 50, 101];

    /// <summary>torchvision's block type and blocks per stage for a depth.</summary>
    public static (ResNetBlock Block, int[] BlocksPerStage) Layout(int depth) => depth switch
    {
        18 => (ResNetBlock.Basic, [2, 2, 2, 2]),
        34 => (ResNetBlock.Basic, [3, 4, 6, 3]),
        50 => (ResNetBlock.Bottleneck, [3, 4, 6, 3]),
        101 => (ResNetBlock.Bottleneck, [3, 4, 23, 3]),
        _ => throw new AsdtException($"ResNet depth {depth} is not supported (use 18, 34, 50 or 101)"),
    };

    /// <summary>A torchvision ResNet-18/34/50/101.</summary>
    public static ResNet Create(int depth, ResNetOptions? options = null)
    {
        var (block, blocks) = Layout(depth);
        return new ResNet(block, blocks, options ?? new ResNetOptions());
    }

    /// <summary>Any four-stage layout (e.g. the [2,2,2,3] BasicBlock network of the ONNX "ResNet18").</summary>
    public ResNet(ResNetBlock block, int[] blocksPerStage, ResNetOptions options)
        : base($"ResNet{DepthOf(block, blocksPerStage)}")
    {
        if (blocksPerStage.Length != 4 || blocksPerStage.Any(b => b < 1))
            throw new AsdtException($"ResNet needs four stages of at least one block, got [{string.Join(", ", blocksPerStage)}]");
        bool isBottleneck = block == ResNetBlock.Bottleneck;
        int depth = DepthOf(block, blocksPerStage);
        var blocks = blocksPerStage;
        Block = block; BlocksPerStage = blocksPerStage.ToArray();
        bool[] replace = options.OutputStride switch
        {
            32 => [false, false, false],
            16 => [false, false, true],
            8 => [false, true, true],
            _ => throw new AsdtException($"ResNet output stride {options.OutputStride} is not supported (use 8, 16 or 32)"),
        };
        if (options.BaseWidth < 1) throw new AsdtException($"ResNet base width {options.BaseWidth} must be positive");
        Depth = depth; Options = options;
        var mode = options.Padding;
        double eps = options.BatchNormEps;
        int w = options.BaseWidth;
        int expansion = isBottleneck ? Bottleneck.Expansion : BasicBlock.Expansion;

        conv1 = new PaddedConv2d("conv1", 3, w, 7, 2, 1, mode);
        bn1 = nn.BatchNorm2d(w, eps);
        maxpool = new PaddedMaxPool2d("maxpool", 3, 2, mode);

        int inplanes = w, dilation = 1;
        var dilations = new List<int>();
        Sequential MakeLayer(int planes, int count, int stride, bool dilate)
        {
            int previous = dilation;
            if (dilate) { dilation *= stride; stride = 1; }
            var list = new List<nn.Module<Tensor, Tensor>>();
            for (int i = 0; i < count; i++)
            {
                int s = i == 0 ? stride : 1;
                int first = i == 0 ? previous : dilation;
                list.Add(isBottleneck
                    ? new Bottleneck(i.ToString(), inplanes, planes, s, first, dilation, mode, eps)
                    : new BasicBlock(i.ToString(), inplanes, planes, s, first, dilation, mode, eps));
                inplanes = planes * expansion;
            }
            dilations.Add(dilation);
            return nn.Sequential(list.ToArray());
        }
        layer1 = MakeLayer(w, blocks[0], 1, false);
        layer2 = MakeLayer(2 * w, blocks[1], 2, replace[0]);
        layer3 = MakeLayer(4 * w, blocks[2], 2, replace[1]);
        layer4 = MakeLayer(8 * w, blocks[3], 2, replace[2]);
        LayerDilations = dilations;
        OutChannels = inplanes;
        if (options.NumClasses is int k) fc = nn.Linear(OutChannels, k);
        RegisterComponents();
        if (options.FrozenBatchNorm) Models.FrozenBatchNorm.Apply(this);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = maxpool.call(F.relu(bn1.call(conv1.call(x))));
        y = layer4.call(layer3.call(layer2.call(layer1.call(y))));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Global-average-pooled features (N, OutChannels): the ImageNet ResNet-18 ONNX output at 224×224.</summary>
    public Tensor PooledFeatures(Tensor x)
    {
        using var features = forward(x);
        return features.mean([2L, 3L]);
    }

    /// <summary>Class scores through <c>fc</c> (only when built with <see cref="ResNetOptions.NumClasses"/>).</summary>
    public Tensor Logits(Tensor x)
    {
        if (fc is null) throw new InvalidOperationException("this ResNet has no fc layer (ResNetOptions.NumClasses not set)");
        using var pooled = PooledFeatures(x);
        return fc.call(pooled);
    }

    public override void train(bool on = true)
    {
        base.train(on);
        if (Options.FrozenBatchNorm) Models.FrozenBatchNorm.Apply(this);
    }

    public IEnumerable<Parameter> TrainableParameters() => parameters().Where(p => p.requires_grad);

    /// <summary>The convolutions in graph order (stem, then per block conv1.., downsample) with their state-dict prefixes.</summary>
    public IEnumerable<(string Name, PaddedConv2d Conv)> NamedConvolutions() =>
        named_modules().Where(m => m.module is PaddedConv2d).Select(m => (m.name, (PaddedConv2d)m.module));
}
