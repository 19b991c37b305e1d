using Asdt.Crf;

namespace Asdt.Training;

/// <summary>
/// The seg-teacher's knowledge B^st (paper §3.3, ALGORITHM.md §6.3, A4/A5): the detached seg-teacher
/// probabilities, restricted to background and the image's classes, refined by the dense CRF
/// (RRM inference parameters by default), argmax. Hard labels, no ignore region.
/// The same class-restricted CRF labelling makes the final pseudo masks (§7).
/// </summary>
public static class SegTeacherLabel
{
    /// <param name="probabilities">Class-major [classes][height·width], index 0 = background, c + 1 = foreground class c.</param>
    /// <param name="presentClasses">Foreground classes c (0-based) allowed besides background; null keeps every class.</param>
    public static byte[] Compute(ReadOnlySpan<byte> rgb, int width, int height, ReadOnlySpan<float> probabilities, int classes,
        IReadOnlyList<int>? presentClasses, CrfParameters crf, int threads = 1)
    {
        int n = width * height;
        if (probabilities.Length != classes * n) throw new ArgumentException("probabilities size does not match classes × width × height");
        int[] kept = presentClasses == null
            ? Enumerable.Range(0, classes).ToArray()
            : new[] { 0 }.Concat(presentClasses.Distinct().Order().Select(c => c + 1)).ToArray();
        if (kept.Any(c => c >= classes)) throw new ArgumentOutOfRangeException(nameof(presentClasses));
        var restricted = new float[kept.Length * n];
        for (int j = 0; j < kept.Length; j++) probabilities.Slice(kept[j] * n, n).CopyTo(restricted.AsSpan(j * n, n));
        var q = DenseCrf.Infer(rgb, width, height, restricted, kept.Length, crf, threads);
        var labels = DenseCrf.Argmax(q, kept.Length, n);
        for (int i = 0; i < n; i++) labels[i] = (byte)kept[labels[i]];
        return labels;
    }
}
