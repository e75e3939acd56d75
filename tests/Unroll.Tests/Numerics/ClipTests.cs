using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// The clip activation in every epilogue that applies an activation in registers: a direct convolution, a convolution with a
/// batch normalisation folded into it, a Winograd convolution (its output transform, with the residual added first), a
/// convolution completing a residual sum, a zero padding (whose border is the clip of 0 when the range leaves 0 out), a
/// dense layer, a concatenation, a global average and stand-alone clips; ReLU6, both bounds inside the values and each side
/// open. Every clipped layer is an output, so each is compared with the reference itself, on every instruction set, with 1
/// and 2 threads and batches of 1 and 3; and the reference's values must reach every finite bound, so both sides are judged.
/// </summary>
public class ClipTests
{
    private const string Source = """
        using Unroll;

        [Network(Input = "8x9x9")]
        public partial class ClipEpilogues
        {
            [Conv(16, Kernel = 3, Pad = 1), Clip(-0.4f, 0.3f), Output] public partial Layer A { get; }
            [Conv(12, Kernel = 1, Bias = false)] public partial Layer B { get; }
            [BatchNorm, Clip(0f, 0.5f), Output] public partial Layer BN { get; }
            [ZeroPad(1, Right = 2), Clip(0.25f, 0.4f), Output] public partial Layer Z { get; }
            [MaxPool(2)] public partial Layer P { get; }
            [Dense(10), Clip(float.NegativeInfinity, 0.2f), Output] public partial Layer D { get; }
            [Clip(-0.1f, float.PositiveInfinity), Output] public partial Layer S { get; }
        }

        [Network(Input = "16x7x7")]
        public partial class ClipMerges
        {
            [Conv(16, Kernel = 3, Pad = 1), Clip(0f, 6f)] public partial Layer A { get; }
            [Conv(16, Kernel = 3, Pad = 1)] public partial Layer B { get; }
            [Add("input"), Clip(-0.5f, 0.5f), Output] public partial Layer Sum { get; }
            [Concat(nameof(A), nameof(Sum)), Clip(-0.3f, 0.3f), Output] public partial Layer Cat { get; }
            [GlobalAvgPool, Clip(-0.05f, 0.05f), Output] public partial Layer G { get; }
            [Clip(float.NegativeInfinity, 0.1f, From = nameof(A)), Output] public partial Layer Low { get; }
        }

        [Network(Input = "64x9x11")]
        public partial class ClipWinograd
        {
            [Conv(64, Kernel = 3, Pad = 1, Bias = false)] public partial Layer C1 { get; }
            [BatchNorm, Clip(0f, 6f), Output] public partial Layer N1 { get; }
            [Conv(64, Kernel = 3, Pad = 1, Bias = false)] public partial Layer C2 { get; }
            [BatchNorm] public partial Layer N2 { get; }
            [Add("input"), Clip(-1f, 1f), Output] public partial Layer Sum { get; }
        }
        """;

    /// <summary>The bounds each clipped layer is declared with, by network and layer.</summary>
    private static readonly Dictionary<string, (string Layer, float Min, float Max)[]> Declared = new()
    {
        ["ClipEpilogues"] = [("A", -0.4f, 0.3f), ("BN", 0f, 0.5f), ("Z", 0.25f, 0.4f), ("D", float.NegativeInfinity, 0.2f), ("S", -0.1f, float.PositiveInfinity)],
        ["ClipMerges"] = [("A", 0f, 6f), ("Sum", -0.5f, 0.5f), ("Cat", -0.3f, 0.3f), ("G", -0.05f, 0.05f), ("Low", float.NegativeInfinity, 0.1f)],
        ["ClipWinograd"] = [("N1", 0f, 6f), ("Sum", -1f, 1f)],
    };

    /// <summary>Bounds the values never reach: ReLU6's 6 (the values are of order 1).</summary>
    private static readonly HashSet<(string Network, string Layer)> UpperBoundOutOfReach = [("ClipMerges", "A"), ("ClipWinograd", "N1")];

    private static readonly Lazy<Assembly> Compiled = new(() => GeneratorHarness.CompileAndLoad(Source));

    private readonly ITestOutputHelper _output;

    public ClipTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases() => NetworkFixtures.NamesOnEveryIsa(Declared.Keys.ToArray());

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryClippedLayerMatchesTheReference(string name, Isa isa)
    {
        const int seed = 61;
        var random = new SeededRandom(seed);
        foreach (int threads in new[] { 1, 2 })
        {
            using Network net = GeneratorHarness.Create(Compiled.Value, name, new NetworkOptions { Isa = isa, Threads = threads, Seed = seed + 1 });
            NetworkFixtures.SetRandomBiases(net, new SeededRandom(seed + 2));
            NetworkFixtures.SetRandomNormalisations(net, new SeededRandom(seed + 3));
            // The description states the declared bounds (the reference reads them from it).
            foreach ((string layer, float min, float max) in Declared[name])
            {
                LayerInfo info = net.Layers.Single(l => l.Name == layer).Info;
                Assert.Equal(Activation.Clip, info.Activation);
                Assert.Equal((min, max), (info.Settings!.ClipMin, info.Settings.ClipMax));
            }
            Assert.Equal(Declared[name].Select(d => d.Layer).Order(), net.Layers.Where(l => l.Info.Activation == Activation.Clip).Select(l => l.Name).Order());

            float[] input = NetworkFixtures.RandomInput(3 * net.InputLength, random);
            foreach (int batch in new[] { 1, 3 })
            {
                float[] actual = new float[batch * net.OutputLength];
                actual.AsSpan().Fill(float.NaN);
                net.Forward(input.AsSpan(0, batch * net.InputLength), actual, batch);
                (List<RefTensor> expected, Dictionary<string, (int AtMin, int Inside, int AtMax)> hits) = Reference(net, input, batch);
                var lines = new List<string>();
                string what = $"{name} on {isa}, {threads} thread(s), batch {batch}";
                Assert.True(Tolerance.Mismatches(actual, expected, lines) == 0, $"{what}:\n{string.Join("\n", lines)}");
                _output.WriteLine($"{what}: worst error {Tolerance.WorstRatio(actual, expected):F3} of the tolerance; values at the lower bound, inside, at the upper bound: "
                    + string.Join(", ", hits.Select(h => $"{h.Key} {h.Value.AtMin}/{h.Value.Inside}/{h.Value.AtMax}")));
                if (batch < 3)
                    continue;
                // Both sides of every clip are exercised: some values held at each finite bound, some between.
                foreach ((string layer, float min, float max) in Declared[name])
                {
                    (int atMin, int inside, int atMax) = hits[layer];
                    Assert.True(inside > 0, $"{name}.{layer}: no value strictly inside the bounds");
                    Assert.True(float.IsNegativeInfinity(min) || atMin > 0, $"{name}.{layer}: no value held at the lower bound {min}");
                    Assert.True(float.IsPositiveInfinity(max) || UpperBoundOutOfReach.Contains((name, layer)) || atMax > 0, $"{name}.{layer}: no value held at the upper bound {max}");
                }
            }
        }
    }

    /// <summary>
    /// The reference's main outputs of every sample, one after the other as <see cref="Network.Forward"/> writes them, and
    /// per clipped layer how many of its values (over the batch) the reference holds at each bound and between them.
    /// </summary>
    private static (List<RefTensor> Outputs, Dictionary<string, (int AtMin, int Inside, int AtMax)> Hits) Reference(Network net, float[] input, int batch)
    {
        RefLayer[] layers = ReferenceOps.WithRunningStatistics(RefLayer.FromInfo(net.Info), net);
        (double[]? Weights, double[]? Bias)[] parameters = ReferenceOps.ToDouble(ReferenceOps.CanonicalParameters(net));
        var index = net.Info.Layers.Select((l, i) => (l.Name, i)).ToDictionary(p => p.Name, p => p.i);
        var outputs = new List<RefTensor>();
        var hits = new Dictionary<string, (int AtMin, int Inside, int AtMax)>();
        int length = net.InputLength;
        for (int n = 0; n < batch; n++)
        {
            RefLayerTrace[] trace = ReferenceOps.Trace(layers, RefTensor.FromData(input.AsSpan(n * length, length), net.Info.InputShape), parameters);
            foreach (OutputInfo output in net.Info.Outputs.Where(o => !o.Auxiliary))
                outputs.Add(trace[index[output.Layer]].Output);
            for (int i = 0; i < layers.Length; i++)
            {
                if (layers[i].Activation != Activation.Clip)
                    continue;
                (int atMin, int inside, int atMax) = hits.GetValueOrDefault(net.Info.Layers[i].Name);
                foreach (double y in trace[i].Output.Value)
                {
                    if (y == layers[i].ClipMin)
                        atMin++;
                    else if (y == layers[i].ClipMax)
                        atMax++;
                    else
                        inside++;
                }
                hits[net.Info.Layers[i].Name] = (atMin, inside, atMax);
            }
        }
        return (outputs, hits);
    }
}
