using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Asdt.Models.Weights;

/// <summary>
/// Checks a PyTorch zip checkpoint before TorchSharp.PyBridge unpickles it. PyBridge allocates every storage from the
/// element count written in the pickle and every tensor from its shape, before looking at the data, so a corrupt or
/// hostile file of a few bytes could make it allocate gigabytes. This walks the pickle's opcodes without executing
/// anything (the subset <c>torch.save</c> writes, protocols 2–5) and requires each storage's declared size to fit
/// the bytes of its <c>data/KEY</c> entry and each tensor's shape to fit its storage. Anything else is refused with
/// one <see cref="AsdtException"/>.
/// </summary>
internal static class PthValidator
{
    const long MaxPickleBytes = 256L << 20;
    const int MaxStack = 1 << 20, MaxMemo = 1 << 22;

    abstract record Value;
    sealed record Mark : Value;
    sealed record Str(string S) : Value;
    sealed record Int(long V) : Value;
    sealed record Global(string Module, string Name) : Value;
    sealed record Tup(Value[] Items) : Value;
    sealed record Storage(long Bytes, int ElementSize) : Value;
    sealed record Other : Value { public static readonly Other It = new(); }

    public static void Validate(string path)
    {
        try
        {
            using var archive = ZipFile.OpenRead(path);
            var pkl = archive.Entries.Where(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal)).ToList();
            if (pkl.Count != 1) throw Bad(path, pkl.Count == 0 ? "no data.pkl in the archive" : "more than one data.pkl in the archive");
            if (pkl[0].Length > MaxPickleBytes) throw Bad(path, $"data.pkl of {pkl[0].Length} bytes");
            var data = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var e in archive.Entries)
            {
                int slash = e.FullName.LastIndexOf("/data/", StringComparison.Ordinal);
                if (slash >= 0) data[e.FullName[(slash + 6)..]] = e.Length;
            }
            byte[] pickle = new byte[pkl[0].Length];
            using (var s = pkl[0].Open()) s.ReadExactly(pickle);
            Walk(pickle, data, path);
        }
        catch (InvalidDataException e) { throw Bad(path, $"corrupt zip archive ({e.Message})", e); }
        catch (EndOfStreamException e) { throw Bad(path, "truncated data.pkl", e); }
        catch (IOException e) { throw new AsdtException(path, $"cannot read ({e.Message})", e); }
    }

    static AsdtException Bad(string path, string problem, Exception? inner = null) =>
        new(path, "not a valid PyTorch state dict: " + problem, inner);

    static int ElementSize(string storageName) => storageName switch
    {
        "DoubleStorage" or "LongStorage" or "ComplexFloatStorage" => 8,
        "FloatStorage" or "IntStorage" => 4,
        "HalfStorage" or "BFloat16Storage" or "ShortStorage" => 2,
        "CharStorage" or "ByteStorage" or "BoolStorage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => 0,
    };

    static void Walk(byte[] p, Dictionary<string, long> entries, string path)
    {
        var stack = new List<Value>();
        var memo = new Dictionary<long, Value>();
        int pos = 0;
        AsdtException Fail(string what) => Bad(path, $"{what} (data.pkl byte {pos})");
        ReadOnlySpan<byte> Take(long n)
        {
            if (n < 0 || n > p.Length - pos) throw Fail("truncated pickle");
            var span = p.AsSpan(pos, (int)n);
            pos += (int)n;
            return span;
        }
        string Line()
        {
            int end = Array.IndexOf(p, (byte)'\n', pos);
            if (end < 0 || end - pos > 1000) throw Fail("truncated pickle");
            string s = Encoding.UTF8.GetString(p, pos, end - pos);
            pos = end + 1;
            return s;
        }
        void Push(Value v)
        {
            if (stack.Count >= MaxStack) throw Fail("pickle stack too deep");
            stack.Add(v);
        }
        Value Pop()
        {
            if (stack.Count == 0 || stack[^1] is Mark) throw Fail("pickle stack underflow");
            var v = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return v;
        }
        Value[] PopToMark()
        {
            int m = stack.FindLastIndex(v => v is Mark);
            if (m < 0) throw Fail("pickle MARK missing");
            var items = stack.GetRange(m + 1, stack.Count - m - 1).ToArray();
            stack.RemoveRange(m, stack.Count - m);
            return items;
        }
        void Put(long index)
        {
            if (stack.Count == 0) throw Fail("pickle memo of an empty stack");
            if (memo.Count >= MaxMemo) throw Fail("pickle memo too large");
            memo[index] = stack[^1];
        }
        Value Get(long index) => memo.TryGetValue(index, out var v) ? v : throw Fail($"pickle memo {index} missing");

        while (true)
        {
            if (pos >= p.Length) throw Fail("pickle ends without STOP");
            byte op = p[pos++];
            switch (op)
            {
                case 0x80: Take(1); break;                                    // PROTO
                case 0x95: Take(8); break;                                    // FRAME
                case (byte)'.':                                               // STOP
                    if (stack.Count != 1) throw Fail("pickle ends with a malformed stack");
                    return;
                case (byte)'}': case (byte)']': case (byte)'N': case 0x88: case 0x89: Push(Other.It); break;
                case (byte)')': Push(new Tup([])); break;
                case (byte)'(': Push(new Mark()); break;
                case (byte)'q': Put(Take(1)[0]); break;                      // BINPUT
                case (byte)'r': Put(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); break;
                case 0x94: Put(memo.Count); break;                            // MEMOIZE
                case (byte)'h': Push(Get(Take(1)[0])); break;                 // BINGET
                case (byte)'j': Push(Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break;
                case (byte)'X': case (byte)'T': Push(new Str(Encoding.UTF8.GetString(Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))))); break;
                case 0x8c: case (byte)'U': Push(new Str(Encoding.UTF8.GetString(Take(Take(1)[0])))); break;
                case 0x8d: Push(new Str(Encoding.UTF8.GetString(Take((long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(Take(8)), long.MaxValue))))); break;
                case (byte)'B': Take(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); Push(Other.It); break;
                case (byte)'C': Take(Take(1)[0]); Push(Other.It); break;
                case (byte)'c': { string module = Line(), name = Line(); Push(new Global(module, name)); break; }
                case 0x93:                                                    // STACK_GLOBAL
                {
                    var name = Pop(); var module = Pop();
                    Push(module is Str m && name is Str n ? new Global(m.S, n.S) : Other.It);
                    break;
                }
                case (byte)'J': Push(new Int(BinaryPrimitives.ReadInt32LittleEndian(Take(4)))); break;
                case (byte)'K': Push(new Int(Take(1)[0])); break;
                case (byte)'M': Push(new Int(BinaryPrimitives.ReadUInt16LittleEndian(Take(2)))); break;
                case 0x8a:                                                    // LONG1
                {
                    var b = Take(Take(1)[0]);
                    if (b.Length > 8) throw Fail("integer too large");
                    long v = 0;
                    for (int i = b.Length - 1; i >= 0; i--) v = (v << 8) | b[i];
                    if (b.Length is > 0 and < 8 && (b[^1] & 0x80) != 0) v -= 1L << (8 * b.Length);
                    Push(new Int(v));
                    break;
                }
                case (byte)'G': Take(8); Push(Other.It); break;
                case (byte)'t': Push(new Tup(PopToMark())); break;
                case 0x85: Push(new Tup([Pop()])); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new Tup([a, b])); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new Tup([a, b, c])); break; }
                case (byte)'l': case (byte)'d': PopToMark(); Push(Other.It); break;
                case (byte)'a': Pop(); if (stack.Count == 0) throw Fail("pickle stack underflow"); break;
                case (byte)'e': case (byte)'u': PopToMark(); if (stack.Count == 0) throw Fail("pickle stack underflow"); break;
                case (byte)'s': Pop(); Pop(); if (stack.Count == 0) throw Fail("pickle stack underflow"); break;
                case (byte)'b': Pop(); if (stack.Count == 0) throw Fail("pickle stack underflow"); break;
                case (byte)'0': Pop(); break;
                case (byte)'1': PopToMark(); break;
                case (byte)'2': if (stack.Count == 0) throw Fail("pickle stack underflow"); Push(stack[^1]); break;
                case 0x81: Pop(); Pop(); Push(Other.It); break;               // NEWOBJ
                case (byte)'R':                                               // REDUCE
                {
                    var args = Pop(); var callable = Pop();
                    if (callable is Global { Module: "torch._utils", Name: "_rebuild_tensor" or "_rebuild_tensor_v2" }) CheckTensor(args);
                    Push(Other.It);
                    break;
                }
                case (byte)'Q':                                               // BINPERSID
                    Push(StorageOf(Pop()));
                    break;
                default:
                    throw Fail($"unsupported pickle opcode 0x{op:X2}");
            }
        }

        Storage StorageOf(Value pid)
        {
            if (pid is not Tup { Items: [Str { S: "storage" }, Global { Module: "torch" } g, Str key, Str, Int numel] })
                throw Fail("unrecognised persistent id (not a torch storage)");
            int size = ElementSize(g.Name);
            if (size == 0) throw Fail($"unsupported storage type torch.{g.Name}");
            if (!entries.TryGetValue(key.S, out long available)) throw Fail($"storage '{key.S}' has no data entry in the archive");
            if (numel.V < 0 || numel.V > available / size)
                throw Fail($"storage '{key.S}' declares {numel.V} elements of {size} bytes but its data entry has {available} bytes");
            return new Storage(numel.V * size, size);
        }

        void CheckTensor(Value args)
        {
            if (args is not Tup { Items.Length: >= 4 } t || t.Items[0] is not Storage s || t.Items[1] is not Int offset
                || t.Items[2] is not Tup shape || t.Items[3] is not Tup stride || shape.Items.Length != stride.Items.Length || shape.Items.Length > 32)
                throw Fail("malformed tensor record");
            long elements = s.Bytes / s.ElementSize, numel = 1;
            double last = offset.V;
            if (offset.V < 0) throw Fail("negative storage offset");
            for (int i = 0; i < shape.Items.Length; i++)
            {
                if (shape.Items[i] is not Int d || stride.Items[i] is not Int st || d.V < 0 || st.V < 0) throw Fail("malformed tensor shape");
                numel = d.V == 0 ? 0 : numel > elements / Math.Max(1, d.V) ? long.MaxValue / 2 : numel * d.V;
                if (d.V > 0) last += (double)(d.V - 1) * st.V;
            }
            if (numel > elements || (numel > 0 && last >= elements))
                throw Fail($"tensor of shape ({string.Join(", ", shape.Items.Select(x => (x as Int)?.V))}) does not fit its storage of {elements} elements");
        }
    }
}
