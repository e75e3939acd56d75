using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace Unroll.Onnx;

/// <summary>
/// Writes any Unroll network as an ONNX model (operator set 13) with its current weights, so that ONNX Runtime or any other
/// ONNX consumer computes the same inference function as <see cref="Network.Forward"/>.
/// </summary>
/// <remarks>
/// <para>
/// The graph has one float32 input, <see cref="InputName"/> ([N, C, H, W]), and one output per output layer, named after that
/// layer ([N, C, H, W], or [N, features] for a flat output). N is the symbolic dimension <see cref="BatchDimension"/> unless
/// a fixed batch is asked for. Every layer's result is the value named after the layer; weights are initializers named as
/// in weight files (<c>Conv1.weight</c>, <c>BN1.running_var</c>).
/// </para>
/// <para>
/// Layers become: Conv, MaxPool, AveragePool (with <c>count_include_pad</c>), Gemm (<c>transB = 1</c>, after a Flatten when
/// the input is spatial), Add (Sum for three inputs or more), Concat on the channel axis, GlobalAveragePool followed by
/// Flatten (Unroll's global average is a flat vector), BatchNormalization with the running statistics, Identity for
/// dropout (inference is the identity), LRN (an odd window; an even window is written as its sum of squares over
/// Unroll's window, which ONNX's LRN centres differently), Pad with zeros, and Relu, LeakyRelu, Clip (its bounds as scalar
/// initializers, an open side left out), Tanh, Sigmoid or Softmax (over the channel axis) for activations.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// var net = new ResNet18();
/// OnnxExport.Save(net, "resnet18.onnx");            // any batch
/// byte[] model = OnnxExport.Build(net, batch: 1);   // a batch of exactly one
/// </code>
/// </example>
public static class OnnxExport
{
    /// <summary>The name of the graph's input.</summary>
    public const string InputName = Layer.NetworkInput;

    /// <summary>The symbol of the batch dimension when the batch is not fixed.</summary>
    public const string BatchDimension = "N";

    /// <summary>The default-domain operator set the model is written against.</summary>
    public const int OpsetVersion = 13;

    /// <summary>The serialised ONNX model of <paramref name="network"/>, with its current weights.</summary>
    /// <param name="network">The network.</param>
    /// <param name="batch">A fixed batch size; null for the symbolic <see cref="BatchDimension"/> (any batch).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is below 1.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form (its description lacks the settings it needs).</exception>
    public static byte[] Build(Network network, int? batch = null) => Model(network, batch).ToArray();

    /// <summary>Writes the ONNX model of <paramref name="network"/> (see <see cref="Build"/>) to <paramref name="stream"/>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="stream">Receives the model.</param>
    /// <param name="batch">A fixed batch size; null for the symbolic <see cref="BatchDimension"/> (any batch).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is below 1.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form (its description lacks the settings it needs).</exception>
    public static void Save(Network network, Stream stream, int? batch = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Model(network, batch).Write(stream);
    }

    /// <summary>
    /// Writes the ONNX model of <paramref name="network"/> (see <see cref="Build"/>) to <paramref name="path"/>, through a
    /// temporary file in the same folder renamed over the target only when complete: a failure leaves an existing file as it was.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="path">The file to write.</param>
    /// <param name="batch">A fixed batch size; null for the symbolic <see cref="BatchDimension"/> (any batch).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is below 1.</exception>
    /// <exception cref="NotSupportedException">A layer has no ONNX form (its description lacks the settings it needs).</exception>
    /// <exception cref="IOException">The file cannot be written; an existing file at <paramref name="path"/> is left unchanged.</exception>
    public static void Save(Network network, string path, int? batch = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        OnnxModelBuilder model = Model(network, batch);
        WeightFile.WriteAtomically(path, model.Write);
    }

    /// <summary>
    /// The graph's outputs: the network's main outputs, as <see cref="Network.Forward"/> computes them (auxiliary outputs are
    /// for training only). The one place that decides which layers are outputs.
    /// </summary>
    private static List<LayerInfo> OutputLayers(NetworkInfo info)
    {
        var outputs = new List<LayerInfo>();
        foreach (OutputInfo output in info.Outputs)
            if (!output.Auxiliary)
                outputs.Add(info.Layers[IndexOf(info, output.Layer)]);
        return outputs;
    }

    /// <summary>Whether each layer is needed by the main outputs: the model leaves out what only auxiliary outputs read.</summary>
    private static bool[] Needed(NetworkInfo info)
    {
        var needed = new bool[info.Layers.Count];
        foreach (LayerInfo output in OutputLayers(info))
            needed[IndexOf(info, output.Name)] = true;
        for (int i = needed.Length - 1; i >= 0; i--)
        {
            if (!needed[i])
                continue;
            if (info.Layers[i].Inputs is not { } inputs)
            {
                if (i > 0)
                    needed[i - 1] = true;
                continue;
            }
            foreach (string name in inputs)
                if (name != InputName)
                    needed[IndexOf(info, name)] = true;
        }
        return needed;
    }

    private static int IndexOf(NetworkInfo info, string layer)
    {
        for (int i = 0; i < info.Layers.Count; i++)
            if (info.Layers[i].Name == layer)
                return i;
        throw new InvalidOperationException($"{info.Name} has no layer named '{layer}'.");
    }

    private static OnnxModelBuilder Model(Network network, int? batch)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (batch is < 1)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, "A fixed batch must be at least 1.");
        OnnxDimension n = batch is { } b ? b : BatchDimension;
        var writer = new GraphWriter(network, n);
        bool[] needed = Needed(network.Info);
        foreach (Layer layer in network.Layers)
            if (needed[layer.Index])
                writer.Add(layer);
        foreach (LayerInfo output in OutputLayers(network.Info))
            writer.Model.AddOutput(output.Name, Dims(n, output.OutputShape));
        return writer.Model;
    }

    /// <summary>[N, C, H, W], or [N, features] for a flat shape.</summary>
    private static OnnxDimension[] Dims(OnnxDimension batch, Shape shape) =>
        shape.IsFlat ? [batch, shape.Channels] : [batch, shape.Channels, shape.Height, shape.Width];

    /// <summary>Writes the nodes of one network, layer by layer, each layer's result named after the layer.</summary>
    private sealed class GraphWriter
    {
        private readonly Network _network;
        private readonly HashSet<string> _names = new(StringComparer.Ordinal);

        public GraphWriter(Network network, OnnxDimension batch)
        {
            _network = network;
            NetworkInfo info = network.Info;
            Model = new OnnxModelBuilder(info.Name, OpsetVersion) { ProducerVersion = typeof(Network).Assembly.GetName().Version?.ToString() };
            Model.AddInput(InputName, Dims(batch, info.InputShape));
            // Layer results and tensors keep their own names; the values between a layer's nodes take names left free.
            _names.Add(InputName);
            foreach (LayerInfo layer in info.Layers)
                _names.Add(layer.Name);
            foreach (TensorInfo tensor in info.Tensors)
                _names.Add(tensor.Name);
        }

        public OnnxModelBuilder Model { get; }

        public void Add(Layer layer)
        {
            LayerInfo info = layer.Info;
            string[] inputs = info.Inputs is { } names ? [.. names] : [layer.Index == 0 ? InputName : _network.Layers[layer.Index - 1].Name];
            bool activates = info.Activation != Activation.None;
            string result = activates ? Fresh(info.Name + "." + info.Kind) : info.Name;
            switch (info.Kind)
            {
                case LayerKind.Conv2D:
                    Node("Conv", [inputs[0], .. Parameters(info)], result, Window(info));
                    break;
                case LayerKind.MaxPool2D:
                    Node("MaxPool", inputs, result, Window(info));
                    break;
                case LayerKind.AvgPool2D:
                    Node("AveragePool", inputs, result, [.. Window(info), OnnxAttribute.Int("count_include_pad", Settings(info).CountIncludePad ? 1 : 0)]);
                    break;
                case LayerKind.Dense:
                    // Flatten keeps C, H, W order, the order of the canonical dense matrix's columns.
                    string flat = info.InputShape.IsFlat ? inputs[0] : Node("Flatten", inputs, Fresh(info.Name + ".flat"), OnnxAttribute.Int("axis", 1));
                    Node("Gemm", [flat, .. Parameters(info)], result, OnnxAttribute.Int("transB", 1));
                    break;
                case LayerKind.Add:
                    Node(inputs.Length == 2 ? "Add" : "Sum", inputs, result);
                    break;
                case LayerKind.Concatenate:
                    Node("Concat", inputs, result, OnnxAttribute.Int("axis", 1));
                    break;
                case LayerKind.GlobalAvgPool2D:
                    Node("Flatten", [Node("GlobalAveragePool", inputs, Fresh(info.Name + ".pooled"))], result, OnnxAttribute.Int("axis", 1));
                    break;
                case LayerKind.BatchNorm:
                    Node("BatchNormalization", [inputs[0], .. Parameters(info), .. State(info)], result, OnnxAttribute.Float("epsilon", Settings(info).Epsilon));
                    break;
                case LayerKind.Dropout:
                case LayerKind.Activation:
                    // Dropout is the identity at inference; a stand-alone activation is applied below.
                    if (activates)
                        result = inputs[0];
                    else
                        Node("Identity", inputs, result);
                    break;
                case LayerKind.LRN:
                    Lrn(info, inputs[0], result);
                    break;
                case LayerKind.ZeroPad2D:
                {
                    LayerSettings s = Settings(info);
                    string pads = Int64s(info.Name + ".pads", [0, 0, s.PadTop, s.PadLeft, 0, 0, s.PadBottom, s.PadRight]);
                    Node("Pad", [inputs[0], pads], result);
                    break;
                }
                case LayerKind.Affine:
                    // Mul by the scale, then Add of the shift, each broadcast as it was imported.
                {
                    string scaled = inputs[0];
                    if (info.Weights is { } scale)
                        scaled = Node("Mul", [scaled, Broadcastable(scale, info.InputShape)], info.Bias is null ? result : Fresh(info.Name + ".scaled"));
                    if (info.Bias is { } shift)
                        Node("Add", [scaled, Broadcastable(shift, info.InputShape)], result);
                    break;
                }
                default:
                    throw new NotSupportedException($"Layer '{info.Name}' is a {info.Kind}, which has no ONNX form here.");
            }
            if (activates)
                Activate(info, result);
        }

        /// <summary>Adds a node with one output and returns the output's name.</summary>
        private string Node(string op, string[] inputs, string output, params OnnxAttribute[] attributes)
        {
            Model.AddNode(op, inputs, [output], attributes);
            return output;
        }

        private void Activate(LayerInfo info, string input)
        {
            switch (info.Activation)
            {
                case Activation.ReLU:
                    Node("Relu", [input], info.Name);
                    break;
                case Activation.LeakyReLU:
                    Node("LeakyRelu", [input], info.Name, OnnxAttribute.Float("alpha", Settings(info).LeakyReLUAlpha));
                    break;
                case Activation.Clip:
                {
                    // From operator set 11 the bounds are inputs: scalar initializers, an empty name for an open side.
                    LayerSettings s = Settings(info);
                    string min = float.IsNegativeInfinity(s.ClipMin) ? "" : Floats(info.Name + ".min", [], [s.ClipMin]);
                    string max = float.IsPositiveInfinity(s.ClipMax) ? "" : Floats(info.Name + ".max", [], [s.ClipMax]);
                    Node("Clip", max.Length == 0 ? [input, min] : [input, min, max], info.Name);
                    break;
                }
                case Activation.Tanh:
                    Node("Tanh", [input], info.Name);
                    break;
                case Activation.Sigmoid:
                    Node("Sigmoid", [input], info.Name);
                    break;
                case Activation.Softmax:
                    // Over the features of a flat tensor, or the channels of a C x 1 x 1 one (the only spatial softmax Unroll allows).
                    Node("Softmax", [input], info.Name, OnnxAttribute.Int("axis", 1));
                    break;
                default:
                    throw new NotSupportedException($"Layer '{info.Name}': the activation {info.Activation} has no ONNX form here.");
            }
        }

        /// <summary>
        /// Local response normalisation, y = x / (k + alpha / size * sum of x² over the window)^beta. ONNX's LRN takes the
        /// window [c - (size - 1) / 2, c + size / 2] and Unroll (as PyTorch) [c - size / 2, c + (size - 1) / 2]: the same for an
        /// odd size. An even size is written out: the window's sums of squares as a 1x1 convolution with a band of ones.
        /// ONNX Runtime's LRN takes four dimensions only, so a flat input is viewed as C x 1 x 1 meanwhile.
        /// </summary>
        private void Lrn(LayerInfo info, string input, string output)
        {
            LayerSettings s = Settings(info);
            bool flat = info.InputShape.IsFlat;
            string x = flat ? Node("Unsqueeze", [input, Int64s(info.Name + ".axes", [2, 3])], Fresh(info.Name + ".spatial")) : input;
            string y = flat ? Fresh(info.Name + ".normalised") : output;
            if (s.LrnSize % 2 == 1)
            {
                Node("LRN", [x], y, OnnxAttribute.Int("size", s.LrnSize), OnnxAttribute.Float("alpha", s.LrnAlpha),
                    OnnxAttribute.Float("beta", s.LrnBeta), OnnxAttribute.Float("bias", s.LrnK));
            }
            else
            {
                int c = info.InputShape.Channels;
                float[] band = new float[c * c];
                for (int o = 0; o < c; o++)
                    for (int i = Math.Max(0, o - s.LrnSize / 2); i <= Math.Min(c - 1, o + (s.LrnSize - 1) / 2); i++)
                        band[o * c + i] = 1;
                string squares = Node("Mul", [x, x], Fresh(info.Name + ".squares"));
                string sums = Node("Conv", [squares, Floats(info.Name + ".window", [c, c, 1, 1], band)], Fresh(info.Name + ".sums"));
                string scaled = Node("Mul", [sums, Floats(info.Name + ".alpha_over_size", [], [s.LrnAlpha / s.LrnSize])], Fresh(info.Name + ".scaled"));
                string divisor = Node("Add", [scaled, Floats(info.Name + ".k", [], [s.LrnK])], Fresh(info.Name + ".divisor"));
                string power = Node("Pow", [divisor, Floats(info.Name + ".beta", [], [s.LrnBeta])], Fresh(info.Name + ".power"));
                Node("Div", [x, power], y);
            }
            if (flat)
                Node("Flatten", [y], output, OnnxAttribute.Int("axis", 1));
        }

        /// <summary>kernel_shape, strides and pads (ONNX orders pads as every axis's start, then every axis's end).</summary>
        private static OnnxAttribute[] Window(LayerInfo info)
        {
            LayerSettings s = Settings(info);
            return
            [
                OnnxAttribute.Ints("kernel_shape", s.KernelHeight, s.KernelWidth),
                OnnxAttribute.Ints("strides", s.StrideHeight, s.StrideWidth),
                OnnxAttribute.Ints("pads", s.PadTop, s.PadLeft, s.PadBottom, s.PadRight),
            ];
        }

        private static LayerSettings Settings(LayerInfo info) => info.Settings
            ?? throw new NotSupportedException($"Layer '{info.Name}' ({info.Kind}, {info.Activation}) has no LayerInfo.Settings, which its ONNX form needs; descriptions written by the Unroll generator have them.");

        /// <summary>The layer's weight and, if it has one, its bias, as initializers in canonical order.</summary>
        private string[] Parameters(LayerInfo info) =>
            info.Bias is { } bias ? [Tensor(info.Weights!), Tensor(bias)] : [Tensor(info.Weights!)];

        /// <summary>The layer's state tensors (a batch normalisation's running mean and variance) as initializers.</summary>
        private string[] State(LayerInfo info) =>
            info.State is { } state ? [.. state.Select(Tensor)] : [];

        /// <summary>An affine layer's constant as an initializer that ONNX broadcasts onto the tensor: a per-channel [C] of a spatial tensor as [C, 1, 1].</summary>
        private string Broadcastable(TensorInfo tensor, Shape input) =>
            Floats(tensor.Name, tensor.Shape.Length == 1 && !input.IsFlat ? [tensor.Shape[0], 1, 1] : Array.ConvertAll(tensor.Shape, d => (long)d), _network.Canonical(tensor), reserved: true);

        private string Tensor(TensorInfo tensor) =>
            Floats(tensor.Name, Array.ConvertAll(tensor.Shape, d => (long)d), _network.Canonical(tensor), reserved: true);

        private string Floats(string name, long[] dims, float[] values, bool reserved = false)
        {
            string unique = reserved ? name : Fresh(name);
            Model.AddInitializer(unique, dims, values);
            return unique;
        }

        private string Int64s(string name, long[] values)
        {
            string unique = Fresh(name);
            Model.AddInitializer(unique, [values.Length], values);
            return unique;
        }

        /// <summary><paramref name="name"/>, or with a number appended when a layer, tensor or earlier value has it.</summary>
        private string Fresh(string name)
        {
            string unique = name;
            for (int i = 1; !_names.Add(unique); i++)
                unique = name + "_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return unique;
        }
    }
}
