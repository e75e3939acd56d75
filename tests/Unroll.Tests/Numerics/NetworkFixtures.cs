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

    /// <summary>Values in +-1.</summary>
    public static float[] RandomInput(int length, SeededRandom random)
    {
        float[] input = new float[length];
        for (int i = 0; i < input.Length; i++)
            input[i] = random.Uniform(-1f, 1f);
        return input;
    }
}
