using System;
using System.Collections.Generic;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// With fewer samples than threads, the threads share each sample: large steps are split by output rows
/// (convolution, pooling, the layout moves) or output chunks (dense). Every split must give exactly the bits
/// of the one-thread run, and both must match the reference.
/// </summary>
public class SplitSampleTests
{
    private const string Source = """
        using Unroll;

        // Rows that do not divide evenly between threads (30 and 15), padding borders, a strided pool,
        // a dense layer large enough to split into chunks plus a remainder chunk, and a small tail that stays on part 0.
        [Network(Input = "24x30x30")]
        public partial class SplitNet
        {
            [Conv(40, Kernel = 3, Padding = Padding.Same), ReLU] public partial Layer C1 { get; }
            [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer P1 { get; }
            [Conv(48, Kernel = 3, Stride = 1), LeakyReLU(0.1f)] public partial Layer C2 { get; }
            [Dense(200), ReLU] public partial Layer F1 { get; }
            [Dense(10)] public partial Layer Out { get; }
        }

        // Merges of 40 rows: with ReLU fused a sum or a concatenation is split by rows; with tanh (a pass over the whole
        // tensor) a sum is not.
        [Network(Input = "32x40x40")]
        public partial class ResidualNet
        {
            [Conv(32, Kernel = 3, Padding = Padding.Same), ReLU] public partial Layer C1 { get; }
            [Conv(32, Kernel = 3, Padding = Padding.Same)] public partial Layer C2 { get; }
            [Add(nameof(C1)), ReLU] public partial Layer Sum { get; }
            [Add(nameof(C1)), Tanh] public partial Layer Sum2 { get; }
            [Concat(nameof(C2)), ReLU] public partial Layer Joined { get; }
        }

        // A big input and output: the layout moves themselves are split.
        [Network(Input = "64x40x40")]
        public partial class WideNet
        {
            [Conv(64, Kernel = 1)] public partial Layer C { get; }
        }
        """;

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public SplitSampleTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases()
    {
        foreach (Isa isa in IsaSupport.Supported())
            foreach (string name in new[] { "SplitNet", "WideNet", "ResidualNet" })
                yield return new object[] { name, isa };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SharedSamplesGiveTheOneThreadBitsAndMatchTheReference(string name, Isa isa)
    {
        using Network one = GeneratorHarness.Create(Compiled.Value, name, new NetworkOptions { Isa = isa, Threads = 1, Seed = 3 });
        Assert.True((bool)typeof(Network).GetProperty("SplitsSamples", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(one)!,
            $"{name} should have steps large enough to split.");
        var random = new SeededRandom(5);
        NetworkFixtures.SetRandomBiases(one, random);
        const int batch = 2;
        float[] input = NetworkFixtures.RandomInput(batch * one.InputLength, random);

        float[] expected = new float[batch * one.OutputLength];
        one.Forward(input, expected, batch);
        RefTensor[] reference = ReferenceOps.Run(one, input, batch, layer => layer.Activation == Activation.LeakyReLU ? 0.1f : 0.01f);
        var lines = new List<string>();
        Assert.True(Tolerance.Mismatches(expected, reference, lines) == 0, $"{name} on {isa}, 1 thread:\n{string.Join("\n", lines)}");

        foreach (int threads in new[] { 2, 3 })
        {
            using Network shared = GeneratorHarness.Create(Compiled.Value, name, new NetworkOptions { Isa = isa, Threads = threads, Seed = 3 });
            one.Parameters.CopyTo(shared.Parameters);
            // Batch 1 and a batch below the thread count: every sample is shared by all threads.
            for (int samples = 1; samples <= Math.Min(batch, threads - 1); samples++)
            {
                float[] actual = new float[samples * one.OutputLength];
                shared.Forward(input.AsSpan(0, samples * one.InputLength), actual, samples);
                for (int i = 0; i < actual.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]),
                        $"{name} on {isa}, {threads} threads, batch {samples}: output {i} is {actual[i]:R}, one thread gives {expected[i]:R}.");
            }
            _output.WriteLine($"{name} {isa}: {threads} threads sharing a sample give the one-thread bits.");
        }
    }
}
