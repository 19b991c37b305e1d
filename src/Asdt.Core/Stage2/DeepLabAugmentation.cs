using Asdt.Data;

namespace Asdt.Stage2;

public sealed record DeepLabAugmentationOptions
{
    public int BatchSize { get; init; } = 5;
    public int CropSize { get; init; } = 321;
    public double[] Scales { get; init; } = [0.5, 0.75, 1.0, 1.25, 1.5];
    public bool Flip { get; init; } = true;
    public int Seed { get; init; }
}

/// <summary>One stage-2 batch: normalised images [B,3,S,S] and labels [B,S,S] (255 = ignore), row-major.</summary>
public sealed record DeepLabBatch(long Index, int Size, int CropSize, float[] Images, byte[] Labels, string[] Ids, double[] Scales, bool[] Flipped);

/// <summary>
/// deeplab-pytorch's training augmentation (ALGORITHM.md §9), deterministic: items are shuffled anew every epoch
/// from (seed, epoch) and cycled; image j of batch k draws, from (seed, k), a scale from the list, a crop position
/// and a flip. Per image: resize to (int(W·s), int(H·s)) — image bilinear (half-pixel centres), label nearest —,
/// pad bottom/right to at least the crop with the mean colour (normalised value 0) and 255, take the crop, then
/// flip both with probability 0.5. Batch k does not depend on earlier batches (resume-exact). Thread-safe.
/// </summary>
public sealed class DeepLabAugmentation
{
    readonly IReadOnlyList<string> ids;
    readonly Func<string, (RgbImage Image, LabelMask Mask)> load;
    readonly System.Collections.Concurrent.ConcurrentDictionary<long, int[]> orders = new();

    public DeepLabAugmentationOptions Options { get; }
    public ImageNormalization Normalization { get; }

    public DeepLabAugmentation(IReadOnlyList<string> ids, Func<string, (RgbImage, LabelMask)> load, DeepLabAugmentationOptions options,
        ImageNormalization normalization)
    {
        if (ids.Count == 0) throw new AsdtException("training set", "no training images");
        if (options.BatchSize < 1 || options.CropSize < 1) throw new ArgumentException("batch size and crop size must be positive");
        if (options.Scales.Length == 0 || options.Scales.Any(s => !(s > 0))) throw new AsdtException($"augmentation scales must be positive (got [{string.Join(", ", options.Scales)}])");
        normalization.Validate();
        this.ids = ids; this.load = load; Options = options; Normalization = normalization;
    }

    string IdAt(long position)
    {
        long epoch = position / ids.Count;
        var order = orders.GetOrAdd(epoch, e =>
        {
            if (orders.Count > 8) orders.Clear();
            var perm = Enumerable.Range(0, ids.Count).ToArray();
            new Random(TrainingSampler.SeedFor(Options.Seed, e, 0x5EC2)).Shuffle(perm);
            return perm;
        });
        return ids[order[(int)(position % ids.Count)]];
    }

    public DeepLabBatch Batch(long index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index));
        int b = Options.BatchSize, s = Options.CropSize;
        var rng = new Random(TrainingSampler.SeedFor(Options.Seed, index, 0xD1AB));
        var batchIds = new string[b];
        var scales = new double[b];
        var draws = new (double X, double Y)[b];
        var flipped = new bool[b];
        for (int j = 0; j < b; j++)
        {
            batchIds[j] = IdAt(index * b + j);
            scales[j] = Options.Scales[rng.Next(Options.Scales.Length)];
            draws[j] = (rng.NextDouble(), rng.NextDouble());
            flipped[j] = Options.Flip && rng.NextDouble() < 0.5;
        }
        var images = new float[(long)b * 3 * s * s];
        var labels = new byte[(long)b * s * s];
        ParallelLoop.For(0, b, j =>
        {
            var (image, mask) = load(batchIds[j]);
            Augment(image, mask, scales[j], draws[j].X, draws[j].Y, flipped[j], s, Normalization,
                images.AsSpan(j * 3 * s * s, 3 * s * s), labels.AsSpan(j * s * s, s * s));
        });
        return new DeepLabBatch(index, b, s, images, labels, batchIds, scales, flipped);
    }

    /// <summary>
    /// One image: scale, pad bottom/right to ≥ crop (mean / 255), crop at (⌊u·(W'−S+1)⌋, ⌊v·(H'−S+1)⌋) of the padded
    /// size W'×H', optional horizontal flip of the crop. Writes the normalised CHW crop and the labels.
    /// </summary>
    public static void Augment(RgbImage image, LabelMask mask, double scale, double u, double v, bool flip, int crop,
        ImageNormalization normalization, Span<float> imageOut, Span<byte> labelOut)
    {
        int w = Math.Max(1, (int)(image.Width * scale)), h = Math.Max(1, (int)(image.Height * scale));
        var resized = ImageResize.BilinearFloat(image, w, h);
        var resizedMask = ImageResize.Nearest(mask, w, h);
        int pw = Math.Max(w, crop), ph = Math.Max(h, crop);
        int x0 = (int)(u * (pw - crop + 1)), y0 = (int)(v * (ph - crop + 1));
        x0 = Math.Min(x0, pw - crop); y0 = Math.Min(y0, ph - crop);
        long plane = (long)crop * crop;
        imageOut.Clear(); // padding = the mean colour, i.e. 0 after normalisation
        labelOut.Fill(LabelMask.Ignore);
        for (int y = 0; y < crop; y++)
        {
            int sy = y0 + y;
            if (sy >= h) break;
            for (int x = 0; x < crop; x++)
            {
                int sx = x0 + x;
                if (sx >= w) break;
                int dx = flip ? crop - 1 - x : x;
                int d = y * crop + dx;
                int o = (sy * w + sx) * 3;
                for (int c = 0; c < 3; c++)
                    imageOut[(int)(c * plane) + d] = (resized[o + normalization.SourceChannel(c)] * normalization.Scale - normalization.Mean[c]) / normalization.Std[c];
                labelOut[d] = resizedMask.Labels[sy * w + sx];
            }
        }
    }
}
