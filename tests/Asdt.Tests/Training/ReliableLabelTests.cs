using Asdt.Training;

namespace Asdt.Tests.Training;

/// <summary>RRM's reliable-region mining on crafted CAMs (ALGORITHM.md §4.3), with the real dense CRF.</summary>
public class ReliableLabelTests
{
    const int W = 40, H = 30, Classes = 5;

    static byte[] Image(Func<int, int, (byte, byte, byte)> color)
    {
        var rgb = new byte[W * H * 3];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
            {
                var (r, g, b) = color(x, y);
                int o = (y * W + x) * 3; rgb[o] = r; rgb[o + 1] = g; rgb[o + 2] = b;
            }
        return rgb;
    }

    [Fact]
    public void ObjectOnLeftGetsItsClassOnlyInsideBackgroundOnRightAndPercentileBoundsTheArea()
    {
        const int cls = 2;
        var rgb = Image((x, y) => x < W / 2 ? ((byte)200, (byte)40, (byte)40) : ((byte)30, (byte)90, (byte)160));
        var cams = new float[Classes * W * H];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W / 2; x++)
                cams[cls * W * H + y * W + x] = 0.5f + 0.5f * (x + y * 0.37f) / (W / 2 + H * 0.37f); // varied, all > 0.1
        var labels = ReliableLabel.Compute(rgb, W, H, cams, Classes, [cls], new ReliableLabelSettings());

        int fg = 0, bg = 0;
        for (int i = 0; i < W * H; i++)
        {
            int x = i % W;
            Assert.Contains(labels[i], new byte[] { 0, cls + 1, 255 });
            if (labels[i] == cls + 1) { fg++; Assert.True(x < W / 2, $"class label outside the object at x={x}"); }
            if (labels[i] == 0) { bg++; Assert.True(x >= W / 2, $"background label inside the object at x={x}"); }
        }
        Assert.True(bg > W * H / 4, $"expected most of the right half reliable background, got {bg}");
        // Only pixels above the 60th percentile of the class's winning CAM values are CAM-sure.
        Assert.True(fg > 0 && fg <= 0.4 * (W / 2) * H + 1, $"fg {fg}");
    }

    [Fact]
    public void WeakUniformCamGivesNoReliablePixel()
    {
        // m = 0.2: (1−m)^4 = 0.41 > m, so L_la is background (→ ignore); (1−m)^32 ≈ 8e-4 < m, so L_ha is
        // the class, never background. Nothing survives.
        var rgb = Image((x, y) => ((byte)120, (byte)120, (byte)120));
        var cams = new float[Classes * W * H];
        Array.Fill(cams, 0.2f, 1 * W * H, W * H);
        var labels = ReliableLabel.Compute(rgb, W, H, cams, Classes, [1], new ReliableLabelSettings());
        Assert.All(labels, v => Assert.Equal(ReliableLabel.Ignore, v));
    }

    [Fact]
    public void PresentClassWithoutAnyCamAboveMinimumDoesNotThrowAndNeverAppears()
    {
        var rgb = Image((x, y) => x < W / 2 ? ((byte)220, (byte)220, (byte)20) : ((byte)20, (byte)20, (byte)20));
        var cams = new float[Classes * W * H];
        for (int i = 0; i < W * H; i++)
        {
            if (i % W < W / 2) cams[3 * W * H + i] = 0.7f + 0.3f * (i % W) / (W / 2); // varied: the percentile test keeps the top part
            cams[0 * W * H + i] = 0.05f;                          // present, never above 0.1
        }
        var labels = ReliableLabel.Compute(rgb, W, H, cams, Classes, [0, 3], new ReliableLabelSettings(), threads: 2);
        Assert.DoesNotContain((byte)1, labels);
        Assert.Contains((byte)4, labels.Where((_, i) => i % W < W / 2));
    }

    [Fact]
    public void NoPresentClassMeansBackgroundOrIgnoreOnly()
    {
        var rgb = Image((x, y) => ((byte)(x * 6), (byte)(y * 8), 50));
        var labels = ReliableLabel.Compute(rgb, W, H, new float[Classes * W * H], Classes, [], new ReliableLabelSettings());
        Assert.All(labels, v => Assert.True(v == 0 || v == 255));
        Assert.Contains((byte)0, labels);
    }
}
