using System;
using Unroll;

namespace Unroll.Tests.Numerics;

/// <summary>Seeded parameters and inputs for tests that run whole networks.</summary>
internal static class NetworkFixtures
{
    /// <summary>Replaces every bias with values in +-0.3, so that the bias path is exercised.</summary>
    public static void SetRandomBiases(Network network, SeededRandom random)
    {
        foreach (Layer layer in network.Layers)
            if (layer.Info.Bias is not null)
            {
                float[] bias = new float[layer.Info.Bias.Count];
                for (int i = 0; i < bias.Length; i++)
                    bias[i] = random.Uniform(-0.3f, 0.3f);
                layer.SetBias(bias);
            }
    }

    /// <summary>
    /// Gives every batch normalisation a scale in [0.5, 1.5], a running mean in +-0.3 and a running variance in [0.5, 1.5]
    /// (its shift is a bias: see <see cref="SetRandomBiases"/>), so that its statistics are not the identity's.
    /// </summary>
    public static void SetRandomNormalisations(Network network, SeededRandom random)
    {
        foreach (Layer layer in network.Layers)
            if (layer.Info is { Kind: LayerKind.BatchNorm, Weights: { } scale, State: [TensorInfo mean, TensorInfo variance] })
                foreach ((TensorInfo tensor, float low, float high) in new[] { (scale, 0.5f, 1.5f), (mean, -0.3f, 0.3f), (variance, 0.5f, 1.5f) })
                {
                    // Plain tensors: canonical order, so the stored values are written directly.
                    Span<float> values = network.Parameters.Slice(tensor.Offset, tensor.Count);
                    for (int i = 0; i < values.Length; i++)
                        values[i] = random.Uniform(low, high);
                }
    }

    /// <summary>Values in +-1.</summary>
    public static float[] RandomInput(int length, SeededRandom random)
    {
        float[] input = new float[length];
        for (int i = 0; i < input.Length; i++)
            input[i] = random.Uniform(-1f, 1f);
        return input;
    }
}
