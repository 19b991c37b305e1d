namespace Asdt.Models.Onnx;

/// <summary>An imported backbone with the input normalisation it was trained with.</summary>
public sealed class PretrainedBackbone(ResNet network, InputNormalization normalization, OnnxResNetImporter.ImportInfo info,
    string modelPath, string preprocessPath) : IDisposable
{
    public ResNet Network { get; } = network;
    public InputNormalization Normalization { get; } = normalization;
    public OnnxResNetImporter.ImportInfo Info { get; } = info;
    public string ModelPath { get; } = modelPath;
    public string PreprocessPath { get; } = preprocessPath;
    public void Dispose() => Network.Dispose();
}

/// <summary>
/// The ImageNet-trained ResNet-18 that ships (MIT) in the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18
/// as a CNTK ONNX export, plus its preprocessing graph. Projects that reference the package get both files
/// copied to <c>DnnImageModels/</c> in their output folder by the package's build props; they are found there
/// (<see cref="AppContext.BaseDirectory"/>) unless a path or the environment variables
/// <see cref="ModelEnvVar"/> / <see cref="PreprocessEnvVar"/> say otherwise. Nothing is downloaded.
/// <para>
/// Input sizes: the ONNX graph has fixed pads computed for 224×224 and only runs where residual shapes agree
/// (multiples of 32): at odd sizes its fixed stride-2 pads (1,0) give ⌊n/2⌋ on the main path but ⌈n/2⌉ on the
/// 1×1 projection. Our network computes the padding rule the pads come from (SAME_LOWER, verified against every
/// node's pads at 224) for each input size, so it accepts any H×W, gives ⌈H/os⌉×⌈W/os⌉ features and reproduces
/// the ONNX graph at 224×224 (to ~1e-7 relative). For these odd kernels SAME_LOWER gives the same outputs as
/// torchvision's symmetric padding at every size (see <see cref="PaddingMode"/>). The preprocessing subtracts a 224×224 mean image; for general sizes
/// <see cref="InputNormalization.Apply"/> uses its per-channel average, <see cref="InputNormalization.ApplyExact"/>
/// the image itself (only at 224×224, for reference checks).
/// </para>
/// </summary>
public static class ImageNetResNet18
{
    public const string ModelEnvVar = "ASDT_RESNET18_ONNX";
    public const string PreprocessEnvVar = "ASDT_RESNET18_PREPROCESS_ONNX";

    public static string DefaultModelPath =>
        Environment.GetEnvironmentVariable(ModelEnvVar) is { Length: > 0 } p ? p
            : Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    public static string DefaultPreprocessPath =>
        Environment.GetEnvironmentVariable(PreprocessEnvVar) is { Length: > 0 } p ? p
            : Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    /// <summary>
    /// Loads the network (output stride 8, 16 or 32; BatchNorm frozen by default, as for fine-tuning with small
    /// batches) and its normalisation. When only <paramref name="onnxPath"/> is given, the preprocessing file is
    /// looked for beside it (<c>../ResNetPrepOnnx/ResNetPreprocess.onnx</c>) before the default location.
    /// </summary>
    public static PretrainedBackbone Load(string? onnxPath = null, int outputStride = 32, bool frozenBatchNorm = true,
        string? preprocessPath = null)
    {
        string model = onnxPath ?? DefaultModelPath;
        if (!File.Exists(model))
            throw new AsdtException(model, $"ImageNet ResNet-18 ONNX file not found (it comes with the NuGet package " +
                $"Microsoft.ML.DnnImageFeaturizer.ResNet18; give its path or set {ModelEnvVar})");
        string prep = preprocessPath ?? Sibling(model) ?? DefaultPreprocessPath;
        if (!File.Exists(prep))
            throw new AsdtException(prep, $"ResNet preprocessing ONNX file not found (set {PreprocessEnvVar})");
        var normalization = OnnxPreprocessing.Read(prep);
        var (net, info) = OnnxResNetImporter.Import(model, new ResNetOptions { OutputStride = outputStride, FrozenBatchNorm = frozenBatchNorm });
        if (normalization.MeanImage != null && info.InputHeight != normalization.MeanImageHeight || info.InputWidth != normalization.MeanImageWidth)
        {
            net.Dispose();
            throw new AsdtException(prep, $"preprocessing is for {normalization.MeanImageHeight}x{normalization.MeanImageWidth} " +
                $"but the network was exported for {info.InputHeight}x{info.InputWidth}");
        }
        return new PretrainedBackbone(net, normalization, info, Path.GetFullPath(model), Path.GetFullPath(prep));
    }

    static string? Sibling(string model)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(model));
        if (dir == null) return null;
        var p = Path.Combine(dir, "..", "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        return File.Exists(p) ? Path.GetFullPath(p) : null;
    }
}

/// <summary>
/// Interprets a preprocessing graph of the form: channel Split(axis 1) → Concat(axis 1) in some order
/// (a channel permutation), then Sub of a constant (mean image or per-channel mean), optionally Mul/Div by
/// constants. Anything else is refused, so the facts used (BGR order, mean values, no division) come from the file.
/// </summary>
public static class OnnxPreprocessing
{
    public static InputNormalization Read(string path)
    {
        var model = OnnxReader.Read(path);
        var g = model.Graph;
        AsdtException Bad(string problem) => new(path, "unsupported preprocessing graph: " + problem);
        var inputs = g.Inputs.Where(i => !g.Initializers.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1 || inputs[0].Shape is not { Length: 4 } shape || shape[1] != 3) throw Bad("expected one N×3×H×W input");
        if (g.Outputs.Count != 1) throw Bad("expected one output");

        int[] perm = [0, 1, 2]; // network channel c takes input (RGB) channel perm[c]
        float scale = 1, std = 1;
        float[]? mean = null;
        int mh = 0, mw = 0;
        string x = inputs[0].Name;
        var byInput = g.Nodes.ToLookup(n => n.Inputs.FirstOrDefault() ?? "");
        var used = new HashSet<OnnxNode>();
        while (x != g.Outputs[0].Name)
        {
            var next = byInput[x].ToList();
            if (next.Count != 1) throw Bad($"'{x}' feeds {next.Count} nodes");
            var n = next[0];
            used.Add(n);
            switch (n.OpType)
            {
                case "Split":
                {
                    if ((n.Int("axis") ?? 0) != 1 || n.Outputs.Count != 3) throw Bad($"{n} is not a 3-way channel split");
                    var split = n.Ints("split");
                    if (split != null && !split.SequenceEqual(new long[] { 1, 1, 1 })) throw Bad($"{n} splits unevenly");
                    var concats = g.Nodes.Where(c => c.OpType == "Concat" && c.Inputs.Any(n.Outputs.Contains)).ToList();
                    if (concats.Count != 1 || (concats[0].Int("axis") ?? -99) != 1 || concats[0].Inputs.Count != 3 || !concats[0].Inputs.All(n.Outputs.Contains))
                        throw Bad($"{n} is not followed by a channel Concat of its three outputs");
                    var c = concats[0];
                    used.Add(c);
                    perm = c.Inputs.Select(i => perm[n.Outputs.ToList().IndexOf(i)]).ToArray();
                    x = c.Outputs[0];
                    continue;
                }
                case "Sub":
                {
                    if (mean != null) throw Bad("two Sub nodes");
                    if (!g.Initializers.TryGetValue(n.Inputs[1], out var m)) throw Bad($"{n} does not subtract a constant");
                    long[] d = m.Dims;
                    if (d.Length == 4 && d[0] == 1 && d[1] == 3) { mh = (int)d[2]; mw = (int)d[3]; }
                    else if (d.Length == 3 && d[0] == 3) { mh = (int)d[1]; mw = (int)d[2]; }
                    else throw Bad($"{n} subtracts a constant of shape {m.ShapeString}");
                    if (std != 1) throw Bad("Sub after Div is not supported");
                    mean = m.Data; // in units after any Mul, as InputNormalization subtracts it
                    break;
                }
                case "Mul" or "Div":
                {
                    if (!g.Initializers.TryGetValue(n.Inputs[1], out var c) || c.ElementCount != 1) throw Bad($"{n} is not a scalar {n.OpType}");
                    if (n.OpType == "Mul" && mean == null) scale *= c.Data[0];
                    else if (n.OpType == "Div" && mean != null) std *= c.Data[0];
                    else throw Bad($"{n} in an unsupported position");
                    break;
                }
                default: throw Bad($"operator {n.OpType} is not supported");
            }
            x = n.Outputs[0];
        }
        if (used.Count != g.Nodes.Count) throw Bad("nodes outside the main chain");
        if (mean == null) throw Bad("no mean subtraction found");
        var order = perm switch
        {
            [0, 1, 2] => ChannelOrder.Rgb,
            [2, 1, 0] => ChannelOrder.Bgr,
            _ => throw Bad($"channel permutation [{string.Join(",", perm)}] is neither RGB nor BGR"),
        };
        long plane = (long)mh * mw;
        var perChannel = new float[3];
        for (int c = 0; c < 3; c++)
        {
            double s = 0;
            for (long i = 0; i < plane; i++) s += mean[c * plane + i];
            perChannel[c] = (float)(s / plane);
        }
        bool image = plane > 1;
        return new InputNormalization(order, perChannel, [std, std, std], scale, image ? mean : null, image ? mh : 0, image ? mw : 0);
    }
}
