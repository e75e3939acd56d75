using System;
using System.Collections.Generic;

namespace Unroll;

/// <summary>The kind of operation a layer performs.</summary>
public enum LayerKind
{
    /// <summary>2D convolution.</summary>
    Conv2D,
    /// <summary>Max pooling.</summary>
    MaxPool2D,
    /// <summary>Average pooling.</summary>
    AvgPool2D,
    /// <summary>Fully connected layer.</summary>
    Dense,
    /// <summary>A stand-alone activation.</summary>
    Activation,
    /// <summary>Element-wise sum of several inputs (a residual merge).</summary>
    Add,
    /// <summary>Concatenation of several inputs along the channel axis.</summary>
    Concatenate,
    /// <summary>Mean of each channel over all positions.</summary>
    GlobalAvgPool2D,
    /// <summary>Batch normalisation.</summary>
    BatchNorm,
    /// <summary>Inverted dropout: the identity at inference.</summary>
    Dropout,
    /// <summary>Local response normalisation across channels.</summary>
    LRN,
    /// <summary>Zero padding of height and width.</summary>
    ZeroPad2D,
    /// <summary>
    /// Multiplication by and addition of constant tensors (the weight and the bias), each per channel or per value: ONNX's
    /// Mul, Add and Sub with a constant, such as a mean image. Only the ONNX front end makes it.
    /// </summary>
    Affine,
}

/// <summary>An element-wise (or, for softmax, per-sample) non-linearity.</summary>
public enum Activation
{
    /// <summary>Identity.</summary>
    None,
    /// <summary>max(x, 0).</summary>
    ReLU,
    /// <summary>x or alpha * x.</summary>
    LeakyReLU,
    /// <summary>tanh(x).</summary>
    Tanh,
    /// <summary>1 / (1 + e^-x).</summary>
    Sigmoid,
    /// <summary>Softmax over the sample's features.</summary>
    Softmax,
    /// <summary>
    /// min(max(x, <see cref="LayerSettings.ClipMin"/>), <see cref="LayerSettings.ClipMax"/>): ReLU6 is Clip(0, 6). Either bound
    /// may be infinite (one-sided); the gradient passes where ClipMin &lt; y &lt; ClipMax and is 0 elsewhere, at the bounds too.
    /// </summary>
    Clip,
}

/// <summary>How a parameter tensor is stored inside the network's parameter buffer.</summary>
public enum TensorLayout
{
    /// <summary>As the canonical shape says, followed by zero padding up to <see cref="TensorInfo.Length"/>.</summary>
    Plain,
    /// <summary>Canonical [O, I, KH, KW]; stored as [KH][KW][I][O padded to 16].</summary>
    ConvKernel,
    /// <summary>Canonical [O, C*H*W] (inputs in C, H, W order); stored as [H][W][C][O padded to 16].</summary>
    DenseMatrix,
    /// <summary>Canonical [C, H, W] (a constant of the tensor's own shape); stored as [H][W][C padded to 16], like the tensor.</summary>
    ChannelsLast,
}

/// <summary>A parameter tensor: canonical name and shape, and where its values live in the network's parameter buffer.</summary>
/// <param name="Name">Canonical name, <c>Layer.weight</c> or <c>Layer.bias</c>.</param>
/// <param name="Shape">Canonical shape: [O, I, KH, KW] for convolution kernels, [O, I] for dense matrices, [O] for biases.</param>
/// <param name="Offset">First float of the tensor in the parameter buffer.</param>
/// <param name="Length">Floats the stored (packed, padded) form occupies.</param>
/// <param name="Layout">How the canonical values are ordered in storage.</param>
/// <param name="Input">For <see cref="TensorLayout.DenseMatrix"/>, the shape of the layer's input (to map C, H, W order to storage order).</param>
public sealed record TensorInfo(string Name, int[] Shape, int Offset, int Length, TensorLayout Layout, Shape Input)
{
    /// <summary>Number of canonical values (the parameters the tensor counts for).</summary>
    public int Count
    {
        get
        {
            int n = 1;
            foreach (int d in Shape)
                n *= d;
            return n;
        }
    }

    /// <summary>The shape as <c>[6, 1, 5, 5]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>Compile-time description of one layer.</summary>
/// <param name="Name">Layer name.</param>
/// <param name="Kind">Operation.</param>
/// <param name="Activation">Activation applied to the layer's output.</param>
/// <param name="InputShape">Shape of one sample's input.</param>
/// <param name="OutputShape">Shape of one sample's output.</param>
/// <param name="Weights">The weight tensor, if the layer has one.</param>
/// <param name="Bias">The bias tensor, if the layer has one.</param>
/// <param name="Flops">Floating-point operations for one sample (a multiply-add counts 2).</param>
/// <param name="Details">Kernel, stride and padding in words, for summaries.</param>
/// <param name="Inputs">
/// The layers whose outputs this layer reads, by name, in order (<see cref="Layer.NetworkInput"/> for the network's input);
/// null means the layer before it (or the input, for the first layer). <paramref name="InputShape"/> is the first input's shape.
/// </param>
/// <param name="State">
/// Tensors the layer keeps that are not trained (a batch normalisation's running mean and variance): saved and loaded with the
/// weights, never counted as parameters nor touched by an optimizer. Null when none.
/// </param>
/// <param name="Settings">
/// Kernel, stride, padding, epsilon, rate, LRN constants, leaky-ReLU slope and clip bounds as typed values; null for a layer
/// that has none (a merge, an activation other than the leaky ReLU and the clip) or a description not written by the generator.
/// </param>
public sealed record LayerInfo(string Name, LayerKind Kind, Activation Activation, Shape InputShape, Shape OutputShape,
    TensorInfo? Weights, TensorInfo? Bias, long Flops, string Details, IReadOnlyList<string>? Inputs = null, IReadOnlyList<TensorInfo>? State = null,
    LayerSettings? Settings = null)
{
    /// <summary>Trainable parameters of the layer.</summary>
    public int ParameterCount => (Weights?.Count ?? 0) + (Bias?.Count ?? 0);
}

/// <summary>One output of a network (see <see cref="OutputAttribute"/>).</summary>
/// <param name="Layer">The layer whose output it is.</param>
/// <param name="Shape">Shape of one sample's output.</param>
/// <param name="Offset">
/// Where it starts in one sample's output values: main outputs come first, in declaration order, then auxiliary ones. A main
/// output is at this offset in <see cref="Network.Forward"/>'s output and in the training output alike.
/// </param>
/// <param name="Auxiliary">True for an output only training computes (an auxiliary classifier).</param>
/// <param name="LossWeight">The weight of its loss in the training loss.</param>
public sealed record OutputInfo(string Layer, Shape Shape, int Offset, bool Auxiliary, float LossWeight)
{
    /// <summary>The output's name outside the network (<see cref="INetwork.Outputs"/>): the ONNX graph's name of the value for an imported model, else the layer's.</summary>
    public string Name { get; init; } = Layer;

    /// <summary>Values of one sample's output.</summary>
    public int Length => Shape.Length;
}

/// <summary>Compile-time description of a whole network, produced by the generator.</summary>
/// <param name="Name">Class name.</param>
/// <param name="InputShape">Shape of one input sample.</param>
/// <param name="OutputShape">Shape of one output sample.</param>
/// <param name="Layers">Layers in execution order.</param>
/// <param name="ParameterStorageLength">Floats of the parameter buffer (packed and padded forms).</param>
/// <param name="WorkspaceLength">Floats of scratch memory one thread needs for one sample.</param>
/// <param name="Summary">The Keras-style summary table.</param>
/// <param name="TrainingWorkspaceLength">Floats of scratch memory one thread needs to train on one sample (every layer's output kept).</param>
/// <param name="TransposedKernelLength">Floats of the buffer holding every convolution kernel transposed for the input-gradient pass.</param>
/// <param name="Outputs">
/// The outputs, main ones first; null when the last layer is the only one. <paramref name="OutputShape"/> is the main output's
/// shape, or with several main outputs a flat vector holding them one after the other.
/// </param>
public sealed record NetworkInfo(string Name, Shape InputShape, Shape OutputShape, IReadOnlyList<LayerInfo> Layers,
    int ParameterStorageLength, int WorkspaceLength, string Summary, int TrainingWorkspaceLength = 0, int TransposedKernelLength = 0,
    IReadOnlyList<OutputInfo>? Outputs = null)
{
    /// <summary>The input's name outside the network (<see cref="INetwork.Inputs"/>): the ONNX graph's for an imported model, else "input".</summary>
    public string InputName { get; init; } = Layer.NetworkInput;

    /// <summary>The outputs, main ones first (see <see cref="OutputAttribute"/>); a network that marks none has its last layer's.</summary>
    public IReadOnlyList<OutputInfo> Outputs { get; init; } = Outputs ?? [new OutputInfo(Layers[^1].Name, OutputShape, 0, false, 1f)];

    /// <summary>Values of one sample's training output: every output, main then auxiliary.</summary>
    public int TrainingOutputLength
    {
        get
        {
            int n = 0;
            foreach (OutputInfo output in Outputs)
                n += output.Length;
            return n;
        }
    }

    /// <summary>Trainable parameters of the network.</summary>
    public long ParameterCount
    {
        get
        {
            long n = 0;
            foreach (LayerInfo layer in Layers)
                n += layer.ParameterCount;
            return n;
        }
    }

    /// <summary>Floating-point operations of one forward pass over one sample.</summary>
    public long Flops
    {
        get
        {
            long n = 0;
            foreach (LayerInfo layer in Layers)
                n += layer.Flops;
            return n;
        }
    }

    /// <summary>Every tensor saved with the weights, in layer order: weights, bias, then state (running statistics).</summary>
    public IEnumerable<TensorInfo> Tensors
    {
        get
        {
            foreach (LayerInfo layer in Layers)
            {
                if (layer.Weights is { } w)
                    yield return w;
                if (layer.Bias is { } b)
                    yield return b;
                if (layer.State is { } state)
                    foreach (TensorInfo t in state)
                        yield return t;
            }
        }
    }

    /// <summary>
    /// A 64-bit FNV-1a hash of the architecture (input shape and every layer's name, kind, activation,
    /// shapes and tensors). Weight files record it so that weights never load into another architecture.
    /// </summary>
    public ulong Fingerprint
    {
        get
        {
            var text = new System.Text.StringBuilder();
            text.Append(InputShape).Append('|');
            foreach (LayerInfo layer in Layers)
            {
                text.Append(layer.Name).Append(':').Append(layer.Kind).Append(':').Append(layer.Activation).Append(':')
                    .Append(layer.InputShape).Append("->").Append(layer.OutputShape).Append(':').Append(layer.Details);
                if (layer.Inputs is { } inputs)
                    text.Append(":from ").Append(string.Join(",", inputs));
                foreach (TensorInfo? t in new[] { layer.Weights, layer.Bias })
                    if (t is not null)
                        text.Append(':').Append(t.Name).Append(t.ShapeText);
                text.Append('|');
            }
            ulong hash = 14695981039346656037UL;
            foreach (byte b in System.Text.Encoding.UTF8.GetBytes(text.ToString()))
            {
                hash ^= b;
                hash *= 1099511628211UL;
            }
            return hash;
        }
    }
}
