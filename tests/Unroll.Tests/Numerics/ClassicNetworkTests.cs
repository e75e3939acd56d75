using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Unroll.Networks;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// The classic networks declared in Networks/: exact parameter counts against the canonical ones, their summaries, and
/// each network's forward pass (batch 2, full resolution, random biases and batch-normalisation statistics) against the
/// double-precision reference.
/// </summary>
public class ClassicNetworkTests(ITestOutputHelper output)
{
    /// <summary>
    /// Canonical counts: torchvision's for VGG and ResNet (convolutions of ResNets without bias, batch-normalisation scale
    /// and shift counted, running statistics not).
    /// </summary>
    public static IEnumerable<object[]> Counts =>
    [
        ["LeNet5", 61_706L],
        ["VGG16", 138_357_544L],
        ["VGG19", 143_667_240L],
        ["ResNet18", 11_689_512L],
        ["ResNet34", 21_797_672L],
        ["ResNet50", 25_557_032L],
        ["ResNet101", 44_549_160L],
        ["ResNet152", 60_192_808L],
        ["NiN", NiNCount()],
        ["AlexNet", AlexNetCount()],
        ["GoogLeNet", GoogLeNetCount()],
    ];

    private static long Conv(long cin, long cout, long k) => cin * cout * k * k + cout;

    /// <summary>AlexNet as one tower (no groups), on 227x227: five convolutions with bias, then 9216 -> 4096 -> 4096 -> 1000.</summary>
    private static long AlexNetCount() =>
        Conv(3, 96, 11) + Conv(96, 256, 5) + Conv(256, 384, 3) + Conv(384, 384, 3) + Conv(384, 256, 3)
        + (256 * 6 * 6 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000);

    /// <summary>
    /// GoogLeNet as in the paper's table 1 (convolutions with bias, no batch normalisation), 6,998,552 parameters, plus its
    /// two auxiliary classifiers of section 5: a 1x1 convolution to 128 channels on 4a (512) and 4d (528), 128 x 4 x 4 -> 1024
    /// -> 1000 dense layers.
    /// </summary>
    private static long GoogLeNetCount()
    {
        long auxiliary = Conv(512, 128, 1) + Conv(528, 128, 1) + 2 * ((128 * 4 * 4 * 1024 + 1024) + (1024 * 1000 + 1000));
        long count = Conv(3, 64, 7) + Conv(64, 64, 1) + Conv(64, 192, 3);
        long channels = 192;
        int[][] table =
        [
            [64, 96, 128, 16, 32, 32], [128, 128, 192, 32, 96, 64],
            [192, 96, 208, 16, 48, 64], [160, 112, 224, 24, 64, 64], [128, 128, 256, 24, 64, 64], [112, 144, 288, 32, 64, 64], [256, 160, 320, 32, 128, 128],
            [256, 160, 320, 32, 128, 128], [384, 192, 384, 48, 128, 128],
        ];
        foreach (int[] w in table)
        {
            count += Conv(channels, w[0], 1) + Conv(channels, w[1], 1) + Conv(w[1], w[2], 3) + Conv(channels, w[3], 1) + Conv(w[3], w[4], 5) + Conv(channels, w[5], 1);
            channels = w[0] + w[2] + w[4] + w[5];
        }
        return count + channels * 1000 + 1000 + auxiliary;
    }

    /// <summary>NiN's count by its arithmetic: convolutions of (in x out x k x k + out) over the four NiN blocks (two 1x1s each).</summary>
    private static long NiNCount()
    {
        return Conv(3, 96, 11) + 2 * Conv(96, 96, 1) + Conv(96, 256, 5) + 2 * Conv(256, 256, 1)
            + Conv(256, 384, 3) + 2 * Conv(384, 384, 1) + Conv(384, 10, 3) + 2 * Conv(10, 10, 1);
    }

    [Theory]
    [MemberData(nameof(Counts))]
    public void ParameterCountsAreTheCanonicalOnes(string name, long expected)
    {
        NetworkInfo info = NetworkCatalog.Describe(name.ToLowerInvariant());
        Assert.Equal(expected, info.ParameterCount);
        Assert.Contains($"Trainable params: {expected:N0}", info.Summary);
        output.WriteLine(info.Summary);
    }

    /// <summary>
    /// Every network of the catalogue at full resolution, except VGG-16 and VGG-19, whose 15-20 GFLOPs per sample take the
    /// double-precision reference minutes: they run as declared in <see cref="ReducedVgg16"/> and <see cref="ReducedVgg19"/>,
    /// the same layers on 64x64 inputs.
    /// </summary>
    public static IEnumerable<object[]> Networks => NetworkCatalog.Names.Where(name => !name.StartsWith("VGG", StringComparison.Ordinal))
        .Concat(new[] { nameof(ReducedVgg16), nameof(ReducedVgg19) }).Select(name => new object[] { name });

    private static Network Create(string name, NetworkOptions options) => name switch
    {
        nameof(ReducedVgg16) => new ReducedVgg16(options),
        nameof(ReducedVgg19) => new ReducedVgg19(options),
        _ => NetworkCatalog.Create(name, options),
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void ForwardMatchesTheReference(string name)
    {
        const int batch = 2;
        using Network net = Create(name, new NetworkOptions { Seed = 17 });
        var random = new SeededRandom(23);
        NetworkFixtures.SetRandomBiases(net, random);
        SetRandomBatchNormStatistics(net, random);
        float[] input = NetworkFixtures.RandomInput(batch * net.InputLength, random);

        var clock = Stopwatch.StartNew();
        float[] actual = net.Predict(input);
        double unroll = clock.Elapsed.TotalSeconds;
        clock.Restart();
        RefTensor[] expected = ReferenceOps.Run(net, input, batch);
        double reference = clock.Elapsed.TotalSeconds;

        var lines = new List<string>();
        int bad = Tolerance.Mismatches(actual, expected, lines);
        // The element-wise tolerance grows with depth (it adds every layer's worst case), so deep networks are also held to
        // a plain relative bound per sample: the largest difference over the largest output.
        double relative = Tolerance.RelativeToLargest(actual, expected);
        output.WriteLine($"{name}: {actual.Length} outputs, worst ratio to the tolerance {Tolerance.WorstRatio(actual, expected):F3}, max difference over max output {relative:E2}; Unroll {unroll:F2} s, reference {reference:F1} s");
        Assert.True(bad == 0, string.Join(Environment.NewLine, lines));
        Assert.True(relative < 1e-4, $"{name}: max difference over max output {relative:E2}");
    }

    /// <summary>Batch normalisations away from the identity: gamma in [0.5, 1.5], beta in +-0.2, running mean in +-0.1, running variance in [0.5, 1.5].</summary>
    internal static void SetRandomBatchNormStatistics(Network net, SeededRandom random)
    {
        foreach (Layer layer in net.Layers)
        {
            if (layer.Info.Kind != LayerKind.BatchNorm)
                continue;
            int c = layer.Info.OutputShape.Channels;
            layer.SetWeights(Enumerable.Range(0, c).Select(_ => random.Uniform(0.5f, 1.5f)).ToArray());
            layer.SetBias(Enumerable.Range(0, c).Select(_ => random.Uniform(-0.2f, 0.2f)).ToArray());
            TensorInfo[] state = layer.Info.State!.ToArray();
            Span<float> parameters = net.Parameters;
            for (int i = 0; i < c; i++)
            {
                parameters[state[0].Offset + i] = random.Uniform(-0.1f, 0.1f);
                parameters[state[1].Offset + i] = random.Uniform(0.5f, 1.5f);
            }
        }
    }
}

/// <summary>One VGG convolution (3x3, padding 1, ReLU), for the reduced VGG copies.</summary>
public abstract class ReducedVggConv
{
    [Conv(Block.Channels, Kernel = 3, Pad = 1), ReLU] protected abstract Layer Conv { get; }
}

/// <summary>VGG-16 as in Networks/VGG.cs, on 64x64 inputs (so the first dense layer reads 512 x 2 x 2).</summary>
[Network(Input = "3x64x64")]
public partial class ReducedVgg16
{
    [Block(typeof(ReducedVggConv), 64, Repeat = 2)] public partial Layer Stage1 { get; }
    [MaxPool(2)] public partial Layer Pool1 { get; }
    [Block(typeof(ReducedVggConv), 128, Repeat = 2)] public partial Layer Stage2 { get; }
    [MaxPool(2)] public partial Layer Pool2 { get; }
    [Block(typeof(ReducedVggConv), 256, Repeat = 3)] public partial Layer Stage3 { get; }
    [MaxPool(2)] public partial Layer Pool3 { get; }
    [Block(typeof(ReducedVggConv), 512, Repeat = 3)] public partial Layer Stage4 { get; }
    [MaxPool(2)] public partial Layer Pool4 { get; }
    [Block(typeof(ReducedVggConv), 512, Repeat = 3)] public partial Layer Stage5 { get; }
    [MaxPool(2)] public partial Layer Pool5 { get; }
    [Dense(4096), ReLU] public partial Layer Fc6 { get; }
    [Dense(4096), ReLU] public partial Layer Fc7 { get; }
    [Dense(1000), Softmax] public partial Layer Fc8 { get; }
}

/// <summary>VGG-19 as in Networks/VGG.cs, on 64x64 inputs.</summary>
[Network(Input = "3x64x64")]
public partial class ReducedVgg19
{
    [Block(typeof(ReducedVggConv), 64, Repeat = 2)] public partial Layer Stage1 { get; }
    [MaxPool(2)] public partial Layer Pool1 { get; }
    [Block(typeof(ReducedVggConv), 128, Repeat = 2)] public partial Layer Stage2 { get; }
    [MaxPool(2)] public partial Layer Pool2 { get; }
    [Block(typeof(ReducedVggConv), 256, Repeat = 4)] public partial Layer Stage3 { get; }
    [MaxPool(2)] public partial Layer Pool3 { get; }
    [Block(typeof(ReducedVggConv), 512, Repeat = 4)] public partial Layer Stage4 { get; }
    [MaxPool(2)] public partial Layer Pool4 { get; }
    [Block(typeof(ReducedVggConv), 512, Repeat = 4)] public partial Layer Stage5 { get; }
    [MaxPool(2)] public partial Layer Pool5 { get; }
    [Dense(4096), ReLU] public partial Layer Fc6 { get; }
    [Dense(4096), ReLU] public partial Layer Fc7 { get; }
    [Dense(1000), Softmax] public partial Layer Fc8 { get; }
}
