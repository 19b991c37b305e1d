namespace Asdt.Data;

/// <summary>Statistics of one split, computed by reading every mask (and every image header, checking sizes match).</summary>
public sealed class DatasetStatistics
{
    public required string Dataset { get; init; }
    public required string Split { get; init; }
    public required IReadOnlyList<string> ClassNames { get; init; }
    public required int Images { get; init; }
    /// <summary>Distinct image sizes (width, height) with their counts, most frequent first.</summary>
    public required IReadOnlyList<(int Width, int Height, int Count)> Sizes { get; init; }
    /// <summary>Images whose image-level labels include class c (index 0, background: images with any background pixel).</summary>
    public required long[] ImagesWithClass { get; init; }
    /// <summary>Pixels of class c over all pixels (255 counted in <see cref="IgnorePixels"/>).</summary>
    public required long[] ClassPixels { get; init; }
    public required long IgnorePixels { get; init; }
    public required long TotalPixels { get; init; }
    /// <summary>Images with no foreground label.</summary>
    public required int ImagesWithoutForeground { get; init; }
    /// <summary>Mean number of foreground labels per image.</summary>
    public required double MeanLabelsPerImage { get; init; }
    public required bool CheckedImages { get; init; }
    /// <summary>Images whose labels include both foreground classes a and b, at [a·n + b] (n = class count; the diagonal is <see cref="ImagesWithClass"/>).</summary>
    public required long[] ImagesWithBoth { get; init; }

    public long Together(int a, int b) => ImagesWithBoth[a * ClassNames.Count + b];

    /// <summary>
    /// Foreground class pairs that image-level labels barely tell apart: of the images with either class, at least
    /// <paramref name="minimumShare"/> have both. A weakly supervised classifier learns such a pair from the few images
    /// that have only one of them, so which of the two CAMs takes which region can depend on the random start
    /// (MSRC-21 face and body: 29 of the 31 train images with either have both).
    /// </summary>
    public IEnumerable<(int A, int B, long Both, long Either)> EntangledPairs(double minimumShare = 0.8)
    {
        for (int a = 1; a < ClassNames.Count; a++)
            for (int b = a + 1; b < ClassNames.Count; b++)
            {
                long both = Together(a, b), either = ImagesWithClass[a] + ImagesWithClass[b] - both;
                if (both >= 2 && both >= minimumShare * either) yield return (a, b, both, either);
            }
    }

    public double PixelFraction(int c) => TotalPixels == 0 ? 0 : (double)ClassPixels[c] / TotalPixels;
    public double IgnoreFraction => TotalPixels == 0 ? 0 : (double)IgnorePixels / TotalPixels;

    public static DatasetStatistics Compute(SegmentationDataset ds, string split)
    {
        if (!ds.HasMasks) throw new AsdtException(ds.Root, $"dataset '{ds.Name}' has no masks to compute statistics from");
        var ids = ds.Ids(split);
        int n = ds.ClassNames.Count;
        var pixels = new long[256];
        var imagesWith = new long[n];
        var sizes = new (int W, int H)[ids.Count];
        var labelCounts = new int[ids.Count];
        var gate = new object();
        var together = new long[n * n];
        ParallelLoop.For(0, ids.Count, () => (new long[256], new long[n], new long[n * n]), (i, _, local) =>
        {
            string id = ids[i];
            var mask = ds.LoadMask(id);
            if (ds.HasImages)
            {
                var (w, h) = ImageFile.ReadSize(ds.ImagePath(id));
                if (w != mask.Width || h != mask.Height)
                    throw new AsdtException(ds.MaskPath(id), $"mask is {mask.Width}x{mask.Height} but its image {Path.GetFileName(ds.ImagePath(id))} is {w}x{h}");
            }
            sizes[i] = (mask.Width, mask.Height);
            var hist = mask.Histogram();
            for (int v = 0; v < 256; v++) local.Item1[v] += hist[v];
            if (hist[0] > 0) local.Item2[0]++;
            var classes = ds.ImageClasses(id);
            foreach (int c in classes) local.Item2[c]++;
            foreach (int a in classes)
                foreach (int b in classes) local.Item3[a * n + b]++;
            labelCounts[i] = classes.Count;
            return local;
        }, local =>
        {
            lock (gate)
            {
                for (int v = 0; v < 256; v++) pixels[v] += local.Item1[v];
                for (int c = 0; c < n; c++) imagesWith[c] += local.Item2[c];
                for (int k = 0; k < n * n; k++) together[k] += local.Item3[k];
            }
        });
        return new DatasetStatistics
        {
            Dataset = ds.Name, Split = split, ClassNames = ds.ClassNames, Images = ids.Count,
            Sizes = sizes.GroupBy(s => s).OrderByDescending(g => g.Count()).ThenBy(g => g.Key.W).ThenBy(g => g.Key.H)
                .Select(g => (g.Key.W, g.Key.H, g.Count())).ToArray(),
            ImagesWithClass = imagesWith,
            ClassPixels = pixels.Take(n).ToArray(),
            IgnorePixels = pixels[255],
            TotalPixels = pixels.Sum(),
            ImagesWithoutForeground = labelCounts.Count(c => c == 0),
            MeanLabelsPerImage = labelCounts.Average(),
            CheckedImages = ds.HasImages,
            ImagesWithBoth = together,
        };
    }
}
