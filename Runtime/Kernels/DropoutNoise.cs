using System.Runtime.CompilerServices;

namespace Unroll.Kernels;

/// <summary>
/// The stateless noise of dropout. Nothing is drawn from a generator that threads would share: every keep-or-drop choice
/// is a hash, so the backward pass recomputes the forward pass's mask, and a sample's mask does not depend on which
/// thread runs it or on the thread count.
/// </summary>
/// <remarks>
/// The contract, level by level (each a SplitMix64 finalisation, <see cref="Mix"/>):
/// <list type="number">
/// <item><see cref="Network.ComputeGradients"/> call number <c>step</c> (<see cref="Network.TrainingStep"/>, which the call
/// then increments) of a network created with seed <c>seed</c> (<see cref="NetworkOptions.Seed"/>) gives sample
/// <c>n</c> of its batch the noise <see cref="SampleNoise"/>(<see cref="SeedNoise"/>(seed), step, n), passed to the
/// generated TrainForward and Backward methods as <c>noise</c>;</item>
/// <item>dropout layer number <c>layer</c> (its index in the network's layers) derives its key
/// <see cref="LayerKey"/>(noise, layer);</item>
/// <item>the value at channel c of position p (row-major over height and width) has index i = p x C + c, and is kept
/// when <see cref="Hash"/>(key, i) &gt;= <see cref="Threshold"/>(rate), which happens with probability 1 - rate (to
/// within 2^-32).</item>
/// </list>
/// The generated vector kernels compute <see cref="Hash"/> lane by lane with the same 32-bit arithmetic, bit for bit.
/// </remarks>
public static class DropoutNoise
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>The SplitMix64 finaliser: a bijection of 64-bit values whose every output bit depends on every input bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The network's noise seed, from its initialisation seed.</summary>
    public static ulong SeedNoise(int seed) => Mix(unchecked((ulong)(long)seed) ^ 0xD1B54A32D192ED03UL);

    /// <summary>The noise of sample <paramref name="sample"/> of the batch of training step <paramref name="step"/>.</summary>
    public static ulong SampleNoise(ulong seedNoise, long step, int sample) =>
        unchecked(Mix(Mix(seedNoise + Golden * ((ulong)step + 1)) + Golden * ((ulong)(uint)sample + 1)));

    /// <summary>The key of layer <paramref name="layer"/> in a sample with noise <paramref name="noise"/>.</summary>
    public static ulong LayerKey(ulong noise, int layer) => unchecked(Mix(noise ^ (Golden * ((ulong)(uint)layer + 1))));

    /// <summary>
    /// The 32-bit hash of value <paramref name="index"/> under <paramref name="key"/>: the index times an odd constant plus
    /// the key's low half, xor its high half, then MurmurHash3's 32-bit finaliser.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash(ulong key, uint index)
    {
        uint h = unchecked((index * 0x9E3779B1u + (uint)key) ^ (uint)(key >> 32));
        h ^= h >> 16;
        h = unchecked(h * 0x85EBCA6Bu);
        h ^= h >> 13;
        h = unchecked(h * 0xC2B2AE35u);
        return h ^ (h >> 16);
    }

    /// <summary>The hash at or above which a value is kept: rate x 2^32, rounded.</summary>
    public static uint Threshold(float rate) => (uint)System.Math.Min(System.Math.Round(rate * 4294967296.0), uint.MaxValue);
}
