using Asdt.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Asdt.Stage2;

/// <summary>
/// Stage-2 training loss (ALGORITHM.md §9): the sum over MSC outputs of the mean cross-entropy against the labels
/// nearest-resized to each output's size, 255 ignored. An output whose resized labels are all 255 adds 0.
/// </summary>
public static class MscLoss
{
    public const long Ignore = 255;

    /// <summary>Returns the total and each term (same order as <paramref name="logits"/>).</summary>
    public static (Tensor Total, double[] Terms) Compute(IReadOnlyList<Tensor> logits, Tensor labels)
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        var terms = new double[logits.Count];
        for (int i = 0; i < logits.Count; i++)
        {
            var l = logits[i];
            var target = ResizeLabels(labels, l.shape[2], l.shape[3]);
            var ce = CrossEntropy(l, target);
            terms[i] = ce.item<float>();
            total = total is null ? ce : total.Plus(ce);
        }
        return (total!.MoveToOuterDisposeScope(), terms);
    }

    /// <summary>Mean CE over the pixels whose label is not 255 (0 if there are none).</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target)
    {
        using var scope = NewDisposeScope();
        var sum = F.cross_entropy(logits, target, ignore_index: Ignore, reduction: nn.Reduction.Sum);
        var count = target.NotEqual(Ignore).sum().to_type(logits.dtype).AtLeast(1);
        return (sum / count).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Nearest resize of N×H×W integer labels to h×w with pixel centres: row r takes source row
    /// min(H−1, floor((r + 0.5)·H/h)), likewise columns (PIL's NEAREST, <see cref="Data.ImageResize.Nearest"/>).
    /// </summary>
    public static Tensor ResizeLabels(Tensor labels, long h, long w)
    {
        long H = labels.shape[1], W = labels.shape[2];
        if (H == h && W == w) return labels.to_type(ScalarType.Int64);
        using var scope = NewDisposeScope();
        var rows = tensor(Enumerable.Range(0, (int)h).Select(r => Math.Min(H - 1, (long)((r + 0.5) * H / h))).ToArray(), device: labels.device);
        var cols = tensor(Enumerable.Range(0, (int)w).Select(c => Math.Min(W - 1, (long)((c + 0.5) * W / w))).ToArray(), device: labels.device);
        return labels.index_select(1, rows).index_select(2, cols).to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }
}
