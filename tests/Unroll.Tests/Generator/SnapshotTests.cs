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

    [Fact]
    public void Activation() => VerifyAll("""
        [Network(Input = "3x4x4")]
        public partial class ActNet
        {
            [LeakyReLU(0.2f)] public partial Layer Leaky { get; }
        }
        """, nameof(Activation));
}
