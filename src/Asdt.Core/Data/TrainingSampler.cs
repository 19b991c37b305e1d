using System.Collections.Concurrent;

namespace Asdt.Data;

/// <summary>Stage-1 augmentation settings (ALGORITHM.md §1.3; defaults are the paper's).</summary>
public sealed record AugmentationOptions
{
    public int BatchSize { get; init; } = 4;
    public int CropSize { get; init; } = 321;
    public double MinScale { get; init; } = 0.7;
    public double MaxScale { get; init; } = 1.3;
    public double FlipProbability { get; init; } = 0.5;
    public int Seed { get; init; }
    /// <summary>Also crop the ground-truth masks (debugging only).</summary>
    public bool IncludeMasks { get; init; }
}

/// <summary>
/// Deterministic training batches (ALGORITHM.md §1.3, RRM's get_data_from_chunk_v2): the item list is shuffled
/// anew every epoch and cycled, batches take consecutive items; per batch one scale s ~ U(min, max), per image a
/// bilinear resize to (int(W·s), int(H·s)) with half-pixel centres, a horizontal flip with probability p, the
/// normalisation, and a random crop: a random window of a longer side, or a random placement of a shorter side in a
/// zero (normalised) canvas, with the ROI mask and the de-normalised crop I_crop.
/// <see cref="Batch"/> depends only on (items, options, index): batch k is the same whether or not earlier batches
/// were drawn, so a resumed run reproduces it exactly. Thread-safe.
/// </summary>
public sealed class TrainingSampler
{
    readonly IReadOnlyList<TrainingItem> items;
    readonly ConcurrentDictionary<long, int[]> orders = new();

    public AugmentationOptions Options { get; }
    public ImageNormalization Normalization { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int NumForegroundClasses => ClassNames.Count - 1;
    public int ItemCount => items.Count;
    /// <summary>Batches per pass over the items (the last batch of an epoch runs into the next epoch's order).</summary>
    public int BatchesPerEpoch => (items.Count + Options.BatchSize - 1) / Options.BatchSize;

    public TrainingSampler(IReadOnlyList<TrainingItem> items, AugmentationOptions options, ImageNormalization normalization)
    {
        if (items.Count == 0) throw new AsdtException("training set", "no training images");
        if (options.BatchSize < 1 || options.CropSize < 1) throw new ArgumentException("batch size and crop size must be positive");
        if (!(options.MinScale > 0) || options.MaxScale < options.MinScale) throw new ArgumentException("scales must satisfy 0 < min <= max");
        normalization.Validate();
        ClassNames = items[0].Source.ClassNames;
        foreach (var source in items.Select(i => i.Source).Distinct())
            if (!source.ClassNames.SequenceEqual(ClassNames, StringComparer.OrdinalIgnoreCase))
                throw new AsdtException(source.Name, $"its classes ({string.Join(", ", source.ClassNames)}) differ from those of {items[0].Source.Name}; mixed training sources must share one class list");
        this.items = items;
        Options = options;
        Normalization = normalization;
    }

    /// <summary>The item at a global position of the shuffled, cycled stream.</summary>
    public TrainingItem ItemAt(long position)
    {
        long epoch = position / items.Count;
        int within = (int)(position % items.Count);
        var order = orders.GetOrAdd(epoch, e =>
        {
            if (orders.Count > 8) orders.Clear();
            var perm = Enumerable.Range(0, items.Count).ToArray();
            new Random(SeedFor(Options.Seed, e, 0x0DE5)).Shuffle(perm);
            return perm;
        });
        return items[order[within]];
    }

    public TrainingBatch Batch(long index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index));
        int b = Options.BatchSize, s = Options.CropSize;
        var rng = new Random(SeedFor(Options.Seed, index, 0xBA7C));
        float scale = (float)(Options.MinScale + rng.NextDouble() * (Options.MaxScale - Options.MinScale));
        var batchItems = new TrainingItem[b];
        var flipped = new bool[b];
        var offsetDraws = new (double X, double Y)[b];
        for (int j = 0; j < b; j++)
        {
            batchItems[j] = ItemAt(index * b + j);
            flipped[j] = rng.NextDouble() < Options.FlipProbability;
            offsetDraws[j] = (rng.NextDouble(), rng.NextDouble());
        }
        var batch = new TrainingBatch
        {
            Index = index, Size = b, CropSize = s, Scale = scale, Items = batchItems, Flipped = flipped,
            Images = new float[(long)b * 3 * s * s],
            CropRgb = new byte[b][], Roi = new byte[b][], Labels = new float[b][], Masks = new byte[b][],
        };
        ParallelLoop.For(0, b, j => Fill(batch, j, offsetDraws[j]));
        return batch;
    }

    void Fill(TrainingBatch batch, int j, (double X, double Y) draw)
    {
        var item = batch.Items[j];
        int s = batch.CropSize;
        var image = item.Source.LoadImage(item.Id);
        LabelMask? mask = Options.IncludeMasks ? item.Source.TryLoadMask(item.Id) : null;
        if (mask != null && (mask.Width != image.Width || mask.Height != image.Height))
            throw new AsdtException(item.Id, $"mask is {mask.Width}x{mask.Height} but the image is {image.Width}x{image.Height}");
        var labels = item.Source.ImageLabels(item.Id);
        batch.Labels[j] = labels.Select(l => l ? 1f : 0f).ToArray();

        int w = Math.Max(1, (int)(image.Width * batch.Scale)), h = Math.Max(1, (int)(image.Height * batch.Scale));
        var resized = ImageResize.BilinearFloat(image, w, h);
        var resizedMask = mask != null ? ImageResize.Nearest(mask, w, h) : null;
        var (srcX, dstX, lenX) = Place(w, s, draw.X);
        var (srcY, dstY, lenY) = Place(h, s, draw.Y);
        bool flip = batch.Flipped[j];

        var rgb = new byte[s * s * 3];
        var (pr, pg, pb) = Normalization.ZeroColor();
        for (int i = 0; i < s * s; i++) { rgb[i * 3] = pr; rgb[i * 3 + 1] = pg; rgb[i * 3 + 2] = pb; }
        var roi = new byte[s * s];
        byte[]? maskCrop = null;
        if (resizedMask != null) { maskCrop = new byte[s * s]; Array.Fill(maskCrop, LabelMask.Ignore); }
        long plane = (long)s * s, imageBase = j * 3 * plane;
        var img = batch.Images;
        for (int y = 0; y < lenY; y++)
        {
            int sy = srcY + y, dy = dstY + y;
            for (int x = 0; x < lenX; x++)
            {
                int fx = srcX + x;                       // position in the flipped, resized image
                int sx = flip ? w - 1 - fx : fx;         // position in the resized image
                int dx = dstX + x, d = dy * s + dx;
                int o = (sy * w + sx) * 3;
                for (int c = 0; c < 3; c++)
                {
                    float v = resized[o + Normalization.SourceChannel(c)];
                    img[imageBase + c * plane + d] = (v * Normalization.Scale - Normalization.Mean[c]) / Normalization.Std[c];
                    rgb[d * 3 + c] = (byte)Math.Clamp(MathF.Round(resized[o + c]), 0f, 255f);
                }
                roi[d] = 1;
                if (maskCrop != null) maskCrop[d] = resizedMask!.Labels[sy * w + sx];
            }
        }
        batch.CropRgb[j] = rgb;
        batch.Roi[j] = roi;
        batch.Masks[j] = maskCrop;
    }

    /// <summary>Crop along one axis: a random window when the side is at least the crop, else a random placement in the canvas.</summary>
    static (int Src, int Dst, int Len) Place(int side, int crop, double u)
    {
        if (side >= crop) return ((int)(u * (side - crop + 1)), 0, crop);
        return (0, (int)(u * (crop - side + 1)), side);
    }

    /// <summary>A 32-bit seed from (seed, index, stream) by SplitMix64: stable across runs, processes and .NET versions.</summary>
    internal static int SeedFor(int seed, long index, int stream)
    {
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)index * 0xBF58476D1CE4E5B9UL ^ (ulong)(uint)stream * 0x94D049BB133111EBUL;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}
