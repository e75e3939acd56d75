using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Unroll.Onnx;
using Xunit;

namespace Unroll.Tests.Onnx;

/// <summary>
/// The ONNX writer against the field numbers of onnx.proto, written out here independently of the writer's
/// own constants, through a minimal protobuf reader that accepts packed and unpacked repeated scalars.
/// </summary>
public class OnnxModelBuilderTests
{
    // onnx.proto field numbers (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto).
    private const int ModelIrVersion = 1, ModelProducer = 2, ModelGraph = 7, ModelOpset = 8, OpsetVersion = 2;
    private const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12;
    private const int NodeInput = 1, NodeOutput = 2, NodeOpType = 4, NodeAttribute = 5;
    private const int AttrName = 1, AttrF = 2, AttrI = 3, AttrInts = 8, AttrType = 20;
    private const int TensorDims = 1, TensorDataType = 2, TensorName = 8, TensorRawData = 9;
    private const int ValueName = 1, ValueType = 2, TypeTensor = 1, TensorElemType = 1, TensorShape = 2, ShapeDim = 1, DimValue = 1;

    [Fact]
    public void AOneConvModelReadsBackFieldByField()
    {
        float[] weights = Enumerable.Range(0, 2 * 3 * 3 * 3).Select(i => i * 0.25f - 3f).ToArray();
        var builder = new OnnxModelBuilder("tiny")
            .AddInput("x", new long[] { 1, 3, 5, 5 })
            .AddOutput("y", new long[] { 1, 2, 5, 5 })
            .AddInitializer("w", new long[] { 2, 3, 3, 3 }, weights)
            .AddNode("Conv", new[] { "x", "w" }, new[] { "y" },
                OnnxAttribute.Ints("pads", 1, 1, 1, 1), OnnxAttribute.Int("group", 1), OnnxAttribute.Float("alpha", 0.5f));
        byte[] bytes = builder.ToArray();
        using (var stream = new MemoryStream())
        {
            builder.Write(stream);
            Assert.Equal(bytes, stream.ToArray());
        }

        Message model = Message.Parse(bytes);
        Assert.Equal(8, model.Int(ModelIrVersion));
        Assert.Equal("Unroll", model.Text(ModelProducer));
        Assert.Equal(13, model.One(ModelOpset).Int(OpsetVersion));

        Message graph = model.One(ModelGraph);
        Assert.Equal("tiny", graph.Text(GraphName));
        Message input = graph.One(GraphInput), output = graph.One(GraphOutput);
        Assert.Equal("x", input.Text(ValueName));
        Assert.Equal(new long[] { 1, 3, 5, 5 }, Dims(input));
        Assert.Equal("y", output.Text(ValueName));
        Assert.Equal(new long[] { 1, 2, 5, 5 }, Dims(output));
        Assert.Equal(1, input.One(ValueType).One(TypeTensor).Int(TensorElemType)); // FLOAT

        Message tensor = graph.One(GraphInitializer);
        Assert.Equal("w", tensor.Text(TensorName));
        Assert.Equal(new long[] { 2, 3, 3, 3 }, tensor.Ints(TensorDims));
        Assert.Equal(1, tensor.Int(TensorDataType));
        byte[] raw = tensor.Bytes(TensorRawData);
        Assert.Equal(weights.Length * 4, raw.Length);
        for (int i = 0; i < weights.Length; i++)
            Assert.Equal(weights[i], BitConverter.ToSingle(raw, 4 * i)); // little-endian, as ONNX requires

        Message node = graph.One(GraphNode);
        Assert.Equal("Conv", node.Text(NodeOpType));
        Assert.Equal(new[] { "x", "w" }, node.Texts(NodeInput));
        Assert.Equal(new[] { "y" }, node.Texts(NodeOutput));
        var attributes = node.All(NodeAttribute).ToDictionary(a => a.Text(AttrName));
        Assert.Equal(new long[] { 1, 1, 1, 1 }, attributes["pads"].Ints(AttrInts));
        Assert.Equal(7, attributes["pads"].Int(AttrType)); // INTS
        Assert.Equal(1, attributes["group"].Int(AttrI));
        Assert.Equal(2, attributes["group"].Int(AttrType)); // INT
        Assert.Equal(0.5f, BitConverter.Int32BitsToSingle((int)attributes["alpha"].Fixed32(AttrF)));
        Assert.Equal(1, attributes["alpha"].Int(AttrType)); // FLOAT
    }

    [Fact]
    public void BadInitializersAndDuplicateNamesAreRejected()
    {
        var builder = new OnnxModelBuilder();
        var wrongCount = Assert.Throws<ArgumentException>(() => builder.AddInitializer("w", new long[] { 2, 3 }, new float[5]));
        Assert.Contains("takes 6 values, got 5", wrongCount.Message);
        builder.AddInitializer("w", new long[] { 2 }, new float[2]);
        Assert.Throws<ArgumentException>(() => builder.AddInitializer("w", new long[] { 2 }, new float[2]));
        Assert.Throws<ArgumentException>(() => builder.AddInitializer("v", new long[] { -1 }, new float[1]));
    }

    [Fact]
    public void NamedAndUnknownDimensionsAndInt64TensorsReadBack()
    {
        const int DimParam = 2;
        byte[] bytes = new OnnxModelBuilder()
            .AddInput("x", new OnnxDimension[] { "N", 3, OnnxDimension.Unknown })
            .AddOutput("y", new long[] { -1, 4 })
            .AddInitializer("pads", new long[] { 4 }, new long[] { 0, 1, -2, 1L << 40 })
            .AddNode("Pad", new[] { "x", "pads" }, new[] { "y" })
            .ToArray();
        Message graph = Message.Parse(bytes).One(ModelGraph);

        Message[] input = graph.One(GraphInput).One(ValueType).One(TypeTensor).One(TensorShape).All(ShapeDim).ToArray();
        Assert.Equal("N", input[0].Text(DimParam));
        Assert.Equal(3, input[1].Int(DimValue));
        Assert.Empty(input[2].Texts(DimValue).Concat(input[2].Texts(DimParam))); // neither field: unknown
        Message[] output = graph.One(GraphOutput).One(ValueType).One(TypeTensor).One(TensorShape).All(ShapeDim).ToArray();
        Assert.Empty(output[0].Texts(DimValue));
        Assert.Equal(4, output[1].Int(DimValue));

        Message tensor = graph.One(GraphInitializer);
        Assert.Equal(7, tensor.Int(TensorDataType)); // INT64
        byte[] raw = tensor.Bytes(TensorRawData);
        Assert.Equal(new long[] { 0, 1, -2, 1L << 40 }, Enumerable.Range(0, 4).Select(i => BitConverter.ToInt64(raw, 8 * i)).ToArray());
        Assert.Throws<ArgumentException>(() => new OnnxModelBuilder().AddInitializer("p", new long[] { 3 }, new long[2]));
        Assert.Throws<ArgumentException>(() => OnnxDimension.Named(""));
        // A collection of integer literals still picks the long[] overload (compiles without ambiguity).
        new OnnxModelBuilder().AddInput("z", [1, 4]).AddInput("n", ["N", 4]);
    }

    private static long[] Dims(Message value) =>
        value.One(ValueType).One(TypeTensor).One(TensorShape).All(ShapeDim).Select(d => d.Int(DimValue)).ToArray();

    /// <summary>One decoded protobuf message: its fields in order, as (number, wire type, value or bytes).</summary>
    private sealed class Message
    {
        private readonly List<(int Field, int Wire, long Value, byte[]? Bytes)> _fields = new();

        public static Message Parse(byte[] data)
        {
            var message = new Message();
            int at = 0;
            while (at < data.Length)
            {
                long key = Varint(data, ref at);
                int field = (int)(key >> 3), wire = (int)(key & 7);
                switch (wire)
                {
                    case 0:
                        message._fields.Add((field, wire, Varint(data, ref at), null));
                        break;
                    case 2:
                        int length = (int)Varint(data, ref at);
                        message._fields.Add((field, wire, 0, data[at..(at + length)]));
                        at += length;
                        break;
                    case 5:
                        message._fields.Add((field, wire, BitConverter.ToInt32(data, at), null));
                        at += 4;
                        break;
                    default:
                        throw new InvalidDataException($"Unexpected wire type {wire} for field {field}.");
                }
            }
            return message;
        }

        private static long Varint(byte[] data, ref int at)
        {
            long value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = data[at++];
                value |= (long)(b & 0x7F) << shift;
                if (b < 0x80)
                    return value;
            }
        }

        public long Int(int field) => _fields.Single(f => f.Field == field && f.Wire == 0).Value;

        public long Fixed32(int field) => _fields.Single(f => f.Field == field && f.Wire == 5).Value;

        public byte[] Bytes(int field) => _fields.Single(f => f.Field == field && f.Wire == 2).Bytes!;

        public string Text(int field) => Encoding.UTF8.GetString(Bytes(field));

        public string[] Texts(int field) => _fields.Where(f => f.Field == field).Select(f => Encoding.UTF8.GetString(f.Bytes!)).ToArray();

        public Message One(int field) => Parse(Bytes(field));

        public IEnumerable<Message> All(int field) => _fields.Where(f => f.Field == field).Select(f => Parse(f.Bytes!));

        /// <summary>A repeated integer field, written unpacked (one varint per value) or packed (one length-delimited run).</summary>
        public long[] Ints(int field)
        {
            var values = new List<long>();
            foreach (var f in _fields.Where(f => f.Field == field))
            {
                if (f.Wire == 0)
                    values.Add(f.Value);
                else
                {
                    int at = 0;
                    while (at < f.Bytes!.Length)
                        values.Add(Varint(f.Bytes, ref at));
                }
            }
            return values.ToArray();
        }
    }
}
