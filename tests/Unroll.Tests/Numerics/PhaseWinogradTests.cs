using System;
using System.Collections.Generic;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Strided convolutions with at most 3 taps per phase (11x11 at stride 4, 9x9 at stride 3) and 64 or
/// more outputs run inference as Winograd F(2x2, 3x3) over their input split by phase: from the caller's planes, from a
/// one-channel input, and from a channels-last layer output; with explicit, uneven ('same') and no padding, phase
/// channels that do not fill their channel stride, odd output sizes, with and without bias, a folded batch normalisation,
/// a split large enough for threads to share, alone and before dense layers (sample groups). Every instruction set, 1 and 2 threads, batch 1 and 3 must match the reference.
/// </summary>
public class PhaseWinogradTests
{
    private const string Source = """
        using Unroll;

        // AlexNet's first layer, smaller: 48 phase channels of 17x17 over the caller's planes, a 15x15 output.
        [Network(Input = "3x67x67")]
        public partial class PhaseAlex
        {
            [Conv(64, Kernel = 11, Stride = 4), ReLU] public partial Layer C { get; }
        }

        // A channels-last input (a 1x1 layer's 8 channels in a stride of 16), 'same' padding at stride 3 (pads 3,3,4,3
        // for a 7x7 output): 72 phase channels in a stride of 80.
        [Network(Input = "16x20x21")]
        public partial class PhaseSame
        {
            [Conv(8, Kernel = 1)] public partial Layer Mix { get; }
            [Conv(64, Kernel = 9, Stride = 3, Padding = Padding.Same), LeakyReLU(0.1f)] public partial Layer C { get; }
        }

        // One channel read as it lies, padding 3, no bias: 16 phase channels, a 9x10 output.
        [Network(Input = "1x40x44")]
        public partial class PhaseOne
        {
            [Conv(64, Kernel = 11, Stride = 4, Pad = 3, Bias = false)] public partial Layer C { get; }
        }

        // Stride 3: 27 phase channels in a stride of 32, 70 outputs padded to 80, then dense layers (sample groups).
        [Network(Input = "3x30x31")]
        public partial class PhaseNine
        {
            [Conv(70, Kernel = 9, Stride = 3, Pad = 4), ReLU] public partial Layer C { get; }
            [MaxPool(2)] public partial Layer P { get; }
            [Dense(20), ReLU] public partial Layer F { get; }
            [Dense(5)] public partial Layer Out { get; }
        }

        // A split large enough for threads to share its rows (48 x 33 x 33 floats), a batch normalisation folded into
        // the convolution, and 3 input columns no window reaches (31 outputs of 11 columns at stride 4 read 131 of 134).
        [Network(Input = "3x131x134")]
        public partial class PhaseLarge
        {
            [Conv(64, Kernel = 11, Stride = 4, Bias = false)] public partial Layer C { get; }
            [BatchNorm, ReLU] public partial Layer N { get; }
        }
        """;

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public PhaseWinogradTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Names);

    private static readonly string[] Names = { "PhaseAlex", "PhaseSame", "PhaseOne", "PhaseNine", "PhaseLarge" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa) =>
        NetworkFixtures.AssertMatchesReferenceOnThreadsAndBatches(Compiled.Value, name, isa, 31, NetworkFixtures.LeakyAlpha, _output);

    [Fact]
    public void OnlyInferenceSplitsTheInputAndRunsWinograd()
    {
        GeneratorRun generated = GeneratorHarness.Run(Source);
        foreach (string name in Names)
            foreach (string isa in new[] { "Avx512", "Avx2", "Portable" })
            {
                string kernels = generated.Kernels(name, isa);
                string run = NetworkFixtures.GeneratedMethod(kernels, "public static void Run(");
                Assert.Contains("Layout.SplitPhaseChannels(", run);
                Assert.Contains("_Winograd(", run);
                Assert.Contains("as 3x3 over its input split by phase", kernels);
                string training = NetworkFixtures.GeneratedMethod(kernels, "public static void TrainForward(");
                Assert.DoesNotContain("SplitPhaseChannels", training);
                Assert.DoesNotContain("_Winograd(", training);
                if (name == "PhaseNine")
                    Assert.Contains("Layout.SplitPhaseChannels(input.Slice(s * 2790, 2790), ", NetworkFixtures.GeneratedMethod(kernels, "public static void RunGroup("));
            }
        // The arguments for each source form: the caller's planes, a one-channel input (channels-last, stride 1), a
        // layer's channels-last output; then pads, strides, the split's size and channel stride.
        string all = string.Join("\n", generated.Sources.Values);
        Assert.Contains("Layout.SplitPhaseChannels(input, ref Unsafe.Add(ref ws, ", all);
        Assert.Contains("3, 67, 67, 67, 4489, 1, 0, 0, 4, 4, 17, 17, 48, ", all);
        Assert.Contains("1, 40, 44, 44, 1, 1, 3, 3, 4, 4, 11, 12, 16, ", all);
        Assert.Contains("8, 20, 21, 21, 1, 16, 3, 3, 3, 3, 9, 9, 80, ", all);
        Assert.Contains("3, 30, 31, 31, 930, 1, 4, 4, 3, 3, 12, 13, 32, ", all);
    }

    [Fact]
    public void ValuesNoWindowReadsDoNotReachTheOutput()
    {
        foreach (Isa isa in IsaSupport.Supported())
            foreach (int threads in new[] { 1, 2 })
            {
                using Network network = GeneratorHarness.Create(Compiled.Value, "PhaseLarge", new NetworkOptions { Isa = isa, Threads = threads, Seed = 3 });
                float[] input = NetworkFixtures.RandomInput(network.InputLength, new SeededRandom(5));
                float[] expected = network.Predict(input);
                // Columns 131..133 of every row: no window of the direct convolution reaches them.
                for (int plane = 0; plane < 3 * 131; plane++)
                    for (int x = 131; x < 134; x++)
                        input[plane * 134 + x] = x == 132 ? float.NaN : float.PositiveInfinity;
                float[] actual = network.Predict(input);
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]), $"{isa}, {threads} thread(s), output {i}: {actual[i]:R}, not {expected[i]:R}.");
            }
    }

    [Theory]
    [InlineData(7, 3, 3)]
    [InlineData(3, 2, 3)]
    [InlineData(5, 2, 1)]
    [InlineData(5, 2, 16)]
    [InlineData(13, 4, 3)]
    public void ShapesWhereThePhaseSplitDoesNotPayKeepTheDirectKernel(int kernel, int stride, int channels)
    {
        // Vector operations per output pixel and vector (see Schedule.PhaseWinogradFits), direct against Winograd: 7x7
        // stride 3 over 3 channels, 147 against 128; 5x5 stride 2 over one channel, 25 against 32, and over 16, 400
        // against 284. 3x3 stride 2 has 2 taps per phase, 13x13 stride 4 has 4.
        string source = $$"""
            using Unroll;
            [Network(Input = "{{channels}}x40x40")]
            public partial class Direct
            {
                [Conv(64, Kernel = {{kernel}}, Stride = {{stride}})] public partial Layer C { get; }
            }
            """;
        string all = string.Join("\n", GeneratorHarness.Run(source).Sources.Values);
        Assert.DoesNotContain("SplitPhaseChannels", all);
        Assert.DoesNotContain("_Winograd", all);
    }
}
