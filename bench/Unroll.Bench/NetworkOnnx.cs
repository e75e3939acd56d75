using System;
using System.Globalization;
using Unroll.Onnx;

namespace Unroll.Bench;

/// <summary>
/// Writes the ONNX model of any Unroll network, with the network's current weights, so that ONNX Runtime computes the
/// same function: Conv (kernel_shape, strides, pads), MaxPool / AveragePool, Flatten + Gemm(transB = 1) for dense
/// layers, and Relu / Tanh / Sigmoid / Softmax for activations. The batch dimension is fixed; the graph has one input,
/// <see cref="InputName"/>, and one output.
/// </summary>
internal static class NetworkOnnx
{
    /// <summary>The name of the graph's input; the output is named after the last layer.</summary>
    public const string InputName = "input";

    /// <summary>The serialised model of <paramref name="network"/> for batches of <paramref name="batch"/> samples.</summary>
    /// <exception cref="NotSupportedException">A layer has no ONNX form here (leaky ReLU, whose slope the runtime does not expose).</exception>
    public static byte[] Build(Network network, int batch)
    {
        var model = new OnnxModelBuilder(network.Info.Name) { ProducerVersion = typeof(Network).Assembly.GetName().Version?.ToString() };
        Shape input = network.Info.InputShape;
        model.AddInput(InputName, Dims(batch, input));
        string current = InputName;
        bool flat = input.IsFlat;
        foreach (Layer layer in network.Layers)
        {
            LayerInfo info = layer.Info;
            string output = layer.Name;
            switch (info.Kind)
            {
                case LayerKind.Conv2D:
                {
                    Window window = Window.Parse(info.Details);
                    string weight = Initializer(model, layer.Name + ".weight", info.Weights!.Shape, layer.GetWeights());
                    string[] inputs = info.Bias is { } bias
                        ? [current, weight, Initializer(model, layer.Name + ".bias", bias.Shape, layer.GetBias())]
                        : [current, weight];
                    model.AddNode("Conv", inputs, [output], window.Attributes());
                    break;
                }
                case LayerKind.MaxPool2D:
                    model.AddNode("MaxPool", [current], [output], Window.Parse(info.Details).Attributes());
                    break;
                case LayerKind.AvgPool2D:
                {
                    Window window = Window.Parse(info.Details);
                    model.AddNode("AveragePool", [current], [output],
                        [.. window.Attributes(), OnnxAttribute.Int("count_include_pad", window.CountIncludePad ? 1 : 0)]);
                    break;
                }
                case LayerKind.Dense:
                {
                    if (!flat)
                    {
                        // Flatten keeps C, H, W order, the order of the canonical dense matrix's columns.
                        model.AddNode("Flatten", [current], [layer.Name + ".flat"], OnnxAttribute.Int("axis", 1));
                        current = layer.Name + ".flat";
                        flat = true;
                    }
                    string weight = Initializer(model, layer.Name + ".weight", info.Weights!.Shape, layer.GetWeights());
                    string[] inputs = info.Bias is { } bias
                        ? [current, weight, Initializer(model, layer.Name + ".bias", bias.Shape, layer.GetBias())]
                        : [current, weight];
                    model.AddNode("Gemm", inputs, [output], OnnxAttribute.Int("transB", 1));
                    break;
                }
                case LayerKind.Activation:
                    break;
                default:
                    throw new NotSupportedException($"Layer '{layer.Name}' is a {info.Kind}, which has no ONNX form here.");
            }
            if (info.Kind != LayerKind.Activation)
                current = output;
            if (info.Activation != Activation.None)
            {
                string activated = info.Kind == LayerKind.Activation ? output : output + "." + info.Activation.ToString().ToLowerInvariant();
                AddActivation(model, info.Activation, layer.Name, current, activated);
                current = activated;
            }
        }
        // The graph's output is the last value itself (an Identity node to rename it could cost a copy).
        model.AddOutput(current, Dims(batch, network.Info.OutputShape));
        return model.ToArray();
    }

    private static void AddActivation(OnnxModelBuilder model, Activation activation, string layer, string input, string output)
    {
        string op = activation switch
        {
            Activation.ReLU => "Relu",
            Activation.Tanh => "Tanh",
            Activation.Sigmoid => "Sigmoid",
            Activation.Softmax => "Softmax",
            _ => throw new NotSupportedException($"Layer '{layer}': {activation} has no ONNX form here (the runtime does not expose a leaky ReLU's slope)."),
        };
        // Softmax is only allowed on flat [N, features] tensors, so opset 13's default axis (-1) is the feature axis.
        model.AddNode(op, [input], [output]);
    }

    private static string Initializer(OnnxModelBuilder model, string name, int[] shape, float[] values)
    {
        model.AddInitializer(name, Array.ConvertAll(shape, d => (long)d), values);
        return name;
    }

    /// <summary>The ONNX dimensions of a batch of <paramref name="shape"/>: [N, C, H, W], or [N, features] for a flat shape.</summary>
    public static long[] Dims(int batch, Shape shape) =>
        shape.IsFlat ? [batch, shape.Channels] : [batch, shape.Channels, shape.Height, shape.Width];
}

/// <summary>Kernel, stride and padding of a convolution or pooling layer, read from <see cref="LayerInfo.Details"/> (<c>"5x5 s1 p0,0,0,0"</c>).</summary>
internal readonly record struct Window(int KernelH, int KernelW, int Stride, int PadTop, int PadLeft, int PadBottom, int PadRight, bool CountIncludePad)
{
    /// <exception cref="FormatException">The text is not of that form.</exception>
    public static Window Parse(string details)
    {
        string[] parts = details.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3 || !parts[1].StartsWith('s') || !parts[2].StartsWith('p'))
            throw new FormatException($"Unexpected layer details '{details}': expected \"KHxKW sS pT,L,B,R\".");
        string[] kernel = parts[0].Split('x');
        string[] pads = parts[2][1..].Split(',');
        if (kernel.Length != 2 || pads.Length != 4)
            throw new FormatException($"Unexpected layer details '{details}': expected \"KHxKW sS pT,L,B,R\".");
        return new Window(Int(kernel[0]), Int(kernel[1]), Int(parts[1][1..]), Int(pads[0]), Int(pads[1]), Int(pads[2]), Int(pads[3]),
            Array.IndexOf(parts, "incl-pad") > 0);
    }

    /// <summary>ONNX's kernel_shape, strides and pads; ONNX pads are [top, left, bottom, right], each axis's begin, then each axis's end.</summary>
    public OnnxAttribute[] Attributes() =>
    [
        OnnxAttribute.Ints("kernel_shape", KernelH, KernelW),
        OnnxAttribute.Ints("strides", Stride, Stride),
        OnnxAttribute.Ints("pads", PadTop, PadLeft, PadBottom, PadRight),
    ];

    private static int Int(string text) => int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
}
