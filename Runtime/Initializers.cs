using System;

namespace Unroll;

/// <summary>A small, fast, seeded random source (SplitMix64) whose sequence never changes between .NET versions.</summary>
public sealed class SeededRandom
{
    private ulong _state;

    /// <summary>Starts the sequence for <paramref name="seed"/>.</summary>
    public SeededRandom(long seed) => _state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + 0x632BE59BD9B4E019UL);

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, <paramref name="n"/>).</summary>
    public int Next(int n) => (int)(NextDouble() * n);

    /// <summary>Uniform in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public float Uniform(float low, float high) => (float)(low + (high - low) * NextDouble());

    /// <summary>Standard normal (Box-Muller).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}

/// <summary>Weight initialisers. Biases start at zero.</summary>
public static class Initializers
{
    /// <summary>Glorot (Xavier) uniform: U(-l, l) with l = sqrt(6 / (fan_in + fan_out)).</summary>
    public static void GlorotUniform(Span<float> weights, int fanIn, int fanOut, SeededRandom random)
    {
        float limit = (float)Math.Sqrt(6.0 / (fanIn + fanOut));
        for (int i = 0; i < weights.Length; i++)
            weights[i] = random.Uniform(-limit, limit);
    }

    /// <summary>He (Kaiming) normal: N(0, 2 / fan_in), the usual start for ReLU layers.</summary>
    public static void HeNormal(Span<float> weights, int fanIn, SeededRandom random)
    {
        double std = Math.Sqrt(2.0 / fanIn);
        for (int i = 0; i < weights.Length; i++)
            weights[i] = (float)(random.NextGaussian() * std);
    }

    /// <summary>Fan-in and fan-out of a canonical weight tensor ([O, I] or [O, I, KH, KW]).</summary>
    public static (int FanIn, int FanOut) Fans(TensorInfo weights)
    {
        int[] s = weights.Shape;
        int receptive = 1;
        for (int i = 2; i < s.Length; i++)
            receptive *= s[i];
        return (s[1] * receptive, s[0] * receptive);
    }
}
