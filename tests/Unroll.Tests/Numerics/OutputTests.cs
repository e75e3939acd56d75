using System;
using System.Linq;
using Unroll.Data;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Reference;
using Unroll.Training;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Several outputs (<c>[Output]</c>): inference writes the main outputs one after the other and leaves out the layers only
/// auxiliary outputs need (they take no room in its workspace); training returns every output, main then auxiliary, each
/// equal to the reference's value of that layer; the trainer weighs each output's loss.
/// </summary>
public class OutputTests(ITestOutputHelper output)
{
    // Heads: a spatial main output in the middle of the chain (read further on), a softmax main output, and an auxiliary
    // classifier on a branch. Trunk is the same network without the auxiliary branch.
    private const string Source = """
        using Unroll;
        [Network(Input = "3x10x10")]
        public partial class Heads
        {
            [Conv(6, Kernel = 3, Pad = 1), ReLU] public partial Layer Stem { get; }
            [Conv(4, Kernel = 3, Pad = 1), Tanh, Output] public partial Layer Map { get; }
            [MaxPool(2)] public partial Layer Pool { get; }
            [Conv(8, Kernel = 3, From = nameof(Stem)), ReLU] public partial Layer Side { get; }
            [GlobalAvgPool] public partial Layer SidePool { get; }
            [Dense(5), Softmax, Output(Auxiliary = true, LossWeight = 0.3f)] public partial Layer Aux { get; }
            [Dense(5, From = nameof(Pool)), Softmax, Output] public partial Layer Classes { get; }
        }
        [Network(Input = "3x10x10")]
        public partial class Trunk
        {
            [Conv(6, Kernel = 3, Pad = 1), ReLU] public partial Layer Stem { get; }
            [Conv(4, Kernel = 3, Pad = 1), Tanh, Output] public partial Layer Map { get; }
            [MaxPool(2)] public partial Layer Pool { get; }
            [Dense(5), Softmax, Output] public partial Layer Classes { get; }
        }
        """;

    private static readonly Lazy<System.Reflection.Assembly> Assembly = new(() => GeneratorHarness.CompileAndLoad(Source));

    [Fact]
    public void OutputsAreDescribedInOrder()
    {
        using Network net = GeneratorHarness.Create(Assembly.Value, "Heads", new NetworkOptions { Threads = 1 });
        Assert.Equal(new[] { ("Map", 0, false), ("Classes", 400, false), ("Aux", 405, true) },
            net.Info.Outputs.Select(o => (o.Layer, o.Offset, o.Auxiliary)));
        Assert.Equal(0.3f, net.Info.Outputs[2].LossWeight);
        Assert.Equal(405, net.OutputLength);
        Assert.Equal(Shape.Flat(405), net.Info.OutputShape);
        Assert.Equal(410, net.TrainingOutputLength);
        Assert.True(net.EndsInSoftmax is false); // Map is a tanh
        Assert.Contains("Outputs: Map, Classes; auxiliary, training only: Aux (loss weight 0.3)", net.Summary());

        // The auxiliary branch takes no room in the inference workspace: the same as the network without it.
        using Network trunk = GeneratorHarness.Create(Assembly.Value, "Trunk", new NetworkOptions { Threads = 1 });
        Assert.Equal(trunk.Info.WorkspaceLength, net.Info.WorkspaceLength);
        Assert.True(net.Info.TrainingWorkspaceLength > trunk.Info.TrainingWorkspaceLength);
    }

    [Fact]
    public void TheRuntimeInterfaceNamesTheOutputsAndDealsThemOut()
    {
        using Network net = GeneratorHarness.Create(Assembly.Value, "Heads", new NetworkOptions { Threads = 1 });
        INetwork graph = net;
        Assert.Equal("Heads", graph.Name);
        Assert.Equal(new[] { new GraphTensor("input", new Shape(3, 10, 10)) }, graph.Inputs);
        // The auxiliary classifier is training's only: inference has two outputs.
        Assert.Equal(new[] { new GraphTensor("Map", new Shape(4, 10, 10)), new GraphTensor("Classes", Shape.Flat(5)) }, graph.Outputs);
        Assert.Equal(new long[] { 3, 5 }, graph.Outputs[1].Dimensions(3));
        Assert.Equal("Map [N, 4, 10, 10]", graph.Outputs[0].ToString());

        const int batch = 3;
        float[] input = NetworkFixtures.RandomInput(batch * net.InputLength, new SeededRandom(61));
        float[] forward = new float[batch * net.OutputLength];
        net.Forward(input, forward, batch);
        float[][] outputs = graph.Run(input);
        Assert.Equal(2, outputs.Length);
        for (int n = 0; n < batch; n++)
        {
            Assert.Equal(forward.AsSpan(n * 405, 400).ToArray(), outputs[0].AsSpan(n * 400, 400).ToArray());
            Assert.Equal(forward.AsSpan(n * 405 + 400, 5).ToArray(), outputs[1].AsSpan(n * 5, 5).ToArray());
        }

        // Into the caller's arrays, checked before anything runs.
        float[][] mine = [new float[batch * 400], new float[batch * 5]];
        graph.Run([input], mine, batch);
        Assert.Equal(outputs, mine);
        var count = Assert.Throws<ArgumentException>(() => graph.Run(input, input));
        Assert.Equal("The network has 1 input; 2 arrays were given. (Parameter 'inputs')", count.Message);
        var partial = Assert.Throws<ArgumentException>(() => graph.Run(input[..^1]));
        Assert.StartsWith("Input 'input' must hold a whole number of samples of 300 values; it holds 899.", partial.Message);
        var shortOutput = Assert.Throws<ArgumentException>(() => graph.Run([input], [new float[batch * 400], new float[14]], batch));
        Assert.StartsWith("Output 'Classes' must hold batch x 5 = 15 values for batch 3; it holds 14.", shortOutput.Message);
        var wrongBatch = Assert.Throws<ArgumentException>(() => graph.Run([input], mine, 2));
        Assert.StartsWith("Output 'Map' must hold batch x 400 = 800 values for batch 2; it holds 1200.", wrongBatch.Message);
    }

    [Fact]
    public void InferenceAndTrainingOutputsMatchTheReference()
    {
        const int batch = 3;
        foreach (Isa isa in IsaSupport.Supported())
            foreach (int threads in new[] { 1, 2 })
            {
                using Network net = GeneratorHarness.Create(Assembly.Value, "Heads", new NetworkOptions { Isa = isa, Threads = threads, Seed = 4 });
                var random = new SeededRandom(9);
                foreach (Layer layer in net.Layers)
                    if (layer.Info.Bias is not null)
                        layer.SetBias(Enumerable.Range(0, layer.Info.Bias.Count).Select(_ => random.Uniform(-0.3f, 0.3f)).ToArray());
                float[] x = Enumerable.Range(0, batch * net.InputLength).Select(_ => random.Uniform(-1, 1)).ToArray();
                float[] inference = net.Predict(x);
                float[] training = new float[batch * net.TrainingOutputLength];
                net.ComputeGradients(x, batch, (n, y, g) =>
                {
                    y.CopyTo(training.AsSpan(n * y.Length));
                    return 0;
                });

                RefLayer[] layers = RefLayer.FromInfo(net.Info);
                var parameters = ReferenceOps.ToDouble(ReferenceOps.CanonicalParameters(net));
                double worst = 0;
                for (int n = 0; n < batch; n++)
                {
                    RefLayerTrace[] trace = ReferenceOps.Trace(layers, RefTensor.FromData(x.AsSpan(n * net.InputLength, net.InputLength), net.Info.InputShape), parameters);
                    foreach (OutputInfo o in net.Info.Outputs)
                    {
                        RefTensor expected = trace[net.Info.Layers.ToList().FindIndex(l => l.Name == o.Layer)].Output;
                        ReadOnlySpan<float> actual = training.AsSpan(n * net.TrainingOutputLength + o.Offset, o.Length);
                        worst = Math.Max(worst, Tolerance.RelativeToLargest(actual, [expected]));
                        if (!o.Auxiliary)
                            Assert.Equal(actual.ToArray(), inference.AsSpan(n * net.OutputLength + o.Offset, o.Length).ToArray());
                    }
                }
                output.WriteLine($"{isa}, {threads} thread(s): worst output error relative to its largest value {worst:E2}");
                Assert.True(worst < 1e-5, $"{isa}: {worst}");
            }
    }

    [Fact]
    public void TheTrainingLossWeighsEveryOutput()
    {
        // One step of SGD with learning rate 0 reports the loss without changing anything: the mean over the batch of
        // cross-entropy on Classes plus 0.3 times cross-entropy on Aux (Map is a tanh: with classes, trained on its values 0..4).
        var source = Source.Replace("Tanh, Output] public partial Layer Map", "Tanh] public partial Layer Map");
        var assembly = GeneratorHarness.CompileAndLoad(source);
        using Network net = GeneratorHarness.Create(assembly, "Heads", new NetworkOptions { Threads = 1, Seed = 2 });
        Assert.True(net.EndsInSoftmax);
        var random = new SeededRandom(3);
        const int count = 6;
        float[] images = Enumerable.Range(0, count * net.InputLength).Select(_ => random.Uniform(0, 1)).ToArray();
        int[] labels = Enumerable.Range(0, count).Select(i => i % 5).ToArray();
        var data = new Dataset(images, labels, net.Info.InputShape, 5);

        float[] y = new float[count * net.TrainingOutputLength];
        net.ComputeGradients(images, count, (n, o, g) =>
        {
            o.CopyTo(y.AsSpan(n * o.Length));
            return 0;
        });
        double expected = 0;
        for (int n = 0; n < count; n++)
            foreach (OutputInfo o in net.Info.Outputs)
                expected += o.LossWeight * -Math.Log(y[n * net.TrainingOutputLength + o.Offset + labels[n]]);
        expected /= count;

        TrainingHistory history = net.Fit(data, new Sgd(net.Info, 0), new FitOptions { Epochs = 1, BatchSize = count, Progress = null });
        output.WriteLine($"loss {history.Epochs[0].Loss:F6}, expected {expected:F6}");
        Assert.Equal(expected, history.Epochs[0].Loss, 4);
        // Evaluation scores the main output only.
        Evaluation evaluation = net.Evaluate(data);
        double main = Enumerable.Range(0, count).Average(n => -Math.Log(y[n * net.TrainingOutputLength + labels[n]]));
        Assert.Equal(main, evaluation.Loss, 4);
    }
}
