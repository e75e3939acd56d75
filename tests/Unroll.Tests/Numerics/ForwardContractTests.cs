using System;
using System.Linq;
using Unroll.Networks;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Tests that measure process-wide allocations must not overlap other tests: this collection runs on its own,
/// after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial (process-wide measurements)";
}

/// <summary>A fact skipped unless this machine lacks at least one instruction set.</summary>
public sealed class FactWhenSomeIsaIsUnsupportedAttribute : FactAttribute
{
    public FactWhenSomeIsaIsUnsupportedAttribute()
    {
        if (Enum.GetValues<Isa>().All(IsaSupport.IsSupported))
            Skip = "This machine supports every instruction set; there is none to force.";
    }
}

[Collection(SerialCollection.Name)]
public class ForwardContractTests
{
    private readonly ITestOutputHelper _output;

    public ForwardContractTests(ITestOutputHelper output) => _output = output;

    private static float[] Input(int batch)
    {
        var random = new SeededRandom(3);
        float[] x = new float[batch * LeNet5.InputSize];
        for (int i = 0; i < x.Length; i++)
            x[i] = random.Uniform(0f, 1f);
        return x;
    }

    [Fact]
    public void ForwardAllocatesNothingOnOneThread()
    {
        foreach (Isa isa in IsaSupport.Supported())
        {
            using var net = new LeNet5(new NetworkOptions { Isa = isa, Threads = 1 });
            const int batch = 4;
            float[] input = Input(batch), output = new float[batch * LeNet5.OutputSize];
            // Warm-up past the tiered JIT's call counting (30 calls), so that no tier-up happens while measuring:
            // once, under a loaded parallel run, 10 passes measured after a single warm-up call saw an allocation.
            for (int i = 0; i < 100; i++)
                net.Forward(input, output, batch);
            long allocated = long.MaxValue;
            for (int attempt = 0; attempt < 3 && allocated != 0; attempt++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10; i++)
                    net.Forward(input, output, batch);
                allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            _output.WriteLine($"{isa}, 1 thread: {allocated} bytes over 10 forward passes (best of up to 3 attempts)");
            Assert.True(allocated == 0, $"{isa}: Forward allocated {allocated} bytes over 10 calls at Threads = 1.");
        }
    }

    [Fact]
    public void ForwardAllocatesNothingOnTwoThreads()
    {
        // The worker runs on another thread, so the measure is the whole process's allocations. The runner's
        // own threads might allocate meanwhile (this collection runs alone, but not the runner's reporting),
        // so the best of a few attempts counts.
        foreach (Isa isa in IsaSupport.Supported())
        {
            using var net = new LeNet5(new NetworkOptions { Isa = isa, Threads = 2 });
            // Large enough (20 MFLOP) that the batch is really split: smaller batches run on one thread.
            const int batch = 24;
            float[] input = Input(batch), output = new float[batch * LeNet5.OutputSize];
            net.Forward(input, output, batch); // warm-up: the worker pool, both workspaces, JIT
            net.Forward(input, output, batch);
            long best = long.MaxValue;
            for (int attempt = 0; attempt < 5 && best != 0; attempt++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                for (int i = 0; i < 10; i++)
                    net.Forward(input, output, batch);
                best = Math.Min(best, GC.GetTotalAllocatedBytes(precise: true) - before);
            }
            _output.WriteLine($"{isa}, 2 threads: {best} bytes over 10 forward passes (best of up to 5 attempts)");
            Assert.True(best == 0, $"{isa}: Forward allocated {best} bytes (process-wide) over 10 calls at Threads = 2.");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void WrongBufferLengthsThrowWithTheExpectedLength(int batch)
    {
        using var net = new LeNet5(new NetworkOptions { Isa = Isa.Portable, Threads = 1 });
        int inputLength = batch * LeNet5.InputSize, outputLength = batch * LeNet5.OutputSize;
        foreach (int wrong in new[] { inputLength - 1, inputLength + 1, inputLength + LeNet5.InputSize })
        {
            var e = Assert.Throws<ArgumentException>(() => net.Forward(new float[wrong], new float[outputLength], batch));
            Assert.Contains(inputLength.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
            Assert.Equal("input", e.ParamName);
        }
        foreach (int wrong in new[] { outputLength - 1, outputLength + 1, 0 })
        {
            var e = Assert.Throws<ArgumentException>(() => net.Forward(new float[inputLength], new float[wrong], batch));
            Assert.Contains(outputLength.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
            Assert.Equal("output", e.ParamName);
        }
        // A failed call leaves the network usable.
        Assert.Equal(outputLength, net.Predict(new float[inputLength]).Length);
    }

    [Fact]
    public void PredictRejectsAPartialSample()
    {
        using var net = new LeNet5(new NetworkOptions { Isa = Isa.Portable, Threads = 1 });
        foreach (int length in new[] { 1, LeNet5.InputSize - 1, LeNet5.InputSize + 1, 2 * LeNet5.InputSize + 5, 0 })
        {
            var e = Assert.Throws<ArgumentException>(() => net.Predict(new float[length]));
            Assert.Contains(LeNet5.InputSize.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
        }
        Assert.Equal(2 * LeNet5.OutputSize, net.Predict(new float[2 * LeNet5.InputSize]).Length);
    }

    [FactWhenSomeIsaIsUnsupported]
    public void ForcingAnUnsupportedIsaThrows()
    {
        foreach (Isa isa in Enum.GetValues<Isa>().Where(i => !IsaSupport.IsSupported(i)))
            Assert.Throws<NotSupportedException>(() => new LeNet5(new NetworkOptions { Isa = isa }));
    }

    [Fact]
    public void AnUndefinedIsaValueThrowsNotSupported()
    {
        // Runs everywhere, unlike the test above: a value no kernel set exists for is never "supported".
        Assert.Throws<NotSupportedException>(() => new LeNet5(new NetworkOptions { Isa = (Isa)42 }));
    }

    [Fact]
    public void LeNet5HasTheTextbookParameterCount()
    {
        Assert.Equal(61706L, LeNet5.ParameterCount);
        Assert.Equal(61706L, LeNet5.Description.ParameterCount);
        Assert.Equal(61706, LeNet5.Description.Layers.Sum(l => l.ParameterCount));
        // Per layer: (5*5*1 + 1)*6, 0, (5*5*6 + 1)*16, 0, (400 + 1)*120, (120 + 1)*84, (84 + 1)*10.
        Assert.Equal(new[] { 156, 0, 2416, 0, 48120, 10164, 850 }, LeNet5.Description.Layers.Select(l => l.ParameterCount));
        using var net = new LeNet5(new NetworkOptions { Isa = Isa.Portable, Threads = 1 });
        Assert.Equal(61706, net.Layers.Sum(l => l.ParameterCount));
        Assert.Equal(61706, net.Layers.Sum(l => (l.Info.Weights is null ? 0 : l.GetWeights().Length) + (l.Info.Bias is null ? 0 : l.GetBias().Length)));
    }
}
