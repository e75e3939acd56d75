using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// On AVX-512, a convolution with at most 8 outputs whose vectors run along the row computes the 2x2 stride-2 max pool
/// that alone reads its output in the same kernel, storing only the pooled pixels: strips pooled two at a time and
/// alone, odd convolution sizes whose last row or column no window pools, the caller's planes and a one-channel input,
/// ReLU, LeakyReLU, a clip and no activation, with and without bias, pooled rows shared by two threads, and dense layers
/// after it (sample groups). Every instruction set (the others keep the two steps), 1 and 2 threads, batch 1 and 3 must
/// match the reference.
/// </summary>
public class PooledConvTests
{
    private const string Source = """
        using Unroll;

        // LeNet-5's first stage: 28 columns in strips 0..15 and 12..27, pooled together into 14 pixels per row.
        [Network(Input = "1x32x32")]
        public partial class PoolLeNet
        {
            [Conv(6, Kernel = 5), ReLU] public partial Layer C1 { get; }
            [MaxPool(2)] public partial Layer S2 { get; }
            [Conv(16, Kernel = 5), ReLU] public partial Layer C3 { get; }
            [MaxPool(2)] public partial Layer S4 { get; }
            [Dense(10)] public partial Layer Out { get; }
        }

        // A 35x27 convolution output pooled to 17x13: its last row and column are in no window; strips 0..15 and 10..25.
        [Network(Input = "1x38x30")]
        public partial class PoolOdd
        {
            [Conv(8, Kernel = 4), LeakyReLU(0.1f)] public partial Layer C { get; }
            [MaxPool(2)] public partial Layer P { get; }
        }

        // Three channels read as the caller's planes, no bias, no activation: 48 columns in 3 strips, one tile of all
        // three (8 accumulators per strip), the first two pooled together and the third alone.
        [Network(Input = "3x40x50")]
        public partial class PoolThree
        {
            [Conv(4, Kernel = 3, Bias = false)] public partial Layer C { get; }
            [MaxPool(2)] public partial Layer P { get; }
        }

        // A clip; 8 x 63 pooled rows large enough for two threads to share them.
        [Network(Input = "1x130x130")]
        public partial class PoolLarge
        {
            [Conv(7, Kernel = 5), Clip(0f, 0.5f)] public partial Layer C { get; }
            [MaxPool(2)] public partial Layer P { get; }
        }

        // Pools with activations of their own (kept as steps): in registers, and as a pass over the output.
        [Network(Input = "1x32x32")]
        public partial class PoolActivated
        {
            [Conv(6, Kernel = 5)] public partial Layer C { get; }
            [MaxPool(2), LeakyReLU(0.1f)] public partial Layer P { get; }
            [Conv(8, Kernel = 3)] public partial Layer C2 { get; }
            [AvgPool(2), Tanh] public partial Layer A { get; }
            [Dense(10)] public partial Layer Out { get; }
        }
        """;

    private static readonly string[] Names = { "PoolLeNet", "PoolOdd", "PoolThree", "PoolLarge" };

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Names.Append("PoolActivated").ToArray());

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public PooledConvTests(ITestOutputHelper output) => _output = output;

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa) =>
        NetworkFixtures.AssertMatchesReferenceOnThreadsAndBatches(Compiled.Value, name, isa, 41, NetworkFixtures.LeakyAlpha, _output);

    [Fact]
    public void OnlyTheAvx512InferencePassesPoolInTheConvolutionKernel()
    {
        GeneratorRun generated = GeneratorHarness.Run(Source);
        foreach (string name in Names)
        {
            string Kernels(string isa) => generated.Kernels(name, isa);
            string pool = name == "PoolLeNet" ? "S2" : "P", conv = name == "PoolLeNet" ? "C1" : "C";
            string run = NetworkFixtures.GeneratedMethod(Kernels("Avx512"), "public static void Run(");
            Assert.Contains($"_{conv}{(name == "PoolThree" ? "_Planar" : "")}_Pooled(", run);
            Assert.DoesNotContain($"MaxPool2D_{pool}(", run);
            Assert.Contains($"MaxPool2D_{pool}(", NetworkFixtures.GeneratedMethod(Kernels("Avx512"), "public static void TrainForward("));
            Assert.Contains($"MaxPool2D_{pool}(", NetworkFixtures.GeneratedMethod(Kernels("Avx2"), "public static void Run("));
            Assert.DoesNotContain("_Pooled", Kernels("Avx2"));
        }
        string lenet = generated.Kernels("PoolLeNet", "Avx512");
        Assert.Contains("Conv2D_C1_Pooled(", NetworkFixtures.GeneratedMethod(lenet, "public static void RunGroup("));
        // The third strip of PoolThree is pooled alone; PoolLarge's rows are split between the threads.
        string three = generated.Kernels("PoolThree", "Avx512");
        Assert.Contains("Layout.StorePixels8x8(ref Unsafe.Add(ref output, (oh * 24 + 16) * 16)", three);
        string large = generated.Kernels("PoolLarge", "Avx512");
        Assert.Contains("63 * part / parts, 63 * (part + 1) / parts", NetworkFixtures.GeneratedMethod(large, "public static void Run("));
    }

    [Theory]
    [InlineData("MaxPool(3, Stride = 2)")]
    [InlineData("AvgPool(2)")]
    [InlineData("MaxPool(2, Pad = 1)")]
    public void OtherPoolsKeepTheirStep(string pool)
    {
        string source = $$"""
            using Unroll;
            [Network(Input = "1x32x32")]
            public partial class Unpooled
            {
                [Conv(6, Kernel = 5), ReLU] public partial Layer C { get; }
                [{{pool}}] public partial Layer P { get; }
            }
            """;
        Assert.DoesNotContain("_Pooled", string.Join("\n", GeneratorHarness.Run(source).Sources.Values));
    }

    [Fact]
    public void APoolThatIsNotTheOnlyReaderOrATanhKeepsTheSteps()
    {
        const string source = """
            using Unroll;
            [Network(Input = "1x32x32")]
            public partial class TwoReaders
            {
                [Conv(6, Kernel = 5), ReLU, Output] public partial Layer C { get; }
                [MaxPool(2), Output] public partial Layer P { get; }
            }
            [Network(Input = "1x32x32")]
            public partial class Tanh
            {
                [Conv(6, Kernel = 5), Tanh] public partial Layer C { get; }
                [MaxPool(2)] public partial Layer P { get; }
            }
            """;
        Assert.DoesNotContain("_Pooled", string.Join("\n", GeneratorHarness.Run(source).Sources.Values));
    }
}
