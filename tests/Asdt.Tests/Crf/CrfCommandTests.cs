using Asdt.IO;
using Asdt.Data;
using System.Runtime.InteropServices;
using System.Text;
using Asdt.Cli;
using Asdt.Crf;

namespace Asdt.Tests.Crf;

/// <summary><c>asdt crf</c> end to end on a real photo written as PPM, and its one-line user errors.</summary>
public class CrfCommandTests
{
    const int W = 64, H = 48, N = W * H;

    static (string Image, string Probs, byte[] Gt, float[] P, int Labels) Inputs(TempFolder tmp)
    {
        var rgb = CrfTestImages.Crop("4_24_s.jpg", 80, 140, W, H);
        var gt = CrfTestImages.GroundTruth("4_24_s.jpg", 80, 140, W, H);
        var p = CrfTestImages.GroundTruthProbabilities(gt, W, H, 3, out int labels);
        string image = tmp.File("crop.ppm");
        File.WriteAllBytes(image, [.. Encoding.ASCII.GetBytes($"P6\n# MSRC crop\n{W} {H}\n255\n"), .. rgb]);
        string probs = tmp.File("p.bin");
        File.WriteAllBytes(probs, MemoryMarshal.AsBytes(p.AsSpan()).ToArray());
        return (image, probs, gt, p, labels);
    }

    [Fact]
    public void Crf_WritesLabelsAndQ_SameAsLibrary()
    {
        using var tmp = TestData.NewTempFolder();
        var (image, probs, _, p, labels) = Inputs(tmp);
        string png = tmp.File("out/labels.png"), q = tmp.File("q.bin");
        int rc = AsdtCommandLine.Run(["crf", image, probs, "--out", png, "--q-out", q, "--preset", "rrm-inference", "--iterations", "5", "--threads", "1"]);
        Assert.Equal(0, rc);

        var img = ImageFile.Read(image);
        var rgb = img.Pixels;
        Assert.Equal((W, H), (img.Width, img.Height));
        var expectedQ = DenseCrf.Infer(rgb, W, H, p, labels, CrfParameters.RrmInference with { Iterations = 5 });
        var qFile = RawFloat32.Read(q);
        Assert.Equal(expectedQ, qFile);
        var written = PalettePng.Read(png).Labels;   // palette PNG: the index is the label
        var expected = DenseCrf.Argmax(expectedQ, labels, N);
        Assert.Equal(expected, written);

        // The lattice position kernel on request: the library's numbers with PositionKernel.Lattice.
        string ql = tmp.File("ql.bin");
        Assert.Equal(0, AsdtCommandLine.Run(["crf", image, probs, "-o", tmp.File("l2.png"), "--q-out", ql, "-p", "rrm-inference", "-n", "5", "-t", "1", "--position-kernel", "lattice"]));
        var latticeQ = DenseCrf.Infer(rgb, W, H, p, labels, CrfParameters.RrmInference with { Iterations = 5, PositionKernel = PositionKernel.Lattice });
        Assert.Equal(latticeQ, RawFloat32.Read(ql));
        Assert.NotEqual(expectedQ, latticeQ);

        // VOC colours, labels given explicitly.
        string coloured = tmp.File("c.png");
        Assert.Equal(0, AsdtCommandLine.Run(["crf", image, probs, "-o", coloured, "--labels", labels.ToString(), "--colour", "-n", "5", "-p", "rrm-inference", "-t", "1"]));
        var c = ImageFile.Read(coloured).Pixels;
        for (int i = 0; i < N; i++) Assert.Equal(VocPalette.Color(expected[i]), (c[3 * i], c[3 * i + 1], c[3 * i + 2]));
    }

    [Fact]
    public void Crf_UserErrors_ExitWithOneLine()
    {
        using var tmp = TestData.NewTempFolder();
        var (image, probs, _, _, labels) = Inputs(tmp);
        string png = tmp.File("l.png");
        Assert.Equal(2, AsdtCommandLine.Run(["crf", tmp.File("missing.jpg"), probs, "-o", png]));
        Assert.Equal(2, AsdtCommandLine.Run(["crf", image, tmp.File("missing.bin"), "-o", png]));
        Assert.Equal(2, AsdtCommandLine.Run(["crf", image, probs, "-o", png, "--labels", (labels + 1).ToString()]));
        Assert.Equal(2, AsdtCommandLine.Run(["crf", image, probs, "-o", png, "--preset", "nope"]));
        Assert.Equal(2, AsdtCommandLine.Run(["crf", image, probs, "-o", png, "--bilateral-srgb", "0"]));
        Assert.NotEqual(0, AsdtCommandLine.Run(["crf", image, probs, "-o", png, "--position-kernel", "fourier"]));
        string odd = tmp.File("odd.bin");
        File.WriteAllBytes(odd, new byte[N * 4 * 2 + 4]);
        Assert.Equal(2, AsdtCommandLine.Run(["crf", image, odd, "-o", png]));
        string bad = tmp.File("bad.png");
        File.WriteAllText(bad, "not an image");
        Assert.Equal(2, AsdtCommandLine.Run(["crf", bad, probs, "-o", png]));
        File.WriteAllBytes(bad, Encoding.ASCII.GetBytes($"P6\n{W} {H}\n255\n").Concat(new byte[10]).ToArray());
        Assert.Equal(2, AsdtCommandLine.Run(["crf", bad, probs, "-o", png]));
        Assert.False(File.Exists(png));
        Assert.Equal(0, AsdtCommandLine.Run(["crf", "--help"]));
    }
}
