using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// A residual sum completed by the convolution that computes one of its inputs (inference only, see Planner.ResidualFusion):
/// the convolution adds the other input to its finished accumulators and applies the sum's activation, and the sum has no
/// step. Directly after a convolution, through a folded batch normalisation with the projection computed after the main
/// branch (the later producer completes the sum), in weights-outermost passes (only the last pass adds), in sample groups,
/// in Winograd output transforms (by tile rows and over a whole layer); and the sums that must stay steps. Every instruction set, 1 and 2 threads, batch 1 and 3, against the reference.
/// </summary>
public class ResidualFusionTests
{
    private const string Source = """
        using Unroll;

        // A 1x1 convolution whose output only the sum reads: it completes the sum with A as the residual.
        [Network(Input = "24x7x7")]
        public partial class FuseDirect
        {
            [Conv(32, Kernel = 1), ReLU] public partial Layer A { get; }
            [Conv(32, Kernel = 3, Pad = 1)] public partial Layer B { get; }
            [Add(nameof(A)), ReLU] public partial Layer Sum { get; }
        }

        // A downsampling bottleneck's end: Main's normalisation is folded, the projection runs after it, so Proj (the
        // later producer) completes the sum with MainNorm's output as the residual; LeakyReLU after the sum.
        [Network(Input = "16x9x9")]
        public partial class FuseProjection
        {
            [Conv(16, Kernel = 3, Pad = 1), ReLU] public partial Layer Stem { get; }
            [Conv(48, Kernel = 1, Stride = 2, Bias = false)] public partial Layer Main { get; }
            [BatchNorm] public partial Layer MainNorm { get; }
            [Conv(48, Kernel = 1, Stride = 2, Bias = false, From = nameof(Stem))] public partial Layer Proj { get; }
            [BatchNorm] public partial Layer ProjNorm { get; }
            [Add(nameof(MainNorm)), LeakyReLU(0.1f)] public partial Layer Sum { get; }
        }

        // 590 KB of weights over 100 KB of input: weights outermost in two passes of 512 channels (AVX-512), the residual
        // added by the last pass only; dense layers after it, so batches run in sample groups.
        [Network(Input = "1024x5x5")]
        public partial class FusePasses
        {
            [Conv(144, Kernel = 1), ReLU] public partial Layer A { get; }
            [Conv(144, Kernel = 1, From = "input")] public partial Layer B { get; }
            [Add(nameof(A))] public partial Layer Sum { get; }
            [Dense(10)] public partial Layer Out { get; }
        }

        // A basic block on Winograd convolutions (odd output rows and columns): C2's folded normalisation, then the
        // network's input added by C2's output transform.
        [Network(Input = "64x9x11")]
        public partial class FuseWinograd
        {
            [Conv(64, Kernel = 3, Pad = 1, Bias = false)] public partial Layer C1 { get; }
            [BatchNorm, ReLU] public partial Layer N1 { get; }
            [Conv(64, Kernel = 3, Pad = 1, Bias = false)] public partial Layer C2 { get; }
            [BatchNorm] public partial Layer N2 { get; }
            [Add("input"), ReLU] public partial Layer Sum { get; }
        }

        // Winograd over the whole layer at once, split between threads by output channels (256 x 256 at 7x7).
        [Network(Input = "256x7x7")]
        public partial class FuseWinogradWhole
        {
            [Conv(256, Kernel = 1)] public partial Layer A { get; }
            [Conv(256, Kernel = 3, Pad = 1, From = "input")] public partial Layer B { get; }
            [Add(nameof(A)), ReLU] public partial Layer Sum { get; }
        }

        // Sums that stay steps: the convolution has an activation of its own (Left); the sum's tanh cannot be applied in
        // registers (Right); the convolution's output is read again (Shared).
        [Network(Input = "8x6x6")]
        public partial class NoFusion
        {
            [Conv(8, Kernel = 1), ReLU] public partial Layer Left { get; }
            [Add("input")] public partial Layer Sum1 { get; }
            [Conv(8, Kernel = 1)] public partial Layer Right { get; }
            [Add(nameof(Sum1)), Tanh] public partial Layer Sum2 { get; }
            [Conv(8, Kernel = 1)] public partial Layer Shared { get; }
            [Add(nameof(Sum2))] public partial Layer Sum3 { get; }
            [Concat(nameof(Sum3), nameof(Shared))] public partial Layer Both { get; }
        }
        """;

    private static readonly string[] Names = { "FuseDirect", "FuseProjection", "FusePasses", "FuseWinograd", "FuseWinogradWhole", "NoFusion" };

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public ResidualFusionTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa) =>
        NetworkFixtures.AssertMatchesReferenceOnThreadsAndBatches(Compiled.Value, name, isa, 14, NetworkFixtures.LeakyAlpha, _output);

    [Fact]
    public void TheFusedSumsHaveNoStepAndTheOthersKeepTheirs()
    {
        string generated = string.Join("\n", GeneratorHarness.Run(Source).Sources.Values);
        // The AVX-512 inference pass of a network: its Run method, up to the next method.
        string Run(string network) => NetworkFixtures.GeneratedMethod(generated, "public static void Run(",
            generated.IndexOf("private static class Avx512Kernels", generated.IndexOf($"partial class {network}\n", StringComparison.Ordinal), StringComparison.Ordinal));

        foreach ((string network, string call) in new[] { ("FuseDirect", "Conv2D_B_Residual("), ("FusePasses", "Conv2D_B_Residual("), ("FuseProjection", "Conv2D_Proj_Folded_Residual("),
            ("FuseWinograd", "Conv2D_C2_Folded_Residual_Winograd("), ("FuseWinogradWhole", "Conv2D_B_Residual_Winograd(") })
        {
            string run = Run(network);
            Assert.Contains(call, run);
            Assert.Contains("plus the residual (the sum after it has no step)", run);
            Assert.DoesNotContain("// Sum: Add", run);
        }
        // Weights outermost in passes: the residual is added where the last pass stores.
        Assert.Contains("private static void Conv2D_B_Residual(ref float input, ref float output, ref float weights, ref float bias, ref float residual, int blockFrom, int blockTo)", generated);
        string noFusion = Run("NoFusion");
        Assert.DoesNotContain("_Residual", noFusion);
        foreach (string sum in new[] { "Sum1", "Sum2", "Sum3" })
            Assert.Contains($"// {sum}: Add", noFusion);
    }
}
