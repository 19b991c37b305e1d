using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Asdt.Training;

/// <summary>
/// RRM's foreground/background-balanced hard-label cross-entropy (ALGORITHM.md §6.2, ambiguity A6):
/// CE over background pixels + CE over foreground pixels, each averaged over its own non-ignored
/// pixels of the whole batch (label 255 = ignore). A term with no valid pixel contributes 0
/// (PyTorch's mean reduction would return NaN there).
/// </summary>
public static class BalancedCrossEntropy
{
    public const long Ignore = 255;

    /// <param name="logits">(N, C, H, W) scores, already at label resolution.</param>
    /// <param name="labels">(N, H, W) int64 labels in 0..C-1 or 255.</param>
    public static Tensor Compute(Tensor logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var ignore = labels.Equal(Ignore);
        var isBackground = labels.Equal(0);
        var isForeground = ignore.logical_or(isBackground).logical_not();
        var bgTarget = labels.MaskedFill(isForeground, Ignore);
        var fgTarget = labels.MaskedFill(isBackground, Ignore);
        var loss = MeanOverValid(logits, bgTarget, isBackground).Plus(MeanOverValid(logits, fgTarget, isForeground));
        return loss.MoveToOuterDisposeScope();
    }

    static Tensor MeanOverValid(Tensor logits, Tensor target, Tensor valid)
    {
        var sum = nn.functional.cross_entropy(logits, target, ignore_index: Ignore, reduction: nn.Reduction.Sum);
        // max(count, 1): an empty term is 0/1 = 0 instead of NaN.
        var count = valid.sum().to(logits.dtype).AtLeast(1);
        return sum / count;
    }
}
