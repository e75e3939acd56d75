using System;
using System.Collections.Generic;

namespace Unroll;

/// <summary>
/// What every compiled network is from the outside, whichever front end declared it (attributes or
/// <see cref="OnnxNetworkAttribute"/>): named inputs and outputs with their shapes, and a run on float arrays given in graph
/// order. Code that loads, serves or compares models can take this interface and not care which class it holds.
/// </summary>
/// <remarks>
/// Every array holds a batch of samples, one after the other, each in C, H, W order (or its features, for a flat tensor):
/// <see cref="GraphTensor.Length"/> values per sample. The batch is the leading dimension of <see cref="GraphTensor.Dimensions"/>.
/// </remarks>
public interface INetwork : IDisposable
{
    /// <summary>The network's name (its class name).</summary>
    string Name { get; }

    /// <summary>The inputs in graph order: their names (the ONNX graph's own for an imported model) and per-sample shapes.</summary>
    IReadOnlyList<GraphTensor> Inputs { get; }

    /// <summary>
    /// The outputs inference computes (auxiliary training outputs left out), in the order their layers run, which is the
    /// declaration order; named like <see cref="Inputs"/> (an attribute-declared network names them after their layers).
    /// </summary>
    IReadOnlyList<GraphTensor> Outputs { get; }

    /// <summary>
    /// Runs the graph on one array per input (in the order of <see cref="Inputs"/>), each holding the same whole number of
    /// samples, and returns one new array per output (in the order of <see cref="Outputs"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The number of arrays is not the number of inputs, or their lengths are not one batch.</exception>
    float[][] Run(params float[][] inputs);

    /// <summary>
    /// Runs the graph on <paramref name="batch"/> samples into arrays the caller owns: <paramref name="outputs"/> holds one
    /// array of batch x <see cref="GraphTensor.Length"/> values per output. With one output it allocates nothing once the
    /// network has run at that thread count.
    /// </summary>
    /// <exception cref="ArgumentException">An array count or length does not match; the message names the expected length.</exception>
    void Run(IReadOnlyList<float[]> inputs, IReadOnlyList<float[]> outputs, int batch);
}

/// <summary>One named tensor at the boundary of a network: its name and the shape of one sample.</summary>
/// <param name="Name">The name: the ONNX graph's name of the value, or for an attribute-declared network the layer's (the input is "input").</param>
/// <param name="Shape">The shape of one sample.</param>
public sealed record GraphTensor(string Name, Shape Shape)
{
    /// <summary>Values of one sample.</summary>
    public int Length => Shape.Length;

    /// <summary>The dimensions of a batch as ONNX writes them: [batch, C, H, W], or [batch, features] for a flat tensor.</summary>
    public long[] Dimensions(int batch) => Shape.IsFlat
        ? [batch, Shape.Channels]
        : [batch, Shape.Channels, Shape.Height, Shape.Width];

    /// <summary><c>name [N, C, H, W]</c> with the sizes written out.</summary>
    public override string ToString() => Shape.IsFlat
        ? FormattableString.Invariant($"{Name} [N, {Shape.Channels}]")
        : FormattableString.Invariant($"{Name} [N, {Shape.Channels}, {Shape.Height}, {Shape.Width}]");
}
