using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Generator;

/// <summary>The generated source of LeNet-5 and of one layer of each kind, against approved files; each output must also compile.</summary>
public class SnapshotTests
{
    private static void VerifyAll(string source, string test)
    {
        GeneratorRun run = GeneratorHarness.Run("using Unroll;\n" + source);
        Assert.Empty(run.AllDiagnostics);
        Assert.Equal(4, run.Sources.Count);
        var problems = run.Sources.OrderBy(s => s.Key, System.StringComparer.Ordinal)
            .Select(s => Approvals.Check(s.Value, Path.GetFileNameWithoutExtension(Path.GetFileNameWithoutExtension(s.Key)), nameof(SnapshotTests), test))
            .Where(p => p is not null)
            .ToList();
        Assert.True(problems.Count == 0, string.Join("\n\n", problems));
    }

    [Fact]
    public void PadNormaliseDrop() => VerifyAll("""
        [Network(Input = "3x4x4")]
        public partial class PadNet
        {
            [ZeroPad(1, Right = 2), ReLU] public partial Layer Pad { get; }
            [LRN(Size = 3)] public partial Layer Norm { get; }
            [Dropout(0.25f)] public partial Layer Drop { get; }
        }
        """, nameof(PadNormaliseDrop));

    /// <summary>
    /// The shell of a network compiled from an ONNX model (the kernels are those of any network): the model's path, the
    /// parameter bindings and LoadOnnx, and no weight in the source.
    /// </summary>
    [Fact]
    public void OnnxNetwork()
    {
        var random = new SeededRandom(3);
        byte[] model = new Unroll.Onnx.OnnxModelBuilder("small")
            .AddInput("image", ["batch", 1, 6, 6])
            .AddOutput("scores", ["batch", 3])
            .AddInitializer("conv.weight", [4, 1, 3, 3], Enumerable.Range(0, 36).Select(_ => random.Uniform(-1f, 1f)).ToArray())
            .AddInitializer("fc.weight", [36, 3], Enumerable.Range(0, 108).Select(_ => random.Uniform(-1f, 1f)).ToArray())
            .AddInitializer("fc.bias", [3], new float[3])
            .AddNode("Conv", ["image", "conv.weight"], ["conv"], Unroll.Onnx.OnnxAttribute.Ints("strides", 2, 2), Unroll.Onnx.OnnxAttribute.String("auto_pad", "SAME_UPPER"))
            .AddNode("Relu", ["conv"], ["relu"])
            .AddNode("Flatten", ["relu"], ["flat"])
            .AddNode("Gemm", ["flat", "fc.weight", "fc.bias"], ["scores"], Unroll.Onnx.OnnxAttribute.Float("alpha", 0.5f))
            .ToArray();
        string folder = Path.Combine(Path.GetTempPath(), "unroll-snapshot-" + System.Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "small.onnx");
        File.WriteAllBytes(path, model);
        try
        {
            GeneratorRun run = GeneratorHarness.Run("[Unroll.OnnxNetwork(\"small.onnx\")] public partial class OnnxNet { }", additionalFiles: [path]);
            Assert.Empty(run.AllDiagnostics);
            Assert.Equal(4, run.Sources.Count);
            Approvals.Verify(run.Sources["OnnxNet.g.cs"], "OnnxNet", nameof(SnapshotTests));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void LeNet5() =>
        VerifyAll(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "Networks", "LeNet5.cs")), nameof(LeNet5));

    [Fact]
    public void ConvWithPaddingAndStride() => VerifyAll("""
        [Network(Input = "3x9x9")]
        public partial class ConvNet
        {
            [Conv(20, Kernel = 3, Stride = 2, Pad = 1), ReLU] public partial Layer Conv { get; }
        }
        """, nameof(ConvWithPaddingAndStride));

    [Fact]
    public void MaxPool() => VerifyAll("""
        [Network(Input = "5x7x7")]
        public partial class PoolNet
        {
            [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool { get; }
        }
        """, nameof(MaxPool));

    [Fact]
    public void AvgPool() => VerifyAll("""
        [Network(Input = "5x6x6")]
        public partial class AvgNet
        {
            [AvgPool(2)] public partial Layer Pool { get; }
        }
        """, nameof(AvgPool));

    [Fact]
    public void Dense() => VerifyAll("""
        [Network(Input = "2x3x3")]
        public partial class DenseNet
        {
            [Dense(20), Tanh] public partial Layer Hidden { get; }
        }
        """, nameof(Dense));

    /// <summary>Clips: ReLU6 fused into a convolution, one whose range leaves 0 out on a zero padding (its border holds the clip of 0), and one from above only standing alone.</summary>
    [Fact]
    public void Clip() => VerifyAll("""
        [Network(Input = "3x4x4")]
        public partial class ClipNet
        {
            [Conv(4, Kernel = 3, Pad = 1), Clip(0f, 6f)] public partial Layer Relu6 { get; }
            [ZeroPad(1), Clip(0.5f, 2f)] public partial Layer Pad { get; }
            [Clip(float.NegativeInfinity, 1f)] public partial Layer Capped { get; }
        }
        """, nameof(Clip));

    [Fact]
    public void Activation() => VerifyAll("""
        [Network(Input = "3x4x4")]
        public partial class ActNet
        {
            [LeakyReLU(0.2f)] public partial Layer Leaky { get; }
        }
        """, nameof(Activation));
}
