// A minimal reader of ONNX model files (onnx.proto, protocol buffers wire format), compiled into both the runtime
// (Unroll.dll, which loads initializers at run time) and the source generator (Unroll.Generator.dll, which reads the graph
// at compile time) from this one file: the generator project links it, the runtime compiles it where it stands.
//
// Why not Google.Protobuf: a source generator's dependencies must be packed beside it under analyzers/, where they are
// loaded into the compiler's process together with every other analyzer's; two analyzers that bring different versions of
// Google.Protobuf clash there. It would also need classes generated from onnx.proto (a build step or a copied file). The
// subset ONNX import needs (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto) is small, so it
// is read here by hand, field numbers as onnx.proto gives them.
//
// The reader is defensive: a damaged or truncated file raises InvalidDataException with a message that says what is wrong
// and where (byte offset), never IndexOutOfRangeException, OverflowException or OutOfMemoryException. The generator turns
// that exception into a diagnostic. It builds only on netstandard2.0 APIs (no spans, no BinaryPrimitives).
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Unroll.Onnx;

/// <summary>TensorProto.DataType values the importer names.</summary>
internal static class OnnxDataType
{
    public const int Float = 1;
    public const int Int32 = 6;
    public const int Int64 = 7;
    public const int Double = 11;

    /// <summary>The name onnx.proto gives a data type, for messages.</summary>
    public static string Name(int type) => type switch
    {
        0 => "UNDEFINED",
        1 => "FLOAT",
        2 => "UINT8",
        3 => "INT8",
        4 => "UINT16",
        5 => "INT16",
        6 => "INT32",
        7 => "INT64",
        8 => "STRING",
        9 => "BOOL",
        10 => "FLOAT16",
        11 => "DOUBLE",
        12 => "UINT32",
        13 => "UINT64",
        16 => "BFLOAT16",
        _ => "type " + type.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>A ModelProto: the operator sets it imports and its graph.</summary>
internal sealed class OnnxModelProto
{
    public long IrVersion { get; set; }
    public string ProducerName { get; set; } = "";

    /// <summary>Operator sets by domain ("" is the default ai.onnx domain).</summary>
    public Dictionary<string, long> Opsets { get; } = new(StringComparer.Ordinal);

    public OnnxGraphProto Graph { get; set; } = new();

    /// <summary>The default domain's operator set version (1 when the model imports none).</summary>
    public long DefaultOpset => Opsets.TryGetValue("", out long v) || Opsets.TryGetValue("ai.onnx", out v) ? v : 1;
}

/// <summary>A GraphProto: nodes in topological order, initializers, inputs and outputs.</summary>
internal sealed class OnnxGraphProto
{
    public string Name { get; set; } = "";
    public List<OnnxNodeProto> Nodes { get; } = new();
    public List<OnnxTensorProto> Initializers { get; } = new();
    public List<OnnxValueInfoProto> Inputs { get; } = new();
    public List<OnnxValueInfoProto> Outputs { get; } = new();
}

/// <summary>A NodeProto: one operator application.</summary>
internal sealed class OnnxNodeProto
{
    public string Name { get; set; } = "";
    public string OpType { get; set; } = "";
    public string Domain { get; set; } = "";

    /// <summary>Input value names; an empty name is an optional input left out.</summary>
    public List<string> Inputs { get; } = new();

    public List<string> Outputs { get; } = new();
    public List<OnnxAttributeProto> Attributes { get; } = new();

    /// <summary>The attribute called <paramref name="name"/>, or null.</summary>
    public OnnxAttributeProto? Attribute(string name)
    {
        foreach (OnnxAttributeProto a in Attributes)
            if (a.Name == name)
                return a;
        return null;
    }

    /// <summary>Input <paramref name="index"/>, or "" when the node has fewer inputs (an optional input left out).</summary>
    public string Input(int index) => index < Inputs.Count ? Inputs[index] : "";
}

/// <summary>An AttributeProto. Subgraphs, sparse tensors and type protos are skipped (no supported operator has them).</summary>
internal sealed class OnnxAttributeProto
{
    /// <summary>AttributeProto.AttributeType values.</summary>
    public const int FloatType = 1, IntType = 2, StringType = 3, TensorType = 4, GraphType = 5, FloatsType = 6, IntsType = 7, StringsType = 8;

    public string Name { get; set; } = "";
    public int Type { get; set; }
    public float Float { get; set; }
    public long Int { get; set; }
    public string String { get; set; } = "";
    public OnnxTensorProto? Tensor { get; set; }
    public List<float> Floats { get; } = new();
    public List<long> Ints { get; } = new();
}

/// <summary>
/// A TensorProto: name, element type and dimensions, and its values where they are (raw_data as a slice of the file,
/// float_data, int32_data or int64_data decoded).
/// </summary>
internal sealed class OnnxTensorProto
{
    private byte[] _buffer = Array.Empty<byte>();

    public string Name { get; set; } = "";
    public int DataType { get; set; }
    public List<long> Dims { get; } = new();
    public List<float> FloatData { get; } = new();
    public List<long> Int64Data { get; } = new();
    public List<long> Int32Data { get; } = new();
    public List<double> DoubleData { get; } = new();

    /// <summary>Whether the values live in another file (data_location EXTERNAL, or external_data given).</summary>
    public bool External { get; set; }

    /// <summary>Where raw_data starts in the file; -1 when the tensor has none.</summary>
    public int RawOffset { get; private set; } = -1;

    /// <summary>Bytes of raw_data.</summary>
    public int RawLength { get; private set; }

    internal void SetRaw(byte[] buffer, int offset, int length)
    {
        _buffer = buffer;
        RawOffset = offset;
        RawLength = length;
    }

    /// <summary>Elements the dimensions give (1 for a scalar); -1 when a dimension is negative or the product overflows.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Dims)
            {
                if (d < 0 || d != 0 && n > long.MaxValue / d)
                    return -1;
                n *= d;
            }
            return n;
        }
    }

    /// <summary>The values of a FLOAT (or DOUBLE) tensor as floats.</summary>
    /// <exception cref="InvalidDataException">Another type, external data, or a value count that does not match the dimensions.</exception>
    public float[] ToFloats()
    {
        bool single = DataType == OnnxDataType.Float;
        var values = new float[Count(single || DataType == OnnxDataType.Double, "FLOAT", single ? 4 : 8, single ? FloatData.Count : DoubleData.Count)];
        for (int i = 0; i < values.Length; i++)
        {
            if (RawOffset < 0)
                values[i] = single ? FloatData[i] : (float)DoubleData[i];
            else if (single)
                values[i] = ProtoReader.Single(_buffer, RawOffset + 4 * i);
            else
                values[i] = (float)BitConverter.Int64BitsToDouble(ProtoReader.Int64(_buffer, RawOffset + 8 * i));
        }
        return values;
    }

    /// <summary>The values of an INT64 or INT32 tensor.</summary>
    /// <exception cref="InvalidDataException">Another type, external data, or a value count that does not match the dimensions.</exception>
    public long[] ToInt64s()
    {
        bool wide = DataType == OnnxDataType.Int64;
        List<long> list = wide ? Int64Data : Int32Data;
        var values = new long[Count(wide || DataType == OnnxDataType.Int32, "INT64", wide ? 8 : 4, list.Count)];
        for (int i = 0; i < values.Length; i++)
            values[i] = RawOffset < 0 ? list[i] : wide ? ProtoReader.Int64(_buffer, RawOffset + 8 * i) : ProtoReader.Int32(_buffer, RawOffset + 4 * i);
        return values;
    }

    /// <summary>
    /// The number of values, checked: the tensor is of the type asked for (<paramref name="typeFits"/>), keeps its values
    /// in the file, and holds as many as its dimensions say (in raw_data of <paramref name="size"/>-byte values, or in its
    /// typed list of <paramref name="listed"/>).
    /// </summary>
    private int Count(bool typeFits, string type, int size, int listed)
    {
        if (External)
            throw new InvalidDataException($"Tensor '{Name}' keeps its values in an external file, which is not supported; save the model with its data inside.");
        if (!typeFits)
            throw new InvalidDataException($"Tensor '{Name}' holds {OnnxDataType.Name(DataType)} values, not {type}.");
        long count = ElementCount;
        long stored = RawOffset >= 0 ? RawLength / size : listed;
        if (count < 0 || count > int.MaxValue || stored != count || RawOffset >= 0 && RawLength % size != 0)
            throw new InvalidDataException($"Tensor '{Name}' [{string.Join(", ", Dims)}] should hold {count} values, but holds {(RawOffset >= 0 ? RawLength + " bytes" : stored + " values")}.");
        return (int)count;
    }
}

/// <summary>A ValueInfoProto of a tensor: name, element type and shape (null when the shape is not given).</summary>
internal sealed class OnnxValueInfoProto
{
    public string Name { get; set; } = "";
    public int ElemType { get; set; }
    public List<OnnxDim>? Shape { get; set; }
}

/// <summary>One dimension of a shape: a size, a symbol (dim_param), or neither (unknown).</summary>
internal readonly struct OnnxDim
{
    public OnnxDim(long? value, string? param)
    {
        Value = value;
        Param = param;
    }

    public long? Value { get; }
    public string? Param { get; }

    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Param ?? "?";
}

/// <summary>Reads ONNX models from their bytes.</summary>
internal static class OnnxReader
{
    /// <summary>Parses a serialised TensorProto (the form of ONNX's test data files, input_0.pb ...).</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed tensor.</exception>
    public static OnnxTensorProto ReadTensor(byte[] data)
    {
        if (data is null)
            throw new ArgumentNullException(nameof(data));
        return ReadTensor(new ProtoReader(data, 0, data.Length));
    }

    /// <summary>Parses a serialised ModelProto.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a well-formed ONNX model (damaged, truncated, or another file).</exception>
    public static OnnxModelProto ReadModel(byte[] data)
    {
        if (data is null)
            throw new ArgumentNullException(nameof(data));
        if (data.Length == 0)
            throw new InvalidDataException("The file is empty.");
        var model = new OnnxModelProto();
        bool graph = false;
        var r = new ProtoReader(data, 0, data.Length);
        Fields(r, (field, wire) =>
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.WireVarint: model.IrVersion = r.Varint(); return true;
                case 2 when wire == ProtoReader.WireBytes: model.ProducerName = r.String(); return true;
                case 7 when wire == ProtoReader.WireBytes:
                    model.Graph = ReadGraph(r.Message());
                    graph = true;
                    return true;
                case 8 when wire == ProtoReader.WireBytes:
                {
                    // OperatorSetIdProto { domain (1), version (2) }.
                    ProtoReader set = r.Message();
                    string domain = "";
                    long version = 0;
                    Fields(set, (f, w) =>
                    {
                        if (f == 1 && w == ProtoReader.WireBytes)
                            domain = set.String();
                        else if (f == 2 && w == ProtoReader.WireVarint)
                            version = set.Varint();
                        else
                            return false;
                        return true;
                    });
                    model.Opsets[domain] = version;
                    return true;
                }
                default: return false;
            }
        });
        if (!graph)
            throw new InvalidDataException("The file has no graph (ModelProto field 7); it is not an ONNX model.");
        return model;
    }

    /// <summary>Hands each field of a message to <paramref name="take"/>; a field it does not take (returns false) is skipped.</summary>
    private static void Fields(ProtoReader r, Func<int, int, bool> take)
    {
        while (r.Next(out int field, out int wire))
            if (!take(field, wire))
                r.Skip(wire);
    }

    private static OnnxGraphProto ReadGraph(ProtoReader r)
    {
        var graph = new OnnxGraphProto();
        Fields(r, (field, wire) =>
        {
            if (wire != ProtoReader.WireBytes)
                return false;
            switch (field)
            {
                case 1: graph.Nodes.Add(ReadNode(r.Message())); return true;
                case 2: graph.Name = r.String(); return true;
                case 5: graph.Initializers.Add(ReadTensor(r.Message())); return true;
                case 11: graph.Inputs.Add(ReadValueInfo(r.Message())); return true;
                case 12: graph.Outputs.Add(ReadValueInfo(r.Message())); return true;
                default: return false;
            }
        });
        return graph;
    }

    private static OnnxNodeProto ReadNode(ProtoReader r)
    {
        var node = new OnnxNodeProto();
        Fields(r, (field, wire) =>
        {
            if (wire != ProtoReader.WireBytes)
                return false;
            switch (field)
            {
                case 1: node.Inputs.Add(r.String()); return true;
                case 2: node.Outputs.Add(r.String()); return true;
                case 3: node.Name = r.String(); return true;
                case 4: node.OpType = r.String(); return true;
                case 5: node.Attributes.Add(ReadAttribute(r.Message())); return true;
                case 7: node.Domain = r.String(); return true;
                default: return false;
            }
        });
        return node;
    }

    private static OnnxAttributeProto ReadAttribute(ProtoReader r)
    {
        var a = new OnnxAttributeProto();
        Fields(r, (field, wire) =>
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.WireBytes: a.Name = r.String(); return true;
                case 20 when wire == ProtoReader.WireVarint: a.Type = (int)r.Varint(); return true;
                case 2 when wire == ProtoReader.WireFixed32: a.Float = r.Float(); return true;
                case 3 when wire == ProtoReader.WireVarint: a.Int = r.Varint(); return true;
                case 4 when wire == ProtoReader.WireBytes: a.String = r.String(); return true;
                case 5 when wire == ProtoReader.WireBytes: a.Tensor = ReadTensor(r.Message()); return true;
                case 7: r.Floats(wire, a.Floats); return true;
                case 8: r.Varints(wire, a.Ints); return true;
                default: return false;
            }
        });
        return a;
    }

    private static OnnxTensorProto ReadTensor(ProtoReader r)
    {
        var t = new OnnxTensorProto();
        Fields(r, (field, wire) =>
        {
            switch (field)
            {
                case 1: r.Varints(wire, t.Dims); return true;
                case 2 when wire == ProtoReader.WireVarint: t.DataType = (int)r.Varint(); return true;
                case 4: r.Floats(wire, t.FloatData); return true;
                case 5: r.Varints(wire, t.Int32Data); return true;
                case 7: r.Varints(wire, t.Int64Data); return true;
                case 8 when wire == ProtoReader.WireBytes: t.Name = r.String(); return true;
                case 9 when wire == ProtoReader.WireBytes:
                    (int offset, int length) = r.Slice();
                    t.SetRaw(r.Data, offset, length);
                    return true;
                case 10: r.Doubles(wire, t.DoubleData); return true;
                case 13 when wire == ProtoReader.WireBytes: t.External = true; return false; // external_data: skipped, but noted
                case 14 when wire == ProtoReader.WireVarint: t.External |= r.Varint() == 1; return true;
                default: return false;
            }
        });
        return t;
    }

    private static OnnxValueInfoProto ReadValueInfo(ProtoReader r)
    {
        // ValueInfoProto { name (1), type (2): TypeProto { tensor_type (1): { elem_type (1), shape (2) } } }.
        var value = new OnnxValueInfoProto();
        Fields(r, (field, wire) =>
        {
            if (wire != ProtoReader.WireBytes)
                return false;
            if (field == 1)
                value.Name = r.String();
            else if (field == 2)
            {
                ProtoReader type = r.Message();
                Fields(type, (f, w) => f == 1 && w == ProtoReader.WireBytes && ReadTensorType(type.Message(), value));
            }
            else
                return false;
            return true;
        });
        return value;
    }

    private static bool ReadTensorType(ProtoReader r, OnnxValueInfoProto value)
    {
        Fields(r, (field, wire) =>
        {
            if (field == 1 && wire == ProtoReader.WireVarint)
                value.ElemType = (int)r.Varint();
            else if (field == 2 && wire == ProtoReader.WireBytes)
                value.Shape = ReadShape(r.Message());
            else
                return false;
            return true;
        });
        return true;
    }

    /// <summary>TensorShapeProto { dim (1): { dim_value (1), dim_param (2) } }.</summary>
    private static List<OnnxDim> ReadShape(ProtoReader r)
    {
        var dims = new List<OnnxDim>();
        Fields(r, (field, wire) =>
        {
            if (field != 1 || wire != ProtoReader.WireBytes)
                return false;
            long? size = null;
            string? param = null;
            ProtoReader dim = r.Message();
            Fields(dim, (f, w) =>
            {
                if (f == 1 && w == ProtoReader.WireVarint)
                    size = dim.Varint();
                else if (f == 2 && w == ProtoReader.WireBytes)
                    param = dim.String();
                else
                    return false;
                return true;
            });
            dims.Add(new OnnxDim(size, param));
            return true;
        });
        return dims;
    }
}

/// <summary>Reads the protocol buffers wire format from a window [start, end) of a byte array; every bound is checked.</summary>
internal sealed class ProtoReader
{
    public const int WireVarint = 0, WireFixed64 = 1, WireBytes = 2, WireFixed32 = 5;

    private readonly int _end;
    private int _at;

    public ProtoReader(byte[] data, int start, int end)
    {
        Data = data;
        _at = start;
        _end = end;
    }

    /// <summary>The whole file (slices refer to it).</summary>
    public byte[] Data { get; }

    /// <summary>Reads the next field's key; false at the end of the message.</summary>
    public bool Next(out int field, out int wire)
    {
        field = wire = 0;
        if (_at >= _end)
            return false;
        int keyAt = _at;
        ulong key = (ulong)Varint();
        wire = (int)(key & 7);
        if (key >> 3 == 0 || key >> 3 > int.MaxValue)
            throw Damaged(keyAt, $"field number {key >> 3} is not valid");
        field = (int)(key >> 3);
        if (wire is not (WireVarint or WireFixed64 or WireBytes or WireFixed32))
            throw Damaged(keyAt, $"field {field} has wire type {wire}, which ONNX does not use");
        return true;
    }

    public long Varint()
    {
        ulong value = 0;
        int start = _at;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if (_at >= _end)
                throw Damaged(start, "a number runs past the end of its message (truncated file?)");
            byte b = Data[_at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return unchecked((long)value);
        }
        throw Damaged(start, "a number is longer than ten bytes");
    }

    public float Float()
    {
        Need(4);
        float value = Single(Data, _at);
        _at += 4;
        return value;
    }

    /// <summary>The window of a length-delimited field's payload, which the reader then steps over.</summary>
    public (int Offset, int Length) Slice()
    {
        int at = _at;
        long length = Varint();
        if (length < 0 || length > _end - _at)
            throw Damaged(at, $"a field of {length} bytes runs past the end of its message (truncated file?)");
        int offset = _at;
        _at += (int)length;
        return (offset, (int)length);
    }

    public ProtoReader Message()
    {
        (int offset, int length) = Slice();
        return new ProtoReader(Data, offset, offset + length);
    }

    public string String()
    {
        (int offset, int length) = Slice();
        try
        {
            return new UTF8Encoding(false, true).GetString(Data, offset, length);
        }
        catch (ArgumentException)
        {
            throw Damaged(offset, "a name is not valid UTF-8");
        }
    }

    /// <summary>A repeated integer field, packed (one length-delimited run) or not (this one value).</summary>
    public void Varints(int wire, List<long> values)
    {
        if (wire == WireVarint)
        {
            values.Add(Varint());
            return;
        }
        if (wire != WireBytes)
        {
            Skip(wire);
            return;
        }
        ProtoReader run = Message();
        while (run._at < run._end)
            values.Add(run.Varint());
    }

    /// <summary>A repeated float field, packed or not.</summary>
    public void Floats(int wire, List<float> values)
    {
        if (wire == WireFixed32)
        {
            values.Add(Float());
            return;
        }
        if (wire != WireBytes)
        {
            Skip(wire);
            return;
        }
        (int offset, int length) = Slice();
        if (length % 4 != 0)
            throw Damaged(offset, $"a packed float list of {length} bytes is not a whole number of floats");
        for (int i = 0; i < length; i += 4)
            values.Add(Single(Data, offset + i));
    }

    /// <summary>A repeated double field, packed or not.</summary>
    public void Doubles(int wire, List<double> values)
    {
        if (wire == WireFixed64)
        {
            Need(8);
            values.Add(BitConverter.Int64BitsToDouble(Int64(Data, _at)));
            _at += 8;
            return;
        }
        if (wire != WireBytes)
        {
            Skip(wire);
            return;
        }
        (int offset, int length) = Slice();
        if (length % 8 != 0)
            throw Damaged(offset, $"a packed double list of {length} bytes is not a whole number of doubles");
        for (int i = 0; i < length; i += 8)
            values.Add(BitConverter.Int64BitsToDouble(Int64(Data, offset + i)));
    }

    public void Skip(int wire)
    {
        switch (wire)
        {
            case WireVarint:
                Varint();
                break;
            case WireFixed64:
                Need(8);
                _at += 8;
                break;
            case WireFixed32:
                Need(4);
                _at += 4;
                break;
            default:
                Slice();
                break;
        }
    }

    private void Need(int bytes)
    {
        if (_end - _at < bytes)
            throw Damaged(_at, "a value runs past the end of its message (truncated file?)");
    }

    private static InvalidDataException Damaged(int offset, string what) =>
        new($"damaged at byte {offset.ToString(System.Globalization.CultureInfo.InvariantCulture)}: {what}");

    /// <summary>A little-endian float at <paramref name="offset"/> (ONNX stores raw data little-endian).</summary>
    public static float Single(byte[] data, int offset)
    {
        if (BitConverter.IsLittleEndian)
            return BitConverter.ToSingle(data, offset);
        byte[] swapped = { data[offset + 3], data[offset + 2], data[offset + 1], data[offset] };
        return BitConverter.ToSingle(swapped, 0);
    }

    public static int Int32(byte[] data, int offset) =>
        data[offset] | data[offset + 1] << 8 | data[offset + 2] << 16 | data[offset + 3] << 24;

    public static long Int64(byte[] data, int offset) =>
        (uint)Int32(data, offset) | (long)Int32(data, offset + 4) << 32;
}
