using System;
using System.IO;
using Unroll.Onnx;

namespace Unroll.Bench;

/// <summary>
/// Everything one case needs at one thread count, allocated once: the Unroll network (biases made non-zero so that
/// they are checked too, batch normalisations given scales and running statistics other than the identity's), a
/// seeded random input, output arrays for both sides, and on demand the ONNX Runtime peer running the same model with
/// the same weights.
/// </summary>
internal sealed class CaseSetup : IDisposable
{
    private readonly LossFunction _loss = HalfSquaredNorm;

    public CaseSetup(BenchCase benchCase, Isa isa, int threads)
    {
        Case = benchCase;
        Threads = threads;
        Network = benchCase.Create(new NetworkOptions { Isa = isa, Threads = threads, Seed = 1 });
        var random = new SeededRandom(11);
        foreach (Layer layer in benchCase.Model is null ? Network.Layers : [])
        {
            if (layer.Info.Bias is { } bias)
                layer.SetBias(Fill(new float[bias.Count], random, 0.1f));
            if (layer.Info is { Kind: LayerKind.BatchNorm, State: [TensorInfo mean, TensorInfo variance] } norm)
            {
                // gamma in [0.5, 1.5], running mean in [-0.1, 0.1], running variance in [0.5, 1.5] (both stored plain).
                layer.SetWeights(Fill(new float[norm.Weights!.Count], random, 0.5f, 1f));
                Fill(new float[mean.Count], random, 0.1f).CopyTo(Network.Parameters.Slice(mean.Offset, mean.Count));
                Fill(new float[variance.Count], random, 0.5f, 1f).CopyTo(Network.Parameters.Slice(variance.Offset, variance.Count));
            }
        }
        Input = Fill(GC.AllocateArray<float>(Batch * Network.InputLength, pinned: true), new SeededRandom(7), 1f);
        UnrollOutput = GC.AllocateArray<float>(Batch * Network.OutputLength, pinned: true);
        OrtOutput = GC.AllocateArray<float>(Batch * Network.OutputLength, pinned: true);
    }

    public BenchCase Case { get; }
    public int Batch => Case.Batch;
    public int Threads { get; }
    public Network Network { get; }
    public float[] Input { get; }
    public float[] UnrollOutput { get; }
    public float[] OrtOutput { get; }
    public OrtRunner? Ort { get; private set; }

    /// <summary>FLOPs of one call: the forward FLOPs of the batch, three times that for a training step.</summary>
    public double Flops => (double)Network.Info.Flops * Batch * (Case.Training ? 3 : 1);

    /// <summary>One Unroll call: a forward pass, or for a training case forward and backward without the input gradient.</summary>
    public void RunUnroll()
    {
        if (Case.Training)
            Network.ComputeGradients(Input, Batch, _loss);
        else
            Network.Forward(Input, UnrollOutput, Batch);
    }

    /// <summary>Builds the ONNX model of the network's forward pass and an ONNX Runtime session bound to <see cref="Input"/> and <see cref="OrtOutput"/>.</summary>
    public OrtRunner StartOrt()
    {
        Ort?.Dispose();
        // A model file fixes the batch at 1: ONNX Runtime runs it once per sample.
        byte[] model = Case.Model is { } file ? File.ReadAllBytes(file()) : OnnxExport.Build(Network, Batch);
        int calls = Case.Model is null ? 1 : Batch;
        Ort = new OrtRunner(model, Threads, Input, Dims(Network.Info.InputShape, Batch / calls), OrtOutput, Dims(Network.Info.OutputShape, Batch / calls), calls);
        return Ort;
    }

    /// <summary>The dimensions of a batch of <paramref name="shape"/> as the exported model has them.</summary>
    private static long[] Dims(Shape shape, int batch) => shape.IsFlat ? [batch, shape.Channels] : [batch, shape.Channels, shape.Height, shape.Width];

    /// <summary>One ONNX Runtime forward pass.</summary>
    public void RunOrt() => (Ort ?? throw new InvalidOperationException("StartOrt first.")).Run();

    public void Dispose()
    {
        Ort?.Dispose();
        Network.Dispose();
    }

    /// <summary>The loss of a training case: half the squared norm of the output, whose gradient is the output itself.</summary>
    private static float HalfSquaredNorm(int sample, ReadOnlySpan<float> output, Span<float> gradient)
    {
        output.CopyTo(gradient);
        float sum = 0;
        foreach (float y in output)
            sum += y * y;
        return 0.5f * sum;
    }

    /// <summary>Fills <paramref name="values"/> with uniform values in [centre - range, centre + range].</summary>
    private static float[] Fill(float[] values, SeededRandom random, float range, float centre = 0)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = centre + random.Uniform(-range, range);
        return values;
    }
}
