namespace Asdt.Data;

/// <summary>
/// How 8-bit RGB pixels become network input: <c>value = (pixel · Scale − Mean[c]) / Std[c]</c>, where output channel
/// c is R, G, B (or B, G, R when <paramref name="Bgr"/>) and Mean/Std are given in output channel order.
/// (Placeholder until the backbone's InputNormalization is unified with it.)
/// </summary>
public sealed record ImageNormalization(float[] Mean, float[] Std, bool Bgr, float Scale)
{
    /// <summary>ImageNet statistics on RGB in [0, 1] (ALGORITHM.md §1.2; ResNet-38 / PSA / RRM).</summary>
    public static ImageNormalization ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f], false, 1f / 255f);

    /// <summary>Source RGB channel of output channel c.</summary>
    public int SourceChannel(int c) => Bgr ? 2 - c : c;

    public float Normalize(byte pixel, int outputChannel) => (pixel * Scale - Mean[outputChannel]) / Std[outputChannel];

    /// <summary>Inverse of <see cref="Normalize"/>, rounded and clamped to 0..255.</summary>
    public byte Denormalize(float value, int outputChannel)
    {
        float p = (value * Std[outputChannel] + Mean[outputChannel]) / Scale;
        return (byte)Math.Clamp(MathF.Round(p), 0f, 255f);
    }

    /// <summary>The RGB colour that a zero input (padding) stands for.</summary>
    public (byte R, byte G, byte B) ZeroColor()
    {
        var rgb = new byte[3];
        for (int c = 0; c < 3; c++) rgb[SourceChannel(c)] = Denormalize(0f, c);
        return (rgb[0], rgb[1], rgb[2]);
    }

    public void Validate()
    {
        if (Mean.Length != 3 || Std.Length != 3) throw new ArgumentException("normalisation needs 3 means and 3 standard deviations");
        if (Std.Any(s => !(s > 0)) || !(Scale > 0)) throw new ArgumentException("normalisation standard deviations and scale must be positive");
    }
}
