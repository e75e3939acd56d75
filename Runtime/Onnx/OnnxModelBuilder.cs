using System;
using System.Collections.Generic;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

namespace Unroll.Onnx;

/// <summary>The value kinds an <see cref="OnnxAttribute"/> can hold (a subset of onnx.proto's <c>AttributeProto.AttributeType</c>).</summary>
public enum OnnxAttributeKind
{
    /// <summary>One 32-bit float (<c>FLOAT</c>).</summary>
    Float = 1,
    /// <summary>One 64-bit integer (<c>INT</c>).</summary>
    Int = 2,
    /// <summary>A UTF-8 string (<c>STRING</c>).</summary>
    String = 3,
    /// <summary>A list of 32-bit floats (<c>FLOATS</c>).</summary>
    Floats = 6,
    /// <summary>A list of 64-bit integers (<c>INTS</c>).</summary>
    Ints = 7,
}

/// <summary>A named attribute of an ONNX node, for example <c>OnnxAttribute.Ints("strides", 2, 2)</c>.</summary>
public sealed class OnnxAttribute
{
    private readonly float[] _floats;
    private readonly long[] _ints;

    private OnnxAttribute(string name, OnnxAttributeKind kind, float[] floats, long[] ints, string? text)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Kind = kind;
        _floats = floats;
        _ints = ints;
        Text = text;
    }

    /// <summary>The attribute name, as the operator's schema spells it (<c>kernel_shape</c>, <c>transB</c>, ...).</summary>
    public string Name { get; }

    /// <summary>Which value the attribute holds.</summary>
    public OnnxAttributeKind Kind { get; }

    /// <summary>The value of a <see cref="OnnxAttributeKind.Float"/> or <see cref="OnnxAttributeKind.Floats"/> attribute.</summary>
    public IReadOnlyList<float> FloatValues => _floats;

    /// <summary>The value of an <see cref="OnnxAttributeKind.Int"/> or <see cref="OnnxAttributeKind.Ints"/> attribute.</summary>
    public IReadOnlyList<long> IntValues => _ints;

    /// <summary>The value of a <see cref="OnnxAttributeKind.String"/> attribute, otherwise null.</summary>
    public string? Text { get; }

    /// <summary>An attribute holding one integer.</summary>
    public static OnnxAttribute Int(string name, long value) => new(name, OnnxAttributeKind.Int, [], [value], null);

    /// <summary>An attribute holding a list of integers.</summary>
    public static OnnxAttribute Ints(string name, params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(name, OnnxAttributeKind.Ints, [], (long[])values.Clone(), null);
    }

    /// <summary>An attribute holding one float.</summary>
    public static OnnxAttribute Float(string name, float value) => new(name, OnnxAttributeKind.Float, [value], [], null);

    /// <summary>An attribute holding a list of floats.</summary>
    public static OnnxAttribute Floats(string name, params float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new(name, OnnxAttributeKind.Floats, (float[])values.Clone(), [], null);
    }

    /// <summary>An attribute holding a string.</summary>
    public static OnnxAttribute String(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(name, OnnxAttributeKind.String, [], [], value);
    }

    /// <summary>Bytes of the encoded <c>AttributeProto</c>.</summary>
    internal long EncodedSize()
    {
        long size = Proto.StringField(OnnxFields.AttributeName, Name) + Proto.Int64Field(OnnxFields.AttributeType, (long)Kind);
        switch (Kind)
        {
            case OnnxAttributeKind.Float:
                size += Proto.Fixed32Field(OnnxFields.AttributeFloat);
                break;
            case OnnxAttributeKind.Int:
                size += Proto.Int64Field(OnnxFields.AttributeInt, _ints[0]);
                break;
            case OnnxAttributeKind.String:
                size += Proto.StringField(OnnxFields.AttributeString, Text!);
                break;
            case OnnxAttributeKind.Floats:
                size += _floats.Length * Proto.Fixed32Field(OnnxFields.AttributeFloats);
                break;
            case OnnxAttributeKind.Ints:
                foreach (long value in _ints)
                    size += Proto.Int64Field(OnnxFields.AttributeInts, value);
                break;
        }
        return size;
    }

    /// <summary>Writes the fields of the <c>AttributeProto</c> (without its own tag and length).</summary>
    internal void WriteFields(ProtoWriter writer)
    {
        writer.String(OnnxFields.AttributeName, Name);
        switch (Kind)
        {
            case OnnxAttributeKind.Float:
                writer.Fixed32(OnnxFields.AttributeFloat, _floats[0]);
                break;
            case OnnxAttributeKind.Int:
                writer.Int64(OnnxFields.AttributeInt, _ints[0]);
                break;
            case OnnxAttributeKind.String:
                writer.String(OnnxFields.AttributeString, Text!);
                break;
            case OnnxAttributeKind.Floats:
                foreach (float value in _floats)
                    writer.Fixed32(OnnxFields.AttributeFloats, value);
                break;
            case OnnxAttributeKind.Ints:
                foreach (long value in _ints)
                    writer.Int64(OnnxFields.AttributeInts, value);
                break;
        }
        writer.Int64(OnnxFields.AttributeType, (long)Kind);
    }
}

/// <summary>
/// One dimension of a graph input's or output's shape: a fixed size, a named symbol that the runtime binds when the model
/// runs (<c>"N"</c> for a batch of any size; dimensions with the same symbol must agree), or unknown.
/// </summary>
/// <remarks>A <see cref="long"/> converts to a fixed size (a negative one to an unknown size) and a string to a symbol.</remarks>
public readonly record struct OnnxDimension
{
    private OnnxDimension(long? size, string? symbol)
    {
        Size = size;
        Symbol = symbol;
    }

    /// <summary>The fixed size; null for a symbolic or unknown dimension.</summary>
    public long? Size { get; }

    /// <summary>The symbol (<c>TensorShapeProto.Dimension.dim_param</c>); null for a fixed or unknown dimension.</summary>
    public string? Symbol { get; }

    /// <summary>A dimension of fixed size <paramref name="size"/>; a negative size gives an unknown dimension.</summary>
    public static OnnxDimension Fixed(long size) => new(size < 0 ? null : size, null);

    /// <summary>A dimension named <paramref name="symbol"/>, bound when the model runs.</summary>
    /// <exception cref="ArgumentException">The symbol is null or empty.</exception>
    public static OnnxDimension Named(string symbol)
    {
        ArgumentException.ThrowIfNullOrEmpty(symbol);
        return new(null, symbol);
    }

    /// <summary>A dimension of unknown size, neither fixed nor named.</summary>
    public static OnnxDimension Unknown => default;

    /// <summary>A fixed size (a negative one gives an unknown dimension).</summary>
    public static implicit operator OnnxDimension(long size) => Fixed(size);

    /// <summary>A named dimension.</summary>
    public static implicit operator OnnxDimension(string symbol) => Named(symbol);

    /// <inheritdoc />
    public override string ToString() => Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";

    /// <summary>Bytes of the encoded <c>TensorShapeProto.Dimension</c>.</summary>
    internal long EncodedSize() =>
        Size is { } size ? Proto.Int64Field(OnnxFields.DimensionValue, size)
        : Symbol is { } symbol ? Proto.StringField(OnnxFields.DimensionParam, symbol)
        : 0;

    /// <summary>Writes the fields of the <c>TensorShapeProto.Dimension</c> (without its own tag and length).</summary>
    internal void WriteFields(ProtoWriter writer)
    {
        if (Size is { } size)
            writer.Int64(OnnxFields.DimensionValue, size);
        else if (Symbol is { } symbol)
            writer.String(OnnxFields.DimensionParam, symbol);
    }
}

/// <summary>
/// Builds an ONNX model (a serialised <c>ModelProto</c>) of one graph with float32 values (and float32 or int64
/// constants), without any dependency: the protobuf wire format is written by hand. The model declares IR version 8 and the
/// default-domain operator set 13 unless told otherwise. Nodes must be added in topological order.
/// </summary>
/// <example>
/// <code>
/// var model = new OnnxModelBuilder("tiny");
/// model.AddInput("x", [1, 4]);
/// model.AddInitializer("w", [2, 4], weights);
/// model.AddNode("Gemm", ["x", "w"], ["y"], OnnxAttribute.Int("transB", 1));
/// model.AddOutput("y", [1, 2]);
/// byte[] bytes = model.ToArray();
/// </code>
/// </example>
public sealed class OnnxModelBuilder
{
    /// <summary>The ONNX <c>TensorProto.DataType</c> of float32.</summary>
    private const int FloatDataType = 1;

    /// <summary>The ONNX <c>TensorProto.DataType</c> of int64.</summary>
    private const int Int64DataType = 7;

    private readonly List<ValueInfo> _inputs = new();
    private readonly List<ValueInfo> _outputs = new();
    private readonly List<Initializer> _initializers = new();
    private readonly List<Node> _nodes = new();
    private readonly HashSet<string> _initializerNames = new(StringComparer.Ordinal);

    /// <summary>Starts an empty model whose graph is named <paramref name="graphName"/>.</summary>
    /// <param name="graphName">The graph's name (<c>GraphProto.name</c>).</param>
    /// <param name="opsetVersion">The version of the default-domain operator set the nodes are written against.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="opsetVersion"/> is less than 1.</exception>
    public OnnxModelBuilder(string graphName = "graph", int opsetVersion = 13)
    {
        ArgumentException.ThrowIfNullOrEmpty(graphName);
        ArgumentOutOfRangeException.ThrowIfLessThan(opsetVersion, 1);
        GraphName = graphName;
        OpsetVersion = opsetVersion;
    }

    /// <summary>The graph's name.</summary>
    public string GraphName { get; }

    /// <summary>The default-domain operator set version (13 by default).</summary>
    public int OpsetVersion { get; }

    /// <summary>The ONNX IR version the model declares (8 by default).</summary>
    public long IrVersion { get; set; } = 8;

    /// <summary>The producer recorded in the model (<c>ModelProto.producer_name</c>).</summary>
    public string ProducerName { get; set; } = "Unroll";

    /// <summary>The producer version recorded in the model, if any.</summary>
    public string? ProducerVersion { get; set; }

    /// <summary>Number of nodes added so far.</summary>
    public int NodeCount => _nodes.Count;

    /// <summary>
    /// Declares a float32 graph input. A negative entry in <paramref name="dims"/> is written as a dimension of unknown size.
    /// </summary>
    public OnnxModelBuilder AddInput(string name, long[] dims) => AddInput(name, Dimensions(dims));

    /// <summary>Declares a float32 graph input whose dimensions may be named (<c>["N", 3, 224, 224]</c>).</summary>
    public OnnxModelBuilder AddInput(string name, OnnxDimension[] dims)
    {
        _inputs.Add(new ValueInfo(CheckName(name), CopyDims(dims)));
        return this;
    }

    /// <summary>
    /// Declares a float32 graph output. A negative entry in <paramref name="dims"/> is written as a dimension of unknown size.
    /// </summary>
    public OnnxModelBuilder AddOutput(string name, long[] dims) => AddOutput(name, Dimensions(dims));

    /// <summary>Declares a float32 graph output whose dimensions may be named (<c>["N", 1000]</c>).</summary>
    public OnnxModelBuilder AddOutput(string name, OnnxDimension[] dims)
    {
        _outputs.Add(new ValueInfo(CheckName(name), CopyDims(dims)));
        return this;
    }

    /// <summary>
    /// Adds a constant float32 tensor (weights, biases) in row-major order; the values are copied and stored as
    /// little-endian <c>raw_data</c>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> does not hold the product of <paramref name="dims"/> values, a dimension is negative, or the name is taken.</exception>
    public OnnxModelBuilder AddInitializer(string name, long[] dims, ReadOnlySpan<float> data) =>
        AddInitializer(name, dims, data.Length, FloatDataType, MemoryMarshal.AsBytes(data));

    /// <summary>
    /// Adds a constant int64 tensor (the shapes, pads and axes that some operators take as inputs) in row-major order;
    /// the values are copied and stored as little-endian <c>raw_data</c>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="data"/> does not hold the product of <paramref name="dims"/> values, a dimension is negative, or the name is taken.</exception>
    public OnnxModelBuilder AddInitializer(string name, long[] dims, ReadOnlySpan<long> data) =>
        AddInitializer(name, dims, data.Length, Int64DataType, MemoryMarshal.AsBytes(data));

    /// <summary>Checks and adds an initializer of <paramref name="count"/> values given as their bytes in this machine's order.</summary>
    private OnnxModelBuilder AddInitializer(string name, long[] dims, int count, int dataType, ReadOnlySpan<byte> values)
    {
        CheckName(name);
        long[] copy = (long[])(dims ?? throw new ArgumentNullException(nameof(dims))).Clone();
        long expected = 1;
        foreach (long d in copy)
        {
            if (d < 0)
                throw new ArgumentException($"Initializer '{name}' has a negative dimension.", nameof(dims));
            expected *= d;
        }
        if (expected != count)
            throw new ArgumentException($"Initializer '{name}' of shape [{string.Join(", ", copy)}] takes {expected} values, got {count}.", nameof(dims));
        if (!_initializerNames.Add(name))
            throw new ArgumentException($"An initializer named '{name}' already exists.", nameof(name));
        byte[] raw = values.ToArray();
        if (!BitConverter.IsLittleEndian && count > 0)
        {
            // ONNX stores raw_data little-endian: reverse each value's bytes.
            int size = raw.Length / count;
            for (int i = 0; i < raw.Length; i += size)
                Array.Reverse(raw, i, size);
        }
        _initializers.Add(new Initializer(name, copy, dataType, raw));
        return this;
    }

    /// <summary>
    /// Adds a node of the default domain. An empty string in <paramref name="inputs"/> leaves an optional input out.
    /// </summary>
    /// <param name="opType">The operator, for example <c>Conv</c> or <c>Gemm</c>.</param>
    /// <param name="inputs">Names of the values the node reads, in the operator's order.</param>
    /// <param name="outputs">Names of the values the node produces.</param>
    /// <param name="attributes">The node's attributes.</param>
    public OnnxModelBuilder AddNode(string opType, string[] inputs, string[] outputs, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(attributes);
        foreach (string output in outputs)
            CheckName(output);
        foreach (OnnxAttribute attribute in attributes)
            ArgumentNullException.ThrowIfNull(attribute, nameof(attributes));
        string nodeName = $"{opType}_{_nodes.Count}";
        _nodes.Add(new Node(nodeName, opType, (string[])inputs.Clone(), (string[])outputs.Clone(), (OnnxAttribute[])attributes.Clone()));
        return this;
    }

    /// <summary>Serialises the model to <paramref name="stream"/>.</summary>
    public void Write(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var writer = new ProtoWriter(stream);
        WriteModel(writer);
        writer.Flush();
    }

    /// <summary>The serialised model.</summary>
    public byte[] ToArray()
    {
        long size = ModelSize();
        if (size > Array.MaxLength)
            throw new InvalidOperationException($"The model takes {size} bytes, more than one array holds; write it to a stream instead.");
        // The stream's buffer has exactly the model's size, so it is returned without a copy.
        byte[] buffer = new byte[size];
        using var stream = new MemoryStream(buffer);
        Write(stream);
        if (stream.Position != size)
            throw new InvalidOperationException($"The model was measured at {size} bytes but wrote {stream.Position}.");
        return buffer;
    }

    private long ModelSize() =>
        Proto.Int64Field(OnnxFields.ModelIrVersion, IrVersion)
        + Proto.StringField(OnnxFields.ModelProducerName, ProducerName)
        + (ProducerVersion is null ? 0 : Proto.StringField(OnnxFields.ModelProducerVersion, ProducerVersion))
        + Proto.MessageField(OnnxFields.ModelGraph, GraphSize())
        + Proto.MessageField(OnnxFields.ModelOpsetImport, OpsetSize());

    private long OpsetSize() => Proto.StringField(OnnxFields.OperatorSetDomain, "") + Proto.Int64Field(OnnxFields.OperatorSetVersion, OpsetVersion);

    private void WriteModel(ProtoWriter w)
    {
        w.Int64(OnnxFields.ModelIrVersion, IrVersion);
        w.String(OnnxFields.ModelProducerName, ProducerName);
        if (ProducerVersion is not null)
            w.String(OnnxFields.ModelProducerVersion, ProducerVersion);
        w.MessageHeader(OnnxFields.ModelGraph, GraphSize());
        WriteGraph(w);
        w.MessageHeader(OnnxFields.ModelOpsetImport, OpsetSize());
        w.String(OnnxFields.OperatorSetDomain, "");
        w.Int64(OnnxFields.OperatorSetVersion, OpsetVersion);
    }

    private long GraphSize()
    {
        long size = Proto.StringField(OnnxFields.GraphName, GraphName);
        foreach (Node node in _nodes)
            size += Proto.MessageField(OnnxFields.GraphNode, node.Size());
        foreach (Initializer tensor in _initializers)
            size += Proto.MessageField(OnnxFields.GraphInitializer, tensor.Size());
        foreach (ValueInfo input in _inputs)
            size += Proto.MessageField(OnnxFields.GraphInput, input.Size());
        foreach (ValueInfo output in _outputs)
            size += Proto.MessageField(OnnxFields.GraphOutput, output.Size());
        return size;
    }

    private void WriteGraph(ProtoWriter w)
    {
        foreach (Node node in _nodes)
        {
            w.MessageHeader(OnnxFields.GraphNode, node.Size());
            node.Write(w);
        }
        w.String(OnnxFields.GraphName, GraphName);
        foreach (Initializer tensor in _initializers)
        {
            w.MessageHeader(OnnxFields.GraphInitializer, tensor.Size());
            tensor.Write(w);
        }
        foreach (ValueInfo input in _inputs)
        {
            w.MessageHeader(OnnxFields.GraphInput, input.Size());
            input.Write(w);
        }
        foreach (ValueInfo output in _outputs)
        {
            w.MessageHeader(OnnxFields.GraphOutput, output.Size());
            output.Write(w);
        }
    }

    private static string CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return name;
    }

    private static OnnxDimension[] CopyDims(OnnxDimension[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        return (OnnxDimension[])dims.Clone();
    }

    private static OnnxDimension[] Dimensions(long[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        return Array.ConvertAll(dims, OnnxDimension.Fixed);
    }

    /// <summary>A <c>ValueInfoProto</c> of a float32 tensor: name, then <c>TypeProto.Tensor</c> with its shape.</summary>
    private sealed record ValueInfo(string Name, OnnxDimension[] Dims)
    {
        private long ShapeSize()
        {
            long size = 0;
            foreach (OnnxDimension dim in Dims)
                size += Proto.MessageField(OnnxFields.ShapeDim, dim.EncodedSize());
            return size;
        }

        private long TensorTypeSize() => Proto.Int64Field(OnnxFields.TensorTypeElemType, FloatDataType) + Proto.MessageField(OnnxFields.TensorTypeShape, ShapeSize());

        private long TypeSize() => Proto.MessageField(OnnxFields.TypeTensorType, TensorTypeSize());

        public long Size() => Proto.StringField(OnnxFields.ValueInfoName, Name) + Proto.MessageField(OnnxFields.ValueInfoType, TypeSize());

        public void Write(ProtoWriter w)
        {
            w.String(OnnxFields.ValueInfoName, Name);
            w.MessageHeader(OnnxFields.ValueInfoType, TypeSize());
            w.MessageHeader(OnnxFields.TypeTensorType, TensorTypeSize());
            w.Int64(OnnxFields.TensorTypeElemType, FloatDataType);
            w.MessageHeader(OnnxFields.TensorTypeShape, ShapeSize());
            foreach (OnnxDimension dim in Dims)
            {
                w.MessageHeader(OnnxFields.ShapeDim, dim.EncodedSize());
                dim.WriteFields(w);
            }
        }
    }

    /// <summary>A <c>TensorProto</c> of type <paramref name="DataType"/> with its values in <c>raw_data</c> (<paramref name="Raw"/>, little-endian).</summary>
    private sealed record Initializer(string Name, long[] Dims, int DataType, byte[] Raw)
    {
        public long Size()
        {
            long size = Proto.Int64Field(OnnxFields.TensorDataType, DataType) + Proto.StringField(OnnxFields.TensorName, Name)
                + Proto.BytesField(OnnxFields.TensorRawData, Raw.Length);
            foreach (long dim in Dims)
                size += Proto.Int64Field(OnnxFields.TensorDims, dim);
            return size;
        }

        public void Write(ProtoWriter w)
        {
            foreach (long dim in Dims)
                w.Int64(OnnxFields.TensorDims, dim);
            w.Int64(OnnxFields.TensorDataType, DataType);
            w.String(OnnxFields.TensorName, Name);
            w.Bytes(OnnxFields.TensorRawData, Raw);
        }
    }

    /// <summary>A <c>NodeProto</c> of the default domain.</summary>
    private sealed record Node(string Name, string OpType, string[] Inputs, string[] Outputs, OnnxAttribute[] Attributes)
    {
        public long Size()
        {
            long size = Proto.StringField(OnnxFields.NodeName, Name) + Proto.StringField(OnnxFields.NodeOpType, OpType);
            foreach (string input in Inputs)
                size += Proto.StringField(OnnxFields.NodeInput, input);
            foreach (string output in Outputs)
                size += Proto.StringField(OnnxFields.NodeOutput, output);
            foreach (OnnxAttribute attribute in Attributes)
                size += Proto.MessageField(OnnxFields.NodeAttribute, attribute.EncodedSize());
            return size;
        }

        public void Write(ProtoWriter w)
        {
            foreach (string input in Inputs)
                w.String(OnnxFields.NodeInput, input);
            foreach (string output in Outputs)
                w.String(OnnxFields.NodeOutput, output);
            w.String(OnnxFields.NodeName, Name);
            w.String(OnnxFields.NodeOpType, OpType);
            foreach (OnnxAttribute attribute in Attributes)
            {
                w.MessageHeader(OnnxFields.NodeAttribute, attribute.EncodedSize());
                attribute.WriteFields(w);
            }
        }
    }
}

/// <summary>
/// Field numbers of the onnx.proto messages the builder writes (onnx/onnx.proto, syntax proto2). Each
/// constant is named after its message and field; the comment gives the field as onnx.proto declares it.
/// </summary>
internal static class OnnxFields
{
    // message ModelProto
    /// <summary><c>optional int64 ir_version = 1;</c></summary>
    public const int ModelIrVersion = 1;
    /// <summary><c>optional string producer_name = 2;</c></summary>
    public const int ModelProducerName = 2;
    /// <summary><c>optional string producer_version = 3;</c></summary>
    public const int ModelProducerVersion = 3;
    /// <summary><c>optional GraphProto graph = 7;</c></summary>
    public const int ModelGraph = 7;
    /// <summary><c>repeated OperatorSetIdProto opset_import = 8;</c></summary>
    public const int ModelOpsetImport = 8;

    // message OperatorSetIdProto
    /// <summary><c>optional string domain = 1;</c> (empty: the default ai.onnx domain)</summary>
    public const int OperatorSetDomain = 1;
    /// <summary><c>optional int64 version = 2;</c></summary>
    public const int OperatorSetVersion = 2;

    // message GraphProto
    /// <summary><c>repeated NodeProto node = 1;</c></summary>
    public const int GraphNode = 1;
    /// <summary><c>optional string name = 2;</c></summary>
    public const int GraphName = 2;
    /// <summary><c>repeated TensorProto initializer = 5;</c></summary>
    public const int GraphInitializer = 5;
    /// <summary><c>repeated ValueInfoProto input = 11;</c></summary>
    public const int GraphInput = 11;
    /// <summary><c>repeated ValueInfoProto output = 12;</c></summary>
    public const int GraphOutput = 12;

    // message NodeProto
    /// <summary><c>repeated string input = 1;</c></summary>
    public const int NodeInput = 1;
    /// <summary><c>repeated string output = 2;</c></summary>
    public const int NodeOutput = 2;
    /// <summary><c>optional string name = 3;</c></summary>
    public const int NodeName = 3;
    /// <summary><c>optional string op_type = 4;</c></summary>
    public const int NodeOpType = 4;
    /// <summary><c>repeated AttributeProto attribute = 5;</c></summary>
    public const int NodeAttribute = 5;

    // message AttributeProto
    /// <summary><c>optional string name = 1;</c></summary>
    public const int AttributeName = 1;
    /// <summary><c>optional float f = 2;</c></summary>
    public const int AttributeFloat = 2;
    /// <summary><c>optional int64 i = 3;</c></summary>
    public const int AttributeInt = 3;
    /// <summary><c>optional bytes s = 4;</c></summary>
    public const int AttributeString = 4;
    /// <summary><c>repeated float floats = 7;</c></summary>
    public const int AttributeFloats = 7;
    /// <summary><c>repeated int64 ints = 8;</c></summary>
    public const int AttributeInts = 8;
    /// <summary><c>optional AttributeType type = 20;</c></summary>
    public const int AttributeType = 20;

    // message TensorProto
    /// <summary><c>repeated int64 dims = 1;</c></summary>
    public const int TensorDims = 1;
    /// <summary><c>optional int32 data_type = 2;</c> (a <c>TensorProto.DataType</c>)</summary>
    public const int TensorDataType = 2;
    /// <summary><c>optional string name = 8;</c></summary>
    public const int TensorName = 8;
    /// <summary><c>optional bytes raw_data = 9;</c> (fixed-width little-endian values)</summary>
    public const int TensorRawData = 9;

    // message ValueInfoProto
    /// <summary><c>optional string name = 1;</c></summary>
    public const int ValueInfoName = 1;
    /// <summary><c>optional TypeProto type = 2;</c></summary>
    public const int ValueInfoType = 2;

    // message TypeProto
    /// <summary><c>Tensor tensor_type = 1;</c> (in the <c>value</c> oneof)</summary>
    public const int TypeTensorType = 1;

    // message TypeProto.Tensor
    /// <summary><c>optional int32 elem_type = 1;</c> (a <c>TensorProto.DataType</c>)</summary>
    public const int TensorTypeElemType = 1;
    /// <summary><c>optional TensorShapeProto shape = 2;</c></summary>
    public const int TensorTypeShape = 2;

    // message TensorShapeProto
    /// <summary><c>repeated Dimension dim = 1;</c></summary>
    public const int ShapeDim = 1;

    // message TensorShapeProto.Dimension
    /// <summary><c>int64 dim_value = 1;</c> (in the <c>value</c> oneof; left out for an unknown size)</summary>
    public const int DimensionValue = 1;
    /// <summary><c>string dim_param = 2;</c> (in the <c>value</c> oneof: a named, symbolic size)</summary>
    public const int DimensionParam = 2;
}

/// <summary>Encoded sizes in the protobuf wire format.</summary>
internal static class Proto
{
    /// <summary>Wire type of varints (int32, int64, enums).</summary>
    public const int Varint = 0;
    /// <summary>Wire type of length-delimited fields (strings, bytes, messages).</summary>
    public const int LengthDelimited = 2;
    /// <summary>Wire type of 32-bit fixed-width fields (float).</summary>
    public const int Fixed32 = 5;

    /// <summary>Bytes of <paramref name="value"/> as a varint.</summary>
    public static int VarintSize(ulong value)
    {
        int size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }
        return size;
    }

    /// <summary>Bytes of the tag of <paramref name="field"/>.</summary>
    public static int TagSize(int field) => VarintSize((ulong)field << 3);

    /// <summary>Bytes of an int64 field; negative values take ten bytes, as protobuf encodes them.</summary>
    public static long Int64Field(int field, long value) => TagSize(field) + VarintSize(unchecked((ulong)value));

    /// <summary>Bytes of a 32-bit fixed-width field.</summary>
    public static long Fixed32Field(int field) => TagSize(field) + 4;

    /// <summary>Bytes of a length-delimited field whose payload is <paramref name="payload"/> bytes.</summary>
    public static long BytesField(int field, long payload) => TagSize(field) + VarintSize((ulong)payload) + payload;

    /// <summary>Bytes of a UTF-8 string field.</summary>
    public static long StringField(int field, string text) => BytesField(field, Encoding.UTF8.GetByteCount(text));

    /// <summary>Bytes of an embedded message field whose own encoding takes <paramref name="messageSize"/> bytes.</summary>
    public static long MessageField(int field, long messageSize) => BytesField(field, messageSize);
}

/// <summary>Writes protobuf fields to a stream, through a small buffer.</summary>
internal sealed class ProtoWriter
{
    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[8192];
    private int _used;

    public ProtoWriter(Stream stream) => _stream = stream;

    public void Int64(int field, long value)
    {
        Tag(field, Proto.Varint);
        Varint(unchecked((ulong)value));
    }

    public void Fixed32(int field, float value)
    {
        Tag(field, Proto.Fixed32);
        Reserve(4);
        System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(_buffer.AsSpan(_used, 4), value);
        _used += 4;
    }

    public void String(int field, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        Tag(field, Proto.LengthDelimited);
        Varint((ulong)bytes.Length);
        Raw(bytes);
    }

    /// <summary>Writes the tag and length of an embedded message; its fields must follow.</summary>
    public void MessageHeader(int field, long messageSize)
    {
        Tag(field, Proto.LengthDelimited);
        Varint((ulong)messageSize);
    }

    /// <summary>Writes a bytes field.</summary>
    public void Bytes(int field, ReadOnlySpan<byte> bytes)
    {
        Tag(field, Proto.LengthDelimited);
        Varint((ulong)bytes.Length);
        Raw(bytes);
    }

    public void Flush()
    {
        _stream.Write(_buffer, 0, _used);
        _used = 0;
        _stream.Flush();
    }

    private void Tag(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

    private void Varint(ulong value)
    {
        Reserve(10);
        while (value >= 0x80)
        {
            _buffer[_used++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_used++] = (byte)value;
    }

    private void Raw(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > _buffer.Length / 2)
        {
            _stream.Write(_buffer, 0, _used);
            _used = 0;
            _stream.Write(bytes);
            return;
        }
        Reserve(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_used));
        _used += bytes.Length;
    }

    private void Reserve(int bytes)
    {
        if (_used + bytes <= _buffer.Length)
            return;
        _stream.Write(_buffer, 0, _used);
        _used = 0;
    }
}
