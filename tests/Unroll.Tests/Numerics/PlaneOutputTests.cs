using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Networks of one convolution over the caller's input whose output rows are whole AVX-512 vectors: at inference the
/// AVX-512 kernel writes the caller's output in C, H, W order itself (Schedule.WritesPlanes), reading the input where it
/// lies or padded and split by column phase, with no output move. Stride 2 and 4 (the permuting and the scalar split),
/// padding on every side and uneven padding, several channel groups with a remainder, one strip up to four, no bias,
/// activations in registers; every instruction set (AVX2 and the portable path keep the channels-last kernel and the
/// move), 1 and 2 threads (which split the output rows of the larger networks, and the large split's rows), batch 1 and
/// 3, against the reference.
/// </summary>
public class PlaneOutputTests
{
    private const string Source = """
        using Unroll;

        // 29 outputs of 10 x 32: two strips per row, so channel groups of 12, 12 and 5; 2 phases, padding 2 on every side.
        [Network(Input = "3x20x64")]
        public partial class PlanesStrideTwo
        {
            [Conv(29, Kernel = 5, Stride = 2, Pad = 2), ReLU] public partial Layer C { get; }
        }

        // Stride 1 and no padding: the kernel reads the caller's planes where they lie. One strip, no bias, no activation.
        [Network(Input = "2x12x18")]
        public partial class PlanesInPlace
        {
            [Conv(5, Kernel = 3, Bias = false)] public partial Layer C { get; }
        }

        // Stride 4 (4 phases, split value by value), 3 strips per row in groups of 8 channels and a remainder of 5. One input
        // channel: the network copies it to the workspace as it is, and the split (15 rows of 4 x 49 floats) reads the copy.
        // No window reads the last of the 196 columns, and the split leaves it out.
        [Network(Input = "1x13x196")]
        public partial class PlanesStrideFour
        {
            [Conv(21, Kernel = 7, Stride = 4, Pad = 1), LeakyReLU(0.1f)] public partial Layer C { get; }
        }

        // "Same" padding with an even kernel height at stride 2: pads 1 above and 2 below, none left and 1 right.
        [Network(Input = "2x11x64")]
        public partial class PlanesSameUneven
        {
            [Conv(5, KernelHeight = 4, KernelWidth = 3, Stride = 2, Padding = Padding.Same), ReLU] public partial Layer C { get; }
        }

        // A split of 39,780 floats, so that threads sharing a sample split its rows too, then the output rows.
        [Network(Input = "3x100x128")]
        public partial class PlanesLargeSplit
        {
            [Conv(40, Kernel = 3, Stride = 2, Pad = 1)] public partial Layer C { get; }
        }

        // "Same" padding at stride 1 over 64 columns: 4 strips, 6 channels at a time (7 channels: a group of 6 and one of 1).
        [Network(Input = "1x9x64")]
        public partial class PlanesSame
        {
            [Conv(7, Kernel = 3, Padding = Padding.Same), ReLU] public partial Layer C { get; }
        }
        """;

    private static readonly string[] Names = { "PlanesStrideTwo", "PlanesInPlace", "PlanesStrideFour", "PlanesSameUneven", "PlanesLargeSplit", "PlanesSame" };

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public PlaneOutputTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa) =>
        NetworkFixtures.AssertMatchesReferenceOnThreadsAndBatches(Compiled.Value, name, isa, 37, _ => 0.1f, _output);

    [Fact]
    public void OnlyTheAvx512PassWritesPlanesAndSplitsItsInput()
    {
        GeneratorRun run = GeneratorHarness.Run(Source);
        string Kernels(string network, string isa) => run.Kernels(network, isa);
        string Run(string network, string isa) => NetworkFixtures.GeneratedMethod(Kernels(network, isa), "public static void Run(");

        foreach (string name in Names)
        {
            Assert.False(Run(name, "Avx512").Contains("ToChannelsFirst", StringComparison.Ordinal), $"{name} moves its output on AVX-512.");
            Assert.Contains("straight into the caller's output, in C, H, W order", Kernels(name, "Avx512"));
            foreach (string isa in new[] { "Avx2", "Portable" })
                Assert.Contains("ToChannelsFirst", Run(name, isa));
        }
        Assert.Contains("Layout.SplitPhases(input, ref Unsafe.Add(ref ws, ", Run("PlanesStrideTwo", "Avx512"));
        Assert.Contains("in tiles of 2 strip(s) x 12 channel(s) at a time", Kernels("PlanesStrideTwo", "Avx512"));
        Assert.DoesNotContain("SplitPhases", Run("PlanesInPlace", "Avx512"));
        // A one-channel input is split from the caller's span (the same order), with no copy to the workspace first.
        Assert.Contains("Layout.SplitPhases(input, ref Unsafe.Add(ref ws, ", Run("PlanesStrideFour", "Avx512"));
        Assert.DoesNotContain("ToChannelsLast", Run("PlanesStrideFour", "Avx512"));
        Assert.Contains(", 1, 13, 196, 1, 1, 15, 4, 49, 0, 15);", Run("PlanesStrideFour", "Avx512"));
        Assert.Contains("strips of 16 columns in tiles of 3 strip(s) x 8 channel(s)", Kernels("PlanesStrideFour", "Avx512"));
        Assert.Contains(", 2, 11, 64, 1, 0, 14, 2, 33, 0, 14);", Run("PlanesSameUneven", "Avx512"));
        Assert.Contains("stride 2, pads (t,l,b,r) 1,0,2,1", Kernels("PlanesSameUneven", "Avx512"));
        Assert.Contains(", 3, 100, 128, 1, 1, 102, 2, 65, 102 * part / parts, 102 * (part + 1) / parts);", Run("PlanesLargeSplit", "Avx512"));
        // Training keeps the channels-last kernels and the move.
        Assert.Contains("Layout.ToChannelsFirst", Kernels("PlanesStrideTwo", "Avx512").Substring(Kernels("PlanesStrideTwo", "Avx512").IndexOf("public static void TrainForward(", StringComparison.Ordinal)));
    }
}
