using Asdt.Data;
using Asdt.Models;
using Asdt.Models.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Asdt.Stage2;

/// <summary>
/// Writes a trained DeepLab-v2 (ResNet backbone, ASPP, MSC) as a standard ONNX model (opset 17) with our own
/// <see cref="OnnxGraphBuilder"/>, so a .NET application can run it with ONNX Runtime or ML.NET without TorchSharp.
/// <para>
/// Graph: input <c>image</c> [N,3,H,W] float RGB 0..255 (any N, H, W) → the run's input normalisation (Gather for
/// BGR, Mul, Add) → for every MSC scale s ≠ 1 a Resize by scales [1,1,s,s] (linear, half_pixel, like
/// interpolate(scale_factor) with align_corners false) → backbone (Conv with BatchNorm folded in, Relu, Add, MaxPool)
/// → ASPP (four dilated Convs, Add) → each scale's logits Resized to the scale-1 logits' size (sizes from Shape
/// ops) → Max → Resize to H×W → output <c>logits</c> [N,C,H,W]. Every size comes from Shape ops, so the graph is
/// shape-agnostic. argmax over C gives the mask without CRF; softmax gives the probabilities the CRF takes.
/// </para>
/// <para>
/// PSPNet (<see cref="ExportPspNet"/>): the same normalisation → backbone (ResNet or Res2Net: Slice per scale group,
/// AveragePool for the stage blocks' pass-through group, Concat) → pyramid pooling, where each adaptive average pool to
/// b×b bins is two MatMuls with constant averaging matrices (rows, then columns: PyTorch's bins [⌊i·n/b⌋, ⌈(i+1)·n/b⌉)
/// exactly), the 1×1 conv + BatchNorm + ReLU, and a Resize back to the feature size → Concat → 3×3 fuse conv → 1×1
/// classifier → Resize to H×W. The pooling matrices depend on the feature size, so a PSPNet graph has a fixed
/// input size (any N); single-scale models only.
/// </para>
/// Supported: DeepLab-v2 and PSPNet on the torchvision-layout ResNets (incl. the ImageNet ResNet-18) and Res2Net.
/// ResNet-38d is refused with a message.
/// </summary>
public static class OnnxExporter
{
    public const int Opset = 17;

    /// <param name="inputSize">Required for PSPNet (its graph has this fixed input size); DeepLab-v2 graphs take any size and ignore it.</param>
    public static byte[] Export(MultiScaleNetwork network, ImageNormalization normalization, IReadOnlyList<string>? classNames = null,
        (int Height, int Width)? inputSize = null) => network.Base switch
    {
        DeepLabV2 deeplab => ExportDeepLab(network, deeplab, normalization, classNames),
        PspNet psp => ExportPspNet(network, psp, normalization, classNames, inputSize),
        _ => throw new AsdtException($"ONNX export supports DeepLab-v2 and PSPNet (this model is {network.Base.GetName()})"),
    };

    static string Describe(IReadOnlyList<string>? classNames) => classNames != null ? "; classes: " + string.Join(", ", classNames) : "";

    static byte[] ExportDeepLab(MultiScaleNetwork network, DeepLabV2 deeplab, ImageNormalization normalization, IReadOnlyList<string>? classNames)
    {
        var g = new OnnxGraphBuilder("asdt-stage2-deeplabv2");
        var e = new Emitter(g);
        string image = g.Input("image", OnnxGraphBuilder.FloatType, "N", 3L, "H", "W");
        string x = e.Normalize(image, normalization);
        var perScale = new List<string>();
        string? full = null;
        foreach (double s in network.Scales)
        {
            string input = s == 1.0 ? x
                : g.Node("Resize", [x, "", g.Initializer($"scales_{s:0.###}", [4], [1f, 1f, (float)s, (float)s])], $"input_x{s:0.###}",
                    ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));
            string logits = e.Aspp(deeplab.Aspp, e.Backbone(deeplab.Backbone, input));
            if (s == 1.0) { full = logits; perScale.Add(logits); }
            else perScale.Add(e.ResizeLike(logits, full!, $"logits_x{s:0.###}_resized"));
        }
        string fused = perScale.Count == 1 ? perScale[0] : g.Node("Max", perScale, "logits_max");
        string output = g.Node("Resize", [fused, "", "", e.SizesOf(fused, image)], "logits", ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));
        g.Output(output, OnnxGraphBuilder.FloatType, "N", (long)deeplab.NumClasses, "H", "W");
        string doc = "Asdt stage-2 DeepLab-v2: input RGB 0..255 NCHW, output class logits at the input size" + Describe(classNames);
        return g.ToModel(Opset, "asdt", typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0", doc);
    }

    static byte[] ExportPspNet(MultiScaleNetwork network, PspNet psp, ImageNormalization normalization, IReadOnlyList<string>? classNames,
        (int Height, int Width)? inputSize)
    {
        if (inputSize is not { } size || size.Height < 1 || size.Width < 1)
            throw new AsdtException("PSPNet ONNX export needs a fixed input size (--input-size HxW): its adaptive pooling bins depend on the feature map size");
        if (network.Scales.Count != 1 || network.Scales[0] != 1.0)
            throw new AsdtException($"PSPNet ONNX export supports single-scale models (this one has scales [{string.Join(", ", network.Scales)}]); use --single-scale");
        long fh, fw;
        using (no_grad())
        using (NewDisposeScope())
        {
            var device = psp.parameters().First().device;
            var features = psp.Backbone.call(zeros(1, 3, size.Height, size.Width, device: device));
            (fh, fw) = (features.shape[2], features.shape[3]);
        }
        var g = new OnnxGraphBuilder("asdt-stage2-pspnet");
        var e = new Emitter(g);
        string image = g.Input("image", OnnxGraphBuilder.FloatType, "N", 3L, (long)size.Height, (long)size.Width);
        string f = e.Backbone(psp.Backbone, e.Normalize(image, normalization));
        string y = e.PyramidPooling(psp.Pyramid, f, fh, fw);
        y = e.Conv(y, psp.Fuse.weight!, psp.Fuse.bias, psp.FuseBn, 1, 1, "fuse", relu: true);
        string logits = e.Conv(y, psp.Classifier.weight!, psp.Classifier.bias, null, 1, 1, "cls", relu: false);
        string output = g.Node("Resize", [logits, "", "", e.SizesOf(logits, image)], "logits", ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));
        g.Output(output, OnnxGraphBuilder.FloatType, "N", (long)psp.NumClasses, (long)size.Height, (long)size.Width);
        string doc = $"Asdt stage-2 PSPNet: input RGB 0..255 NCHW at {size.Height}x{size.Width}, output class logits at the input size" + Describe(classNames);
        return g.ToModel(Opset, "asdt", typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0", doc);
    }

    public static void Write(string path, MultiScaleNetwork network, ImageNormalization normalization, IReadOnlyList<string>? classNames = null,
        (int Height, int Width)? inputSize = null)
    {
        byte[] bytes;
        using (no_grad()) bytes = Export(network, normalization, classNames, inputSize);
        IO.AtomicFile.WriteAllBytes(path, bytes);
    }

    sealed class Emitter(OnnxGraphBuilder g)
    {
        // Initializers of each convolution, shared by the MSC scales' copies of the network.
        readonly Dictionary<string, (string Weight, string Bias)> parameters = new();

        public string Normalize(string image, ImageNormalization n)
        {
            string x = image;
            if (n.Bgr) x = g.Node("Gather", [x, g.Int64Initializer("bgr_order", [3], [2, 1, 0])], "image_bgr", ("axis", 1L));
            var a = new float[3]; var b = new float[3];
            for (int c = 0; c < 3; c++) { a[c] = n.Scale / n.Std[c]; b[c] = -n.Mean[c] / n.Std[c]; }
            x = g.Node("Mul", [x, g.Initializer("norm_scale", [1, 3, 1, 1], a)], "image_scaled");
            return g.Node("Add", [x, g.Initializer("norm_shift", [1, 3, 1, 1], b)], "image_normalized");
        }

        /// <summary>Sizes [N, C of <paramref name="channelsOf"/>, H, W of <paramref name="spatialOf"/>] for Resize.</summary>
        public string SizesOf(string channelsOf, string spatialOf)
        {
            string nc = g.Node("Shape", [channelsOf], channelsOf + "_nc", ("start", 0L), ("end", 2L));
            string hw = g.Node("Shape", [spatialOf], spatialOf + "_hw", ("start", 2L));
            return g.Node("Concat", [nc, hw], channelsOf + "_sizes", ("axis", 0L));
        }

        public string ResizeLike(string x, string like, string name) =>
            g.Node("Resize", [x, "", "", SizesOf(x, like)], name, ("mode", "linear"), ("coordinate_transformation_mode", "half_pixel"));

        static float[] Data(Tensor t) => t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();

        /// <summary>Conv (weight [O,I,k,k], optional bias) with a following BatchNorm folded in when given.</summary>
        public string Conv(string x, Tensor weight, Tensor? bias, BatchNorm2d? bn, int stride, int dilation, string name, bool relu)
        {
            long o = weight.shape[0], i = weight.shape[1], k = weight.shape[2];
            if (!parameters.TryGetValue(name, out var init))
            {
                var (w, b) = Fold(weight, bias, bn);
                init = (g.Initializer($"{name}.weight", [o, i, k, k], w), g.Initializer($"{name}.bias", [o], b));
                parameters[name] = init;
            }
            long pad = dilation * (k - 1) / 2;
            string y = g.Node("Conv", [x, init.Weight, init.Bias], name,
                ("kernel_shape", new[] { k, k }), ("strides", new long[] { stride, stride }), ("dilations", new long[] { dilation, dilation }),
                ("pads", new[] { pad, pad, pad, pad }), ("group", 1L));
            return relu ? g.Node("Relu", [y], name + "_relu") : y;
        }

        /// <summary>W·γ/√(σ²+ε) and (b − μ)·γ/√(σ²+ε) + β, computed in double.</summary>
        (float[] W, float[] B) Fold(Tensor weight, Tensor? bias, BatchNorm2d? bn)
        {
            var w = Data(weight);
            long o = weight.shape[0], i = weight.shape[1], k = weight.shape[2];
            var b = bias is null ? new float[o] : Data(bias);
            if (bn != null)
            {
                var gamma = Data(bn.weight!); var beta = Data(bn.bias!);
                var mean = Data(bn.running_mean!); var variance = Data(bn.running_var!);
                long per = i * k * k;
                for (long c = 0; c < o; c++)
                {
                    double scale = gamma[c] / Math.Sqrt(variance[c] + bn.eps);
                    for (long j = 0; j < per; j++) w[c * per + j] = (float)(w[c * per + j] * scale);
                    b[c] = (float)((b[c] - mean[c]) * scale + beta[c]);
                }
            }
            return (w, b);
        }

        static nn.Module Child(nn.Module m, string name) =>
            m.named_children().FirstOrDefault(c => c.name == name).module ?? throw new InvalidOperationException($"{m.GetName()} has no child '{name}'");

        static nn.Module? OptionalChild(nn.Module m, string name) => m.named_children().FirstOrDefault(c => c.name == name).module;

        string PaddedConv(string x, nn.Module parent, string conv, string bn, string name, bool relu)
        {
            var c = (PaddedConv2d)Child(parent, conv);
            return Conv(x, c.Weight, c.Bias, (BatchNorm2d)Child(parent, bn), c.Stride, c.Dilation, name, relu);
        }

        public string ResNet(ResNet net, string x)
        {
            x = PaddedConv(x, net, "conv1", "bn1", "backbone.conv1", relu: true);
            var pool = (PaddedMaxPool2d)Child(net, "maxpool");
            long p = (pool.KernelSize - 1) / 2;
            x = g.Node("MaxPool", [x], "backbone.maxpool", ("kernel_shape", new long[] { pool.KernelSize, pool.KernelSize }),
                ("strides", new long[] { pool.Stride, pool.Stride }), ("pads", new[] { p, p, p, p }));
            for (int l = 1; l <= 4; l++)
            {
                var layer = Child(net, $"layer{l}");
                foreach (var (bname, block) in layer.named_children())
                {
                    string prefix = $"backbone.layer{l}.{bname}";
                    string y;
                    if (block is BasicBlock)
                    {
                        y = PaddedConv(x, block, "conv1", "bn1", prefix + ".conv1", relu: true);
                        y = PaddedConv(y, block, "conv2", "bn2", prefix + ".conv2", relu: false);
                    }
                    else if (block is Bottleneck)
                    {
                        y = PaddedConv(x, block, "conv1", "bn1", prefix + ".conv1", relu: true);
                        y = PaddedConv(y, block, "conv2", "bn2", prefix + ".conv2", relu: true);
                        y = PaddedConv(y, block, "conv3", "bn3", prefix + ".conv3", relu: false);
                    }
                    else throw new AsdtException($"ONNX export: unsupported block {block.GetName()}");
                    string shortcut = OptionalChild(block, "downsample") is nn.Module ds
                        ? PaddedConv(x, ds, "0", "1", prefix + ".downsample", relu: false)
                        : x;
                    x = g.Node("Relu", [g.Node("Add", [y, shortcut], prefix + "_add")], prefix + "_out");
                }
            }
            return x;
        }

        public string Backbone(nn.Module backbone, string x) => backbone switch
        {
            ResNet resnet => ResNet(resnet, x),
            Res2Net res2net => Res2Net(res2net, x),
            _ => throw new AsdtException($"ONNX export supports the torchvision-layout ResNet and Res2Net backbones (this one is {backbone.GetName()})"),
        };

        /// <summary>Channels [begin, end) of an NCHW tensor.</summary>
        string Channels(string x, long begin, long end, string name) =>
            g.Node("Slice", [x, g.Int64Initializer(name + "_starts", [1], [begin]), g.Int64Initializer(name + "_ends", [1], [end]),
                g.Int64Initializer(name + "_axes", [1], [1])], name);

        public string Res2Net(Res2Net net, string x)
        {
            x = Conv(x, net.Conv1.weight!, null, net.Bn1, 2, 1, "backbone.conv1", relu: true);
            x = g.Node("MaxPool", [x], "backbone.maxpool", ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 }));
            int index = 0;
            foreach (var block in net.Blocks)
            {
                string prefix = $"backbone.block{index++}";
                string y = Conv(x, block.Conv1.weight!, null, block.Bn1, 1, 1, prefix + ".conv1", relu: true);
                int n = Math.Max(1, block.Scale - 1);
                var parts = new List<string>();
                string? sp = null;
                for (int i = 0; i < n; i++)
                {
                    string group = Channels(y, i * block.Width, (i + 1) * block.Width, $"{prefix}.split{i}");
                    sp = i == 0 || block.IsStageBlock ? group : g.Node("Add", [sp!, group], $"{prefix}.sum{i}");
                    sp = Conv(sp, block.Convs[i].weight!, null, block.Bns[i], block.Stride, block.Dilation, $"{prefix}.convs.{i}", relu: true);
                    parts.Add(sp);
                }
                if (block.Scale != 1)
                {
                    string last = Channels(y, n * block.Width, (n + 1) * block.Width, $"{prefix}.split{n}");
                    parts.Add(block.IsStageBlock
                        ? g.Node("AveragePool", [last], prefix + ".pool", ("kernel_shape", new long[] { 3, 3 }),
                            ("strides", new long[] { block.Stride, block.Stride }), ("pads", new long[] { 1, 1, 1, 1 }), ("count_include_pad", 1L))
                        : last);
                }
                string joined = parts.Count == 1 ? parts[0] : g.Node("Concat", parts, prefix + ".cat", ("axis", 1L));
                string z = Conv(joined, block.Conv3.weight!, null, block.Bn3, 1, 1, prefix + ".conv3", relu: false);
                string shortcut = block.Downsample is { } ds ? Conv(x, ds.Conv.weight!, null, ds.Bn, block.Stride, 1, prefix + ".downsample", relu: false) : x;
                x = g.Node("Relu", [g.Node("Add", [z, shortcut], prefix + "_add")], prefix + "_out");
            }
            return x;
        }

        /// <summary>
        /// Rows of PyTorch's adaptive average pooling of n cells to b bins: bin i averages cells [⌊i·n/b⌋, ⌈(i+1)·n/b⌉).
        /// </summary>
        public static float[] AdaptivePoolMatrix(int bins, long n)
        {
            var m = new float[bins * n];
            for (int i = 0; i < bins; i++)
            {
                long start = i * n / bins, end = ((i + 1) * n + bins - 1) / bins;
                for (long j = start; j < end; j++) m[i * n + j] = 1f / (end - start);
            }
            return m;
        }

        /// <summary>Each branch: adaptive pooling as MatMul(rows, x) then MatMul(·, columnsᵀ), 1×1 conv + BN + ReLU, Resize to the feature size.</summary>
        public string PyramidPooling(PyramidPooling ppm, string f, long fh, long fw)
        {
            var parts = new List<string> { f };
            int index = 0;
            foreach (var branch in ppm.Stages)
            {
                string name = $"ppm.{index++}";
                int b = branch.Bin;
                var columns = AdaptivePoolMatrix(b, fw);
                var columnsT = new float[fw * b];
                for (int i = 0; i < b; i++) for (long j = 0; j < fw; j++) columnsT[j * b + i] = columns[i * fw + j];
                string rows = g.Initializer(name + ".pool_rows", [b, fh], AdaptivePoolMatrix(b, fh));
                string cols = g.Initializer(name + ".pool_columns", [fw, b], columnsT);
                string pooled = g.Node("MatMul", [g.Node("MatMul", [rows, f], name + ".pool_h"), cols], name + ".pool");
                string y = Conv(pooled, branch.Conv.weight!, branch.Conv.bias, branch.Bn, 1, 1, name + ".conv", relu: true);
                parts.Add(ResizeLike(y, f, name + ".up"));
            }
            return g.Node("Concat", parts, "ppm_cat", ("axis", 1L));
        }

        public string Aspp(AsppV2 aspp, string x)
        {
            string? sum = null;
            for (int i = 0; i < aspp.Branches.Count; i++)
            {
                var c = aspp.Branches[i];
                string y = Conv(x, c.weight!, c.bias, null, 1, aspp.Dilations[i], $"aspp.c{i}", relu: false);
                sum = sum is null ? y : g.Node("Add", [sum, y], "aspp_sum");
            }
            return sum!;
        }
    }
}
