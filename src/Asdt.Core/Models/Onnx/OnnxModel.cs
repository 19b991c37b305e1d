using Google.Protobuf;

namespace Asdt.Models.Onnx;

/// <summary>
/// The subset of an ONNX model (onnx.proto, IR version 3+) that the importers need: the main graph's
/// nodes, initializers and inputs/outputs. Read with <see cref="OnnxReader"/>; nothing else of the
/// file (sub-graphs, training info, functions) is kept.
/// </summary>
public sealed record OnnxModel(long IrVersion, string ProducerName, string ProducerVersion,
    IReadOnlyDictionary<string, long> Opsets, OnnxGraph Graph);

public sealed record OnnxGraph(string Name, IReadOnlyList<OnnxNode> Nodes,
    IReadOnlyDictionary<string, OnnxTensor> Initializers,
    IReadOnlyList<OnnxValueInfo> Inputs, IReadOnlyList<OnnxValueInfo> Outputs);

public sealed record OnnxNode(string Name, string OpType, string Domain,
    IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    public long[]? Ints(string name) => Attributes.TryGetValue(name, out var a) ? a.Ints : null;
    public long? Int(string name) => Attributes.TryGetValue(name, out var a) ? a.Int : null;
    public float? Float(string name) => Attributes.TryGetValue(name, out var a) ? a.Float : null;
    public string? String(string name) =>
        Attributes.TryGetValue(name, out var a) && a.Bytes != null ? System.Text.Encoding.UTF8.GetString(a.Bytes) : null;
    public override string ToString() => $"{OpType} '{Name}' ({string.Join(", ", Inputs)}) -> ({string.Join(", ", Outputs)})";
}

/// <summary>One attribute; only the fields of its kind are set (sub-graphs are skipped).</summary>
public sealed record OnnxAttribute(string Name, int Type, float? Float, long? Int, byte[]? Bytes,
    OnnxTensor? Tensor, float[]? Floats, long[]? Ints);

/// <summary>Element types of TensorProto.DataType that the importers understand.</summary>
public enum OnnxDataType { Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Double = 11 }

/// <summary>A dense tensor, always converted to float32 (the importers only need weights and constants).</summary>
public sealed record OnnxTensor(string Name, long[] Dims, OnnxDataType DataType, float[] Data)
{
    public long ElementCount => Data.LongLength;
    public string ShapeString => "[" + string.Join(", ", Dims) + "]";
}

/// <summary>A graph input or output: name, element type and shape (-1 for a symbolic/unknown dimension).</summary>
public sealed record OnnxValueInfo(string Name, int ElemType, long[]? Shape);
