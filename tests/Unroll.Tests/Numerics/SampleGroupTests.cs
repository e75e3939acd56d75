using System;
using System.Collections.Generic;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Networks with dense layers run batches in sample groups: the dense layers take a whole group at once
/// (weight rows in blocks, copied to a panel when several sample tiles read them). A sample's result must
/// not depend on the group it ran in: every batch size gives the bits of batch 1, which match the reference.
/// </summary>
public class SampleGroupTests
{
    private const string Source = """
        using Unroll;

        // A flat dense input of 1100 values: two blocks of input rows (1024 + 76), the fused ReLU only after the last.
        [Network(Input = "1100x1x1")]
        public partial class FlatGroupNet
        {
            [Dense(70), ReLU] public partial Layer F1 { get; }
            [Dense(33), Sigmoid] public partial Layer F2 { get; }
        }

        // Weights above 1 MB: one sample at a time streams them row by row (8 rows per pass, then the
        // 4 left over per pixel), which must sum in the same order as the group kernel.
        [Network(Input = "20x9x9")]
        public partial class StreamGroupNet
        {
            [Dense(200), LeakyReLU(0.2f)] public partial Layer F1 { get; }
            [Dense(300)] public partial Layer F2 { get; }
            [Dense(1100), ReLU] public partial Layer F3 { get; }
        }

        // A spatial input whose pixels hold more than 1024 channels: a block of weight rows is one whole pixel
        // (1040 rows), longer than the 1024 rows of a flat block; the panel must still hold it.
        [Network(Input = "1040x2x1")]
        public partial class WidePixelGroupNet
        {
            [Dense(24), ReLU] public partial Layer F1 { get; }
        }

        // A spatial dense input (40 x 6 x 6 = 1440 values): blocks of whole pixels; a softmax pass per sample.
        [Network(Input = "3x14x14")]
        public partial class SpatialGroupNet
        {
            [Conv(40, Kernel = 3), LeakyReLU(0.2f)] public partial Layer C1 { get; }
            [MaxPool(2)] public partial Layer P1 { get; }
            [Dense(20, Bias = false), ReLU] public partial Layer F1 { get; }
            [Dense(5), Softmax] public partial Layer Out { get; }
        }
        """;

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public SampleGroupTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases()
    {
        foreach (Isa isa in IsaSupport.Supported())
            foreach (string name in new[] { "FlatGroupNet", "SpatialGroupNet", "StreamGroupNet", "WidePixelGroupNet" })
                yield return new object[] { name, isa };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryBatchSizeGivesTheBatchOneBitsAndMatchesTheReference(string name, Isa isa)
    {
        const int batch = 71;
        using Network single = GeneratorHarness.Create(Compiled.Value, name, new NetworkOptions { Isa = isa, Threads = 1, Seed = 9 });
        int group = (int)typeof(Network).GetProperty("GroupSize", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(single)!;
        Assert.True(group > 1 && group < batch, $"{name}: group size {group} should be above 1 and below the batch of {batch}.");
        var random = new SeededRandom(21);
        NetworkFixtures.SetRandomBiases(single, random);
        float[] input = NetworkFixtures.RandomInput(batch * single.InputLength, random);

        // One sample at a time: the per-sample kernels.
        float[] expected = new float[batch * single.OutputLength];
        for (int n = 0; n < batch; n++)
            single.Forward(input.AsSpan(n * single.InputLength, single.InputLength), expected.AsSpan(n * single.OutputLength, single.OutputLength), 1);
        RefTensor[] reference = ReferenceOps.Run(single, input, batch, layer => layer.Activation == Activation.LeakyReLU ? 0.2f : 0.01f);
        var lines = new List<string>();
        Assert.True(Tolerance.Mismatches(expected, reference, lines) == 0, $"{name} on {isa}, batch 1:\n{string.Join("\n", lines)}");

        // Batches that fill groups exactly, leave a partial sample tile, or split into several groups, on 1 and 2 threads.
        foreach (int threads in new[] { 1, 2 })
        {
            using Network grouped = GeneratorHarness.Create(Compiled.Value, name, new NetworkOptions { Isa = isa, Threads = threads, Seed = 9 });
            single.Parameters.CopyTo(grouped.Parameters);
            foreach (int samples in new[] { 2, 7, group, group + 1, batch })
            {
                float[] actual = new float[samples * single.OutputLength];
                grouped.Forward(input.AsSpan(0, samples * single.InputLength), actual, samples);
                for (int i = 0; i < actual.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]),
                        $"{name} on {isa}, {threads} thread(s), batch {samples}: output {i} is {actual[i]:R}, batch 1 gives {expected[i]:R}.");
            }
        }
        _output.WriteLine($"{name} {isa}: group size {group}; batches 2 to {batch} on 1 and 2 threads give the batch-1 bits.");
    }
}
