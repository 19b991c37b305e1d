using Google.Protobuf;

namespace Asdt.Tests;

/// <summary>Hand-built protobuf fields (via Google.Protobuf's writer) for tests that craft ONNX files byte by byte.</summary>
public static class ProtobufBytes
{
    /// <summary>One length-delimited field: tag, length, payload.</summary>
    public static byte[] Field(int number, byte[] payload)
    {
        using var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteTag(number, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(payload));
        o.Flush();
        return ms.ToArray();
    }

    /// <summary>One varint field.</summary>
    public static byte[] Varint(int number, long value)
    {
        using var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteTag(number, WireFormat.WireType.Varint);
        o.WriteInt64(value);
        o.Flush();
        return ms.ToArray();
    }
}
