using System;
using System.Linq;
using Unroll.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Unroll.Tests.Training;

/// <summary>Generated backward passes against central finite differences of the generated forward pass, on every ISA.</summary>
public class BackwardFiniteDifferenceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("[Conv(5, Kernel = 3, Pad = 1), Tanh] public partial Layer A { get; } [MaxPool(2, Stride = 2)] public partial Layer B { get; } [Conv(4, Kernel = 2, Stride = 2), Sigmoid] public partial Layer C { get; } [Dense(3), Tanh] public partial Layer D { get; }", "2x8x8")]
    [InlineData("[AvgPool(3, Stride = 2, Pad = 1)] public partial Layer A { get; } [Conv(17, KernelHeight = 3, KernelWidth = 2, Stride = 2, Padding = Padding.Same), LeakyReLU(0.2f)] public partial Layer B { get; } [Tanh] public partial Layer T { get; } [Dense(6), Softmax] public partial Layer D { get; }", "3x9x7")]
    [InlineData("[Conv(4, Kernel = 3), ReLU] public partial Layer A { get; } [AvgPool(2, Pad = 1, CountIncludePad = true)] public partial Layer P { get; } [Dense(3), Softmax] public partial Layer D { get; }", "1x6x6")]
    [InlineData("[Conv(3, Kernel = 3, Pad = 1, Bias = false)] public partial Layer A { get; }", "2x5x5")]
    [InlineData("[Dense(4), Tanh] public partial Layer A { get; } [Dense(2)] public partial Layer B { get; }", "2x3x3")]
    [InlineData("[Sigmoid] public partial Layer T { get; } [Dense(4, Bias = false)] public partial Layer A { get; }", "2x3x3")]
    [InlineData("[MaxPool(2)] public partial Layer P { get; } [Conv(3, Kernel = 2)] public partial Layer A { get; }", "2x6x6")]
    // Graphs: a residual block over the network's input, an Inception-like concatenation of three branches, a tensor read
    // by three layers (convolution, pooling) whose gradients add, and flat branches from the input concatenated.
    [InlineData("[Conv(6, Kernel = 3, Pad = 1), ReLU] public partial Layer A { get; } [Conv(6, Kernel = 3, Pad = 1)] public partial Layer B { get; } [Add(Layer.NetworkInput), Tanh] public partial Layer S { get; } [GlobalAvgPool] public partial Layer P { get; } [Dense(3), Softmax] public partial Layer D { get; }", "6x5x5")]
    [InlineData("[Conv(5, Kernel = 1), Tanh] public partial Layer B1 { get; } [Conv(4, Kernel = 3, Pad = 1, From = Layer.NetworkInput), Tanh] public partial Layer B2 { get; } [MaxPool(3, Stride = 1, Pad = 1, From = Layer.NetworkInput)] public partial Layer B3a { get; } [Conv(3, Kernel = 1), Sigmoid] public partial Layer B3 { get; } [Concat(nameof(B1), nameof(B2), nameof(B3))] public partial Layer M { get; } [GlobalAvgPool] public partial Layer P { get; } [Dense(4), Tanh] public partial Layer D { get; }", "3x6x6")]
    [InlineData("[Conv(4, Kernel = 3, Pad = 1), Tanh] public partial Layer A { get; } [Conv(4, Kernel = 3, Pad = 1), Tanh] public partial Layer B { get; } [Conv(4, Kernel = 1, From = nameof(A)), Tanh] public partial Layer C { get; } [AvgPool(2, From = nameof(A))] public partial Layer Q { get; } [Conv(4, Kernel = 1)] public partial Layer Q2 { get; } [Add(nameof(B), nameof(C))] public partial Layer S { get; } [MaxPool(2)] public partial Layer S2 { get; } [Add(nameof(Q2)), Sigmoid] public partial Layer T { get; } [Dense(3)] public partial Layer D { get; }", "2x6x6")]
    [InlineData("[Dense(4, From = Layer.NetworkInput), Tanh] public partial Layer A { get; } [Dense(3, From = Layer.NetworkInput), Sigmoid] public partial Layer B { get; } [Concat(nameof(A), nameof(B))] public partial Layer C { get; } [Dense(2)] public partial Layer D { get; }", "2x3x3")]
    // Local response normalisation (odd and even windows, channels across a vector, on the input and fused with an activation),
    // zero padding (on the input, before a convolution and with a sigmoid that makes its border 0.5), and both in a graph
    // whose gradients meet.
    [InlineData("[LRN(Size = 5, Alpha = 0.5f, Beta = 0.75f, K = 1f)] public partial Layer N { get; } [Conv(3, Kernel = 2), Tanh] public partial Layer A { get; } [LRN(Size = 2, Alpha = 1f, Beta = 0.6f, K = 2f), Tanh] public partial Layer M { get; } [Dense(3)] public partial Layer D { get; }", "19x3x3")]
    [InlineData("[ZeroPad(1, Right = 2)] public partial Layer Z { get; } [Conv(4, Kernel = 3), Tanh] public partial Layer A { get; } [ZeroPad(Top = 2, Left = 1), Sigmoid] public partial Layer Y { get; } [Dense(3)] public partial Layer D { get; }", "2x4x3")]
    [InlineData("[Conv(5, Kernel = 3), Tanh] public partial Layer A { get; } [ZeroPad(1)] public partial Layer Z { get; } [LRN(Size = 3, Alpha = 1f, K = 1f, From = nameof(A))] public partial Layer N { get; } [ZeroPad(1)] public partial Layer Z2 { get; } [Add(nameof(Z))] public partial Layer S { get; } [Dense(2), Tanh] public partial Layer D { get; }", "2x5x5")]
    // Clips: fused into a convolution, a dense layer, a sum and a zero padding (whose border is the clip of 0, 0.1 here),
    // and stand-alone with one side open; the bounds lie inside the values, so some values are held at each.
    [InlineData("[Conv(4, Kernel = 3, Pad = 1), Clip(-0.3f, 0.4f)] public partial Layer A { get; } [Clip(float.NegativeInfinity, 0.25f)] public partial Layer T { get; } [Dense(5), Clip(-0.5f, 0.5f)] public partial Layer D { get; } [Dense(3)] public partial Layer E { get; }", "2x5x5")]
    [InlineData("[Conv(4, Kernel = 3, Pad = 1), Clip(0f, 6f)] public partial Layer A { get; } [Conv(4, Kernel = 3, Pad = 1)] public partial Layer B { get; } [Add(nameof(A)), Clip(-0.4f, float.PositiveInfinity)] public partial Layer S { get; } [ZeroPad(1), Clip(0.1f, 0.5f)] public partial Layer Z { get; } [Dense(3)] public partial Layer D { get; }", "3x4x4")]
    public void FiniteDifferencesAgree(string layers, string input) => Check(layers, input, trainingLoss: false);

    /// <summary>
    /// Dropout: the loss is the training-mode loss (ComputeGradients), whose masks change every step; setting
    /// <see cref="Network.TrainingStep"/> back to 0 before every call gives every call of the check the same masks, so the
    /// loss is a fixed function of the weights and input, and finite differences of it make sense.
    /// </summary>
    [Theory]
    [InlineData("[Conv(5, Kernel = 3, Pad = 1), Tanh] public partial Layer A { get; } [Dropout(0.4f)] public partial Layer P { get; } [Conv(3, Kernel = 2), Tanh] public partial Layer B { get; } [Dropout(0.25f)] public partial Layer Q { get; } [Dense(3)] public partial Layer D { get; }", "2x5x5")]
    [InlineData("[Dropout(0.5f)] public partial Layer P { get; } [Dense(6), Tanh] public partial Layer A { get; } [Dropout(0.2f)] public partial Layer Q { get; } [Dense(4, From = nameof(P)), Tanh] public partial Layer B { get; } [Concat(nameof(Q), nameof(B))] public partial Layer C { get; } [Dense(2)] public partial Layer D { get; }", "3x3x3")]
    [InlineData("[Conv(4, Kernel = 3, Pad = 1), Tanh] public partial Layer A { get; } [Dropout(0.3f)] public partial Layer P { get; } [Tanh] public partial Layer T { get; } [Add(nameof(A))] public partial Layer S { get; } [LRN(Size = 3, Alpha = 1f, K = 1f)] public partial Layer N { get; } [Dense(3), Softmax] public partial Layer D { get; }", "3x4x4")]
    // Several outputs: an auxiliary output that later layers read too (its gradient is the loss's plus theirs) and an
    // auxiliary branch that inference leaves out; two main outputs, a spatial one in the middle of the chain and a softmax.
    [InlineData("[Conv(4, Kernel = 3, Pad = 1), Tanh, Output(Auxiliary = true, LossWeight = 0.5f)] public partial Layer A { get; } [MaxPool(2)] public partial Layer B { get; } [Dense(3), Sigmoid, Output] public partial Layer C { get; } [Conv(2, Kernel = 1, From = nameof(A)), Tanh] public partial Layer D { get; } [Dense(2), Output(Auxiliary = true, LossWeight = 2f)] public partial Layer E { get; }", "2x4x4")]
    [InlineData("[Conv(5, Kernel = 3, Pad = 1), Tanh, Output] public partial Layer A { get; } [GlobalAvgPool] public partial Layer B { get; } [Dense(4), Softmax, Output] public partial Layer C { get; }", "3x5x5")]
    public void FiniteDifferencesOfTheTrainingLossAgree(string layers, string input) => Check(layers, input, trainingLoss: true);

    /// <summary>
    /// Affine layers (ONNX's Mul, Add and Sub with constants: per channel, per value, one value) with and without a fused
    /// activation, a Split's channel-picking convolutions and the negation of a Sub of two computed tensors.
    /// </summary>
    [Fact]
    public void FiniteDifferencesOfAffineLayersAgree()
    {
        var random = new SeededRandom(7);
        float[] Random(int n, float low, float high) => Enumerable.Range(0, n).Select(_ => random.Uniform(low, high)).ToArray();
        byte[] model = new global::Unroll.Onnx.OnnxModelBuilder("affine")
            .AddInput("x", ["N", 4, 4, 5])
            .AddOutput("y", ["N", 2, 4, 5])
            .AddInitializer("scale", [4, 1, 1], Random(4, 0.5f, 1.5f))
            .AddInitializer("mean", [1, 4, 4, 5], Random(80, -0.5f, 0.5f))
            .AddInitializer("split", [2], new long[] { 2, 2 })
            .AddInitializer("shift", [], [0.3f])
            .AddInitializer("full", [2, 4, 5], Random(40, -1f, 1f))
            .AddNode("Mul", ["x", "scale"], ["scaled"])
            .AddNode("Tanh", ["scaled"], ["t"])
            .AddNode("Sub", ["t", "mean"], ["centred"])
            .AddNode("Split", ["centred", "split"], ["a", "b"], global::Unroll.Onnx.OnnxAttribute.Int("axis", 1))
            .AddNode("Sub", ["a", "b"], ["d"])
            .AddNode("Add", ["d", "shift"], ["e"])
            .AddNode("Sigmoid", ["e"], ["s"])
            .AddNode("Mul", ["s", "full"], ["y"])
            .ToArray();
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"unroll-affine-{Environment.ProcessId}.onnx");
        System.IO.File.WriteAllBytes(path, model);
        try
        {
            var assembly = GeneratorHarness.CompileAndLoad("using Unroll; [OnnxNetwork(\"unroll-affine-" + Environment.ProcessId + ".onnx\")] public partial class G { }", new[] { path });
            Check(assembly, "affine layers", trainingLoss: false, load: net => net.GetType().GetMethod("LoadOnnx", new[] { typeof(string) })!.Invoke(net, new object[] { path }));
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    private void Check(string layers, string input, bool trainingLoss)
    {
        var assembly = GeneratorHarness.CompileAndLoad($$"""
            using Unroll;
            [Network(Input = "{{input}}")]
            public partial class G { {{layers}} }
            """);
        Check(assembly, layers, trainingLoss);
    }

    private void Check(System.Reflection.Assembly assembly, string layers, bool trainingLoss, Action<Network>? load = null)
    {
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = GeneratorHarness.Create(assembly, "G", new NetworkOptions { Isa = isa, Threads = 1, Seed = 3 });
            load?.Invoke(net);
            var random = new SeededRandom(5);
            foreach (Layer layer in net.Layers)
                if (layer.Info.Bias is not null)
                    layer.SetBias(Enumerable.Range(0, layer.Info.Bias.Count).Select(_ => random.Uniform(-0.3f, 0.3f)).ToArray());
            int batch = 2;
            float[] x = Enumerable.Range(0, batch * net.InputLength).Select(_ => random.Uniform(-1, 1)).ToArray();
            float[] r = Enumerable.Range(0, batch * net.TrainingOutputLength).Select(_ => random.Uniform(-1, 1)).ToArray();
            double Loss()
            {
                if (trainingLoss)
                {
                    net.TrainingStep = 0;
                    return net.ComputeGradients(x, batch, (n, y, g) =>
                    {
                        double l = 0;
                        for (int i = 0; i < y.Length; i++)
                            l += (double)y[i] * r[n * y.Length + i];
                        return (float)l;
                    });
                }
                float[] y = net.Predict(x);
                double s = 0;
                for (int i = 0; i < y.Length; i++)
                    s += (double)y[i] * r[i];
                return s;
            }
            float[] dx = new float[x.Length];
            net.TrainingStep = 0;
            net.ComputeGradients(x, batch, (n, y, g) =>
            {
                float l = 0;
                for (int i = 0; i < y.Length; i++)
                {
                    g[i] = r[n * y.Length + i];
                    l += y[i] * g[i];
                }
                return l;
            }, dx);
            float[] grads = net.Gradients.ToArray();
            // The training loss is summed in float per sample: larger steps keep its rounding far below the differences.
            var check = new FiniteDifferences(Loss, trainingLoss ? 4e-3f : 1e-3f, 1e-1, $"{layers} | {isa}");
            foreach (TensorInfo tensor in net.Info.Tensors)
            {
                int[] map = TensorLayouts.StorageIndices(tensor);
                for (int k = 0; k < Math.Min(tensor.Count, 25); k++)
                {
                    int index = tensor.Offset + map[(k * 7919) % tensor.Count];
                    check.Compare($"{tensor.Name}[{k}]", () => net.Parameters[index], v => net.Parameters[index] = v, grads[index]);
                }
            }
            for (int k = 0; k < x.Length; k += 5)
                check.Compare($"input[{k}]", () => x[k], v => x[k] = v, dx[k]);
            check.AssertFewSkipped();
            output.WriteLine($"{isa}: {check.Checked} coordinates checked, {check.Skipped} skipped at kinks, worst relative error {check.Worst:E2}");
        }
    }
}
