using System;

namespace Unroll;

/// <summary>
/// One layer of a network instance: its compile-time description and views of its parameters.
/// Weights are read and written in canonical order ([O, I, KH, KW] for convolutions, [O, I] for
/// dense layers with inputs in C, H, W order); the network stores them packed for its kernels.
/// </summary>
public sealed class Layer
{
    /// <summary>
    /// The name by which a layer attribute's <see cref="LayerAttribute.From"/> (or a merge) refers to the network's input;
    /// no layer may take it.
    /// </summary>
    public const string NetworkInput = "input";

    private readonly Network _network;

    internal Layer(Network network, LayerInfo info, int index)
    {
        _network = network;
        Info = info;
        Index = index;
    }

    /// <summary>Compile-time description.</summary>
    public LayerInfo Info { get; }

    /// <summary>Position in execution order.</summary>
    public int Index { get; }

    /// <summary>Layer name.</summary>
    public string Name => Info.Name;

    /// <summary>Shape of one sample's output.</summary>
    public Shape OutputShape => Info.OutputShape;

    /// <summary>Trainable parameters of the layer.</summary>
    public int ParameterCount => Info.ParameterCount;

    /// <summary>The weights in canonical order (a copy).</summary>
    /// <exception cref="InvalidOperationException">The layer has no weights.</exception>
    public float[] GetWeights() => Read(Info.Weights ?? throw NoTensor("weights"));

    /// <summary>Replaces the weights, given in canonical order.</summary>
    /// <exception cref="ArgumentException">The length is not the weight count.</exception>
    public void SetWeights(ReadOnlySpan<float> values) => Write(Info.Weights ?? throw NoTensor("weights"), values);

    /// <summary>The bias (a copy).</summary>
    /// <exception cref="InvalidOperationException">The layer has no bias.</exception>
    public float[] GetBias() => Read(Info.Bias ?? throw NoTensor("bias"));

    /// <summary>Replaces the bias.</summary>
    /// <exception cref="ArgumentException">The length is not the bias count.</exception>
    public void SetBias(ReadOnlySpan<float> values) => Write(Info.Bias ?? throw NoTensor("bias"), values);

    /// <summary>The stored (packed, padded) weights; see <see cref="TensorLayout"/> for the order. Taking it counts as a change of the parameters, like <see cref="Network.Parameters"/>.</summary>
    public Span<float> StoredWeights => Info.Weights is { } w ? _network.Parameters.Slice(w.Offset, w.Length) : Span<float>.Empty;

    /// <summary>The stored bias, padded with zeros to a multiple of 16. Taking it counts as a change of the parameters, like <see cref="Network.Parameters"/>.</summary>
    public Span<float> StoredBias => Info.Bias is { } b ? _network.Parameters.Slice(b.Offset, b.Length) : Span<float>.Empty;

    private float[] Read(TensorInfo tensor)
    {
        float[] result = new float[tensor.Count];
        TensorLayouts.ToCanonical(tensor, _network.StoredParameters.Slice(tensor.Offset, tensor.Length), result);
        return result;
    }

    private void Write(TensorInfo tensor, ReadOnlySpan<float> values)
    {
        if (values.Length != tensor.Count)
            throw new ArgumentException($"Layer '{Name}' tensor '{tensor.Name}' {tensor.ShapeText} takes {tensor.Count} values, got {values.Length}.", nameof(values));
        TensorLayouts.ToStorage(tensor, values, _network.Parameters.Slice(tensor.Offset, tensor.Length));
    }

    private InvalidOperationException NoTensor(string what) => new($"Layer '{Name}' ({Info.Kind}) has no {what}.");

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Info.Kind}, {OutputShape})";
}
