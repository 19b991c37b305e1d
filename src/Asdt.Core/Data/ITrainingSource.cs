namespace Asdt.Data;

/// <summary>Anything training can draw images and image-level labels from: a segmentation dataset (with masks) or
/// an image-label-only folder (no masks). All sources mixed into one training run must share the class list.</summary>
public interface ITrainingSource
{
    string Name { get; }
    /// <summary>Target classes, index 0 = background.</summary>
    IReadOnlyList<string> ClassNames { get; }
    RgbImage LoadImage(string id);
    /// <summary>The remapped mask, or null when the source has no masks.</summary>
    LabelMask? TryLoadMask(string id);
    /// <summary>Multi-hot over the foreground classes: element c is class c + 1.</summary>
    bool[] ImageLabels(string id);
}

/// <summary>One training image: where it comes from and its id there.</summary>
public readonly record struct TrainingItem(ITrainingSource Source, string Id);
