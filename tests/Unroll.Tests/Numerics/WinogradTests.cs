using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// 3x3 stride-1 convolutions with 64 or more channels on both sides run inference with Winograd F(2x2, 3x3): even and
/// odd output sizes (partial edge tiles), padding 0, 1 and 2, with and without bias, fused ReLU and LeakyReLU and a
/// separate tanh pass, alone and in a network with dense layers (sample groups), blocks along a row, blocks of whole
/// rows, and one block of the whole layer split by output channels. Every instruction set, 1 and 2 threads,
/// batch 1 and 3 must match the reference; and the transformed kernels must follow every change of the parameters.
/// </summary>
public class WinogradTests
{
    private const string Source = """
        using Unroll;

        // 7x7 tiles, one 12-tile block per row.
        [Network(Input = "64x14x14")]
        public partial class Wino14
        {
            [Conv(64, Kernel = 3, Pad = 1)] public partial Layer C { get; }
        }

        // No padding: 7x9 output, partial tiles on the bottom and right; 80 outputs pad to 96.
        [Network(Input = "64x9x11")]
        public partial class Wino9x11
        {
            [Conv(80, Kernel = 3), ReLU] public partial Layer C { get; }
        }

        // A direct layer first (16 inputs), then a bias-less Winograd layer with an odd output (13x15 after 'same'
        // padding), a Winograd layer 27 tiles wide (blocks of 12, 12 and 3), and dense layers, so batches run in groups.
        [Network(Input = "16x13x53")]
        public partial class WinoMixed
        {
            [Conv(64, Kernel = 3, Pad = 1), ReLU] public partial Layer C1 { get; }
            [Conv(72, Kernel = 3, Pad = 1, Bias = false), LeakyReLU(0.1f)] public partial Layer C2 { get; }
            [MaxPool(2)] public partial Layer P { get; }
            [Dense(20), ReLU] public partial Layer F { get; }
            [Dense(5)] public partial Layer Out { get; }
        }

        // Short rows (10 tiles) and a 256 KB kernel slice: blocks of 6 whole tile rows, then 4 (with two threads, 5 and 5).
        [Network(Input = "256x20x20")]
        public partial class WinoRows
        {
            [Conv(256, Kernel = 3, Pad = 1), ReLU] public partial Layer C { get; }
        }

        // 49 tiles of a 266 KB kernel slice: one block of the whole layer, split by output channels (3 blocks of 64 and
        // a remainder of 8 channels); odd size, so partial tiles at the bottom and right.
        [Network(Input = "320x13x13")]
        public partial class WinoWhole
        {
            [Conv(200, Kernel = 3, Pad = 1), ReLU] public partial Layer C { get; }
        }

        // Padding 2 widens the output (8x9); tanh runs as a pass after the kernel.
        [Network(Input = "64x6x7")]
        public partial class WinoPad2
        {
            [Conv(64, Kernel = 3, Pad = 2), Tanh] public partial Layer C { get; }
        }
        """;

    private static readonly string[] Names = { "Wino14", "Wino9x11", "WinoMixed", "WinoPad2", "WinoRows", "WinoWhole" };

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public WinogradTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases()
    {
        foreach (Isa isa in IsaSupport.Supported())
            foreach (string name in Names)
                yield return new object[] { name, isa };
    }

    public static IEnumerable<object[]> Isas()
    {
        foreach (Isa isa in IsaSupport.Supported())
            yield return new object[] { isa };
    }

    private static int TransformedWeightLength(Network network) =>
        (int)typeof(Network).GetProperty("TransformedWeightLength", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(network)!;

    private void AssertMatchesReference(Network network, float[] input, int batch, string what) =>
        NetworkFixtures.AssertMatchesReference(network, input, batch, what, NetworkFixtures.LeakyAlpha, _output);

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheReferenceOnEveryThreadCountAndBatch(string name, Isa isa)
    {
        var random = new SeededRandom(11);
        foreach (int threads in new[] { 1, 2 })
        {
            using Network network = GeneratorHarness.Create(Compiled.Value, name, new NetworkOptions { Isa = isa, Threads = threads, Seed = 4 });
            Assert.True(TransformedWeightLength(network) > 0, $"{name} should run a Winograd layer.");
            NetworkFixtures.SetRandomBiases(network, new SeededRandom(6));
            float[] input = NetworkFixtures.RandomInput(3 * network.InputLength, random);
            foreach (int batch in new[] { 1, 3 })
                AssertMatchesReference(network, input, batch, $"{name} on {isa}, {threads} thread(s), batch {batch}");
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void ForwardFollowsEveryChangeOfTheParameters(Isa isa)
    {
        using Network network = GeneratorHarness.Create(Compiled.Value, "Wino9x11", new NetworkOptions { Isa = isa, Threads = 1, Seed = 4 });
        var random = new SeededRandom(21);
        float[] input = NetworkFixtures.RandomInput(network.InputLength, random);
        AssertMatchesReference(network, input, 1, $"{isa}, initial weights");

        // New weights through the layer.
        Layer conv = network["C"];
        float[] weights = new float[conv.Info.Weights!.Count];
        for (int i = 0; i < weights.Length; i++)
            weights[i] = random.Uniform(-0.2f, 0.2f);
        conv.SetWeights(weights);
        AssertMatchesReference(network, input, 1, $"{isa}, after SetWeights");

        // A write through the parameter span.
        Span<float> parameters = network.Parameters;
        for (int i = 0; i < parameters.Length; i++)
            parameters[i] = -parameters[i] * 0.5f;
        AssertMatchesReference(network, input, 1, $"{isa}, after writing through Parameters");

        // Re-initialisation.
        network.InitializeParameters(99);
        AssertMatchesReference(network, input, 1, $"{isa}, after InitializeParameters");

        // Weights loaded from another instance.
        using (Network other = GeneratorHarness.Create(Compiled.Value, "Wino9x11", new NetworkOptions { Isa = isa, Threads = 1, Seed = 77 }))
        {
            using var file = new MemoryStream();
            other.Save(file);
            file.Position = 0;
            network.Load(file);
        }
        AssertMatchesReference(network, input, 1, $"{isa}, after Load");
    }

    [Fact]
    public void ForwardAllocatesNothingAfterTheFirstCallEvenWhenTheWeightsChange()
    {
        foreach (string name in new[] { "Wino14", "WinoMixed" })
        {
            using Network network = GeneratorHarness.Create(Compiled.Value, name, new NetworkOptions { Threads = 1, Seed = 5 });
            const int batch = 3;
            float[] input = NetworkFixtures.RandomInput(batch * network.InputLength, new SeededRandom(1)), output = new float[batch * network.OutputLength];
            network.Forward(input, output, batch); // the transformed-weight buffer, the workspace, JIT
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++)
            {
                network.Parameters[0] += 0.01f; // the transforms are recomputed in place
                network.Forward(input, output, batch);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated == 0, $"{name}: Forward allocated {allocated} bytes over 5 calls.");
        }
    }

    [Fact]
    public void LargeKernelsWithShortRowsGatherWholeRowsOrTheWholeLayer()
    {
        string generated = string.Join("\n", GeneratorHarness.Run(Source).Sources.Values);
        Assert.Contains("in blocks of up to 6 whole tile rows (60 tiles)", generated);
        Assert.Contains("Computes output channel blocks [blockFrom, blockTo) of 4 (64 channels each) over all 49 tiles as one block", generated);
    }

    [Fact]
    public void SameKernelAcrossThreadCountsGivesTheSameBits()
    {
        using Network one = GeneratorHarness.Create(Compiled.Value, "Wino14", new NetworkOptions { Threads = 1, Seed = 2 });
        using Network two = GeneratorHarness.Create(Compiled.Value, "Wino14", new NetworkOptions { Threads = 2, Seed = 2 });
        float[] input = NetworkFixtures.RandomInput(one.InputLength, new SeededRandom(8));
        float[] a = one.Predict(input), b = two.Predict(input);
        for (int i = 0; i < a.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]), $"output {i}: one thread {a[i]:R}, two {b[i]:R}.");
    }
}
