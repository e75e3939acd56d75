using System;
using System.Collections.Generic;
using System.Linq;
using Unroll.Networks;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>LeNet-5, seed-initialised with random non-zero biases, against the plain reference on every instruction set.</summary>
public class LeNet5Tests
{
    private const int Batch = 3;
    private const int WeightSeed = 20261127;
    private readonly ITestOutputHelper _output;

    public LeNet5Tests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Isas => IsaSupport.Supported().Select(isa => new object[] { isa });

    /// <summary>LeNet-5 as declared in Networks/LeNet5.cs, written out independently of the generator.</summary>
    internal static readonly RefLayer[] Declared =
    {
        new(RefOp.Conv, Activation.ReLU, Units: 6, KernelH: 5, KernelW: 5),
        new(RefOp.MaxPool, KernelH: 2, KernelW: 2, Stride: 2),
        new(RefOp.Conv, Activation.ReLU, Units: 16, KernelH: 5, KernelW: 5),
        new(RefOp.MaxPool, KernelH: 2, KernelW: 2, Stride: 2),
        new(RefOp.Dense, Activation.ReLU, Units: 120),
        new(RefOp.Dense, Activation.ReLU, Units: 84),
        new(RefOp.Dense, Activation.Softmax, Units: 10),
    };

    internal static LeNet5 Create(Isa isa, int threads)
    {
        var net = new LeNet5(new NetworkOptions { Isa = isa, Threads = threads, Seed = WeightSeed });
        var random = new SeededRandom(7);
        foreach (Layer layer in net.Layers)
        {
            if (layer.Info.Bias is null)
                continue;
            // Non-zero biases in +-[0.05, 0.3], so that the bias path is exercised on every output.
            float[] bias = new float[layer.Info.Bias.Count];
            for (int i = 0; i < bias.Length; i++)
                bias[i] = (random.Next(2) == 0 ? -1 : 1) * random.Uniform(0.05f, 0.3f);
            layer.SetBias(bias);
        }
        return net;
    }

    internal static float[] Input()
    {
        var random = new SeededRandom(11);
        float[] x = new float[Batch * LeNet5.InputSize];
        for (int i = 0; i < x.Length; i++)
            x[i] = random.Uniform(-1f, 1f);
        return x;
    }

    [Fact]
    public void DescriptionReadsBackAsTheDeclaredArchitecture()
    {
        Assert.Equal(Declared.Length, LeNet5.Description.Layers.Count);
        for (int i = 0; i < Declared.Length; i++)
            Assert.Equal(Declared[i], RefLayer.FromInfo(LeNet5.Description.Layers[i]));
        Shape shape = LeNet5.Description.InputShape;
        var expected = new[] { new Shape(6, 28, 28), new Shape(6, 14, 14), new Shape(16, 10, 10), new Shape(16, 5, 5), Shape.Flat(120), Shape.Flat(84), Shape.Flat(10) };
        for (int i = 0; i < Declared.Length; i++)
        {
            shape = Declared[i].OutputShape(shape);
            Assert.Equal(expected[i], shape);
            Assert.Equal(expected[i], LeNet5.Description.Layers[i].OutputShape);
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void MatchesTheReference(Isa isa)
    {
        float[] input = Input();
        foreach (int threads in new[] { 1, 2 })
        {
            using LeNet5 net = Create(isa, threads);
            var parameters = ReferenceOps.CanonicalParameters(net);
            Assert.All(parameters.Where(p => p.Bias is not null), p => Assert.DoesNotContain(0f, p.Bias!));
            RefTensor[] expected = ReferenceOps.Run(Declared, LeNet5.Description.InputShape, parameters, input, Batch);
            // The description-driven run must agree with the declaration-driven one.
            RefTensor[] viaInfo = ReferenceOps.Run(net, input, Batch);
            for (int n = 0; n < Batch; n++)
                Assert.Equal(expected[n].Value, viaInfo[n].Value);

            // The reference itself: each sample's softmax sums to 1, and the samples differ.
            foreach (RefTensor t in expected)
                Assert.Equal(1.0, t.Value.Sum(), 12);
            Assert.NotEqual(expected[0].Value, expected[1].Value);

            float[] output = new float[Batch * LeNet5.OutputSize];
            net.Forward(input, output, Batch);
            var lines = new List<string>();
            int bad = Tolerance.Mismatches(output, expected, lines);
            double worst = 0;
            for (int n = 0; n < Batch; n++)
                for (int i = 0; i < LeNet5.OutputSize; i++)
                    worst = Math.Max(worst, Math.Abs(output[n * LeNet5.OutputSize + i] - expected[n].Value[i]));
            _output.WriteLine($"LeNet5 {isa}, {threads} thread(s): max |unroll - reference| = {worst:G3}");
            Assert.True(bad == 0, $"LeNet5 on {isa} with {threads} thread(s), batch {Batch}: {bad} value(s) differ from the reference:\n{string.Join("\n", lines)}");
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void TwoThreadsAreBitIdenticalToOne(Isa isa)
    {
        // 24 samples (20 MFLOP): enough work that the batch is split between the threads; smaller ones run on one.
        const int batch = 24;
        float[] input = NetworkFixtures.RandomInput(batch * LeNet5.InputSize, new SeededRandom(13));
        using LeNet5 one = Create(isa, 1), two = Create(isa, 2);
        float[] a = new float[batch * LeNet5.OutputSize], b = new float[batch * LeNet5.OutputSize];
        one.Forward(input, a, batch);
        two.Forward(input, b, batch);
        for (int i = 0; i < a.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]),
                $"{isa}: output {i} is {a[i]:R} with 1 thread but {b[i]:R} with 2.");
        // And Predict, which goes through Forward, gives the same bits again.
        Assert.Equal(a, two.Predict(input));
    }
}
