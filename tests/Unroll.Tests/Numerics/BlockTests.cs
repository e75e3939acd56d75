using System;
using System.Collections.Generic;
using System.Linq;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Blocks: a user-defined template (channels scaled, stride in the first repetition only, the block's input read by a
/// sum) expands into the layers it stands for, named after the block; built-in residual, bottleneck and Inception blocks
/// have the layer counts, shapes and parameters of their papers; each network's forward pass matches the reference.
/// </summary>
public class BlockTests(ITestOutputHelper output)
{
    private const string Source = """
        using Unroll;
        public abstract class Twice
        {
            [Conv(Block.Channels, Kernel = 3, Stride = Block.Stride, Pad = 1), ReLU] protected abstract Layer A { get; }
            [Conv(Block.Channels * 2, Kernel = 1)] protected abstract Layer B { get; }
            [Conv(Block.Channels / 2, Kernel = 1, From = nameof(A)), Tanh] protected abstract Layer C { get; }
            [Concat(nameof(B), nameof(C))] protected abstract Layer Joined { get; }
        }
        [Network(Input = "6x12x12")]
        public partial class Blocks
        {
            [Conv(8, Kernel = 3, Pad = 1), ReLU] public partial Layer Stem { get; }
            [Block(typeof(Twice), 4, Stride = 2, Repeat = 3)] public partial Layer Mine { get; }
            [ResidualBlock(12, Stride = 2)] public partial Layer Basic { get; }
            [BottleneckBlock(4, Repeat = 2)] public partial Layer Neck { get; }
            [Inception(4, 3, 5, 2, 3, 2)] public partial Layer Mixed { get; }
            [GlobalAvgPool] public partial Layer Pool { get; }
            [Dense(5), Softmax] public partial Layer Out { get; }
        }
        """;

    [Fact]
    public void BlocksExpandAsDeclared()
    {
        var assembly = GeneratorHarness.CompileAndLoad(Source);
        using Network net = GeneratorHarness.Create(assembly, "Blocks", new NetworkOptions { Seed = 3 });
        var layers = net.Info.Layers.ToDictionary(l => l.Name);
        output.WriteLine(net.Summary());

        // The template, three times: 4 channels (A), 8 (B), 2 (C), concatenated to 10; stride 2 only in the first.
        Assert.Equal(new Shape(4, 6, 6), layers["Mine_0_A"].OutputShape);
        Assert.Equal(new Shape(10, 6, 6), layers["Mine_0_Joined"].OutputShape);
        Assert.Equal(new Shape(4, 6, 6), layers["Mine_1_A"].OutputShape);
        Assert.Null(layers["Mine_1_A"].Inputs); // it reads the layer just before it, Mine_0_Joined
        Assert.Equal(new Shape(10, 6, 6), layers["Mine_0_Joined"].OutputShape);
        Assert.Equal(new[] { "Mine_2_A" }, layers["Mine_2_C"].Inputs);
        Assert.Equal(10 * 4 * 9 + 4, layers["Mine_1_A"].ParameterCount);
        // The block's property is its last layer.
        Assert.Same(net["Mine_2_Joined"], ((dynamic)net).Mine);

        // Basic block with stride 2: the input (10 channels, 6x6) is projected to 12 channels at 3x3.
        Assert.Equal(new Shape(12, 3, 3), layers["Basic_Add"].OutputShape);
        Assert.Equal(new[] { "Basic_BN2", "Basic_Add_ProjectionBN" }, layers["Basic_Add"].Inputs);
        Assert.Equal(12 * 10, layers["Basic_Add_Projection"].ParameterCount);
        // Bottleneck: 4 -> 16 channels; only the first repetition projects (12 != 16).
        Assert.Contains("Neck_0_Add_Projection", layers.Keys);
        Assert.DoesNotContain("Neck_1_Add_Projection", layers.Keys);
        Assert.Equal(new Shape(16, 3, 3), layers["Neck_1_Add"].OutputShape);
        // Inception: 4 + 5 + 3 + 2 channels.
        Assert.Equal(new Shape(14, 3, 3), layers["Mixed_Concat"].OutputShape);
        Assert.Equal(new[] { "Mixed_Branch1", "Mixed_Branch2", "Mixed_Branch3", "Mixed_Branch4" }, layers["Mixed_Concat"].Inputs);
        Assert.Contains("Mine: Twice(4, stride 2) x 3", net.Summary());
    }

    [Fact]
    public void ForwardMatchesTheReferenceOnEveryIsa()
    {
        var assembly = GeneratorHarness.CompileAndLoad(Source);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = GeneratorHarness.Create(assembly, "Blocks", new NetworkOptions { Isa = isa, Seed = 3 });
            var random = new SeededRandom(9);
            NetworkFixtures.SetRandomBiases(net, random);
            ClassicNetworkTests.SetRandomBatchNormStatistics(net, random);
            float[] input = NetworkFixtures.RandomInput(3 * net.InputLength, random);
            float[] actual = net.Predict(input);
            RefTensor[] expected = ReferenceOps.Run(net, input, 3);
            var lines = new List<string>();
            Assert.True(Tolerance.Mismatches(actual, expected, lines) == 0, string.Join(Environment.NewLine, lines));
            double relative = Tolerance.RelativeToLargest(actual, expected);
            output.WriteLine($"{isa}: worst ratio to the tolerance {Tolerance.WorstRatio(actual, expected):F3}, max difference over max output {relative:E2}");
            Assert.True(relative < 1e-5, $"{isa}: max difference over max output {relative:E2}");
        }
    }

    /// <summary>
    /// The Inception module as a whole, backward: the generated gradients of every parameter and of the input equal the
    /// double-precision reference backward pass (itself checked against finite differences). Its ReLUs put kinks near
    /// some coordinates, where central differences with a fixed step can mislead (a pre-activation much closer to 0 than
    /// the step gives two steps that agree on a wrong slope); the reference takes each ReLU's derivative at the point.
    /// </summary>
    [Fact]
    public void InceptionBackwardMatchesTheReference()
    {
        var assembly = GeneratorHarness.CompileAndLoad("""
            using Unroll;
            [Network(Input = "3x5x5")]
            public partial class G
            {
                [Inception(2, 2, 3, 1, 2, 2)] public partial Layer I { get; }
                [GlobalAvgPool] public partial Layer P { get; }
                [Dense(3), Tanh] public partial Layer D { get; }
            }
            """);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = GeneratorHarness.Create(assembly, "G", new NetworkOptions { Isa = isa, Threads = 1, Seed = 3 });
            var random = new SeededRandom(5);
            foreach (Layer layer in net.Layers)
                if (layer.Info.Bias is not null)
                    layer.SetBias(Enumerable.Range(0, layer.Info.Bias.Count).Select(_ => random.Uniform(-0.3f, 0.3f)).ToArray());
            const int batch = 2;
            float[] x = Enumerable.Range(0, batch * net.InputLength).Select(_ => random.Uniform(-1, 1)).ToArray();
            float[] dy = Enumerable.Range(0, batch * net.OutputLength).Select(_ => random.Uniform(-1, 1)).ToArray();
            float[] dx = new float[x.Length];
            net.ComputeGradients(x, batch, (n, y, g) =>
            {
                dy.AsSpan(n * y.Length, y.Length).CopyTo(g);
                return 0;
            }, dx);
            RefNetworkGradients expected = ReferenceBackward.Network(RefLayer.FromInfo(net.Info), net.Info.InputShape, ReferenceOps.CanonicalParameters(net), x, batch, dy);
            var lines = new List<string>();
            double worst = 0;
            int bad = RandomBackwardTests.Compare(net.Info, net.Gradients.ToArray(), dx, expected, isa.ToString(), lines, ref worst);
            output.WriteLine($"{isa}: worst ratio to the tolerance {worst:F3}, {expected.AmbiguousActivations + expected.AmbiguousWindows} ambiguous kinks");
            Assert.True(bad == 0, string.Join("\n", lines));
        }
    }
}
