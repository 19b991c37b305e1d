namespace Asdt.Psm;

/// <summary>
/// Test-time augmentation of the stage-1 heads: the image is run at every scale (bilinear resize of the
/// normalised input, align_corners = false) and, with <see cref="Flip"/>, also mirrored; each pass's logits
/// are upsampled to the image size and softmaxed, and P^st and P^s are each averaged over all passes
/// before P̄ = max(P^st, P^s) is taken. Scales [1] without flip is the paper's single-scale inference
/// (ALGORITHM.md §7 step 1); more is §7's optional "multi-scale + flip averaging", a deviation.
/// </summary>
public sealed record TestTimeAugmentation
{
    public double[] Scales { get; init; } = [1.0];
    public bool Flip { get; init; }

    /// <summary>The paper's inference: one pass at scale 1, no flip.</summary>
    public static TestTimeAugmentation None { get; } = new();

    public bool IsSingleScale => Scales is [1.0] && !Flip;

    public override string ToString() =>
        IsSingleScale ? "single scale" : $"scales {string.Join(", ", Scales)}{(Flip ? " × flip" : "")}";
}
