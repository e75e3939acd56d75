using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Convolutions with at most 8 output channels over an input whose pixels are adjacent (one channel, or the caller's
/// planes): on AVX-512 their vectors run along the output row (see Schedule.PixelVectors), 16 pixels of one channel each,
/// and are transposed to channels-last before the store. Strips that overlap at the row's end, several tiles of strips
/// per row, a row exactly one vector wide, several input channels, no bias, and activations in registers and as a pass;
/// every instruction set, 1 and 2 threads, batch 1 and 3 (sample groups), against the reference.
/// </summary>
public class PixelVectorTests
{
    private const string Source = """
        using Unroll;

        // 38x35 outputs: strips at columns 0, 16 and 19 (the last overlaps), 8 channels, in one tile; dense layers after
        // it, so batches run in sample groups. An average pool, which the kernel does not compute (PooledConvTests has the
        // max pools it does).
        [Network(Input = "1x40x37")]
        public partial class PixelOneChannel
        {
            [Conv(8, Kernel = 3), ReLU] public partial Layer C { get; }
            [AvgPool(2)] public partial Layer P { get; }
            [Dense(10)] public partial Layer Out { get; }
        }

        // Three input planes read where they lie, a 5x3 kernel without bias, 16x68 outputs: five strips of 5 channels,
        // in tiles of four and one; a channel-vector convolution reads the result.
        [Network(Input = "3x20x70")]
        public partial class PixelPlanes
        {
            [Conv(5, KernelHeight = 5, KernelWidth = 3, Bias = false), LeakyReLU(0.1f)] public partial Layer C { get; }
            [Conv(16, Kernel = 3), ReLU] public partial Layer Next { get; }
        }

        // One output channel, a row exactly 16 wide, tanh as a pass over the output.
        [Network(Input = "1x12x18")]
        public partial class PixelOneVector
        {
            [Conv(1, Kernel = 3), Tanh] public partial Layer C { get; }
        }
        """;

    private static readonly string[] Names = { "PixelOneChannel", "PixelPlanes", "PixelOneVector" };

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public PixelVectorTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa) =>
        NetworkFixtures.AssertMatchesReferenceOnThreadsAndBatches(Compiled.Value, name, isa, 21, _ => 0.1f, _output);

    [Fact]
    public void TheFirstConvolutionsRunAlongTheRowOnAvx512Only()
    {
        GeneratorRun run = GeneratorHarness.Run(Source);
        foreach (string network in Names)
        {
            string avx512 = run.Kernels(network, "Avx512");
            string avx2 = run.Kernels(network, "Avx2");
            Assert.Contains("C: Conv2D", avx512);
            Assert.Contains("Avx512: vectors of 16 pixels along the row, one per output channel", avx512);
            Assert.Contains("Layout.StorePixels16x8(", avx512);
            Assert.DoesNotContain("pixels along the row", avx2);
        }
        string planes = run.Kernels("PixelPlanes", "Avx512");
        Assert.Contains("strips of columns 0..15, 16..31, 32..47, 48..63, 52..67, 4 strips at a time", planes);
        // The second convolution has 16 channels: a channel vector is full, so it keeps the register tile.
        Assert.Contains("Next: Conv2D 5x16x68 -> 16x14x66, kernel 3x3, stride 1, pads (t,l,b,r) 0,0,0,0, ReLU; Avx512: register tile", planes);
    }
}
