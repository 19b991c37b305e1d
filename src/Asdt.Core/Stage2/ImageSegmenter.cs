using Asdt.Crf;
using Asdt.Data;
using Asdt.Evaluation;

namespace Asdt.Stage2;

/// <summary>
/// Segments new images with a trained stage-2 network: for each input <c>name.ext</c>, <c>name.png</c> (palette mask,
/// class indices with the VOC colours) and <c>name_overlay.png</c> (the photo with every non-background pixel blended
/// 50/50 with its class colour). Both are written atomically; an image whose two outputs exist is skipped.
/// </summary>
public static class ImageSegmenter
{
    static readonly string[] Extensions = [".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp", ".gif"];

    public const double OverlayAlpha = 0.5;

    /// <summary>The images named by files and folders (a folder contributes its image files, sorted, not recursively).</summary>
    public static IReadOnlyList<string> CollectInputs(IEnumerable<string> paths)
    {
        var result = new List<string>();
        foreach (var p in paths)
        {
            if (Directory.Exists(p))
                result.AddRange(Directory.GetFiles(p).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal));
            else if (File.Exists(p)) result.Add(p);
            else throw new AsdtException(p, "input image or folder not found");
        }
        if (result.Count == 0) throw new AsdtException(string.Join(", ", paths), "no images found (looked for " + string.Join(", ", Extensions) + ")");
        var names = result.GroupBy(f => Path.GetFileNameWithoutExtension(f), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (names != null) throw new AsdtException(names.First(), $"two inputs would write the same outputs ({string.Join(", ", names)})");
        return result;
    }

    public static string MaskPath(string outputFolder, string input) => Path.Combine(outputFolder, Path.GetFileNameWithoutExtension(input) + ".png");
    public static string OverlayPath(string outputFolder, string input) => Path.Combine(outputFolder, Path.GetFileNameWithoutExtension(input) + "_overlay.png");

    /// <returns>Number of images segmented (skipped ones not counted).</returns>
    public static int Run(Stage2Run run, IReadOnlyList<string> inputs, string outputFolder, bool multiScale, CrfParameters? crf, Shard shard,
        Action<int, int>? progress = null)
    {
        Directory.CreateDirectory(outputFolder);
        var mine = shard.Select(inputs);
        int done = 0, written = 0;
        foreach (var input in mine)
        {
            string maskPath = MaskPath(outputFolder, input), overlayPath = OverlayPath(outputFolder, input);
            if (!(File.Exists(maskPath) && File.Exists(overlayPath)))
            {
                var image = ImageFile.Read(input);
                var p = Stage2Predictor.Predict(run.Network, run.Normalization, image, multiScale);
                var mask = Stage2Predictor.Label(image, p.MultiScale ?? p.SingleScale, p.Classes, crf);
                PalettePng.Write(maskPath, mask);
                ImageFile.WritePng(overlayPath, Overlay(image, mask));
                written++;
            }
            progress?.Invoke(++done, mine.Count);
        }
        return written;
    }

    /// <summary>The photo with each non-background pixel blended with its VOC palette colour (alpha <see cref="OverlayAlpha"/>).</summary>
    public static RgbImage Overlay(RgbImage image, LabelMask mask)
    {
        var result = new RgbImage(image.Width, image.Height, (byte[])image.Pixels.Clone());
        for (int i = 0; i < mask.Labels.Length; i++)
        {
            int label = mask.Labels[i];
            if (label == 0) continue;
            var (r, g, b) = VocPalette.Color(label);
            byte[] color = [r, g, b];
            for (int c = 0; c < 3; c++)
                result.Pixels[i * 3 + c] = (byte)Math.Round((1 - OverlayAlpha) * image.Pixels[i * 3 + c] + OverlayAlpha * color[c]);
        }
        return result;
    }
}
