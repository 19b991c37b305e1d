using System.CommandLine;
using Asdt.Data;
using Asdt.IO;
using System.Diagnostics;
using System.Globalization;
using Asdt.Crf;

namespace Asdt.Cli.Commands;

/// <summary>
/// <c>asdt crf IMAGE PROBS --out LABELS.png</c>: the dense CRF (pydensecrf DenseCRF2D semantics) on an image
/// and a probability map, like users ran pydensecrf on their segmentation outputs.
/// </summary>
public static class CrfCommand
{
    public static Command Create()
    {
        var image = new Argument<FileInfo>("image") { Description = "Image file: PNG, JPEG or binary PPM (P6)." };
        var probs = new Argument<FileInfo>("probabilities")
        {
            Description = "Probability map: raw little-endian float32, layout [labels][height][width] (e.g. softmax scores; "
                          + "clipped to [1e-5, 1], need not sum to 1).",
        };
        var output = new Option<FileInfo>("--out", "-o") { Description = "Output label PNG (argmax of Q).", Required = true };
        var qOut = new Option<FileInfo?>("--q-out") { Description = "Also write Q as raw float32, [labels][height][width]." };
        var labels = new Option<int?>("--labels", "-l") { Description = "Number of labels (default: inferred from the file size)." };
        var preset = new Option<string>("--preset", "-p")
        {
            Description = "Parameter preset: " + string.Join(", ", CrfParameters.PresetNames) + ".",
            DefaultValueFactory = _ => "label-crf",
        };
        var gSxy = new Option<float?>("--gaussian-sxy") { Description = "Gaussian (position) kernel sxy in pixels." };
        var gW = new Option<float?>("--gaussian-weight") { Description = "Gaussian kernel weight (Potts compatibility); 0 disables it." };
        var bSxy = new Option<float?>("--bilateral-sxy") { Description = "Bilateral kernel sxy in pixels." };
        var bRgb = new Option<float?>("--bilateral-srgb") { Description = "Bilateral kernel srgb in intensity levels." };
        var bW = new Option<float?>("--bilateral-weight") { Description = "Bilateral kernel weight; 0 disables it." };
        var iters = new Option<int?>("--iterations", "-n") { Description = "Mean-field iterations." };
        var positionKernel = new Option<PositionKernel?>("--position-kernel")
        {
            Description = "How the Gaussian (position) kernel is computed: exact (separable convolution, the default) or "
                          + "lattice (permutohedral lattice, approximate, like pydensecrf).",
        };
        var threads = new Option<int>("--threads", "-t")
        {
            Description = "Threads (default: all cores).",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var colour = new Option<bool>("--colour") { Description = "Write VOC palette colours (RGB) instead of 8-bit label indices." };

        var command = new Command("crf", "Refine a probability map with the fully connected CRF (Krähenbühl & Koltun 2011, pydensecrf DenseCRF2D semantics).")
        {
            image, probs, output, qOut, labels, preset, gSxy, gW, bSxy, bRgb, bW, iters, positionKernel, threads, colour,
        };
        command.SetAction(parse =>
        {
            string presetName = parse.GetValue(preset)!;
            var p = CrfParameters.FromName(presetName)
                    ?? throw new AsdtException($"unknown preset '{presetName}' (known: {string.Join(", ", CrfParameters.PresetNames)})");
            p = p with
            {
                GaussianSxy = parse.GetValue(gSxy) ?? p.GaussianSxy,
                GaussianWeight = parse.GetValue(gW) ?? p.GaussianWeight,
                BilateralSxy = parse.GetValue(bSxy) ?? p.BilateralSxy,
                BilateralSrgb = parse.GetValue(bRgb) ?? p.BilateralSrgb,
                BilateralWeight = parse.GetValue(bW) ?? p.BilateralWeight,
                Iterations = parse.GetValue(iters) ?? p.Iterations,
                PositionKernel = parse.GetValue(positionKernel) ?? p.PositionKernel,
            };
            try { p.Validate(); }
            catch (ArgumentException e) { throw new AsdtException($"bad CRF parameters: {e.Message}"); }
            int t = Math.Max(1, parse.GetValue(threads));
            return Run(parse.GetValue(image)!.FullName, parse.GetValue(probs)!.FullName, parse.GetValue(output)!.FullName,
                       parse.GetValue(qOut)?.FullName, parse.GetValue(labels), p, t, parse.GetValue(colour));
        });
        return command;
    }

    static int Run(string imagePath, string probPath, string outPath, string? qPath, int? labelsGiven, CrfParameters p, int threads, bool colour)
    {
        var image = ImageFile.Read(imagePath);
        var rgb = image.Pixels;
        int w = image.Width, h = image.Height, n = w * h;
        var probs = RawFloat32.Read(probPath);
        int labels;
        if (labelsGiven is int l)
        {
            if (l is < 1 or > 256) throw new AsdtException($"--labels must be 1..256 (got {l})");
            if (probs.Length != (long)l * n)
                throw new AsdtException(probPath, $"has {probs.Length} floats, expected {l}x{h}x{w} = {(long)l * n} for {l} labels on the {w}x{h} image");
            labels = l;
        }
        else
        {
            if (probs.Length == 0 || probs.Length % n != 0)
                throw new AsdtException(probPath, $"has {probs.Length} floats, not a multiple of {h}x{w} = {n} (image {w}x{h}); expected [labels][{h}][{w}] float32");
            labels = probs.Length / n;
            if (labels > 256) throw new AsdtException(probPath, $"implies {labels} labels (max 256)");
        }
        foreach (float v in probs)
            if (!float.IsFinite(v)) throw new AsdtException(probPath, "contains NaN or infinite values");

        var sw = Stopwatch.StartNew();
        var crf = new DenseCrf2D(rgb, w, h, p, threads);
        var q = crf.Infer(probs, labels, threads);
        sw.Stop();
        var argmax = DenseCrf.Argmax(q, labels, n);
        if (colour) ImageFile.WritePng(outPath, Colourize(argmax, w, h));
        else PalettePng.Write(outPath, new LabelMask(w, h, argmax));
        if (qPath != null) RawFloat32.Write(qPath, q);
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(ci,
            $"crf: {w}x{h}, {labels} labels, {p}; {threads} thread(s): kernels {crf.BuildTime.TotalMilliseconds:F0} ms " +
            $"(position: {(crf.GaussianFilter is { } f ? $"exact, {f.Taps.Length} taps" : $"lattice, {crf.GaussianLattice?.VertexCount ?? 0} vertices")}; " +
            $"bilateral lattice: {crf.BilateralLattice?.VertexCount ?? 0} vertices), inference {crf.LastInferTime.TotalMilliseconds:F0} ms"));
        Console.WriteLine($"wrote {outPath}" + (qPath != null ? $" and {qPath}" : ""));
        return 0;
    }

    static RgbImage Colourize(byte[] labels, int w, int h)
    {
        var rgb = new byte[labels.Length * 3];
        for (int i = 0; i < labels.Length; i++)
        {
            var (r, g, b) = VocPalette.Color(labels[i]);
            rgb[3 * i] = r; rgb[3 * i + 1] = g; rgb[3 * i + 2] = b;
        }
        return new RgbImage(w, h, rgb);
    }
}
