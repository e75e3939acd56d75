using System;
using System.Collections.Generic;
using System.Linq;
using Unroll.Networks;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// LeNet-5's generated backward pass (seed-initialised, random non-zero biases, batch 3) against the double-precision
/// reference backward on every instruction set: once with a random output gradient through the softmax backward, once
/// with the softmax folded into a cross-entropy loss that writes p - onehot. One thread, and two threads twice (the same
/// bits both times, and within the tolerance of the reference).
/// </summary>
public class LeNet5BackwardTests
{
    private const int Batch = 3;
    private readonly ITestOutputHelper _output;

    public LeNet5BackwardTests(ITestOutputHelper output) => _output = output;

    public static IEnumerable<object[]> Cases =>
        IsaSupport.Supported().SelectMany(isa => new[] { new object[] { isa, false }, new object[] { isa, true } });

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientsMatchTheReference(Isa isa, bool foldOutputSoftmax)
    {
        float[] input = LeNet5Tests.Input();
        var random = new SeededRandom(13);
        float[] randomGradient = Enumerable.Range(0, Batch * LeNet5.OutputSize).Select(_ => random.Uniform(-1f, 1f)).ToArray();
        int[] labels = { 3, 7, 0 };

        using LeNet5 net = LeNet5Tests.Create(isa, threads: 1);
        var parameters = ReferenceOps.CanonicalParameters(net);
        int length = LeNet5.OutputSize;
        var lines = new List<string>();
        double worst = 0;
        int bad = 0, ambiguous = 0;

        // The loss: a fixed random dy, or p - onehot with the softmax folded. The gradient it wrote is kept, so the
        // reference starts from the same values (p is the float output of this run).
        (float[] Gradients, float[] InputGradient, float[] OutputGradient) Run()
        {
            float[] written = new float[Batch * length];
            float[] dx = new float[Batch * LeNet5.InputSize];
            dx.AsSpan().Fill(float.NaN);
            net.ComputeGradients(input, Batch, (n, y, g) =>
            {
                if (foldOutputSoftmax)
                {
                    y.CopyTo(g);
                    g[labels[n]] -= 1;
                }
                else
                    randomGradient.AsSpan(n * length, length).CopyTo(g);
                g.CopyTo(written.AsSpan(n * length, length));
                return 0;
            }, dx, foldOutputSoftmax);
            return (net.Gradients.ToArray(), dx, written);
        }

        void Check(string what, float[] gradients, float[] dx, float[] dy)
        {
            RefNetworkGradients expected = ReferenceBackward.Network(LeNet5Tests.Declared, LeNet5.Description.InputShape, parameters, input, Batch, dy, foldOutputSoftmax);
            ambiguous += expected.AmbiguousActivations + expected.AmbiguousWindows;
            bad += RandomBackwardTests.Compare(net.Info, gradients, dx, expected, what, lines, ref worst);
        }

        var one = Run();
        Check("1 thread", one.Gradients, one.InputGradient, one.OutputGradient);
        if (foldOutputSoftmax)
            for (int n = 0; n < Batch; n++)
                Assert.Equal(0, one.OutputGradient.AsSpan(n * length, length).ToArray().Sum(), 5); // p sums to 1
        net.ThreadCount = 2;
        var two = Run();
        var again = Run();
        Check("2 threads", two.Gradients, two.InputGradient, two.OutputGradient);
        bad += RandomBackwardTests.BitDifferences("2 threads, second run: parameter gradient", two.Gradients, again.Gradients, lines);
        bad += RandomBackwardTests.BitDifferences("2 threads, second run: input gradient", two.InputGradient, again.InputGradient, lines);
        // Every tensor gets a gradient (no layer silently skipped).
        foreach (TensorInfo tensor in net.Info.Tensors)
            Assert.True(one.Gradients.AsSpan(tensor.Offset, tensor.Length).ToArray().Any(v => v != 0), $"{tensor.Name} got no gradient at all");

        _output.WriteLine($"LeNet5 backward {isa}, softmax {(foldOutputSoftmax ? "folded" : "not folded")}, batch {Batch}: "
            + $"worst |unroll - reference| / allowed = {worst:F4}; {ambiguous} value(s) within float error of a kink");
        Assert.True(bad == 0, $"LeNet5 backward on {isa} (softmax {(foldOutputSoftmax ? "folded" : "not folded")}): {bad} value(s) differ:\n{string.Join("\n", lines)}");
    }
}
