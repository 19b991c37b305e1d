namespace Asdt.Data;

/// <summary>
/// One augmented training batch as plain arrays (ALGORITHM.md §1.3). B = <see cref="Size"/>, S = <see cref="CropSize"/>.
/// </summary>
public sealed class TrainingBatch
{
    public required long Index { get; init; }
    public required int Size { get; init; }
    public required int CropSize { get; init; }
    /// <summary>The one scale drawn for the whole batch.</summary>
    public required float Scale { get; init; }
    public required TrainingItem[] Items { get; init; }
    public required bool[] Flipped { get; init; }
    /// <summary>Normalised images, [B, 3, S, S] flattened (channel order per the normalisation); padding = 0.</summary>
    public required float[] Images { get; init; }
    /// <summary>I_crop: the de-normalised crops as 8-bit RGB, [B][S·S·3] HWC; padding = the normalisation's mean colour.</summary>
    public required byte[][] CropRgb { get; init; }
    /// <summary>Binary ROI, [B][S·S]: 1 where the crop holds real image pixels, 0 on padding.</summary>
    public required byte[][] Roi { get; init; }
    /// <summary>Image-level labels, [B][C] multi-hot over the foreground classes (element c is class c + 1).</summary>
    public required float[][] Labels { get; init; }
    /// <summary>Ground-truth mask crops [B][S·S] (padding 255), or null per image without a mask / when not requested.
    /// For debugging and measuring only: never a training signal in weak supervision.</summary>
    public required byte[]?[] Masks { get; init; }
}
