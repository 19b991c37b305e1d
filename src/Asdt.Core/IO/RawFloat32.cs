using System.Runtime.InteropServices;

namespace Asdt.IO;

/// <summary>Raw little-endian float32 files (e.g. probability maps [labels][H][W] for <c>asdt crf</c>).</summary>
public static class RawFloat32
{
    public static float[] Read(string path)
    {
        if (!File.Exists(path)) throw new AsdtException(path, "file not found");
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new AsdtException(path, $"cannot read ({e.Message})", e); }
        if (bytes.Length % 4 != 0) throw new AsdtException(path, $"size {bytes.Length} bytes is not a multiple of 4 (raw float32 expected)");
        var f = new float[bytes.Length / 4];
        if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(bytes).CopyTo(f);
        else for (int i = 0; i < f.Length; i++) f[i] = BitConverter.ToSingle(bytes, 4 * i);
        return f;
    }

    /// <summary>Writes atomically.</summary>
    public static void Write(string path, ReadOnlySpan<float> values) => AtomicFile.WriteAllBytes(path, MemoryMarshal.AsBytes(values));
}
