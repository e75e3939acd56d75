using System;
using System.Linq;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Training;

/// <summary>
/// Batch normalisation: training normalises with the batch's statistics (checked against the formula in double), updates
/// the running averages with the momentum, and inference normalises with them; the generated backward pass, which
/// reduces over the batch between segments, agrees with finite differences of the training-mode loss, on every ISA and
/// with the same bits on one and two threads.
/// </summary>
public class BatchNormTests(ITestOutputHelper output)
{
    private const string Alone = """
        using Unroll;
        [Network(Input = "3x4x5")]
        public partial class G { [BatchNorm(Epsilon = 1e-3f, Momentum = 0.25f)] public partial Layer B { get; } }
        """;

    [Fact]
    public void TrainingNormalisesWithTheBatchStatistics()
    {
        var assembly = GeneratorHarness.CompileAndLoad(Alone);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = GeneratorHarness.Create(assembly, "G", new NetworkOptions { Isa = isa, Threads = 1 });
            var random = new SeededRandom(7);
            float[] gamma = [1.5f, -0.5f, 2f], beta = [0.1f, 0.2f, -0.3f];
            net.Layers[0].SetWeights(gamma);
            net.Layers[0].SetBias(beta);
            const int batch = 3, channels = 3, pixels = 20;
            float[] x = Enumerable.Range(0, batch * net.InputLength).Select(_ => random.Uniform(-2f, 3f)).ToArray();
            float[] y = new float[x.Length];
            net.ComputeGradients(x, batch, (n, o, g) =>
            {
                o.CopyTo(y.AsSpan(n * net.OutputLength));
                return 0;
            });
            for (int c = 0; c < channels; c++)
            {
                double sum = 0, squares = 0;
                for (int n = 0; n < batch; n++)
                    for (int p = 0; p < pixels; p++)
                        sum += x[n * 60 + c * pixels + p];
                double mean = sum / (batch * pixels);
                for (int n = 0; n < batch; n++)
                    for (int p = 0; p < pixels; p++)
                        squares += Math.Pow(x[n * 60 + c * pixels + p] - mean, 2);
                double variance = squares / (batch * pixels);
                for (int n = 0; n < batch; n++)
                    for (int p = 0; p < pixels; p++)
                    {
                        int i = n * 60 + c * pixels + p;
                        double expected = gamma[c] * (x[i] - mean) / Math.Sqrt(variance + 1e-3) + beta[c];
                        Assert.True(Math.Abs(y[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"{isa} y[{i}] = {y[i]}, expected {expected}");
                    }
                // Running averages after one step from (0, 1) with momentum 0.25; the variance unbiased.
                TensorInfo runningMean = net.Info.Layers[0].State![0], runningVariance = net.Info.Layers[0].State![1];
                Assert.Equal(0.25 * mean, net.Parameters[runningMean.Offset + c], 5);
                Assert.Equal(0.75 + 0.25 * variance * 60 / 59, net.Parameters[runningVariance.Offset + c], 5);
            }
        }
    }

    [Fact]
    public void InferenceNormalisesWithTheRunningStatistics()
    {
        var assembly = GeneratorHarness.CompileAndLoad(Alone);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = GeneratorHarness.Create(assembly, "G", new NetworkOptions { Isa = isa, Threads = 1 });
            float[] gamma = [1.5f, -0.5f, 2f], beta = [0.1f, 0.2f, -0.3f], mean = [0.5f, -1f, 2f], variance = [4f, 0.25f, 1f];
            net.Layers[0].SetWeights(gamma);
            net.Layers[0].SetBias(beta);
            // Running statistics, as a weight file would load them.
            TensorInfo[] state = net.Info.Layers[0].State!.ToArray();
            mean.CopyTo(net.Parameters.Slice(state[0].Offset));
            variance.CopyTo(net.Parameters.Slice(state[1].Offset));
            var random = new SeededRandom(3);
            float[] x = Enumerable.Range(0, 2 * net.InputLength).Select(_ => random.Uniform(-2f, 3f)).ToArray();
            float[] y = net.Predict(x);
            for (int i = 0; i < x.Length; i++)
            {
                int c = i % 60 / 20;
                double expected = gamma[c] * (x[i] - mean[c]) / Math.Sqrt(variance[c] + 1e-3) + beta[c];
                Assert.True(Math.Abs(y[i] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"{isa} y[{i}] = {y[i]}, expected {expected}");
            }
        }
    }

    /// <summary>Residual blocks with batch normalisation, a batch normalisation on the input and one on a flat vector.</summary>
    [Theory]
    [InlineData("[Conv(4, Kernel = 3, Pad = 1, Bias = false)] public partial Layer A { get; } [BatchNorm, Tanh] public partial Layer BA { get; } [Conv(4, Kernel = 3, Pad = 1, Bias = false)] public partial Layer B { get; } [BatchNorm] public partial Layer BB { get; } [Add(Layer.NetworkInput), Tanh] public partial Layer S { get; } [GlobalAvgPool] public partial Layer P { get; } [Dense(3)] public partial Layer D { get; }", "4x5x5")]
    [InlineData("[BatchNorm(Momentum = 0.5f)] public partial Layer B0 { get; } [Conv(5, Kernel = 3, Stride = 2), Sigmoid] public partial Layer A { get; } [Dense(6)] public partial Layer D { get; } [BatchNorm, Tanh] public partial Layer BD { get; } [Dense(2)] public partial Layer E { get; }", "2x6x6")]
    // An auxiliary output in the first segment, a main one in the last: both gradients enter before the backward segments.
    [InlineData("[Conv(4, Kernel = 3, Pad = 1)] public partial Layer A { get; } [BatchNorm, Tanh] public partial Layer N { get; } [GlobalAvgPool] public partial Layer P { get; } [Dense(2), Output(Auxiliary = true, LossWeight = 0.3f)] public partial Layer Q { get; } [Conv(3, Kernel = 3, From = nameof(N))] public partial Layer B { get; } [BatchNorm, Tanh] public partial Layer M { get; } [Dense(3), Output] public partial Layer D { get; }", "2x5x5")]
    public void FiniteDifferencesOfTheTrainingLossAgree(string layers, string input)
    {
        var assembly = GeneratorHarness.CompileAndLoad($$"""
            using Unroll;
            [Network(Input = "{{input}}")]
            public partial class G { {{layers}} }
            """);
        const int batch = 8;
        float[]? reference = null;
        foreach (Isa isa in IsaSupport.Supported())
            foreach (int threads in new[] { 1, 2 })
            {
                using Network net = GeneratorHarness.Create(assembly, "G", new NetworkOptions { Isa = isa, Threads = threads, Seed = 3 });
                var random = new SeededRandom(5);
                foreach (Layer layer in net.Layers)
                    if (layer.Info.Bias is not null)
                        layer.SetBias(Enumerable.Range(0, layer.Info.Bias.Count).Select(_ => random.Uniform(-0.3f, 0.3f)).ToArray());
                float[] x = Enumerable.Range(0, batch * net.InputLength).Select(_ => random.Uniform(-1, 1)).ToArray();
                float[] r = Enumerable.Range(0, batch * net.TrainingOutputLength).Select(_ => random.Uniform(-1, 1)).ToArray();
                float[] dx = new float[x.Length];
                double Loss(float[]? inputGradient = null) => net.ComputeGradients(x, batch, (n, y, g) =>
                {
                    double l = 0;
                    for (int i = 0; i < y.Length; i++)
                    {
                        g[i] = r[n * y.Length + i];
                        l += (double)y[i] * g[i];
                    }
                    return (float)l;
                }, inputGradient);
                Loss(dx);
                float[] grads = net.Gradients.ToArray();
                if (threads == 2)
                {
                    // Two threads reduce the batch's sums in part order: the same bits every time.
                    Loss(dx);
                    Assert.Equal(grads, net.Gradients.ToArray());
                }
                else if (isa == IsaSupport.Supported().Last())
                    reference = grads;
                if (threads == 2)
                    continue;

                // Steps larger than the float loss's noise over them (the loss sums every sample's outputs in float); every
                // function here is smooth. The batch statistics make every output depend on every sample, so the forward
                // pass's rounding reaches the loss from all of them: the two steps may differ by a few 1e-4 without any kink.
                var check = new FiniteDifferences(() => Loss(), 4e-3f, 1, isa.ToString());
                foreach (LayerInfo layer in net.Info.Layers)
                    foreach (TensorInfo tensor in new[] { layer.Weights, layer.Bias }.OfType<TensorInfo>())
                    {
                        int[] map = TensorLayouts.StorageIndices(tensor);
                        for (int k = 0; k < Math.Min(tensor.Count, 20); k++)
                        {
                            int index = tensor.Offset + map[(k * 7919) % tensor.Count];
                            check.Compare($"{tensor.Name}[{k}]", () => net.Parameters[index], v => net.Parameters[index] = v, grads[index]);
                        }
                    }
                for (int k = 0; k < x.Length; k += 3)
                    check.Compare($"input[{k}]", () => x[k], v => x[k] = v, dx[k]);
                check.AssertFewSkipped();
                output.WriteLine($"{isa}: {check.Checked} coordinates checked, {check.Skipped} skipped, worst relative error {check.Worst:E2}");
            }
        Assert.NotNull(reference);
    }
}
