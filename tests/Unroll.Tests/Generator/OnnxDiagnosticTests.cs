using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Unroll.Generator;
using Unroll.Onnx;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Generator;

/// <summary>
/// The diagnostics of [OnnxNetwork] (UNR0029-UNR0033): ID, exact message and the span they point at (the model's path in
/// the attribute), for a missing, ambiguous, damaged or unsupported model; and the pipeline's caching of models.
/// </summary>
public sealed class OnnxDiagnosticTests : IDisposable
{
    private const string Source = """
        using Unroll;
        [OnnxNetwork([|"model.onnx"|])]
        public partial class Net { }
        """;

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "unroll-onnx-diagnostics-" + Guid.NewGuid().ToString("N"));

    public OnnxDiagnosticTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Writes <paramref name="bytes"/> as <paramref name="name"/> under the test's folder and returns the path.</summary>
    private string File(string name, byte[] bytes)
    {
        string path = Path.Combine(_folder, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>The generated shell of <see cref="Source"/>'s network compiled from <paramref name="model"/>, written as <paramref name="name"/>; no diagnostic allowed.</summary>
    private string CleanShell(string name, byte[] model)
    {
        GeneratorRun run = GeneratorHarness.Run(Source.Replace("[|", "").Replace("|]", ""), additionalFiles: [File(name, model)]);
        Assert.Empty(run.AllDiagnostics);
        return run.Sources["Net.g.cs"];
    }

    private static void Check(string markedSource, IEnumerable<string> files, string id, string message)
    {
        MarkedSource source = MarkedSource.Parse(markedSource);
        GeneratorRun run = GeneratorHarness.Run(source.Text, additionalFiles: files);
        Assert.Null(run.Result.Results.Single().Exception);
        Diagnostic diagnostic = Assert.Single(run.GeneratorDiagnostics.Where(d => d.Id.StartsWith("UNR", StringComparison.Ordinal)));
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(message, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
        Assert.Equal("Network.cs", diagnostic.Location.SourceTree?.FilePath);
    }

    /// <summary>A model of one input [N, 2, 6, 6] and the nodes <paramref name="nodes"/> adds, whose last output is "y".</summary>
    private static byte[] Model(Action<OnnxModelBuilder> nodes, int inputRank = 4)
    {
        var builder = new OnnxModelBuilder().AddInput("x", inputRank == 4 ? ["N", 2, 6, 6] : ["N", 2, 6, 6, 1]).AddOutput("y", ["N", 4, 6, 6]);
        nodes(builder);
        return builder.ToArray();
    }

    private static void Conv(OnnxModelBuilder b, string output, params OnnxAttribute[] attributes) =>
        b.AddInitializer("w", [4, 2, 3, 3], new float[72]).AddNode("Conv", ["x", "w"], [output], attributes);

    [Fact]
    public void ModelNotAmongTheAdditionalFiles() => Check(Source, [File("other.onnx", Model(b => Conv(b, "y")))], "UNR0029",
        "Network 'Net': no AdditionalFiles item of the project ends with 'model.onnx'; add the model as <AdditionalFiles Include=\"model.onnx\" />");

    [Fact]
    public void SeveralAdditionalFilesMatch()
    {
        byte[] model = Model(b => Conv(b, "y"));
        string a = File("a/model.onnx", model), b = File("b/model.onnx", model);
        Check(Source, [b, a], "UNR0030", $"Network 'Net': 'model.onnx' matches several AdditionalFiles items ({a}, {b}); give more of the path");
        // More of the path picks one.
        GeneratorRun run = GeneratorHarness.Run(Source.Replace("[|", "").Replace("|]", "").Replace("\"model.onnx\"", "\"b/model.onnx\""), additionalFiles: [a, b]);
        Assert.Empty(run.AllDiagnostics);
    }

    [Fact]
    public void TruncatedModel()
    {
        byte[] model = Model(b => Conv(b, "y"));
        byte[] truncated = model[..(model.Length - 20)];
        string reason = Assert.Throws<InvalidDataException>(() => OnnxReader.ReadModel(truncated)).Message;
        Assert.StartsWith("damaged at byte", reason);
        Check(Source, [File("model.onnx", truncated)], "UNR0031", $"Network 'Net': 'model.onnx' cannot be read as an ONNX model: {reason}");
    }

    [Fact]
    public void NotAModel()
    {
        byte[] text = "hello, world\n"u8.ToArray();
        string reason = Assert.Throws<InvalidDataException>(() => OnnxReader.ReadModel(text)).Message;
        Check(Source, [File("model.onnx", text)], "UNR0031", $"Network 'Net': 'model.onnx' cannot be read as an ONNX model: {reason}");
    }

    [Fact]
    public void UnsupportedOperator()
    {
        MarkedSource source = MarkedSource.Parse(Source);
        GeneratorRun run = GeneratorHarness.Run(source.Text, additionalFiles: [File("model.onnx", Model(b => b.AddNode("Gelu", ["x"], ["y"])))]);
        Diagnostic diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("UNR0032", diagnostic.Id);
        Assert.StartsWith("Network 'Net': ONNX node 'Gelu_0' (Gelu) is not supported (supported: Conv, MaxPool, ", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
    }

    [Fact]
    public void GroupedConvolution() => Check(Source, [File("model.onnx", Model(b => b
            .AddInitializer("w", [4, 1, 3, 3], new float[36]).AddNode("Conv", ["x", "w"], ["y"], OnnxAttribute.Int("group", 2))))], "UNR0032",
        "Network 'Net': ONNX node 'Conv_0' (Conv) has group 2; only group 1 is supported (no grouped or depthwise convolution)");

    [Fact]
    public void DilatedConvolution() => Check(Source, [File("model.onnx", Model(b => Conv(b, "y", OnnxAttribute.Ints("dilations", 2, 2))))], "UNR0032",
        "Network 'Net': ONNX node 'Conv_0' (Conv) has dilations [2, 2]; only 1 is supported");

    [Fact]
    public void UnknownAttribute() => Check(Source, [File("model.onnx", Model(b => b.AddNode("Relu", ["x"], ["y"], OnnxAttribute.Float("slope", 1f))))], "UNR0032",
        "Network 'Net': ONNX node 'Relu_0' (Relu) has attribute 'slope', which is not supported");

    [Fact]
    public void CeilModeThatAddsAWindowCountingPadding() => Check(Source, [File("model.onnx", Model(b => b.AddNode("AveragePool", ["x"], ["y"],
            OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Int("ceil_mode", 1), OnnxAttribute.Int("count_include_pad", 1))))], "UNR0032",
        "Network 'Net': ONNX node 'AveragePool_0' (AveragePool) has ceil_mode 1 with count_include_pad 1, which gives 3x3 outputs where floor gives 2x2; the last windows would count padding that Unroll counts differently");

    [Fact]
    public void EvenLrnWindow() => Check(Source, [File("model.onnx", Model(b => b.AddNode("LRN", ["x"], ["y"], OnnxAttribute.Int("size", 4))))], "UNR0032",
        "Network 'Net': ONNX node 'LRN_0' (LRN) has size 4; only an odd window is supported (ONNX centres an even window one channel off Unroll's)");

    [Fact]
    public void SoftmaxOverASpatialTensor() => Check(Source, [File("model.onnx", Model(b => b.AddNode("Softmax", ["x"], ["y"], OnnxAttribute.Int("axis", 1))))], "UNR0032",
        "Network 'Net': ONNX node 'Softmax_0' (Softmax) takes the softmax over axis 1 of a [N, 2, 6, 6] tensor; only the features of a flat tensor or the channels of a C x 1 x 1 one are supported");

    [Fact]
    public void ClipBoundThatIsComputed() => Check(Source, [File("model.onnx", Model(b => b.AddNode("Relu", ["x"], ["r"]).AddNode("Clip", ["x", "", "r"], ["y"])))], "UNR0032",
        "Network 'Net': ONNX node 'Clip_1' (Clip) takes a value from 'r'; only a constant FLOAT scalar is supported");

    [Fact]
    public void ClipBoundThatIsNoScalar() => Check(Source, [File("model.onnx", Model(b => b.AddInitializer("m", [2], [0f, 1f]).AddNode("Clip", ["x", "m"], ["y"])))], "UNR0032",
        "Network 'Net': ONNX node 'Clip_0' (Clip) takes a value from 'm'; only a constant FLOAT scalar is supported");

    [Theory]
    [InlineData(6f, 0f, "[6, 0]")]
    [InlineData(float.NaN, 1f, "[NaN, 1]")]
    public void ClipBoundsOutOfOrder(float min, float max, string shown) => Check(Source,
        [File("model.onnx", Model(b => b.AddInitializer("lo", [], [min]).AddInitializer("hi", [], [max]).AddNode("Clip", ["x", "lo", "hi"], ["y"])))], "UNR0032",
        $"Network 'Net': ONNX node 'Clip_0' (Clip) clips to {shown}; the bounds must be numbers with min <= max");

    [Fact]
    public void ClipBoundsOutOfOrderAsAttributes()
    {
        byte[] model = new OnnxModelBuilder(opsetVersion: 10).AddInput("x", ["N", 2, 6, 6]).AddOutput("y", ["N", 2, 6, 6])
            .AddNode("Clip", ["x"], ["y"], OnnxAttribute.Float("min", 1f), OnnxAttribute.Float("max", -1f)).ToArray();
        Check(Source, [File("model.onnx", model)], "UNR0032", "Network 'Net': ONNX node 'Clip_0' (Clip) clips to [1, -1]; the bounds must be numbers with min <= max");
    }

    [Fact]
    public void WeightThatIsComputed() => Check(Source, [File("model.onnx", Model(b => b.AddNode("Relu", ["x"], ["r"]).AddNode("Conv", ["x", "r"], ["y"])))], "UNR0032",
        "Network 'Net': ONNX node 'Conv_1' (Conv) takes its weight from the computed tensor 'r'; weights must be initializers");

    [Fact]
    public void ProductOfTwoComputedTensors() => Check(Source, [File("model.onnx", Model(b => b.AddNode("Relu", ["x"], ["r"]).AddNode("Mul", ["x", "r"], ["y"])))], "UNR0032",
        "Network 'Net': ONNX node 'Mul_1' (Mul) multiplies two computed tensors; only a product with a constant is supported");

    [Fact]
    public void ConstantThatVariesAlongRowsOnly() => Check(Source, [File("model.onnx", Model(b => b.AddInitializer("c", [6, 1], new float[6]).AddNode("Add", ["x", "c"], ["y"])))], "UNR0032",
        "Network 'Net': ONNX node 'Add_0' (Add) has the constant 'c' of dimensions [6, 1] for a [N, 2, 6, 6] tensor; one value, one per channel ([C, 1, 1]) or one per value ([C, H, W]) is supported");

    [Fact]
    public void ConstantMinusComputedTensor() => Check(Source, [File("model.onnx", Model(b => b.AddInitializer("c", [1], [1f]).AddNode("Sub", ["c", "x"], ["y"])))], "UNR0032",
        "Network 'Net': ONNX node 'Sub_0' (Sub) subtracts a computed tensor from the constant 'c'; only a constant subtracted from a computed tensor is supported");

    [Fact]
    public void TwoInputs() => Check(Source, [File("model.onnx", Model(b => b.AddInput("z", ["N", 2, 6, 6]).AddNode("Add", ["x", "z"], ["y"])))], "UNR0033",
        "Network 'Net': the graph of 'model.onnx' has 2 inputs (x, z); exactly one is supported");

    [Fact]
    public void FiveDimensionalInput() => Check(Source, [File("model.onnx", Model(b => b.AddNode("Relu", ["x"], ["y"]), inputRank: 5))], "UNR0033",
        "Network 'Net': the graph of 'model.onnx' has input 'x' with shape [N, 2, 6, 6, 1]; it must be [N, C, H, W] with C, H and W fixed (N may be a symbol), or [N, C, L] or [N, F]");

    [Fact]
    public void NotPartial() => Check("""
        using Unroll;
        [OnnxNetwork("model.onnx")]
        public class [|Net|] { }
        """, [File("model.onnx", Model(b => Conv(b, "y")))], "UNR0001", "Network class 'Net' must be declared partial so that Unroll can generate its members");

    [Fact]
    public void AGoodModelCompilesWithoutDiagnosticsAndLoadsAtRunTime()
    {
        string shell = CleanShell("models/model.onnx", Model(b => Conv(b, "y", OnnxAttribute.Ints("pads", 1, 1, 1, 1))));
        Assert.Contains("// Generated by Unroll.Generator from the ONNX model 'model.onnx'; do not edit.", shell);
        Assert.Contains("new(\"y.weight\", \"w\"),", shell);
        Assert.Contains("public void LoadOnnx(string path)", shell);
        Assert.Contains("public void LoadOnnx(global::System.IO.Stream stream)", shell);
        Assert.DoesNotContain("0.0f, 0.0f", shell); // no weights in the source
    }

    [Fact]
    public void LayerNamesAreIdentifiersAndUnique()
    {
        // The builder numbers its nodes (Conv_0, ...), so the layers are named after their values: "/stem/conv.1" and
        // "stem_conv_1" both become stem_conv_1 (the second gets _2), "9" becomes L9; the ReLU is fused and names nothing.
        byte[] model = new OnnxModelBuilder().AddInput("x", ["N", 2, 6, 6]).AddOutput("9", ["N", 2, 6, 6])
            .AddInitializer("w", [2, 2, 1, 1], new float[4]).AddInitializer("w2", [2, 2, 1, 1], new float[4])
            .AddNode("Conv", ["x", "w"], ["/stem/conv.1"])
            .AddNode("Conv", ["/stem/conv.1", "w2"], ["stem_conv_1"])
            .AddNode("Relu", ["stem_conv_1"], ["7"])
            .AddNode("Sigmoid", ["7"], ["9"])
            .ToArray();
        string shell = CleanShell("model.onnx", model);
        Assert.Contains("new LayerInfo(\"stem_conv_1\", LayerKind.Conv2D, Activation.None,", shell);
        Assert.Contains("new LayerInfo(\"stem_conv_1_2\", LayerKind.Conv2D, Activation.ReLU,", shell);
        Assert.Contains("new LayerInfo(\"L9\", LayerKind.Activation, Activation.Sigmoid,", shell);
        Assert.Contains("new(\"stem_conv_1_2.weight\", \"w2\"),", shell);
    }

    [Fact]
    public void AnUnchangedModelKeepsEveryStageCached()
    {
        string path = File("model.onnx", Model(b => Conv(b, "y", OnnxAttribute.Ints("pads", 1, 1, 1, 1))));
        CSharpCompilation first = GeneratorHarness.Compilation(Source.Replace("[|", "").Replace("|]", ""));
        GeneratorDriver driver = GeneratorHarness.CreateDriver([path]).RunGenerators(first);
        driver = driver.RunGenerators(first.AddSyntaxTrees(CSharpSyntaxTree.ParseText("public class Unrelated { }", GeneratorHarness.ParseOptions)));
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        foreach (string stage in new[] { UnrollGenerator.Stages.OnnxModel, UnrollGenerator.Stages.Spec, UnrollGenerator.Stages.Model, UnrollGenerator.Stages.Plan })
        {
            var outputs = result.TrackedSteps[stage].SelectMany(step => step.Outputs).ToList();
            Assert.NotEmpty(outputs);
            Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{stage}: {o.Reason}"));
        }
    }
}
