using Asdt.Data;

namespace Asdt.Stage2;

/// <summary>
/// The training masks of stage 2: the dataset's ground truth (<c>gt</c>) or a folder of pseudo masks
/// (<c>&lt;id&gt;.png</c> palette PNGs, e.g. <c>asdt psm</c>'s output). Every mask is checked against its image's size and
/// the class count (values 0..C−1 or 255).
/// </summary>
public sealed class Stage2Labels
{
    readonly SegmentationDataset dataset;
    public string Source { get; }
    public bool IsGroundTruth => Source == Stage2LabelKinds.GroundTruth;
    public int Classes => dataset.ClassNames.Count;

    public Stage2Labels(SegmentationDataset dataset, string source)
    {
        this.dataset = dataset;
        Source = source;
        if (!IsGroundTruth && !Directory.Exists(source))
            throw new AsdtException(source, "label folder not found (give --labels gt or a folder of <id>.png pseudo masks)");
        if (IsGroundTruth && !dataset.HasMasks) throw new AsdtException(dataset.Root, $"dataset '{dataset.Name}' has no ground-truth masks");
    }

    /// <summary>Fails early, with one message, if any id of the list has no mask file.</summary>
    public void CheckAvailable(IReadOnlyList<string> ids)
    {
        if (IsGroundTruth) return;
        var missing = ids.Where(id => !File.Exists(Path.Combine(Source, id + ".png"))).ToList();
        if (missing.Count > 0)
            throw new AsdtException(Source, $"{missing.Count} of {ids.Count} training images have no mask here (e.g. {missing[0]}.png); " +
                                            "generate them first (asdt psm) or pass --labels gt");
    }

    public (RgbImage Image, LabelMask Mask) Load(string id)
    {
        var image = dataset.LoadImage(id);
        string path = IsGroundTruth ? dataset.MaskPath(id) : Path.Combine(Source, id + ".png");
        var mask = IsGroundTruth ? dataset.LoadMask(id) : PalettePng.Read(path);
        if (mask.Width != image.Width || mask.Height != image.Height)
            throw new AsdtException(path, $"mask is {mask.Width}x{mask.Height} but its image is {image.Width}x{image.Height}");
        int classes = Classes;
        foreach (byte v in mask.Labels)
            if (v >= classes && v != LabelMask.Ignore)
                throw new AsdtException(path, $"label {v} is not a class of '{dataset.Name}' (0..{classes - 1} or 255): the masks were made for another class list");
        return (image, mask);
    }
}
