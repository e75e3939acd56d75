using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// First convolutions that read the caller's planar input over more than 32 channels (see Schedule.PlanarPassChannels):
/// a tile that loops over several output channel blocks runs each row in passes over slices of the input channels, with
/// partial sums waiting in the output row and only the last pass activating, and every interior tile prefetches each
/// channel's next input line in its first channel block. Padding (edge tiles that also go in passes), uneven slices, no
/// bias, a single channel block (prefetch without passes), a row of 56 columns in AVX2 tiles of 6 and a fixed tile of 2,
/// and an activation as a pass after the kernel; every instruction set, 1 and 2 threads (which split the rows), batch 1
/// and 3, against the reference.
/// </summary>
public class PlanarPassTests
{
    private const string Source = """
        using Unroll;

        // 72 outputs are 5 AVX-512 vectors (a block of 4 and a remainder) or 9 AVX2 vectors (blocks of 2 and 1): two passes of
        // 20 channels; "same" padding puts tiles at fixed columns on both edges. 36 columns: AVX-512 tiles of 6 x 4.
        [Network(Input = "40x9x36")]
        public partial class PlanarPassesSame
        {
            [Conv(72, Kernel = 3, Padding = Padding.Same), ReLU] public partial Layer C { get; }
        }

        // 65 channels in three passes of 22, 22 and 21 on AVX2 (40 outputs: blocks of 2, 2 and 1 vectors), no bias, no
        // activation; one block of 3 vectors on AVX-512, which prefetches without passes. Stride 2 over 21 columns.
        [Network(Input = "65x5x21")]
        public partial class PlanarPassesUneven
        {
            [Conv(40, Kernel = 1, Stride = 2, Bias = false)] public partial Layer C { get; }
        }

        // 56 columns: AVX2 runs tiles of 6 x 2 vectors and a 2-pixel tile at column 54, not 14 tiles of 4 x 2, whose 8
        // accumulators would only just hide the latency; its 32 outputs are 2 blocks, and only the first prefetches.
        [Network(Input = "40x3x56")]
        public partial class PlanarPassesWide
        {
            [Conv(32, Kernel = 1)] public partial Layer C { get; }
        }

        // Tanh as a pass over the output after the kernel, then a dense layer, so batches run in sample groups.
        [Network(Input = "48x4x30")]
        public partial class PlanarPassesThenDense
        {
            [Conv(96, KernelHeight = 1, KernelWidth = 3), Tanh] public partial Layer C { get; }
            [Dense(10)] public partial Layer Out { get; }
        }
        """;

    private static readonly string[] Names = { "PlanarPassesSame", "PlanarPassesUneven", "PlanarPassesWide", "PlanarPassesThenDense" };

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public PlanarPassTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa) =>
        NetworkFixtures.AssertMatchesReferenceOnThreadsAndBatches(Compiled.Value, name, isa, 31, _ => 0.01f, _output);

    [Fact]
    public void TheGeneratedKernelsRunRowsInPassesAndPrefetch()
    {
        GeneratorRun run = GeneratorHarness.Run(Source);
        string Kernels(string network, string isa) => run.Kernels(network, isa);

        foreach (string isa in new[] { "Avx512", "Avx2" })
        {
            string same = Kernels("PlanarPassesSame", isa);
            Assert.Contains("Computes output rows [rowFrom, rowTo) of 9, each in 2 passes over 20 input channels", same);
            Assert.Contains("global::Unroll.Kernels.Cache.Prefetch(ref x, 16);", same);
        }
        Assert.DoesNotContain("Prefetch", Kernels("PlanarPassesSame", "Portable"));
        Assert.Contains("each in 3 passes over 22 input channels", Kernels("PlanarPassesUneven", "Avx2"));
        string uneven512 = Kernels("PlanarPassesUneven", "Avx512");
        Assert.DoesNotContain("passes over", uneven512);
        Assert.Contains("global::Unroll.Kernels.Cache.Prefetch(ref x, 16);", uneven512);
        // AVX-512 runs the 96 outputs as a block of 4 vectors and a remainder of 2; AVX2 as 6 blocks of 2.
        foreach (string isa in new[] { "Avx512", "Avx2" })
            Assert.Contains("each in 2 passes over 24 input channels", Kernels("PlanarPassesThenDense", isa));
    }

    /// <summary>
    /// AVX2's tile over 56 columns keeps 12 accumulators, leaving 2 columns to a tile at a fixed position, and of its two
    /// channel blocks only the first prefetches the lines both read; AVX-512's one block prefetches unconditionally. A
    /// remainder block after the loop over full blocks does not prefetch, and the generated code compiles without a
    /// warning (a test of the constant oc0 there would be dead code).
    /// </summary>
    [Fact]
    public void WideRowsTakeTheWiderTileAndTheFirstBlockPrefetches()
    {
        GeneratorRun run = GeneratorHarness.Run(Source);
        Assert.Empty(run.AllDiagnostics);
        // PlanarPassesSame on AVX2: 4 full blocks of 2 vectors in a loop, which prefetch in the first, and a remainder of 1.
        string same = run.Kernels("PlanarPassesSame", "Avx2");
        int tile = same.IndexOf("private static void Conv2D_C_Planar_Tile(", StringComparison.Ordinal);
        string tileMethod = same[tile..same.IndexOf("private static void", tile + 1, StringComparison.Ordinal)];
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(tileMethod, "Prefetch\\(ref x, 16\\)"));
        Assert.Contains("if (oc0 == 0) global::Unroll.Kernels.Cache.Prefetch(ref x, 16);", tileMethod);
        Assert.Contains("const int oc0 = 64;", tileMethod);
        string avx2 = run.Kernels("PlanarPassesWide", "Avx2");
        Assert.Contains("register tile 6 pixel(s) x 2 vector(s)", avx2);
        Assert.Contains("columns 0..53 in tiles of 6 whose windows lie inside the input, the other columns in tiles at fixed positions", avx2);
        Assert.Contains("_At54(", avx2);
        Assert.Contains("for (int oc0 = 0; oc0 < 32; oc0 += 16)", avx2);
        Assert.Contains("if (oc0 == 0) global::Unroll.Kernels.Cache.Prefetch(ref x, 16);", avx2);
        string avx512 = run.Kernels("PlanarPassesWide", "Avx512");
        Assert.Contains("const int oc0 = 0;", avx512);
        Assert.Contains("global::Unroll.Kernels.Cache.Prefetch(ref x, 16);", avx512);
        Assert.DoesNotContain("if (oc0 == 0)", avx512);
    }

    /// <summary>
    /// The 3x3 layer's AVX-512 tile (6 pixels x 4 vectors) shares input values between taps and has no registers left to
    /// hold them, so it reads them again (Schedule.RereadsInputs); the numbers above are checked with it. AVX2 keeps them.
    /// </summary>
    [Fact]
    public void WideAvx512TilesReadSharedInputsAgain()
    {
        GeneratorRun run = GeneratorHarness.Run(Source);
        string Kernels(string isa) => run.Kernels("PlanarPassesSame", isa);
        Assert.Contains("register tile 6 pixel(s) x 4 vector(s)", Kernels("Avx512"));
        Assert.Contains("Vector512.Create(global::System.Threading.Volatile.Read(ref Unsafe.Add(ref x, ", Kernels("Avx512"));
        Assert.DoesNotContain("Volatile.Read", Kernels("Avx2"));
    }
}
