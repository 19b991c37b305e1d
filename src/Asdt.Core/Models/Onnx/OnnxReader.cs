using System.Buffers.Binary;
using Google.Protobuf;

namespace Asdt.Models.Onnx;

/// <summary>
/// Reads an ONNX file with Google.Protobuf's <see cref="CodedInputStream"/> and small hand-written
/// message classes for the subset of onnx.proto we need (field numbers from onnx.proto, IR v3..v10).
/// Reading is bounded: the protobuf layer refuses any length that runs past its message, and every
/// tensor's element count is checked against its dims and its data before a float array is allocated.
/// A corrupt or unsupported file gives an <see cref="AsdtException"/> naming the file.
/// </summary>
public static class OnnxReader
{
    /// <summary>Largest file accepted (a 2 GB protobuf is the format's own limit).</summary>
    public const long MaxFileBytes = int.MaxValue;

    public static OnnxModel Read(string path)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new AsdtException(path, "ONNX file not found");
            if (info.Length > MaxFileBytes) throw new AsdtException(path, $"ONNX file too large ({info.Length} bytes)");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new AsdtException(path, $"cannot read ONNX file ({e.Message})", e); }
        return Read(bytes, path);
    }

    public static OnnxModel Read(byte[] bytes, string pathForErrors)
    {
        var model = new ModelMsg();
        try
        {
            var input = new CodedInputStream(bytes);
            model.MergeFrom(input);
        }
        catch (InvalidProtocolBufferException e)
        { throw new AsdtException(pathForErrors, $"corrupt ONNX file ({e.Message})", e); }
        catch (OnnxFormatException e)
        { throw new AsdtException(pathForErrors, $"corrupt ONNX file ({e.Message})", e); }
        if (model.Graph == null) throw new AsdtException(pathForErrors, "corrupt ONNX file (no graph)");
        var g = model.Graph;
        var inits = new Dictionary<string, OnnxTensor>();
        foreach (var t in g.Initializers)
            if (!inits.TryAdd(t.Name, t)) throw new AsdtException(pathForErrors, $"corrupt ONNX file (initializer '{t.Name}' given twice)");
        return new OnnxModel(model.IrVersion, model.ProducerName, model.ProducerVersion, model.Opsets,
            new OnnxGraph(g.Name, g.Nodes, inits, g.Inputs, g.Outputs));
    }

    sealed class OnnxFormatException(string message) : Exception(message);

    // ---- wire helpers ------------------------------------------------------------------------

    static int Field(uint tag) => WireFormat.GetTagFieldNumber(tag);
    static WireFormat.WireType Wire(uint tag) => WireFormat.GetTagWireType(tag);

    /// <summary>A repeated int64 field, packed or not.</summary>
    static void ReadInt64s(CodedInputStream input, uint tag, List<long> into)
    {
        if (Wire(tag) == WireFormat.WireType.LengthDelimited)
        {
            var packed = new CodedInputStream(input.ReadBytes().ToByteArray());
            while (!packed.IsAtEnd) into.Add(packed.ReadInt64());
        }
        else into.Add(input.ReadInt64());
    }

    /// <summary>A repeated float field, packed or not. Packed payloads are decoded from the checked byte string.</summary>
    static void ReadFloats(CodedInputStream input, uint tag, List<float> into)
    {
        if (Wire(tag) == WireFormat.WireType.LengthDelimited)
        {
            var span = input.ReadBytes().Span;
            if (span.Length % 4 != 0) throw new OnnxFormatException($"packed float field of {span.Length} bytes");
            for (int i = 0; i < span.Length; i += 4) into.Add(BinaryPrimitives.ReadSingleLittleEndian(span.Slice(i, 4)));
        }
        else into.Add(input.ReadFloat());
    }

    /// <summary>Base of the read-only message classes: Google.Protobuf calls MergeFrom for nested messages.</summary>
    abstract class ReadOnlyMessage : IMessage
    {
        public abstract void MergeFrom(CodedInputStream input);
        public void WriteTo(CodedOutputStream output) => throw new NotSupportedException("read-only ONNX message");
        public int CalculateSize() => throw new NotSupportedException("read-only ONNX message");
        public Google.Protobuf.Reflection.MessageDescriptor Descriptor => throw new NotSupportedException("read-only ONNX message");
    }

    sealed class ModelMsg : ReadOnlyMessage
    {
        public long IrVersion;
        public string ProducerName = "", ProducerVersion = "";
        public Dictionary<string, long> Opsets = new();
        public GraphMsg? Graph;

        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1: IrVersion = input.ReadInt64(); break;
                    case 2: ProducerName = input.ReadString(); break;
                    case 3: ProducerVersion = input.ReadString(); break;
                    case 7: Graph ??= new GraphMsg(); input.ReadMessage(Graph); break;
                    case 8:
                        var op = new OpsetMsg(); input.ReadMessage(op);
                        Opsets[op.Domain] = op.Version; break;
                    default: input.SkipLastField(); break;
                }
            }
        }
    }

    sealed class OpsetMsg : ReadOnlyMessage
    {
        public string Domain = ""; public long Version;
        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1: Domain = input.ReadString(); break;
                    case 2: Version = input.ReadInt64(); break;
                    default: input.SkipLastField(); break;
                }
            }
        }
    }

    sealed class GraphMsg : ReadOnlyMessage
    {
        public string Name = "";
        public List<OnnxNode> Nodes = new();
        public List<OnnxTensor> Initializers = new();
        public List<OnnxValueInfo> Inputs = new(), Outputs = new();

        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1: { var n = new NodeMsg(); input.ReadMessage(n); Nodes.Add(n.ToNode()); break; }
                    case 2: Name = input.ReadString(); break;
                    case 5: { var t = new TensorMsg(); input.ReadMessage(t); Initializers.Add(t.ToTensor()); break; }
                    case 11: { var v = new ValueInfoMsg(); input.ReadMessage(v); Inputs.Add(v.ToValueInfo()); break; }
                    case 12: { var v = new ValueInfoMsg(); input.ReadMessage(v); Outputs.Add(v.ToValueInfo()); break; }
                    case 15: throw new OnnxFormatException("sparse initializers are not supported");
                    default: input.SkipLastField(); break;
                }
            }
        }
    }

    sealed class NodeMsg : ReadOnlyMessage
    {
        readonly List<string> inputs = new(), outputs = new();
        string name = "", opType = "", domain = "";
        readonly Dictionary<string, OnnxAttribute> attributes = new();

        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1: inputs.Add(input.ReadString()); break;
                    case 2: outputs.Add(input.ReadString()); break;
                    case 3: name = input.ReadString(); break;
                    case 4: opType = input.ReadString(); break;
                    case 7: domain = input.ReadString(); break;
                    case 5:
                        var a = new AttributeMsg(); input.ReadMessage(a);
                        var attr = a.ToAttribute();
                        if (!attributes.TryAdd(attr.Name, attr)) throw new OnnxFormatException($"node '{name}' has attribute '{attr.Name}' twice");
                        break;
                    default: input.SkipLastField(); break;
                }
            }
        }

        public OnnxNode ToNode() => new(name, opType, domain, inputs, outputs, attributes);
    }

    sealed class AttributeMsg : ReadOnlyMessage
    {
        string name = ""; int type; float? f; long? i; byte[]? s; TensorMsg? t;
        List<float>? floats; List<long>? ints;

        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1: name = input.ReadString(); break;
                    case 20: type = input.ReadInt32(); break;
                    case 2: f = input.ReadFloat(); break;
                    case 3: i = input.ReadInt64(); break;
                    case 4: s = input.ReadBytes().ToByteArray(); break;
                    case 5: t = new TensorMsg(); input.ReadMessage(t); break;
                    case 7: ReadFloats(input, tag, floats ??= new()); break;
                    case 8: ReadInt64s(input, tag, ints ??= new()); break;
                    default: input.SkipLastField(); break; // graphs, strings, tensors lists, type protos
                }
            }
        }

        public OnnxAttribute ToAttribute() =>
            new(name, type, f, i, s, t?.ToTensor(), floats?.ToArray(), ints?.ToArray());
    }

    sealed class TensorMsg : ReadOnlyMessage
    {
        /// <summary>At most this many dimensions (ONNX tensors in practice have ≤ 8).</summary>
        const int MaxRank = 32;
        readonly List<long> dims = new();
        int dataType;
        string name = "";
        ByteString? raw;
        List<float>? floatData;
        List<long>? intData; // int32_data and int64_data (both varint-encoded)
        List<double>? doubleData;
        bool external;

        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1:
                        ReadInt64s(input, tag, dims);
                        if (dims.Count > MaxRank) throw new OnnxFormatException($"tensor rank above {MaxRank}");
                        break;
                    case 2: dataType = input.ReadInt32(); break;
                    case 8: name = input.ReadString(); break;
                    case 9: raw = input.ReadBytes(); break;
                    case 4: ReadFloats(input, tag, floatData ??= new()); break;
                    case 5: case 7: ReadInt64s(input, tag, intData ??= new()); break;
                    case 10:
                        doubleData ??= new();
                        if (Wire(tag) == WireFormat.WireType.LengthDelimited)
                        {
                            var span = input.ReadBytes().Span;
                            if (span.Length % 8 != 0) throw new OnnxFormatException($"packed double field of {span.Length} bytes");
                            for (int k = 0; k < span.Length; k += 8) doubleData.Add(BinaryPrimitives.ReadDoubleLittleEndian(span.Slice(k, 8)));
                        }
                        else doubleData.Add(input.ReadDouble());
                        break;
                    case 13: external = true; input.SkipLastField(); break;
                    case 14: if (input.ReadInt32() == 1) external = true; break;
                    default: input.SkipLastField(); break;
                }
            }
        }

        public OnnxTensor ToTensor()
        {
            if (external) throw new OnnxFormatException($"tensor '{name}' uses external data, which is not supported");
            long count = 1;
            foreach (long d in dims)
            {
                if (d < 0) throw new OnnxFormatException($"tensor '{name}' has a negative dimension {d}");
                count = checked(count * d);
                if (count > Array.MaxLength) throw new OnnxFormatException($"tensor '{name}' has too many elements");
            }
            var type = (OnnxDataType)dataType;
            int elementSize = type switch
            {
                OnnxDataType.Float or OnnxDataType.Int32 => 4,
                OnnxDataType.Int64 or OnnxDataType.Double => 8,
                OnnxDataType.UInt8 or OnnxDataType.Int8 => 1,
                _ => throw new OnnxFormatException($"tensor '{name}' has unsupported data type {dataType}"),
            };
            float[] data;
            if (raw != null && raw.Length > 0)
            {
                // Size checked against the bytes actually present before allocating the float array.
                if (raw.Length != count * elementSize)
                    throw new OnnxFormatException($"tensor '{name}' dims [{string.Join(", ", dims)}] need {count * elementSize} bytes of raw data, found {raw.Length}");
                var span = raw.Span;
                data = new float[count];
                for (int k = 0; k < data.Length; k++)
                {
                    data[k] = type switch
                    {
                        OnnxDataType.Float => BinaryPrimitives.ReadSingleLittleEndian(span.Slice(k * 4, 4)),
                        OnnxDataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(span.Slice(k * 4, 4)),
                        OnnxDataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(span.Slice(k * 8, 8)),
                        OnnxDataType.Double => (float)BinaryPrimitives.ReadDoubleLittleEndian(span.Slice(k * 8, 8)),
                        OnnxDataType.UInt8 => span[k],
                        OnnxDataType.Int8 => (sbyte)span[k],
                        _ => throw new InvalidOperationException(),
                    };
                }
            }
            else
            {
                int present = type switch
                {
                    OnnxDataType.Float => floatData?.Count ?? 0,
                    OnnxDataType.Double => doubleData?.Count ?? 0,
                    _ => intData?.Count ?? 0,
                };
                if (present != count)
                    throw new OnnxFormatException($"tensor '{name}' dims [{string.Join(", ", dims)}] need {count} values, found {present}");
                data = type switch
                {
                    OnnxDataType.Float => floatData?.ToArray() ?? [],
                    OnnxDataType.Double => doubleData?.Select(v => (float)v).ToArray() ?? [],
                    _ => intData?.Select(v => (float)v).ToArray() ?? [],
                };
            }
            return new OnnxTensor(name, dims.ToArray(), type, data);
        }
    }

    sealed class ValueInfoMsg : ReadOnlyMessage
    {
        string name = ""; TypeMsg? type;
        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1: name = input.ReadString(); break;
                    case 2: type = new TypeMsg(); input.ReadMessage(type); break;
                    default: input.SkipLastField(); break;
                }
            }
        }
        public OnnxValueInfo ToValueInfo() => new(name, type?.ElemType ?? 0, type?.Shape?.ToArray());
    }

    /// <summary>TypeProto → tensor_type (field 1) → elem_type (1), shape (2) → dim (1) → dim_value (1) / dim_param (2).</summary>
    sealed class TypeMsg : ReadOnlyMessage
    {
        public int ElemType; public List<long>? Shape;
        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (Field(tag) == 1 && Wire(tag) == WireFormat.WireType.LengthDelimited)
                {
                    var tt = new TensorTypeMsg(); input.ReadMessage(tt);
                    ElemType = tt.ElemType; Shape = tt.Shape;
                }
                else input.SkipLastField();
            }
        }
    }

    sealed class TensorTypeMsg : ReadOnlyMessage
    {
        public int ElemType; public List<long>? Shape;
        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                switch (Field(tag))
                {
                    case 1: ElemType = input.ReadInt32(); break;
                    case 2: var s = new ShapeMsg(); input.ReadMessage(s); Shape = s.Dims; break;
                    default: input.SkipLastField(); break;
                }
            }
        }
    }

    sealed class ShapeMsg : ReadOnlyMessage
    {
        public List<long> Dims = new();
        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (Field(tag) == 1) { var d = new DimMsg(); input.ReadMessage(d); Dims.Add(d.Value); }
                else input.SkipLastField();
            }
        }
    }

    sealed class DimMsg : ReadOnlyMessage
    {
        public long Value = -1;
        public override void MergeFrom(CodedInputStream input)
        {
            uint tag;
            while ((tag = input.ReadTag()) != 0)
            {
                if (Field(tag) == 1) Value = input.ReadInt64();
                else input.SkipLastField();
            }
        }
    }
}
