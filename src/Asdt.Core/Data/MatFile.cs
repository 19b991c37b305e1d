using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Asdt.Data;

/// <summary>MATLAB array classes (mxClassID of the MAT-file v5 format).</summary>
public enum MatClass
{
    Cell = 1, Struct = 2, Object = 3, Char = 4, Sparse = 5, Double = 6, Single = 7,
    Int8 = 8, UInt8 = 9, Int16 = 10, UInt16 = 11, Int32 = 12, UInt32 = 13, Int64 = 14, UInt64 = 15,
}

/// <summary>
/// One MATLAB variable. Numeric data is kept as stored by MATLAB: <b>column-major</b> in <see cref="Real"/>
/// (element (r, c) of a 2-D array is <c>Real[c * Rows + r]</c>); use <see cref="ToRowMajorInt32"/> for a
/// row-major H×W map. Values are widened to double (exact for every integer class up to 32 bits).
/// </summary>
public sealed class MatArray
{
    public required string Name { get; init; }
    public required MatClass Class { get; init; }
    public required int[] Dimensions { get; init; }
    public bool IsComplex { get; init; }
    public bool IsLogical { get; init; }
    /// <summary>Real part, column-major (numeric classes only; empty otherwise).</summary>
    public double[] Real { get; init; } = [];
    /// <summary>Char arrays: one string per row of the char matrix.</summary>
    public string[] CharRows { get; init; } = [];
    /// <summary>Cell arrays: the cells, column-major.</summary>
    public IReadOnlyList<MatArray> Cells { get; init; } = [];

    public int Rows => Dimensions.Length > 0 ? Dimensions[0] : 0;
    public int Columns => Dimensions.Length < 2 ? 1 : (int)Dimensions.Skip(1).Aggregate(1L, (a, d) => a * d);
    public long ElementCount => Dimensions.Aggregate(1L, (a, d) => a * d);

    /// <summary>The 2-D numeric array as row-major int (index y * Columns + x), checking every value is an integer in int range.</summary>
    public int[] ToRowMajorInt32(string pathForErrors)
    {
        if (Class is MatClass.Cell or MatClass.Struct or MatClass.Object or MatClass.Char or MatClass.Sparse)
            throw new AsdtException(pathForErrors, $"variable '{Name}' is a {Class} array, a numeric matrix was expected");
        if (Dimensions.Length > 2 && Dimensions.Skip(2).Any(d => d != 1))
            throw new AsdtException(pathForErrors, $"variable '{Name}' has {Dimensions.Length} dimensions ({string.Join("x", Dimensions)}), a 2-D matrix was expected");
        int rows = Rows, cols = Columns;
        var result = new int[(long)rows * cols];
        for (int c = 0; c < cols; c++)
            for (int r = 0; r < rows; r++)
            {
                double v = Real[(long)c * rows + r];
                if (v != Math.Floor(v) || v < int.MinValue || v > int.MaxValue)
                    throw new AsdtException(pathForErrors, $"variable '{Name}' holds {v} at ({r + 1},{c + 1}), an integer was expected");
                result[(long)r * cols + c] = (int)v;
            }
        return result;
    }

    /// <summary>Strings of a cell array of char rows (e.g. a 'names' list), or the rows of a char matrix.</summary>
    public IReadOnlyList<string> Strings() => Class switch
    {
        MatClass.Char => CharRows,
        MatClass.Cell => Cells.Select(c => c.Class == MatClass.Char ? string.Concat(c.CharRows) : throw new AsdtException($"cell array '{Name}' holds a {c.Class}, not text")).ToArray(),
        _ => throw new AsdtException($"variable '{Name}' is a {Class} array, not text"),
    };
}

/// <summary>The variables of a MAT file, plus the ones skipped (unsupported classes) with the reason.</summary>
public sealed class MatFileContents
{
    public required string Path { get; init; }
    public required IReadOnlyDictionary<string, MatArray> Variables { get; init; }
    public required IReadOnlyDictionary<string, string> Skipped { get; init; }

    public MatArray Get(string name)
    {
        if (Variables.TryGetValue(name, out var v)) return v;
        if (Skipped.TryGetValue(name, out var why)) throw new AsdtException(Path, $"variable '{name}' cannot be read: {why}");
        throw new AsdtException(Path, $"variable '{name}' not found (variables: {string.Join(", ", Variables.Keys.Concat(Skipped.Keys))})");
    }
}

/// <summary>
/// Reader for MATLAB Level 5 MAT-files ("MAT-File Format", MathWorks, the v5/v6/v7 layout): a 128-byte header
/// (text, subsystem offset, version 0x0100, endian indicator "IM"/"MI") followed by data elements, each an
/// 8-byte tag (type, byte count) or the 4+4-byte small-element form, padded to 8 bytes; miCOMPRESSED elements
/// hold one zlib-compressed element. Reads miMATRIX variables of numeric classes, char arrays and cell arrays of
/// those; struct, object, sparse and function-handle variables are skipped (listed in
/// <see cref="MatFileContents.Skipped"/>). v7.3 (HDF5) files are refused with a clear message. Every size is
/// checked against the bytes actually present, and arrays are bounded, before anything is allocated.
/// </summary>
public static class MatFile
{
    public const long MaxFileBytes = 512L << 20;
    /// <summary>Largest element count of one array, and largest decompressed element (bytes).</summary>
    public const long MaxElements = 1L << 28, MaxInflatedBytes = 1L << 30;

    const int miINT8 = 1, miUINT8 = 2, miINT16 = 3, miUINT16 = 4, miINT32 = 5, miUINT32 = 6, miSINGLE = 7,
        miDOUBLE = 9, miINT64 = 12, miUINT64 = 13, miMATRIX = 14, miCOMPRESSED = 15, miUTF8 = 16, miUTF16 = 17, miUTF32 = 18;

    public static MatFileContents Read(string path) => Decode(DataFiles.ReadAllBytes(path, MaxFileBytes), path);

    public static MatFileContents Decode(byte[] bytes, string path)
    {
        if (bytes.Length < 128) throw new AsdtException(path, $"not a MAT v5 file (only {bytes.Length} bytes, the header alone is 128)");
        bool bigEndian = bytes[126] == 'M' && bytes[127] == 'I';
        if (!bigEndian && !(bytes[126] == 'I' && bytes[127] == 'M'))
            throw new AsdtException(path, "not a MAT v5 file (no endian indicator at byte 126; MAT v4 files are not supported)");
        int version = bigEndian ? BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(124)) : BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(124));
        if (version == 0x0200) throw new AsdtException(path, "MAT v7.3 (HDF5) files are not supported; re-save with save(..., '-v7')");
        if (version != 0x0100) throw new AsdtException(path, $"not a MAT v5 file (version 0x{version:X4})");
        var vars = new Dictionary<string, MatArray>();
        var skipped = new Dictionary<string, string>();
        var r = new Reader(bytes, 128, bytes.Length, bigEndian, path);
        while (r.Remaining > 0)
        {
            if (r.Remaining < 8) throw new AsdtException(path, $"truncated MAT file ({r.Remaining} stray bytes at the end)");
            var (type, data, _) = r.ReadElement(out int nextPos, compressedUnpadded: true);
            if (type == miCOMPRESSED)
            {
                byte[] inflated = Inflate(bytes, data.Offset, data.Length, path);
                var inner = new Reader(inflated, 0, inflated.Length, bigEndian, path);
                var (t2, d2, _) = inner.ReadElement(out _, compressedUnpadded: false);
                if (t2 == miMATRIX) AddVariable(inner, d2, vars, skipped);
            }
            else if (type == miMATRIX) AddVariable(r, data, vars, skipped);
            r.Position = nextPos;
        }
        return new MatFileContents { Path = path, Variables = vars, Skipped = skipped };
    }

    static void AddVariable(Reader r, Segment data, Dictionary<string, MatArray> vars, Dictionary<string, string> skipped)
    {
        var (array, skipReason, name) = ReadMatrix(r, data, depth: 0);
        if (array != null) vars[array.Name] = array;
        else skipped[name] = skipReason!;
    }

    static byte[] Inflate(byte[] bytes, int offset, int length, string path)
    {
        try
        {
            using var z = new ZLibStream(new MemoryStream(bytes, offset, length, writable: false), CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[1 << 16];
            int n;
            while ((n = z.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, n);
                if (output.Length > MaxInflatedBytes) throw new AsdtException(path, $"compressed MAT element inflates to more than {MaxInflatedBytes} bytes");
            }
            if (output.Length < 8) throw new AsdtException(path, "truncated or corrupt compressed MAT element");
            return output.ToArray();
        }
        catch (Exception e) when (e is InvalidDataException or IOException) // ZLibException is an IOException
        { throw new AsdtException(path, $"corrupt compressed MAT element ({e.Message})", e); }
    }

    /// <summary>Parses the content of one miMATRIX element. Returns the array, or null with the reason it was skipped.</summary>
    static (MatArray? Array, string? SkipReason, string Name) ReadMatrix(Reader parent, Segment content, int depth)
    {
        string path = parent.Path;
        if (depth > 16) throw new AsdtException(path, "MAT cell arrays nested too deeply");
        if (content.Length == 0)
            return (new MatArray { Name = "", Class = MatClass.Double, Dimensions = [0, 0] }, null, "");
        var r = new Reader(parent.Bytes, content.Offset, content.Offset + content.Length, parent.BigEndian, path);
        var (flagsType, flags, _) = r.ReadElement(out int p1, compressedUnpadded: false);
        if (flagsType != miUINT32 || flags.Length < 8) throw new AsdtException(path, "corrupt MAT array (bad array flags sub-element)");
        uint f0 = r.U32(flags.Offset);
        var cls = (MatClass)(f0 & 0xFF);
        bool complex = (f0 & 0x800) != 0, logical = (f0 & 0x200) != 0;
        r.Position = p1;
        var (dimType, dimSeg, _) = r.ReadElement(out int p2, compressedUnpadded: false);
        if (dimType != miINT32 || dimSeg.Length % 4 != 0 || dimSeg.Length < 8) throw new AsdtException(path, "corrupt MAT array (bad dimensions sub-element)");
        var dims = new int[dimSeg.Length / 4];
        long count = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            int d = (int)r.U32(dimSeg.Offset + 4 * i);
            if (d < 0) throw new AsdtException(path, $"corrupt MAT array (dimension {d})");
            dims[i] = d; count *= d;
            if (count > MaxElements) throw new AsdtException(path, $"MAT array of {string.Join("x", dims.Take(i + 1))}... elements is larger than the {MaxElements} accepted");
        }
        r.Position = p2;
        var (nameType, nameSeg, _) = r.ReadElement(out int p3, compressedUnpadded: false);
        if (nameType != miINT8 && nameType != miUINT8) throw new AsdtException(path, "corrupt MAT array (bad name sub-element)");
        string name = Encoding.ASCII.GetString(parent.Bytes, nameSeg.Offset, nameSeg.Length);
        r.Position = p3;
        switch (cls)
        {
            case MatClass.Cell:
            {
                var cells = new List<MatArray>((int)Math.Min(count, 4096));
                for (long i = 0; i < count; i++)
                {
                    var (t, seg, _) = r.ReadElement(out int next, compressedUnpadded: false);
                    if (t != miMATRIX) throw new AsdtException(path, $"corrupt MAT cell array '{name}' (element {i} is type {t}, not miMATRIX)");
                    var (cell, why, _) = ReadMatrix(r, seg, depth + 1);
                    if (cell == null) return (null, $"cell {i + 1} of '{name}': {why}", name);
                    cells.Add(cell);
                    r.Position = next;
                }
                return (new MatArray { Name = name, Class = cls, Dimensions = dims, Cells = cells }, null, name);
            }
            case MatClass.Char:
            {
                var (t, seg, _) = r.ReadElement(out _, compressedUnpadded: false);
                var codes = ReadNumbers(r, t, seg, count, name);
                int rows = dims[0], cols = rows == 0 ? 0 : (int)(count / rows);
                var lines = new string[rows];
                var sb = new StringBuilder(cols);
                for (int y = 0; y < rows; y++)
                {
                    sb.Clear();
                    for (int x = 0; x < cols; x++) sb.Append((char)(int)codes[(long)x * rows + y]);
                    lines[y] = sb.ToString();
                }
                return (new MatArray { Name = name, Class = cls, Dimensions = dims, CharRows = lines }, null, name);
            }
            case MatClass.Double or MatClass.Single or MatClass.Int8 or MatClass.UInt8 or MatClass.Int16 or MatClass.UInt16
                or MatClass.Int32 or MatClass.UInt32 or MatClass.Int64 or MatClass.UInt64:
            {
                var (t, seg, _) = r.ReadElement(out _, compressedUnpadded: false);
                var real = ReadNumbers(r, t, seg, count, name);
                return (new MatArray { Name = name, Class = cls, Dimensions = dims, Real = real, IsComplex = complex, IsLogical = logical }, null, name);
            }
            case MatClass.Struct or MatClass.Object or MatClass.Sparse:
                return (null, $"{cls} arrays are not supported", name);
            default:
                return (null, $"array class {(int)cls} is not supported", name);
        }
    }

    static double[] ReadNumbers(Reader r, int type, Segment seg, long count, string name)
    {
        int size = type switch
        {
            miINT8 or miUINT8 or miUTF8 => 1, miINT16 or miUINT16 or miUTF16 => 2,
            miINT32 or miUINT32 or miSINGLE or miUTF32 => 4, miDOUBLE or miINT64 or miUINT64 => 8,
            _ => throw new AsdtException(r.Path, $"corrupt MAT array '{name}' (data type {type} is not numeric)"),
        };
        if (seg.Length != count * size)
            throw new AsdtException(r.Path, $"corrupt MAT array '{name}' ({seg.Length} data bytes for {count} elements of {size} bytes)");
        var v = new double[count];
        var b = r.Bytes;
        for (long i = 0; i < count; i++)
        {
            int o = seg.Offset + (int)(i * size);
            v[i] = type switch
            {
                miINT8 => (sbyte)b[o],
                miUINT8 or miUTF8 => b[o],
                miINT16 => (short)r.U16(o),
                miUINT16 or miUTF16 => r.U16(o),
                miINT32 => (int)r.U32(o),
                miUINT32 or miUTF32 => r.U32(o),
                miSINGLE => BitConverter.Int32BitsToSingle((int)r.U32(o)),
                miDOUBLE => BitConverter.Int64BitsToDouble((long)r.U64(o)),
                miINT64 => (long)r.U64(o),
                _ => r.U64(o),
            };
        }
        return v;
    }

    readonly record struct Segment(int Offset, int Length);

    sealed class Reader(byte[] bytes, int start, int end, bool bigEndian, string path)
    {
        public byte[] Bytes { get; } = bytes;
        public bool BigEndian { get; } = bigEndian;
        public string Path { get; } = path;
        public int Position { get; set; } = start;
        public int Remaining => end - Position;

        public ushort U16(int o) => BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(o));
        public uint U32(int o) => BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt32LittleEndian(Bytes.AsSpan(o));
        public ulong U64(int o) => BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(Bytes.AsSpan(o)) : BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(o));

        /// <summary>Reads the tag at <see cref="Position"/>; returns the data segment and the position of the next element.</summary>
        public (int Type, Segment Data, bool Small) ReadElement(out int next, bool compressedUnpadded)
        {
            if (Remaining < 8) throw new AsdtException(Path, $"truncated MAT file (data element tag at byte {Position} is cut off)");
            uint first = U32(Position);
            if ((first >> 16) != 0)
            {
                int n = (int)(first >> 16), t = (int)(first & 0xFFFF);
                if (n > 4) throw new AsdtException(Path, $"corrupt MAT file (small data element of {n} bytes at byte {Position})");
                var seg = new Segment(Position + 4, n);
                next = Position + 8;
                return (t, seg, true);
            }
            int type = (int)first;
            uint count = U32(Position + 4);
            if (count > Remaining - 8)
                throw new AsdtException(Path, $"truncated MAT file (element at byte {Position} declares {count} bytes, {Remaining - 8} remain)");
            var data = new Segment(Position + 8, (int)count);
            long padded = compressedUnpadded && type == miCOMPRESSED ? count : (count + 7L) & ~7L; // padding is relative to the element
            long after = (long)Position + 8 + padded;
            next = (int)Math.Min(after, end);
            return (type, data, false);
        }
    }
}
