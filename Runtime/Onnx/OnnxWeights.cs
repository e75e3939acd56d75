using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Linq;

namespace Unroll.Onnx;

/// <summary>
/// Where one parameter tensor of a network compiled from an ONNX model (<see cref="OnnxNetworkAttribute"/>) comes from:
/// the initializer that holds its values, and how they map onto the tensor's canonical order.
/// </summary>
/// <param name="Tensor">The network's tensor (<c>Conv1.weight</c>, <c>BN1.running_var</c>, ...).</param>
/// <param name="Initializer">The ONNX initializer's name.</param>
/// <param name="Transpose">
/// True when the initializer is the transpose of the tensor: a [in, out] matrix (MatMul's B, or Gemm's B without
/// <c>transB</c>) for Unroll's canonical [out, in] dense matrix.
/// </param>
/// <param name="Scale">
/// A factor applied to every value (Gemm's <c>alpha</c> for its B, <c>beta</c> for its C, -1 for the constant a Sub
/// subtracts); 1 otherwise.
/// </param>
/// <param name="Broadcast">
/// True when the initializer is broadcast onto the tensor as ONNX broadcasts a constant operand: its dimensions of size 1
/// are left out, and a single value fills the whole tensor ([1, C, 1, 1] or a scalar for a per-channel [C]).
/// </param>
/// <param name="Select">
/// When 0 or more, the tensor is a 1x1 convolution's weight [O, I, 1, 1] that no initializer holds: output channel o takes
/// input channel <paramref name="Select"/> + o, times <paramref name="Scale"/> (a Split's part, or the negation a Sub of two
/// computed tensors needs); <paramref name="Initializer"/> is then empty.
/// </param>
public sealed record OnnxWeightBinding(string Tensor, string Initializer, bool Transpose = false, float Scale = 1f, bool Broadcast = false, int Select = -1);

/// <summary>
/// Loads the parameters of a network compiled from an ONNX model out of that model file at run time, so that weights never
/// enter source code. Generated classes call it from their <c>LoadOnnx</c> methods; it is public for them.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class OnnxWeights
{
    /// <summary>Loads every tensor of <paramref name="bindings"/> from the ONNX model at <paramref name="path"/>. On any error the parameters stay unchanged.</summary>
    /// <exception cref="InvalidDataException">The file is not a readable ONNX model, or an initializer is missing or does not fit.</exception>
    public static void Load(Network network, string path, IReadOnlyList<OnnxWeightBinding> bindings)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Load(network, File.ReadAllBytes(path), bindings);
    }

    /// <summary>Loads every tensor of <paramref name="bindings"/> from the ONNX model read from <paramref name="stream"/>. On any error the parameters stay unchanged.</summary>
    /// <exception cref="InvalidDataException">The data is not a readable ONNX model, or an initializer is missing or does not fit.</exception>
    public static void Load(Network network, Stream stream, IReadOnlyList<OnnxWeightBinding> bindings)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        Load(network, copy.ToArray(), bindings);
    }

    /// <summary>
    /// Loads every tensor of <paramref name="bindings"/> from the ONNX model <paramref name="bytes"/>, taking the values of
    /// graph inputs that the model uses as weights (as ONNX's node tests do) from <paramref name="inputs"/>: serialised
    /// TensorProtos (the form of those tests' input_N.pb files) by input name. On any error the parameters stay unchanged.
    /// </summary>
    /// <exception cref="InvalidDataException">The data is not a readable ONNX model, or a tensor is missing or does not fit.</exception>
    public static void Load(Network network, byte[] bytes, IReadOnlyList<OnnxWeightBinding> bindings, IReadOnlyDictionary<string, byte[]>? inputs = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(bindings);
        OnnxModelProto model;
        try
        {
            model = OnnxReader.ReadModel(bytes);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"The ONNX model for {network.Info.Name} cannot be read: {e.Message}", e);
        }
        var initializers = new Dictionary<string, OnnxTensorProto>(StringComparer.Ordinal);
        foreach (OnnxTensorProto t in model.Graph.Initializers)
            initializers[t.Name] = t;
        // Constant nodes hold constants too (a Sub's mean, a Mul's scale).
        foreach (OnnxNodeProto node in model.Graph.Nodes)
            if (node.OpType == "Constant" && node.Outputs.Count == 1 && node.Attributes.Find(a => a.Name == "value")?.Tensor is { } value)
                initializers[node.Outputs[0]] = value;
        foreach (KeyValuePair<string, byte[]> input in inputs ?? new Dictionary<string, byte[]>())
            try
            {
                initializers[input.Key] = OnnxReader.ReadTensor(input.Value);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"The tensor given for input '{input.Key}' cannot be read: {e.Message}", e);
            }
        var tensors = new Dictionary<string, TensorInfo>(StringComparer.Ordinal);
        foreach (TensorInfo t in network.Info.Tensors)
            tensors[t.Name] = t;

        // Every tensor is read and checked before any is written, so that a bad file changes nothing.
        var values = new List<(TensorInfo Tensor, float[] Canonical)>();
        foreach (OnnxWeightBinding binding in bindings)
        {
            if (!tensors.TryGetValue(binding.Tensor, out TensorInfo? tensor))
                throw new ArgumentException($"{network.Info.Name} has no tensor '{binding.Tensor}'.", nameof(bindings));
            if (binding.Select >= 0)
            {
                values.Add((tensor, Selection(tensor, binding)));
                continue;
            }
            if (!initializers.TryGetValue(binding.Initializer, out OnnxTensorProto? initializer))
                throw new InvalidDataException($"The ONNX model has no initializer '{binding.Initializer}', which {network.Info.Name} reads into {tensor.Name} {tensor.ShapeText}.");
            values.Add((tensor, Canonical(tensor, initializer, binding)));
        }
        foreach ((TensorInfo tensor, float[] canonical) in values)
            TensorLayouts.ToStorage(tensor, canonical, network.Parameters.Slice(tensor.Offset, tensor.Length));
    }

    /// <summary>A 1x1 convolution's weight [O, I, 1, 1] that picks input channels Select, Select + 1, ... (times the scale).</summary>
    private static float[] Selection(TensorInfo tensor, OnnxWeightBinding binding)
    {
        int outputs = tensor.Shape[0], inputs = tensor.Shape[1];
        if (tensor.Shape.Length != 4 || tensor.Shape[2] != 1 || tensor.Shape[3] != 1 || binding.Select + outputs > inputs)
            throw new ArgumentException($"{tensor.Name} {tensor.ShapeText} cannot pick channels {binding.Select}..{binding.Select + outputs - 1}.", nameof(binding));
        var values = new float[tensor.Count];
        for (int o = 0; o < outputs; o++)
            values[o * inputs + binding.Select + o] = binding.Scale;
        return values;
    }

    /// <summary>The initializer's values in the tensor's canonical order, after the binding's transposition and scale.</summary>
    private static float[] Canonical(TensorInfo tensor, OnnxTensorProto initializer, OnnxWeightBinding binding)
    {
        string Where() => $"ONNX initializer '{initializer.Name}' [{string.Join(", ", initializer.Dims)}] for {tensor.Name} {tensor.ShapeText}";
        long[] expected = binding.Transpose ? [tensor.Shape[1], tensor.Shape[0]] : Array.ConvertAll(tensor.Shape, d => (long)d);
        // A vector may come with leading ones ([1, O] for a Gemm's C); a broadcast constant without any of its ones, or as one
        // value; everything else has exactly the expected dimensions.
        var dims = new List<long>(initializer.Dims);
        while (expected.Length == 1 && dims.Count > 1 && dims[0] == 1)
            dims.RemoveAt(0);
        bool single = false;
        if (binding.Broadcast)
        {
            dims.RemoveAll(d => d == 1);
            expected = Array.FindAll(expected, d => d != 1);
            single = dims.Count == 0;
        }
        if (!single && !dims.SequenceEqual(expected))
            throw new InvalidDataException($"{Where()}: expected dimensions [{string.Join(", ", expected)}].");
        float[] values;
        try
        {
            values = initializer.ToFloats();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{Where()}: {e.Message}", e);
        }
        if (single && values.Length == 1 && tensor.Count != 1)
            values = Enumerable.Repeat(values[0], tensor.Count).ToArray();
        if (binding.Transpose)
        {
            int rows = tensor.Shape[1], columns = tensor.Shape[0];
            var transposed = new float[values.Length];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++)
                    transposed[c * rows + r] = values[r * columns + c];
            values = transposed;
        }
        if (binding.Scale != 1f)
            for (int i = 0; i < values.Length; i++)
                values[i] *= binding.Scale;
        return values;
    }
}
