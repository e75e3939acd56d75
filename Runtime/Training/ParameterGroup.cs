using System;
using System.Collections.Generic;

namespace Unroll.Training;

/// <summary>
/// A contiguous range of the flat parameter buffer that an optimizer updates with its own settings, usually one
/// tensor (<see cref="TensorInfo.Offset"/>, <see cref="TensorInfo.Length"/>). Values of the buffer outside every
/// group are never touched.
/// </summary>
/// <param name="Name">A unique name, such as <c>C1.weight</c>.</param>
/// <param name="Offset">First float of the range.</param>
/// <param name="Length">Floats in the range (the stored length, padding included).</param>
/// <param name="LearningRateMultiplier">The group's learning rate is the optimizer's times this (finite, at least 0).</param>
/// <param name="WeightDecay">Whether the optimizer's weight decay applies to the group.</param>
/// <param name="Frozen">A frozen group's parameters never change and its optimizer state (buffers, step count) does not advance.</param>
public sealed record ParameterGroup(string Name, int Offset, int Length, double LearningRateMultiplier = 1.0, bool WeightDecay = true, bool Frozen = false)
{
    /// <summary>
    /// One group per parameter tensor of <paramref name="network"/> (named after the tensor, weights before bias, in
    /// layer order), covering each tensor's stored range. Weight decay applies to weights, and to biases only when
    /// <paramref name="decayBiases"/> is true (by default biases are not decayed, the usual practice).
    /// </summary>
    public static IReadOnlyList<ParameterGroup> ForNetwork(NetworkInfo network, bool decayBiases = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        var groups = new List<ParameterGroup>();
        foreach (LayerInfo layer in network.Layers)
        {
            if (layer.Weights is { } w)
                groups.Add(new ParameterGroup(w.Name, w.Offset, w.Length));
            if (layer.Bias is { } b)
                groups.Add(new ParameterGroup(b.Name, b.Offset, b.Length, WeightDecay: decayBiases));
        }
        return groups;
    }

    /// <summary>A single group named <c>all</c> covering <paramref name="length"/> floats from offset 0.</summary>
    public static IReadOnlyList<ParameterGroup> Whole(int length) => [new ParameterGroup("all", 0, length)];
}
