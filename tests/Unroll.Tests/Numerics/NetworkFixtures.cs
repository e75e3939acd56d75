using System;
using System.Collections.Generic;
using System.Reflection;
using Unroll;
using Unroll.Tests.Infrastructure;
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

    /// <summary>The cases of a theory over compiled test networks: each of <paramref name="names"/> on every instruction set this machine runs.</summary>
    public static IEnumerable<object[]> NamesOnEveryIsa(params string[] names)
    {
        foreach (Isa isa in IsaSupport.Supported())
            foreach (string name in names)
                yield return new object[] { name, isa };
    }

    /// <summary>
    /// Creates network <paramref name="name"/> of <paramref name="assembly"/> on <paramref name="isa"/> at 1 and 2 threads,
    /// with random biases and batch normalisations drawn from <paramref name="seed"/>, and checks batch 1 and batch 3 of one
    /// random input against the reference.
    /// </summary>
    public static void AssertMatchesReferenceOnThreadsAndBatches(Assembly assembly, string name, Isa isa, int seed, Func<LayerInfo, float> alpha, ITestOutputHelper output)
    {
        var random = new SeededRandom(seed);
        foreach (int threads in new[] { 1, 2 })
        {
            using Network network = GeneratorHarness.Create(assembly, name, new NetworkOptions { Isa = isa, Threads = threads, Seed = seed + 1 });
            SetRandomBiases(network, new SeededRandom(seed + 2));
            SetRandomNormalisations(network, new SeededRandom(seed + 3));
            float[] input = RandomInput(3 * network.InputLength, random);
            foreach (int batch in new[] { 1, 3 })
                AssertMatchesReference(network, input, batch, $"{name} on {isa}, {threads} thread(s), batch {batch}", alpha, output);
        }
    }

    /// <summary>The slopes the test networks declare: 0.1 for a LeakyReLU, the reference's 0.01 for any other layer.</summary>
    public static float LeakyAlpha(LayerInfo layer) => layer.Activation == Activation.LeakyReLU ? 0.1f : 0.01f;

    /// <summary>A generated method from <paramref name="signature"/> (its first occurrence from <paramref name="from"/> on) up to the next method's signature.</summary>
    public static string GeneratedMethod(string generated, string signature, int from = 0)
    {
        int start = generated.IndexOf(signature, from, StringComparison.Ordinal);
        Assert.True(start >= 0, $"No {signature}.");
        int end = generated.IndexOf(" static void ", start + signature.Length, StringComparison.Ordinal);
        return generated.Substring(start, (end < 0 ? generated.Length : end) - start);
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
