using Asdt.Training;
using static TorchSharp.torch;

namespace Asdt.Tests.Training;

public class BalancedCrossEntropyTests
{
    // Brute force: per-pixel -log softmax, averaged separately over bg and fg pixels.
    static double Reference(float[] logits, long[] labels, int n, int c, int hw)
    {
        double bg = 0, fg = 0; int nbg = 0, nfg = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
            {
                long y = labels[b * hw + i];
                if (y == 255) continue;
                double max = double.MinValue;
                for (int k = 0; k < c; k++) max = Math.Max(max, logits[(b * c + k) * hw + i]);
                double z = 0;
                for (int k = 0; k < c; k++) z += Math.Exp(logits[(b * c + k) * hw + i] - max);
                double nll = -(logits[(b * c + y) * hw + i] - max - Math.Log(z));
                if (y == 0) { bg += nll; nbg++; } else { fg += nll; nfg++; }
            }
        return (nbg > 0 ? bg / nbg : 0) + (nfg > 0 ? fg / nfg : 0);
    }

    static (float[], long[]) Random(int n, int c, int hw, int seed, Func<Random, long> label)
    {
        var rng = new Random(seed);
        var logits = Enumerable.Range(0, n * c * hw).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        var labels = Enumerable.Range(0, n * hw).Select(_ => label(rng)).ToArray();
        return (logits, labels);
    }

    static double Run(float[] logits, long[] labels, int n, int c, int h, int w)
    {
        using var scope = NewDisposeScope();
        var x = tensor(logits).reshape(n, c, h, w);
        var y = tensor(labels).reshape(n, h, w);
        return BalancedCrossEntropy.Compute(x, y).item<float>();
    }

    [Fact]
    public void MatchesBruteForceWithIgnoreAndBothTerms()
    {
        const int n = 2, c = 5, h = 6, w = 7;
        var (logits, labels) = Random(n, c, h * w, 1, r => r.NextDouble() < 0.2 ? 255 : r.Next(c));
        Assert.Equal(Reference(logits, labels, n, c, h * w), Run(logits, labels, n, c, h, w), 4);
    }

    [Fact]
    public void EmptyForegroundTermContributesZeroNotNaN()
    {
        const int n = 1, c = 3, h = 4, w = 4;
        var (logits, labels) = Random(n, c, h * w, 2, r => r.NextDouble() < 0.5 ? 255 : 0);
        double got = Run(logits, labels, n, c, h, w);
        Assert.False(double.IsNaN(got));
        Assert.Equal(Reference(logits, labels, n, c, h * w), got, 4);
    }

    [Fact]
    public void AllIgnoredGivesZeroAndNoGradientNaN()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 4, 4).requires_grad_(true);
        var y = full(new long[] { 1, 4, 4 }, 255L, dtype: ScalarType.Int64);
        var loss = BalancedCrossEntropy.Compute(x, y);
        Assert.Equal(0f, loss.item<float>());
        loss.backward();
        Assert.False(x.grad!.isnan().any().item<bool>());
    }
}
