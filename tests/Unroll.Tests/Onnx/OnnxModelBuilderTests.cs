using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Unroll.Onnx;
using Xunit;

namespace Unroll.Tests.Onnx;

/// <summary>
/// The ONNX writer read back through the ONNX reader that the runtime and the generator share (OnnxReader.cs, linked into
/// this project), whose field numbers are written out from onnx.proto independently of the writer's own constants and
/// which accepts packed and unpacked repeated scalars.
/// </summary>
public class OnnxModelBuilderTests
{
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

        OnnxModelProto model = OnnxReader.ReadModel(bytes);
        Assert.Equal(8, model.IrVersion);
        Assert.Equal("Unroll", model.ProducerName);
        Assert.Equal(13, model.DefaultOpset);

        OnnxGraphProto graph = model.Graph;
        Assert.Equal("tiny", graph.Name);
        OnnxValueInfoProto input = Assert.Single(graph.Inputs), output = Assert.Single(graph.Outputs);
        Assert.Equal("x", input.Name);
        Assert.Equal(new long?[] { 1, 3, 5, 5 }, input.Shape!.Select(d => d.Value));
        Assert.Equal("y", output.Name);
        Assert.Equal(new long?[] { 1, 2, 5, 5 }, output.Shape!.Select(d => d.Value));
        Assert.Equal(OnnxDataType.Float, input.ElemType);

        OnnxTensorProto tensor = Assert.Single(graph.Initializers);
        Assert.Equal("w", tensor.Name);
        Assert.Equal(new long[] { 2, 3, 3, 3 }, tensor.Dims);
        Assert.Equal(OnnxDataType.Float, tensor.DataType);
        Assert.Equal(weights.Length * 4, tensor.RawLength); // raw_data, little-endian as ONNX requires
        Assert.Empty(tensor.FloatData);
        Assert.Equal(weights, tensor.ToFloats());

        OnnxNodeProto node = Assert.Single(graph.Nodes);
        Assert.Equal("Conv", node.OpType);
        Assert.Equal(new[] { "x", "w" }, node.Inputs);
        Assert.Equal(new[] { "y" }, node.Outputs);
        Assert.Equal(new long[] { 1, 1, 1, 1 }, node.Attribute("pads")!.Ints);
        Assert.Equal(OnnxAttributeProto.IntsType, node.Attribute("pads")!.Type);
        Assert.Equal(1, node.Attribute("group")!.Int);
        Assert.Equal(OnnxAttributeProto.IntType, node.Attribute("group")!.Type);
        Assert.Equal(0.5f, node.Attribute("alpha")!.Float);
        Assert.Equal(OnnxAttributeProto.FloatType, node.Attribute("alpha")!.Type);
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
        byte[] bytes = new OnnxModelBuilder()
            .AddInput("x", new OnnxDimension[] { "N", 3, OnnxDimension.Unknown })
            .AddOutput("y", new long[] { -1, 4 })
            .AddInitializer("pads", new long[] { 4 }, new long[] { 0, 1, -2, 1L << 40 })
            .AddNode("Pad", new[] { "x", "pads" }, new[] { "y" })
            .ToArray();
        OnnxGraphProto graph = OnnxReader.ReadModel(bytes).Graph;

        List<OnnxDim> input = graph.Inputs.Single().Shape!;
        Assert.Equal("N", input[0].Param);
        Assert.Null(input[0].Value);
        Assert.Equal(3, input[1].Value);
        Assert.True(input[2].Value is null && input[2].Param is null); // neither field: unknown
        List<OnnxDim> output = graph.Outputs.Single().Shape!;
        Assert.True(output[0].Value is null && output[0].Param is null);
        Assert.Equal(4, output[1].Value);

        OnnxTensorProto tensor = graph.Initializers.Single();
        Assert.Equal(OnnxDataType.Int64, tensor.DataType);
        Assert.Equal(32, tensor.RawLength);
        Assert.Equal(new long[] { 0, 1, -2, 1L << 40 }, tensor.ToInt64s());
        Assert.Throws<ArgumentException>(() => new OnnxModelBuilder().AddInitializer("p", new long[] { 3 }, new long[2]));
        Assert.Throws<ArgumentException>(() => OnnxDimension.Named(""));
        // A collection of integer literals still picks the long[] overload (compiles without ambiguity).
        new OnnxModelBuilder().AddInput("z", [1, 4]).AddInput("n", ["N", 4]);
    }

    [Fact]
    public void TheReaderTakesPackedAndUnpackedValuesAndFloatData()
    {
        // Hand-encoded: ModelProto { graph { initializer "t" dims packed [2], FLOAT, float_data packed [1.5, -2];
        // initializer "u" dims unpacked [2], FLOAT, float_data unpacked [1.5, -2] } }.
        byte[] t = [0x0A, 0x01, 0x02, 0x10, 0x01, 0x22, 0x08, 0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x42, 0x01, (byte)'t'];
        byte[] u = [0x08, 0x02, 0x10, 0x01, 0x25, 0x00, 0x00, 0xC0, 0x3F, 0x25, 0x00, 0x00, 0x00, 0xC0, 0x42, 0x01, (byte)'u'];
        byte[] graph = [0x2A, (byte)t.Length, .. t, 0x2A, (byte)u.Length, .. u];
        byte[] model = [0x3A, (byte)graph.Length, .. graph];
        List<OnnxTensorProto> tensors = OnnxReader.ReadModel(model).Graph.Initializers;
        Assert.Equal(new[] { "t", "u" }, tensors.Select(x => x.Name));
        Assert.All(tensors, x => Assert.Equal(new long[] { 2 }, x.Dims));
        Assert.All(tensors, x => Assert.Equal(new[] { 1.5f, -2f }, x.ToFloats()));
        // One value short: the count is checked against the dimensions.
        byte[] shortTensor = [.. t[..6], 0x04, .. t[7..11], .. t[15..]];
        byte[] shortModel = [0x3A, (byte)(shortTensor.Length + 2), 0x2A, (byte)shortTensor.Length, .. shortTensor];
        var error = Assert.Throws<InvalidDataException>(() => OnnxReader.ReadModel(shortModel).Graph.Initializers[0].ToFloats());
        Assert.Equal("Tensor 't' [2] should hold 2 values, but holds 1 values.", error.Message);
    }
}
