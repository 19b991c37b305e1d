using System.Runtime.InteropServices;
using Google.Protobuf;

namespace Asdt.Models.Onnx;

/// <summary>
/// Builds an ONNX model (onnx.proto field numbers, the counterpart of <see cref="OnnxReader"/>) and serialises it with
/// Google.Protobuf's <see cref="CodedOutputStream"/>: nodes, float/int64 initializers (raw little-endian data), graph
/// inputs and outputs with fixed or symbolic dimensions, one default-domain opset. Node outputs get unique names.
/// </summary>
public sealed class OnnxGraphBuilder(string graphName)
{
    public const int FloatType = 1, Int64Type = 7;

    readonly List<byte[]> nodes = new(), initializers = new(), inputs = new(), outputs = new();
    readonly HashSet<string> names = new(StringComparer.Ordinal);
    int counter;

    public int NodeCount => nodes.Count;
    public IReadOnlyCollection<string> Names => names;

    string Unique(string hint)
    {
        string n = hint;
        while (!names.Add(n)) n = $"{hint}_{++counter}";
        return n;
    }

    public string Initializer(string name, long[] dims, float[] data)
    {
        if (data.LongLength != dims.Aggregate(1L, (a, b) => a * b)) throw new ArgumentException($"initializer {name}: {data.Length} values for dims [{string.Join(",", dims)}]");
        name = Unique(name);
        initializers.Add(TensorBytes(name, dims, FloatType, MemoryMarshal.AsBytes(data.AsSpan()).ToArray()));
        return name;
    }

    public string Int64Initializer(string name, long[] dims, long[] data)
    {
        name = Unique(name);
        initializers.Add(TensorBytes(name, dims, Int64Type, MemoryMarshal.AsBytes(data.AsSpan()).ToArray()));
        return name;
    }

    /// <summary>Adds a graph input; a dimension is a <c>long</c> (fixed) or a <c>string</c> (symbolic).</summary>
    public string Input(string name, int elemType, params object[] dims)
    {
        name = Unique(name);
        inputs.Add(ValueInfoBytes(name, elemType, dims));
        return name;
    }

    public void Output(string name, int elemType, params object[] dims)
    {
        if (!names.Contains(name)) throw new ArgumentException($"graph output '{name}' is not produced by any node");
        outputs.Add(ValueInfoBytes(name, elemType, dims));
    }

    /// <summary>Adds a node and returns its (single) output name. Attribute values: long, float, string, long[], float[].
    /// An input "" is an omitted optional input.</summary>
    public string Node(string opType, IReadOnlyList<string> nodeInputs, string outputHint, params (string Name, object Value)[] attributes)
    {
        string output = Unique(outputHint);
        nodes.Add(Message(w =>
        {
            foreach (var i in nodeInputs) { w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(i); }
            w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteString(output);
            w.WriteTag(3, WireFormat.WireType.LengthDelimited); w.WriteString(output + "_" + opType);
            w.WriteTag(4, WireFormat.WireType.LengthDelimited); w.WriteString(opType);
            foreach (var (n, v) in attributes) WriteMessage(w, 5, AttributeBytes(n, v));
        }));
        return output;
    }

    /// <summary>The serialised ModelProto (IR version 8).</summary>
    public byte[] ToModel(int opset, string producer, string producerVersion, string? docString = null)
    {
        var graph = Message(w =>
        {
            foreach (var n in nodes) WriteMessage(w, 1, n);
            w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteString(graphName);
            foreach (var t in initializers) WriteMessage(w, 5, t);
            if (docString != null) { w.WriteTag(10, WireFormat.WireType.LengthDelimited); w.WriteString(docString); }
            foreach (var i in inputs) WriteMessage(w, 11, i);
            foreach (var o in outputs) WriteMessage(w, 12, o);
        });
        return Message(w =>
        {
            w.WriteTag(1, WireFormat.WireType.Varint); w.WriteInt64(8);
            w.WriteTag(2, WireFormat.WireType.LengthDelimited); w.WriteString(producer);
            w.WriteTag(3, WireFormat.WireType.LengthDelimited); w.WriteString(producerVersion);
            WriteMessage(w, 7, graph);
            WriteMessage(w, 8, Message(o =>
            {
                o.WriteTag(1, WireFormat.WireType.LengthDelimited); o.WriteString("");
                o.WriteTag(2, WireFormat.WireType.Varint); o.WriteInt64(opset);
            }));
        });
    }

    // ---- message encoding -----------------------------------------------------------------------

    static byte[] Message(Action<CodedOutputStream> write)
    {
        using var ms = new MemoryStream();
        using (var w = new CodedOutputStream(ms, leaveOpen: true)) { write(w); w.Flush(); }
        return ms.ToArray();
    }

    static void WriteMessage(CodedOutputStream w, int field, byte[] body)
    {
        w.WriteTag(field, WireFormat.WireType.LengthDelimited);
        w.WriteBytes(ByteString.CopyFrom(body));
    }

    static byte[] TensorBytes(string name, long[] dims, int dataType, byte[] raw) => Message(w =>
    {
        foreach (var d in dims) { w.WriteTag(1, WireFormat.WireType.Varint); w.WriteInt64(d); }
        w.WriteTag(2, WireFormat.WireType.Varint); w.WriteInt32(dataType);
        w.WriteTag(8, WireFormat.WireType.LengthDelimited); w.WriteString(name);
        w.WriteTag(9, WireFormat.WireType.LengthDelimited); w.WriteBytes(ByteString.CopyFrom(raw));
    });

    static byte[] ValueInfoBytes(string name, int elemType, object[] dims)
    {
        var shape = Message(s =>
        {
            foreach (var d in dims)
                WriteMessage(s, 1, Message(dim =>
                {
                    if (d is string p) { dim.WriteTag(2, WireFormat.WireType.LengthDelimited); dim.WriteString(p); }
                    else { dim.WriteTag(1, WireFormat.WireType.Varint); dim.WriteInt64(Convert.ToInt64(d)); }
                }));
        });
        var tensorType = Message(t =>
        {
            t.WriteTag(1, WireFormat.WireType.Varint); t.WriteInt32(elemType);
            WriteMessage(t, 2, shape);
        });
        var type = Message(t => WriteMessage(t, 1, tensorType));
        return Message(v =>
        {
            v.WriteTag(1, WireFormat.WireType.LengthDelimited); v.WriteString(name);
            WriteMessage(v, 2, type);
        });
    }

    static byte[] AttributeBytes(string name, object value) => Message(w =>
    {
        w.WriteTag(1, WireFormat.WireType.LengthDelimited); w.WriteString(name);
        switch (value)
        {
            case float f:
                w.WriteTag(2, WireFormat.WireType.Fixed32); w.WriteFloat(f);
                w.WriteTag(20, WireFormat.WireType.Varint); w.WriteInt32(1); break;
            case int or long:
                w.WriteTag(3, WireFormat.WireType.Varint); w.WriteInt64(Convert.ToInt64(value));
                w.WriteTag(20, WireFormat.WireType.Varint); w.WriteInt32(2); break;
            case string s:
                w.WriteTag(4, WireFormat.WireType.LengthDelimited); w.WriteBytes(ByteString.CopyFromUtf8(s));
                w.WriteTag(20, WireFormat.WireType.Varint); w.WriteInt32(3); break;
            case float[] fs:
                foreach (var f in fs) { w.WriteTag(7, WireFormat.WireType.Fixed32); w.WriteFloat(f); }
                w.WriteTag(20, WireFormat.WireType.Varint); w.WriteInt32(6); break;
            case long[] ls:
                foreach (var l in ls) { w.WriteTag(8, WireFormat.WireType.Varint); w.WriteInt64(l); }
                w.WriteTag(20, WireFormat.WireType.Varint); w.WriteInt32(7); break;
            default: throw new ArgumentException($"attribute {name}: unsupported value type {value.GetType().Name}");
        }
    });
}
