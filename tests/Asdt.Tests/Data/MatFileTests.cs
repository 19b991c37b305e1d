using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Asdt.Data;

namespace Asdt.Tests.Data;

/// <summary>MAT v5 files written byte by byte by the test, following MathWorks' "MAT-File Format" (Level 5).</summary>
public static class MatBytes
{
    public const int miINT8 = 1, miUINT8 = 2, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miDOUBLE = 9, miMATRIX = 14, miCOMPRESSED = 15, miUTF8 = 16;
    public const int mxCELL = 1, mxCHAR = 4, mxSTRUCT = 2, mxDOUBLE = 6, mxUINT8 = 9, mxUINT16 = 11, mxINT32 = 12;

    public static byte[] Header()
    {
        var h = new byte[128];
        var text = Encoding.ASCII.GetBytes("MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: test");
        Array.Fill(h, (byte)' ', 0, 116);
        text.CopyTo(h, 0);
        h[124] = 0x00; h[125] = 0x01;          // version 0x0100, little-endian
        h[126] = (byte)'I'; h[127] = (byte)'M';
        return h;
    }

    /// <summary>A data element: 8-byte tag + data padded to 8 bytes, or the small 4+4 form when asked and data ≤ 4 bytes.</summary>
    public static byte[] Element(int type, byte[] data, bool small = false)
    {
        if (small && data.Length <= 4)
        {
            var e = new byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)(data.Length << 16 | type));
            data.CopyTo(e, 4);
            return e;
        }
        int padded = (data.Length + 7) / 8 * 8;
        var b = new byte[8 + padded];
        BinaryPrimitives.WriteInt32LittleEndian(b, type);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), data.Length);
        data.CopyTo(b, 8);
        return b;
    }

    public static byte[] Matrix(string name, int mxClass, int[] dims, byte[] realElement, bool smallName = false)
    {
        var flags = new byte[8];
        flags[0] = (byte)mxClass;
        var dimBytes = new byte[dims.Length * 4];
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(dimBytes.AsSpan(4 * i), dims[i]);
        var content = Element(miUINT32, flags)
            .Concat(Element(miINT32, dimBytes))
            .Concat(Element(miINT8, Encoding.ASCII.GetBytes(name), small: smallName))
            .Concat(realElement).ToArray();
        return Element(miMATRIX, content);
    }

    /// <summary>A numeric 2-D matrix given row-major as values[r][c]; stored column-major as MATLAB does.</summary>
    public static byte[] NumericMatrix(string name, int mxClass, int storageType, int[][] rowsMajor)
    {
        int rows = rowsMajor.Length, cols = rowsMajor[0].Length;
        int size = storageType switch { miUINT8 => 1, miUINT16 => 2, miINT32 => 4, _ => 8 };
        var data = new byte[rows * cols * size];
        int k = 0;
        for (int c = 0; c < cols; c++)
            for (int r = 0; r < rows; r++, k++)
            {
                int v = rowsMajor[r][c];
                switch (storageType)
                {
                    case miUINT8: data[k] = (byte)v; break;
                    case miUINT16: BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * k), (ushort)v); break;
                    case miINT32: BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(4 * k), v); break;
                    default: BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8 * k), v); break;
                }
            }
        return Matrix(name, mxClass, [rows, cols], Element(storageType, data), smallName: name.Length <= 4);
    }

    public static byte[] CharRow(string name, string text)
    {
        var data = new byte[text.Length * 2];
        for (int i = 0; i < text.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), text[i]);
        return Matrix(name, mxCHAR, [1, text.Length], Element(miUINT16, data));
    }

    /// <summary>miCOMPRESSED: zlib stream of one whole element, not padded.</summary>
    public static byte[] Compressed(byte[] element)
    {
        var ms = new MemoryStream();
        using (var z = new ZLibStream(ms, CompressionLevel.Optimal, leaveOpen: true)) z.Write(element);
        var payload = ms.ToArray();
        var b = new byte[8 + payload.Length];
        BinaryPrimitives.WriteInt32LittleEndian(b, miCOMPRESSED);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), payload.Length);
        payload.CopyTo(b, 8);
        return b;
    }
}

public class MatFileTests
{
    // A 3x4 label map, row-major as a person would write it.
    static readonly int[][] Labels = [[0, 1, 2, 3], [10, 11, 12, 13], [20, 21, 182, 44]];

    static void AssertRowMajor(MatArray s)
    {
        Assert.Equal([3, 4], s.Dimensions);
        Assert.Equal(3, s.Rows);
        Assert.Equal(4, s.Columns);
        Assert.Equal(Labels.SelectMany(r => r).ToArray(), s.ToRowMajorInt32("t.mat"));
        Assert.Equal(10, s.Real[1]); // column-major storage: element (2,1) comes second
    }

    [Theory]
    [InlineData(MatBytes.mxDOUBLE, MatBytes.miDOUBLE)]
    [InlineData(MatBytes.mxUINT8, MatBytes.miUINT8)]
    [InlineData(MatBytes.mxUINT16, MatBytes.miUINT16)]
    [InlineData(MatBytes.mxINT32, MatBytes.miINT32)]
    [InlineData(MatBytes.mxDOUBLE, MatBytes.miUINT8)] // MATLAB stores doubles in the smallest type that holds them
    public void Uncompressed_NumericClasses_ColumnMajorTransposed(int mxClass, int storage)
    {
        var file = MatBytes.Header().Concat(MatBytes.NumericMatrix("S", mxClass, storage, Labels)).ToArray();
        var mat = MatFile.Decode(file, "t.mat");
        var s = mat.Get("S");
        Assert.Equal((MatClass)mxClass, s.Class);
        AssertRowMajor(s);
    }

    [Fact]
    public void Compressed_SeveralVariables_WithCharAndCell()
    {
        var names = MatBytes.Matrix("names", MatBytes.mxCELL, [2, 1],
            MatBytes.CharRow("", "unlabeled").Concat(MatBytes.CharRow("", "person")).ToArray());
        var file = MatBytes.Header()
            .Concat(MatBytes.Compressed(MatBytes.NumericMatrix("S", MatBytes.mxUINT8, MatBytes.miUINT8, Labels)))
            .Concat(MatBytes.Compressed(names))
            .Concat(MatBytes.CharRow("note", "hi"))
            .Concat(MatBytes.Compressed(MatBytes.Matrix("st", MatBytes.mxSTRUCT, [1, 1], [])))
            .ToArray();
        var mat = MatFile.Decode(file, "c.mat");
        AssertRowMajor(mat.Get("S"));
        Assert.Equal(["unlabeled", "person"], mat.Get("names").Strings());
        Assert.Equal(["hi"], mat.Get("note").Strings());
        Assert.Contains("Struct arrays are not supported", Assert.Throws<AsdtException>(() => mat.Get("st")).Message);
        Assert.Contains("not found", Assert.Throws<AsdtException>(() => mat.Get("nope")).Message);
    }

    [Fact]
    public void Truncated_Corrupt_AndOversized_GiveClearErrors()
    {
        var good = MatBytes.Header().Concat(MatBytes.Compressed(MatBytes.NumericMatrix("S", MatBytes.mxDOUBLE, MatBytes.miDOUBLE, Labels))).ToArray();
        for (int cut = 130; cut < good.Length; cut += 9)
        {
            var e = Assert.ThrowsAny<AsdtException>(() => MatFile.Decode(good[..cut], "cut.mat"));
            Assert.StartsWith("cut.mat: ", e.Message);
        }
        Assert.Contains("not a MAT v5 file", Assert.Throws<AsdtException>(() => MatFile.Decode(new byte[200], "z.mat")).Message);
        var v73 = MatBytes.Header(); v73[125] = 0x02; v73[124] = 0x00;
        Assert.Contains("v7.3", Assert.Throws<AsdtException>(() => MatFile.Decode(v73, "h5.mat")).Message);

        // Dimensions declaring 2^30 elements with a few bytes of data: refused by the bound, nothing allocated.
        var huge = MatBytes.Header().Concat(MatBytes.Matrix("S", MatBytes.mxDOUBLE, [32768, 32768], MatBytes.Element(MatBytes.miDOUBLE, new byte[8]))).ToArray();
        Assert.Contains("larger than", Assert.Throws<AsdtException>(() => MatFile.Decode(huge, "big.mat")).Message);
        // Element count that does not match the dimensions.
        var mismatch = MatBytes.Header().Concat(MatBytes.Matrix("S", MatBytes.mxDOUBLE, [2, 2], MatBytes.Element(MatBytes.miDOUBLE, new byte[24]))).ToArray();
        Assert.Contains("24 data bytes for 4 elements", Assert.Throws<AsdtException>(() => MatFile.Decode(mismatch, "m.mat")).Message);
    }

    [Fact]
    public void NonIntegerLabels_AreRefused()
    {
        var file = MatBytes.Header().Concat(MatBytes.Matrix("S", MatBytes.mxDOUBLE, [1, 1], MatBytes.Element(MatBytes.miDOUBLE, BitConverter.GetBytes(1.5)))).ToArray();
        Assert.Contains("an integer was expected", Assert.Throws<AsdtException>(() => MatFile.Decode(file, "f.mat").Get("S").ToRowMajorInt32("f.mat")).Message);
    }
}
