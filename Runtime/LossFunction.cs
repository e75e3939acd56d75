using System;

namespace Unroll;

/// <summary>
/// A per-sample loss for <see cref="Network.ComputeGradients"/>: given the sample's index in the batch and the
/// network's output, writes dLoss/dOutput into <paramref name="outputGradient"/> (cleared beforehand) and returns the loss.
/// </summary>
/// <param name="sample">Index of the sample in the batch.</param>
/// <param name="output">The network's output for the sample.</param>
/// <param name="outputGradient">Receives dLoss/dOutput.</param>
public delegate float LossFunction(int sample, ReadOnlySpan<float> output, Span<float> outputGradient);
