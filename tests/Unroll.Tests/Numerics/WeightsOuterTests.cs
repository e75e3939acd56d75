using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Convolutions whose weights outgrow L2 and their input run output channel blocks outermost, in passes over slices of
/// the input channels when one block's weights are still too large (see Schedule.ConvLoops): partial sums wait in the
/// output between passes and only the last pass activates. Full and remainder channel blocks, one and several passes,
/// clipped kernel rows, fused and separate activations, with and without bias, alone and before dense layers (sample
/// groups); every instruction set, 1 and 2 threads (which split the channel blocks), batch 1 and 3, against the reference.
/// </summary>
public class WeightsOuterTests
{
    private const string Source = """
        using Unroll;

        // 1.7 MB of weights over 200 KB of input; a block's 512 KB of weights (AVX-512) take two passes of 1024 channels;
        // 200 outputs are 3 full blocks of 64 and a remainder of 8 (one vector).
        [Network(Input = "2048x5x5")]
        public partial class OuterPointwise
        {
            [Conv(200, Kernel = 1), ReLU] public partial Layer C { get; }
        }

        // 3x3 stride 2 with padding (clipped kernel rows, edge tiles): 1.3 MB of weights in three passes of 86, 86 and 84
        // channels on AVX-512; LeakyReLU only after the last pass.
        [Network(Input = "256x9x9")]
        public partial class OuterStrided
        {
            [Conv(144, Kernel = 3, Stride = 2, Pad = 1), LeakyReLU(0.1f)] public partial Layer C { get; }
        }

        // No bias, tanh as a pass after the kernel, then dense layers, so batches run in sample groups.
        [Network(Input = "512x6x6")]
        public partial class OuterThenDense
        {
            [Conv(128, Kernel = 3, Pad = 1, Bias = false), Tanh] public partial Layer C { get; }
            [Dense(10)] public partial Layer Out { get; }
        }
        """;

    private static readonly string[] Names = { "OuterPointwise", "OuterStrided", "OuterThenDense" };

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public WeightsOuterTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa) =>
        NetworkFixtures.AssertMatchesReferenceOnThreadsAndBatches(Compiled.Value, name, isa, 12, NetworkFixtures.LeakyAlpha, _output);

    [Fact]
    public void TheGeneratedKernelsRunWeightsOutermostInPasses()
    {
        string generated = string.Join("\n", GeneratorHarness.Run(Source).Sources.Values);
        Assert.Contains("Weights outermost: computes output channel blocks [blockFrom, blockTo) of 4 (64 channels each), each in 2 passes over 1024 input channels", generated);
        Assert.Contains("each in 3 passes over 86 input channels", generated);
    }
}
