using System;
using System.Collections.Generic;
using Unroll;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

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

    /// <summary>
    /// Runs the first <paramref name="batch"/> samples of <paramref name="input"/> through the network and asserts every
    /// output is within the tolerance of the reference; writes the worst error, as a fraction of the tolerance, to the log.
    /// </summary>
    public static void AssertMatchesReference(Network network, float[] input, int batch, string what, Func<LayerInfo, float> alpha, ITestOutputHelper output)
    {
        float[] actual = new float[batch * network.OutputLength];
        network.Forward(input.AsSpan(0, batch * network.InputLength), actual, batch);
        RefTensor[] reference = ReferenceOps.Run(network, input.AsSpan(0, batch * network.InputLength), batch, alpha);
        var lines = new List<string>();
        Assert.True(Tolerance.Mismatches(actual, reference, lines) == 0, $"{what}:\n{string.Join("\n", lines)}");
        output.WriteLine($"{what}: worst error {Tolerance.WorstRatio(actual, reference):F3} of the tolerance.");
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
