using Asdt.Models.Weights;
using static TorchSharp.torch;

namespace Asdt.Models.Onnx;

/// <summary>
/// Builds our torchvision-layout <see cref="ResNet"/> from an ONNX graph of a four-stage BasicBlock ResNet by
/// walking its topology from the graph input: stem Conv→BatchNormalization→Relu→MaxPool, then residual blocks
/// Conv→BN→Relu→Conv→BN→Add(shortcut)→Relu, where the shortcut is the block input or a Conv→BN projection.
/// A projection block starts a new stage; the block counts per stage give the layout (the NuGet "ResNet18" is
/// [2, 2, 2, 3], i.e. 22 convolutions, not torchvision's [2, 2, 2, 2]). The position of each node in
/// that walk decides the state-dict key its weights go to (ONNX names are never interpreted).
/// Every Conv/MaxPool's kernel, strides, dilations, group and <c>pads</c> are checked: the pads must equal one
/// <see cref="PaddingMode"/> at the node's actual input size (CNTK's export equals <see cref="PaddingMode.SameLower"/>).
/// </summary>
public static class OnnxResNetImporter
{
    /// <summary>What the walk found, for reports and tests.</summary>
    public sealed record ImportInfo(int Depth, int[] BlocksPerStage, PaddingMode Padding, double BatchNormEps,
        int InputHeight, int InputWidth, int ConvCount, int BatchNormCount, int AddCount, string Producer);

    sealed record ConvUse(OnnxNode Node, long InH, long InW);

    public static (ResNet Network, ImportInfo Info) Import(string onnxPath, ResNetOptions? options = null)
    {
        var model = OnnxReader.Read(onnxPath);
        return Import(model, onnxPath, options);
    }

    public static (ResNet Network, ImportInfo Info) Import(OnnxModel model, string path, ResNetOptions? options = null)
    {
        var g = model.Graph;
        AsdtException Bad(string problem) => new(path, "unsupported ResNet graph: " + problem);

        var inputs = g.Inputs.Where(i => !g.Initializers.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1) throw Bad($"expected one image input, found {inputs.Count}");
        var shape = inputs[0].Shape;
        if (shape is not { Length: 4 } || shape[1] != 3 || shape[2] <= 0 || shape[3] <= 0)
            throw Bad($"input '{inputs[0].Name}' is not N×3×H×W with a fixed size");

        var consumers = new Dictionary<string, List<OnnxNode>>();
        foreach (var n in g.Nodes)
            foreach (var i in n.Inputs)
                (consumers.TryGetValue(i, out var l) ? l : consumers[i] = new()).Add(n);
        List<OnnxNode> Consumers(string v) => consumers.TryGetValue(v, out var l) ? l : [];
        OnnxNode Only(string value, string op)
        {
            var c = Consumers(value);
            if (c.Count != 1 || c[0].OpType != op)
                throw Bad($"after '{value}' expected one {op}, found [{string.Join(", ", c.Select(n => n.OpType))}]");
            return c[0];
        }
        OnnxTensor Init(OnnxNode n, int index)
        {
            if (n.Inputs.Count <= index || !g.Initializers.TryGetValue(n.Inputs[index], out var t))
                throw Bad($"{n} input {index} is not a constant initializer");
            return t;
        }

        // Spatial size of every value along the walk; the pads of each layer are checked at that size.
        var size = new Dictionary<string, (long H, long W)> { [inputs[0].Name] = (shape[2], shape[3]) };
        var convs = new List<(string Key, ConvUse Use)>();
        var bns = new List<(string Key, OnnxNode Node)>();
        var pads = new List<(OnnxNode Node, long InH, long InW, int K, int S, int D)>();
        int addCount = 0;

        string Conv(string input, string key)
        {
            var n = Only(input, "Conv");
            var w = Init(n, 1);
            if (n.Inputs.Count > 2 && n.Inputs[2] != "") throw Bad($"{n} has a bias (not expected before BatchNormalization)");
            if (w.Dims.Length != 4 || w.Dims[2] != w.Dims[3]) throw Bad($"{n} weight {w.ShapeString} is not a square 2-D kernel");
            int k = (int)w.Dims[2];
            var ks = n.Ints("kernel_shape");
            if (ks != null && !ks.SequenceEqual(new long[] { k, k })) throw Bad($"{n} kernel_shape disagrees with its weight");
            if ((n.Int("group") ?? 1) != 1) throw Bad($"{n} is a grouped convolution");
            var st = n.Ints("strides") ?? [1, 1];
            var dl = n.Ints("dilations") ?? [1, 1];
            if (st.Length != 2 || st[0] != st[1]) throw Bad($"{n} has unequal strides");
            if (dl.Length != 2 || dl[0] != 1 || dl[1] != 1) throw Bad($"{n} is dilated");
            var (h, wd) = size[input];
            pads.Add((n, h, wd, k, (int)st[0], 1));
            convs.Add((key, new ConvUse(n, h, wd)));
            size[n.Outputs[0]] = OutSize(n, h, wd, k, (int)st[0]);
            return n.Outputs[0];
        }
        string Bn(string input, string key)
        {
            var n = Only(input, "BatchNormalization");
            if ((n.Int("spatial") ?? 1) != 1) throw Bad($"{n} is not spatial");
            for (int i = 1; i <= 4; i++) Init(n, i);
            bns.Add((key, n));
            size[n.Outputs[0]] = size[input];
            return n.Outputs[0];
        }
        string Relu(string input)
        {
            var n = Only(input, "Relu");
            size[n.Outputs[0]] = size[input];
            return n.Outputs[0];
        }
        (long, long) OutSize(OnnxNode n, long h, long w, int k, int s)
        {
            var p = n.Ints("pads") ?? [0, 0, 0, 0];
            if (p.Length != 4 || p.Any(v => v < 0)) throw Bad($"{n} has invalid pads");
            if (n.String("auto_pad") is string ap && ap != "NOTSET") throw Bad($"{n} uses auto_pad {ap}");
            return ((h + p[0] + p[2] - k) / s + 1, (w + p[1] + p[3] - k) / s + 1);
        }

        // Stem.
        string x = Conv(inputs[0].Name, "conv1");
        x = Relu(Bn(x, "bn1"));
        var pool = Only(x, "MaxPool");
        var pk = pool.Ints("kernel_shape");
        var ps = pool.Ints("strides");
        if (pk is not { Length: 2 } || pk[0] != pk[1] || ps is not { Length: 2 } || ps[0] != ps[1]) throw Bad($"{pool} is not a square pooling");
        if (pk[0] != 3 || ps[0] != 2) throw Bad($"{pool} is not the 3×3/2 ResNet stem pooling");
        if ((pool.Int("ceil_mode") ?? 0) != 0) throw Bad($"{pool} uses ceil_mode");
        {
            var (h, w) = size[x];
            pads.Add((pool, h, w, 3, 2, 1));
            size[pool.Outputs[0]] = OutSize(pool, h, w, 3, 2);
        }
        x = pool.Outputs[0];

        // Residual blocks.
        var stages = new List<int>();
        while (true)
        {
            var cons = Consumers(x);
            if (cons.Count == 0 || cons.All(c => c.OpType is "AveragePool" or "GlobalAveragePool" or "ReduceMean" or "Flatten" or "Reshape"))
                break;
            var convNodes = cons.Where(c => c.OpType == "Conv").ToList();
            bool projection = convNodes.Count == 2 && cons.Count == 2;
            bool identity = convNodes.Count == 1 && cons.Count == 2 && cons.Any(c => c.OpType == "Add");
            if (!projection && !identity) throw Bad($"block input '{x}' feeds [{string.Join(", ", cons.Select(c => c.OpType))}]");
            if (projection || stages.Count == 0) stages.Add(0);
            string prefix = $"layer{stages.Count}.{stages[^1]}";
            stages[^1]++;

            // Which of two convolutions is the projection: its BatchNormalization feeds the Add directly.
            OnnxNode main = convNodes[0];
            OnnxNode? proj = null;
            if (projection)
            {
                bool FeedsAdd(OnnxNode c) =>
                    Consumers(c.Outputs[0]) is [var b] && b.OpType == "BatchNormalization" && Consumers(b.Outputs[0]) is [var a] && a.OpType == "Add";
                var projs = convNodes.Where(FeedsAdd).ToList();
                if (projs.Count != 1) throw Bad($"cannot tell the projection shortcut at '{x}'");
                proj = projs[0];
                main = convNodes.Single(c => c != proj);
            }
            string y = ConvFromNode(main, x, prefix + ".conv1");
            y = Relu(Bn(y, prefix + ".bn1"));
            y = Conv(y, prefix + ".conv2");
            y = Bn(y, prefix + ".bn2");
            string shortcut = x;
            if (proj != null)
            {
                shortcut = ConvFromNode(proj, x, prefix + ".downsample.0");
                shortcut = Bn(shortcut, prefix + ".downsample.1");
            }
            var add = Only(y, "Add");
            if (add.Inputs.Count != 2 || !add.Inputs.Contains(shortcut) || !add.Inputs.Contains(y)) throw Bad($"{add} does not add the block's branches");
            if (size[y] != size[shortcut]) throw Bad($"{add} adds maps of sizes {size[y]} and {size[shortcut]}");
            addCount++;
            size[add.Outputs[0]] = size[y];
            x = Relu(add.Outputs[0]);
        }

        string ConvFromNode(OnnxNode node, string input, string key)
        {
            // Same checks as Conv(), for a node chosen among several consumers.
            var saved = consumers[input];
            consumers[input] = [node];
            try { return Conv(input, key); }
            finally { consumers[input] = saved; }
        }

        if (stages.Count != 4) throw Bad($"{stages.Count} stages instead of 4");

        // The padding rule: the first mode that reproduces every layer's pads at its input size.
        PaddingMode? mode = null;
        foreach (var m in new[] { PaddingMode.Symmetric, PaddingMode.SameLower, PaddingMode.SameUpper })
        {
            bool all = pads.All(p =>
            {
                var file = p.Node.Ints("pads") ?? [0, 0, 0, 0];
                var (t, b) = Padding.For(m, p.InH, p.K, p.S, p.D);
                var (l, r) = Padding.For(m, p.InW, p.K, p.S, p.D);
                return file[0] == t && file[1] == l && file[2] == b && file[3] == r;
            });
            if (all) { mode = m; break; }
        }
        if (mode is null) throw Bad("the Conv/MaxPool pads follow neither symmetric nor SAME_LOWER/SAME_UPPER padding");

        var epsilons = bns.Select(b => (double)(b.Node.Float("epsilon") ?? 1e-5f)).Distinct().ToList();
        if (epsilons.Count != 1) throw Bad("BatchNormalization layers use different epsilons");
        int baseWidth = (int)Init(convs[0].Use.Node, 1).Dims[0];

        var opts = (options ?? new ResNetOptions()) with { Padding = mode.Value, BatchNormEps = epsilons[0], BaseWidth = baseWidth, NumClasses = null };
        var net = new ResNet(ResNetBlock.Basic, stages.ToArray(), opts);
        var dict = new Dictionary<string, Tensor>();
        try
        {
            foreach (var (key, use) in convs)
            {
                var w = Init(use.Node, 1);
                dict[key + ".weight"] = tensor(w.Data, w.Dims);
            }
            foreach (var (key, n) in bns)
            {
                dict[key + ".weight"] = ToTensor(Init(n, 1));
                dict[key + ".bias"] = ToTensor(Init(n, 2));
                dict[key + ".running_mean"] = ToTensor(Init(n, 3));
                dict[key + ".running_var"] = ToTensor(Init(n, 4));
            }
            StateDicts.Apply(net, dict, path);
        }
        catch
        {
            net.Dispose();
            throw;
        }
        finally { foreach (var t in dict.Values) t.Dispose(); }
        net.eval();
        if (opts.FrozenBatchNorm) FrozenBatchNorm.Apply(net);

        var info = new ImportInfo(net.Depth, stages.ToArray(), mode.Value, epsilons[0], (int)shape[2], (int)shape[3],
            convs.Count, bns.Count, addCount, $"{model.ProducerName} {model.ProducerVersion}".Trim());
        return (net, info);
    }

    static Tensor ToTensor(OnnxTensor t) => tensor(t.Data, t.Dims.Length == 0 ? [1] : t.Dims);
}
