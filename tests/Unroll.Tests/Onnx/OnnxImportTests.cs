using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using Unroll.Networks;
using Unroll.Onnx;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Numerics;
using Xunit.Abstractions;

namespace Unroll.Tests.Onnx;

/// <summary>
/// ONNX import end to end: networks exported with random weights, compiled back through [OnnxNetwork] (the committed
/// models in Models/, and a graph built here of the operators the exporter does not write), their weights loaded from the
/// model file at run time, and their outputs against the original network's and ONNX Runtime's.
/// </summary>
public sealed class OnnxImportTests : IDisposable
{
    /// <summary>max |imported - reference| over max |reference| must stay below this.</summary>
    private const double Tolerance = 1e-5;

    /// <summary>Set to 1 to write the committed models anew (after a deliberate change of the exporter or the source networks).</summary>
    private const string WriteModelsVariable = "UNROLL_WRITE_ONNX_MODELS";

    private readonly ITestOutputHelper _output;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "unroll-import-" + Guid.NewGuid().ToString("N"));

    public OnnxImportTests(ITestOutputHelper output)
    {
        _output = output;
        Directory.CreateDirectory(_folder);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string ModelPath(string file) => Path.Combine(RepositoryRoot.Path, "tests", "Unroll.Tests", "Onnx", "Models", file);

    /// <summary>The network Models/lenet5.onnx was exported from (with a fixed batch of 1).</summary>
    private static LeNet5 SourceLeNet5() => Randomised(new LeNet5(new NetworkOptions { Seed = 21, Threads = 1 }), 22);

    /// <summary>The network Models/kinds.onnx was exported from (with the symbolic batch).</summary>
    private static ImportKindsNet SourceKinds(Isa? isa = null) => Randomised(new ImportKindsNet(new NetworkOptions { Seed = 23, Threads = 1, Isa = isa }), 24);

    private static T Randomised<T>(T net, int seed) where T : Network
    {
        var random = new SeededRandom(seed);
        NetworkFixtures.SetRandomBiases(net, random);
        NetworkFixtures.SetRandomNormalisations(net, random);
        return net;
    }

    [Fact]
    public void TheCommittedModelsAreTheExportsOfTheirSourceNetworks()
    {
        bool write = Environment.GetEnvironmentVariable(WriteModelsVariable) == "1";
        foreach ((string file, Network net, int? batch) in new (string, Network, int?)[] { ("lenet5.onnx", SourceLeNet5(), 1), ("kinds.onnx", SourceKinds(), null) })
        {
            using (net)
            {
                byte[] model = OnnxExport.Build(net, batch);
                if (write)
                    File.WriteAllBytes(ModelPath(file), model);
                Assert.True(model.SequenceEqual(File.ReadAllBytes(ModelPath(file))), $"{file} is not the export of {net.Info.Name}; set {WriteModelsVariable}=1 to write it anew.");
            }
        }
    }

    [Fact]
    public void LeNet5ComesBackFromItsFixedBatchModelAndRunsAnyBatch()
    {
        using LeNet5 source = SourceLeNet5();
        using var imported = new ImportedLeNet5(new NetworkOptions { Threads = 1 });
        Assert.Equal("lenet5.onnx", ImportedLeNet5.OnnxModel);
        Assert.Equal(source.Info.ParameterCount, imported.Info.ParameterCount);
        Assert.Equal(source.Info.Flops, imported.Info.Flops);
        Assert.Equal(source.Layers.Select(l => (l.Info.Kind, l.Info.Activation, l.Info.OutputShape)), imported.Layers.Select(l => (l.Info.Kind, l.Info.Activation, l.Info.OutputShape)));

        imported.LoadOnnx(ModelPath("lenet5.onnx"));
        byte[] model = File.ReadAllBytes(ModelPath("lenet5.onnx"));
        Compare(source, imported, model, batch: 4, fixedBatch: true, seed: 31, "");
    }

    [Fact]
    public void TheResidualConcatBatchNormModelComesBackOnEveryIsa()
    {
        byte[] model = File.ReadAllBytes(ModelPath("kinds.onnx"));
        foreach (Isa isa in IsaSupport.Supported())
        {
            using ImportKindsNet source = SourceKinds(isa);
            using var imported = new ImportedKinds(new NetworkOptions { Isa = isa, Threads = 1 });
            Assert.Equal(source.Info.ParameterCount, imported.Info.ParameterCount);
            // The softmax after the last dense layer is fused into it and dropout (an Identity node) is no layer; everything
            // else keeps its layer and, where the exporter names its node's output after the layer, its name.
            Assert.Equal(source.Layers.Count - 2, imported.Layers.Count);
            Assert.Contains(imported.Layers, l => l.Name == "Res" && l.Info.Kind == LayerKind.Add && l.Info.Activation == Activation.ReLU);
            Assert.Contains(imported.Layers, l => l.Name == "Logits" && l.Info.Kind == LayerKind.Dense && l.Info.Activation == Activation.Softmax);
            Assert.Contains(imported.Layers, l => l.Info is { Kind: LayerKind.Conv2D, Settings: { PadTop: 0, PadBottom: 1, PadLeft: 0, PadRight: 1 } });
            using (var stream = new MemoryStream(model))
                imported.LoadOnnx(stream);
            Compare(source, imported, model, batch: 3, fixedBatch: false, seed: 32, isa.ToString());
        }
    }

    [Fact]
    public void AGraphOfTheOperatorsTheExporterDoesNotWriteMatchesOnnxRuntime()
    {
        Assembly assembly = Compile("hand", HandBuiltModel(), "Hand", out string path);
        using Network net = GeneratorHarness.Create(assembly, "Hand", new NetworkOptions { Threads = 1 });
        Load(net, path);

        // Pad, convolutions (SAME_LOWER with stride 2; explicit pads that differ between sides), a second ReLU that cannot
        // be fused (the convolution has one already), a sum of three, average pooling over a 3x1 window with padding
        // counted, a concatenation, max pooling over a 2x3 window, Identity, Flatten, MatMul + Add, Gemm with
        // alpha, beta and an untransposed B, and a softmax over the last axis.
        Assert.Equal(new[] { LayerKind.ZeroPad2D, LayerKind.Conv2D, LayerKind.Activation, LayerKind.Conv2D, LayerKind.Conv2D, LayerKind.Add, LayerKind.AvgPool2D,
            LayerKind.Concatenate, LayerKind.MaxPool2D, LayerKind.Dense, LayerKind.Dense }, net.Layers.Select(l => l.Info.Kind));
        Assert.Contains(net.Layers, l => l.Info is { Kind: LayerKind.Conv2D, Settings: { PadTop: 1, PadBottom: 0, PadLeft: 1, PadRight: 1, StrideHeight: 2 } });
        Assert.Contains(net.Layers, l => l.Info is { Kind: LayerKind.Conv2D, Settings: { PadTop: 0, PadLeft: 1, PadBottom: 1, PadRight: 1, KernelHeight: 2, KernelWidth: 3 } });
        Assert.Equal(new[] { Activation.Tanh, Activation.Softmax }, net.Layers.Where(l => l.Info.Kind == LayerKind.Dense).Select(l => l.Info.Activation));
        // The runtime interface names the input and output as the graph does (the layers have names of their own).
        INetwork graph = net;
        Assert.Equal(new[] { new GraphTensor("x", new Shape(2, 9, 9)) }, graph.Inputs);
        Assert.Equal(new[] { new GraphTensor("y", Shape.Flat(5)) }, graph.Outputs);
        Assert.NotEqual("y", net.Layers[^1].Name);
        float[] ort = Compare(null, net, File.ReadAllBytes(path), batch: 3, fixedBatch: false, seed: 33, "hand-built " + net.Isa);
        for (int n = 0; n < 3; n++)
            Assert.Equal(1.0, ort.Skip(5 * n).Take(5).Sum(v => (double)v), 5);
        float[] input = NetworkFixtures.RandomInput(3 * net.InputLength, new SeededRandom(33));
        float[] forward = new float[3 * net.OutputLength];
        net.Forward(input, forward, 3);
        Assert.Equal(forward, graph.Run(input)[0]);
        foreach (Isa isa in IsaSupport.Supported().Where(i => i != net.Isa))
        {
            using Network other = GeneratorHarness.Create(assembly, "Hand", new NetworkOptions { Threads = 1, Isa = isa });
            Load(other, path);
            Compare(null, other, File.ReadAllBytes(path), batch: 3, fixedBatch: false, seed: 33, "hand-built " + isa);
        }
    }

    [Fact]
    public void ConstantArithmeticAndSplitMatchOnnxRuntime()
    {
        // ResNetPreprocess.onnx's pattern (operator set 8): the channels split and put back in reverse order, a mean image
        // subtracted; then a product with a constant per channel, a constant scalar added, a difference of two convolutions
        // and a product with a constant of the tensor's own shape.
        var random = new SeededRandom(44);
        float[] Random(int n, float low = -1f, float high = 1f) => Enumerable.Range(0, n).Select(_ => random.Uniform(low, high)).ToArray();
        byte[] model = new OnnxModelBuilder("arith", opsetVersion: 8)
            .AddInput("x", ["N", 3, 5, 6])
            .AddOutput("y", ["N", 4, 3, 4])
            .AddInitializer("mean", [1, 3, 5, 6], Random(90))
            .AddInitializer("scale", [3, 1, 1], Random(3, 0.5f, 2f))
            .AddInitializer("one", [1], [0.25f])
            .AddInitializer("w1", [4, 3, 3, 3], Random(108)).AddInitializer("w2", [4, 3, 3, 3], Random(108))
            .AddInitializer("full", [4, 3, 4], Random(48))
            .AddNode("Split", ["x"], ["r", "g", "b"], OnnxAttribute.Int("axis", 1), OnnxAttribute.Ints("split", 1, 1, 1))
            .AddNode("Concat", ["b", "g", "r"], ["bgr"], OnnxAttribute.Int("axis", 1))
            .AddNode("Sub", ["bgr", "mean"], ["centred"])
            .AddNode("Mul", ["scale", "centred"], ["scaled"])
            .AddNode("Add", ["scaled", "one"], ["shifted"])
            .AddNode("Relu", ["shifted"], ["positive"])
            .AddNode("Conv", ["positive", "w1"], ["c1"])
            .AddNode("Conv", ["positive", "w2"], ["c2"])
            .AddNode("Sub", ["c1", "c2"], ["d"])
            .AddNode("Mul", ["d", "full"], ["y"])
            .ToArray();
        Assembly assembly = Compile("arith", model, "Arith", out string path);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = GeneratorHarness.Create(assembly, "Arith", new NetworkOptions { Threads = 1, Isa = isa });
            Load(net, path);
            // Three 1x1 convolutions pick the channels; the sum of the difference follows the convolution that negates c2.
            Assert.Equal(new[] { LayerKind.Conv2D, LayerKind.Conv2D, LayerKind.Conv2D, LayerKind.Concatenate, LayerKind.Affine, LayerKind.Affine, LayerKind.Affine,
                LayerKind.Conv2D, LayerKind.Conv2D, LayerKind.Conv2D, LayerKind.Add, LayerKind.Affine }, net.Layers.Select(l => l.Info.Kind));
            Assert.Equal(new[] { "r", "g", "b" }, net.Layers.Take(3).Select(l => l.Info.Name));
            Assert.Equal(Activation.ReLU, net.Layers[6].Info.Activation);
            Assert.Equal(new[] { 3, 5, 6 }, net.Layers[4].Info.Bias!.Shape);
            Compare(null, net, model, batch: 3, fixedBatch: false, seed: 36, "arithmetic " + isa);
            // Exported back (Mul and Add of the constants, broadcast as they came), it computes the same.
            Compare(null, net, OnnxExport.Build(net), batch: 3, fixedBatch: false, seed: 36, "arithmetic exported back " + isa);
        }
    }

    [Fact]
    public void ClipReshapeGlobalMaxPoolAndCeilModeMatchOnnxRuntime()
    {
        // Clip to [0, +inf) is a ReLU (fused into the convolution), GlobalMaxPool a max pooling over the whole input,
        // ceil_mode an extra row and column of padding at the end, Reshape to [0, -1] a Flatten.
        var random = new SeededRandom(45);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => random.Uniform(-1f, 1f)).ToArray();
        byte[] model = new OnnxModelBuilder("reshape")
            .AddInput("x", ["N", 2, 7, 7])
            .AddOutput("y", ["N", 3])
            .AddInitializer("w", [4, 2, 3, 3], Random(72))
            .AddInitializer("zero", [], [0f])
            .AddInitializer("shape", [2], new long[] { 0, -1 })
            .AddInitializer("b", [8, 3], Random(24))
            .AddNode("Conv", ["x", "w"], ["c"])
            .AddNode("Clip", ["c", "zero"], ["r"])
            .AddNode("MaxPool", ["r"], ["p"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Int("ceil_mode", 1))
            .AddNode("GlobalMaxPool", ["p"], ["g"])
            .AddNode("AveragePool", ["r"], ["a"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("strides", 3, 3), OnnxAttribute.Int("ceil_mode", 1))
            .AddNode("GlobalMaxPool", ["a"], ["h"])
            .AddNode("Concat", ["g", "h"], ["gh"], OnnxAttribute.Int("axis", 1))
            .AddNode("Reshape", ["gh", "shape"], ["flat"])
            .AddNode("MatMul", ["flat", "b"], ["y"])
            .ToArray();
        Assembly assembly = Compile("reshape", model, "Reshaped", out string path);
        using Network net = GeneratorHarness.Create(assembly, "Reshaped", new NetworkOptions { Threads = 1 });
        Load(net, path);
        Assert.Equal(new[] { LayerKind.Conv2D, LayerKind.MaxPool2D, LayerKind.MaxPool2D, LayerKind.AvgPool2D, LayerKind.MaxPool2D, LayerKind.Concatenate, LayerKind.Dense },
            net.Layers.Select(l => l.Info.Kind));
        Assert.Equal(Activation.ReLU, net.Layers[0].Info.Activation);
        Assert.Contains(net.Layers, l => l.Info is { Kind: LayerKind.MaxPool2D, OutputShape.Height: 3, Settings: { PadBottom: 1, PadRight: 1 } });
        Compare(null, net, model, batch: 3, fixedBatch: false, seed: 37, "clip and reshape");
    }

    [Fact]
    public void ClipsToFiniteBoundsMatchOnnxRuntimeOnEveryIsa()
    {
        // Operator set 13, the bounds as scalar initializers: ReLU6 fused into a convolution (weights large enough for
        // values past 6), a clip from above only (the min input left empty) that stands alone after a max pooling, a clip
        // from below only fused into an affine layer (an Add of a constant per channel), and one to [-1, 1] fused into the last
        // convolution.
        var random = new SeededRandom(46);
        float[] Random(int n, float low, float high) => Enumerable.Range(0, n).Select(_ => random.Uniform(low, high)).ToArray();
        byte[] model = new OnnxModelBuilder("clips")
            .AddInput("x", ["N", 3, 8, 8])
            .AddOutput("y", ["N", 4, 2, 2])
            .AddInitializer("w1", [6, 3, 3, 3], Random(162, -2f, 2f)).AddInitializer("b1", [6], Random(6, -1f, 1f))
            .AddInitializer("zero", [], [0f]).AddInitializer("six", [], [6f])
            .AddInitializer("high", [1], [2.5f])
            .AddInitializer("shift", [6, 1, 1], Random(6, -2f, 0f))
            .AddInitializer("low", [], [0.5f])
            .AddInitializer("w2", [4, 6, 3, 3], Random(216, -0.5f, 0.5f))
            .AddInitializer("minus_one", [], [-1f]).AddInitializer("one", [], [1f])
            .AddNode("Conv", ["x", "w1", "b1"], ["c1"], OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .AddNode("Clip", ["c1", "zero", "six"], ["relu6"])
            .AddNode("MaxPool", ["relu6"], ["p"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2))
            .AddNode("Clip", ["p", "", "high"], ["capped"])
            .AddNode("Add", ["capped", "shift"], ["shifted"])
            .AddNode("Clip", ["shifted", "low"], ["floored"])
            .AddNode("Conv", ["floored", "w2"], ["c2"], OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .AddNode("Clip", ["c2", "minus_one", "one"], ["y"])
            .ToArray();
        Assembly assembly = Compile("clips", model, "Clips", out string path);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = GeneratorHarness.Create(assembly, "Clips", new NetworkOptions { Threads = 1, Isa = isa });
            Load(net, path);
            Assert.Equal(new[] { LayerKind.Conv2D, LayerKind.MaxPool2D, LayerKind.Activation, LayerKind.Affine, LayerKind.Conv2D }, net.Layers.Select(l => l.Info.Kind));
            Assert.All(net.Layers.Where(l => l.Info.Kind != LayerKind.MaxPool2D), l => Assert.Equal(Activation.Clip, l.Info.Activation));
            Assert.Equal(new[] { (0f, 6f), (float.NegativeInfinity, 2.5f), (0.5f, float.PositiveInfinity), (-1f, 1f) },
                net.Layers.Where(l => l.Info.Activation == Activation.Clip).Select(l => (l.Info.Settings!.ClipMin, l.Info.Settings.ClipMax)));
            float[] ort = Compare(null, net, model, batch: 3, fixedBatch: false, seed: 38, "clips " + isa);
            // ONNX Runtime's own values reach both bounds of the last clip.
            Assert.Contains(-1f, ort);
            Assert.Contains(1f, ort);
        }

        // Operator set 10, the bounds as attributes: a clip to [-0.5, 0.5] fused into a convolution, and one from above only
        // standing alone after a max pooling.
        byte[] old = new OnnxModelBuilder("clips10", opsetVersion: 10)
            .AddInput("x", ["N", 2, 6, 6])
            .AddOutput("y", ["N", 3, 3, 3])
            .AddInitializer("w", [3, 2, 3, 3], Random(54, -0.5f, 0.5f))
            .AddNode("Conv", ["x", "w"], ["c"], OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .AddNode("Clip", ["c"], ["clipped"], OnnxAttribute.Float("min", -0.5f), OnnxAttribute.Float("max", 0.5f))
            .AddNode("MaxPool", ["clipped"], ["p"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2))
            .AddNode("Clip", ["p"], ["y"], OnnxAttribute.Float("max", 0.25f))
            .ToArray();
        Assembly assembly10 = Compile("clips10", old, "Clips10", out string path10);
        using Network net10 = GeneratorHarness.Create(assembly10, "Clips10", new NetworkOptions { Threads = 1 });
        Load(net10, path10);
        Assert.Equal(new[] { LayerKind.Conv2D, LayerKind.MaxPool2D, LayerKind.Activation }, net10.Layers.Select(l => l.Info.Kind));
        Assert.Equal(new[] { (-0.5f, 0.5f), (float.NegativeInfinity, 0.25f) },
            net10.Layers.Where(l => l.Info.Activation == Activation.Clip).Select(l => (l.Info.Settings!.ClipMin, l.Info.Settings.ClipMax)));
        float[] ort10 = Compare(null, net10, old, batch: 2, fixedBatch: false, seed: 39, "clips, operator set 10");
        Assert.Contains(0.25f, ort10);
    }

    [Fact]
    public void ClipsComeBackFromTheirExportWithTheirBounds()
    {
        // Exported (Clip nodes, scalar bounds, an open side left out) and compiled back: the same layers, bounds and outputs.
        byte[] model;
        using (ClipExportNet exported = Randomised(new ClipExportNet(new NetworkOptions { Seed = 27, Threads = 1 }), 28))
            model = OnnxExport.Build(exported);
        Assembly assembly = Compile("clipexport", model, "ClipsBack", out string path);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using ClipExportNet source = Randomised(new ClipExportNet(new NetworkOptions { Seed = 27, Threads = 1, Isa = isa }), 28);
            using Network imported = GeneratorHarness.Create(assembly, "ClipsBack", new NetworkOptions { Threads = 1, Isa = isa });
            Assert.Equal(source.Layers.Select(l => (l.Info.Kind, l.Info.Activation, l.Info.Settings?.ClipMin, l.Info.Settings?.ClipMax)),
                imported.Layers.Select(l => (l.Info.Kind, l.Info.Activation, l.Info.Settings?.ClipMin, l.Info.Settings?.ClipMax)));
            Assert.Equal(new[] { (0f, 6f), (float.NegativeInfinity, 0.5f), (-0.3f, float.PositiveInfinity), (-0.25f, 0.25f) },
                imported.Layers.Where(l => l.Info.Activation == Activation.Clip).Select(l => (l.Info.Settings!.ClipMin, l.Info.Settings.ClipMax)));
            Load(imported, path);
            float[] ort = Compare(source, imported, model, batch: 3, fixedBatch: false, seed: 40, "clips exported " + isa);
            Assert.Contains(-0.25f, ort);
            Assert.Contains(0.25f, ort);
        }
    }

    [Fact]
    public void AnOperatorSet10ModelMatchesOnnxRuntime()
    {
        // Before operator set 11 Pad takes its pads as an attribute; before 13 Softmax covers every axis from 'axis' (1
        // by default) on, here the channels of a [N, C, 1, 1] tensor.
        var random = new SeededRandom(42);
        byte[] model = new OnnxModelBuilder("old", opsetVersion: 10)
            .AddInput("x", ["N", 3, 4, 4])
            .AddOutput("y", ["N", 4, 1, 1])
            .AddInitializer("w", [4, 3, 2, 2], Enumerable.Range(0, 48).Select(_ => random.Uniform(-1f, 1f)).ToArray())
            .AddNode("Pad", ["x"], ["p"], OnnxAttribute.Ints("pads", 0, 0, 1, 0, 0, 0, 0, 1), OnnxAttribute.String("mode", "constant"))
            .AddNode("Conv", ["p", "w"], ["c"])
            .AddNode("GlobalAveragePool", ["c"], ["g"])
            .AddNode("Softmax", ["g"], ["y"])
            .ToArray();
        Assembly assembly = Compile("old", model, "Old", out string path);
        using Network net = GeneratorHarness.Create(assembly, "Old", new NetworkOptions { Threads = 1 });
        Load(net, path);
        Assert.Equal(new[] { LayerKind.ZeroPad2D, LayerKind.Conv2D, LayerKind.GlobalAvgPool2D, LayerKind.Activation }, net.Layers.Select(l => l.Info.Kind));
        Compare(null, net, model, batch: 2, fixedBatch: false, seed: 35, "opset 10");
    }

    [Fact]
    public void ResNet18ExportedAtTestTimeComesBack()
    {
        // About 45 MB as ONNX, so written here rather than committed; compiled through the generator in memory.
        using Network source = Randomised(NetworkCatalog.Create("ResNet18", new NetworkOptions { Seed = 25, Threads = 1 }), 26);
        string path = Path.Combine(_folder, "resnet18.onnx");
        OnnxExport.Save(source, path);
        Assembly assembly = GeneratorHarness.CompileAndLoad("using Unroll; [OnnxNetwork(\"resnet18.onnx\")] public partial class ResNet18FromOnnx { }", new[] { path });
        using Network imported = GeneratorHarness.Create(assembly, "ResNet18FromOnnx", new NetworkOptions { Threads = 1 });
        Assert.Equal(source.Info.ParameterCount, imported.Info.ParameterCount);
        Assert.Equal(source.Layers.Count, imported.Layers.Count);
        Load(imported, path);
        Compare(source, imported, File.ReadAllBytes(path), batch: 1, fixedBatch: false, seed: 34, "");
    }

    [Fact]
    public void LoadingAModelThatDoesNotFitNamesTheInitializerAndChangesNothing()
    {
        using var net = new ImportedLeNet5(new NetworkOptions { Seed = 5 });
        float[] before = net.Parameters.ToArray();

        // Another network's model: the first tensor it lacks is named.
        var missing = Assert.Throws<InvalidDataException>(() => net.LoadOnnx(ModelPath("kinds.onnx")));
        Assert.Equal("The ONNX model has no initializer 'C1.weight', which ImportedLeNet5 reads into C1.weight [6, 1, 5, 5].", missing.Message);

        // A truncated file.
        byte[] model = File.ReadAllBytes(ModelPath("lenet5.onnx"));
        var truncated = Assert.Throws<InvalidDataException>(() => net.LoadOnnx(new MemoryStream(model, 0, model.Length - 100)));
        Assert.StartsWith("The ONNX model for ImportedLeNet5 cannot be read: damaged at byte", truncated.Message);

        // An initializer of other dimensions (a model written with a dense layer of 11 units where the network has 10).
        var builder = new OnnxModelBuilder();
        OnnxModelProto read = OnnxReader.ReadModel(model);
        foreach (OnnxTensorProto t in read.Graph.Initializers)
            builder.AddInitializer(t.Name, t.Name == "Output.weight" ? [11, 84] : t.Dims.ToArray(), t.Name == "Output.weight" ? new float[11 * 84] : t.ToFloats());
        var wrong = Assert.Throws<InvalidDataException>(() => net.LoadOnnx(new MemoryStream(builder.ToArray())));
        Assert.Equal("ONNX initializer 'Output.weight' [11, 84] for Output.weight [10, 84]: expected dimensions [10, 84].", wrong.Message);

        Assert.Equal(before, net.Parameters.ToArray());
    }

    [Fact]
    public void TheReaderRejectsDamagedModelsWithInvalidDataExceptionOnly()
    {
        byte[] model = File.ReadAllBytes(ModelPath("kinds.onnx"));
        var random = new Random(7);
        int rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            byte[] damaged = trial < 1000 ? model[..random.Next(model.Length)] : (byte[])model.Clone();
            if (trial >= 1000)
                for (int k = 0; k < 1 + trial % 4; k++)
                    damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            try
            {
                OnnxModelProto read = OnnxReader.ReadModel(damaged);
                foreach (OnnxTensorProto t in read.Graph.Initializers)
                    _ = t.DataType == OnnxDataType.Int64 ? t.ToInt64s().Length : t.ToFloats().Length;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
        }
        _output.WriteLine($"{rejected} of 3000 damaged models rejected; the others still parse");
        Assert.True(rejected > 1000);
    }

    /// <summary>Writes <paramref name="model"/> to the test's folder as NAME.onnx and compiles class <paramref name="className"/> from it through [OnnxNetwork].</summary>
    private Assembly Compile(string name, byte[] model, string className, out string path)
    {
        path = Path.Combine(_folder, name + ".onnx");
        File.WriteAllBytes(path, model);
        return GeneratorHarness.CompileAndLoad($"using Unroll; [OnnxNetwork(\"{name}.onnx\")] public partial class {className} {{ }}", new[] { path });
    }

    /// <summary>Loads a generated network's weights through its LoadOnnx(string), found by reflection.</summary>
    private static void Load(Network net, string path) =>
        net.GetType().GetMethod("LoadOnnx", new[] { typeof(string) })!.Invoke(net, new object[] { path });

    /// <summary>
    /// Runs one seeded batch through <paramref name="imported"/>, the original network (when there is one) and ONNX Runtime
    /// (sample by sample for a model of a fixed batch of 1); prints and checks the relative differences; returns ONNX
    /// Runtime's output.
    /// </summary>
    private float[] Compare(Network? source, Network imported, byte[] model, int batch, bool fixedBatch, int seed, string label)
    {
        float[] input = NetworkFixtures.RandomInput(batch * imported.InputLength, new SeededRandom(seed));
        float[] actual = new float[batch * imported.OutputLength];
        imported.Forward(input, actual, batch);

        float[] ort = OnnxRuntimeOracle.Run(model, input, imported.Info.InputShape, batch, oneByOne: fixedBatch);
        Check("ONNX Runtime", ort);
        if (source is not null)
        {
            float[] expected = new float[batch * source.OutputLength];
            source.Forward(input, expected, batch);
            Check(source.Info.Name, expected);
        }
        return ort;

        void Check(string reference, float[] expected)
        {
            (double diff, double max) = OnnxRuntimeOracle.Compare(expected, actual);
            double relative = diff / max;
            _output.WriteLine(FormattableString.Invariant(
                $"{imported.Info.Name} {label} batch {batch} vs {reference}: max |diff| = {diff:E2}, max |reference| = {max:G4}, relative {relative:E2} (tolerance {Tolerance:E0})"));
            Assert.True(max > 0, "The reference output is all zeros: the comparison would judge nothing.");
            Assert.True(relative < Tolerance, $"{imported.Info.Name} {label} vs {reference}: relative difference {relative:E2}");
        }
    }

    /// <summary>The operators and attributes the exporter never writes, with random weights, any batch.</summary>
    internal static byte[] HandBuiltModel()
    {
        var random = new SeededRandom(41);
        float[] Random(int n, float scale = 0.5f) => Enumerable.Range(0, n).Select(_ => random.Uniform(-scale, scale)).ToArray();
        return new OnnxModelBuilder("hand")
            .AddInput("x", ["N", 2, 9, 9])
            // A weight listed among the inputs too (as older exporters write them): still a weight, not a second input.
            .AddInput("mb", [10])
            .AddOutput("y", ["N", 5])
            .AddInitializer("pads", [8], new long[] { 0, 0, 1, 0, 0, 0, 0, 2 })
            .AddInitializer("w1", [4, 2, 3, 3], Random(72)).AddInitializer("b1", [4], Random(4))
            .AddInitializer("w2", [4, 4, 2, 3], Random(96))
            .AddInitializer("w3", [4, 4, 3, 3], Random(144)).AddInitializer("b3", [4], Random(4))
            .AddInitializer("m", [72, 10], Random(720, 0.2f)).AddInitializer("mb", [10], Random(10))
            .AddInitializer("g", [10, 5], Random(50)).AddInitializer("gc", [1, 5], Random(5))
            // [2, 9, 9] -> [2, 10, 11]
            .AddNode("Pad", ["x", "pads"], ["padded"])
            // SAME_LOWER, stride 2: [4, 5, 6] with the odd row of padding on top.
            .AddNode("Conv", ["padded", "w1", "b1"], ["c1"], OnnxAttribute.String("auto_pad", "SAME_LOWER"), OnnxAttribute.Ints("strides", 2, 2))
            .AddNode("Relu", ["c1"], ["r1"])
            .AddNode("Relu", ["r1"], ["r1b"])
            // A 2x3 kernel with pads top 0, left 1, bottom 1, right 1: [4, 5, 6] again.
            .AddNode("Conv", ["r1b", "w2"], ["c2"], OnnxAttribute.Ints("pads", 0, 1, 1, 1), OnnxAttribute.Ints("kernel_shape", 2, 3))
            .AddNode("Conv", ["r1b", "w3", "b3"], ["c3"], OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .AddNode("Sum", ["r1b", "c2", "c3"], ["s"])
            .AddNode("AveragePool", ["s"], ["ap"], OnnxAttribute.Ints("kernel_shape", 3, 1), OnnxAttribute.Ints("pads", 1, 0, 1, 0), OnnxAttribute.Int("count_include_pad", 1))
            .AddNode("Concat", ["ap", "c3"], ["cat"], OnnxAttribute.Int("axis", -3))
            // A 2x3 window: [8, 5, 6] -> [8, 3, 3], the last row and column padded.
            .AddNode("MaxPool", ["cat"], ["mp"], OnnxAttribute.Ints("kernel_shape", 2, 3), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 0, 0, 1, 1))
            .AddNode("Identity", ["mp"], ["id"])
            .AddNode("Flatten", ["id"], ["flat"])
            .AddNode("MatMul", ["flat", "m"], ["mm"])
            .AddNode("Add", ["mb", "mm"], ["mmb"])
            .AddNode("Tanh", ["mmb"], ["t"])
            .AddNode("Gemm", ["t", "g", "gc"], ["gemm"], OnnxAttribute.Float("alpha", 0.5f), OnnxAttribute.Float("beta", 2f))
            .AddNode("Softmax", ["gemm"], ["y"])
            .ToArray();
    }
}
