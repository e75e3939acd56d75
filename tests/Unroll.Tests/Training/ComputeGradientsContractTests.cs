using System;
using Unroll.Networks;

namespace Unroll.Tests.Training;

/// <summary>The training step's contract: no allocation per step once warmed up, clear errors for bad buffers.</summary>
public class ComputeGradientsContractTests
{
    private static float Loss(int sample, ReadOnlySpan<float> output, Span<float> gradient)
    {
        gradient[sample % gradient.Length] = 1;
        return output[0];
    }

    [Fact]
    public void AStepAllocatesNothingAfterTheFirst()
    {
        using var net = new LeNet5(new NetworkOptions { Threads = 1, Seed = 2 });
        float[] input = new float[8 * net.InputLength];
        for (int i = 0; i < input.Length; i++)
            input[i] = (i % 17) / 17f;
        LossFunction loss = Loss;
        net.ComputeGradients(input, 8, loss);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 5; step++)
            net.ComputeGradients(input, 8, loss);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void WrongLengthsAndAMissingSoftmaxAreClearErrors()
    {
        using var net = new LeNet5(new NetworkOptions { Threads = 1 });
        var error = Assert.Throws<ArgumentException>(() => net.ComputeGradients(new float[100], 1, Loss));
        Assert.Contains("1024", error.Message);
        error = Assert.Throws<ArgumentException>(() => net.ComputeGradients(new float[1024], 1, Loss, new float[5]));
        Assert.Contains("1024", error.Message);
        var assembly = Unroll.Tests.Infrastructure.GeneratorHarness.CompileAndLoad("""
            using Unroll;
            [Network(Input = "1x4x4")]
            public partial class NoSoftmax { [Dense(3)] public partial Layer D { get; } }
            """);
        using Network plain = Unroll.Tests.Infrastructure.GeneratorHarness.Create(assembly, "NoSoftmax", new NetworkOptions { Threads = 1 });
        Assert.Throws<InvalidOperationException>(() => plain.ComputeGradients(new float[16], 1, Loss, default, foldOutputSoftmax: true));
    }
}
