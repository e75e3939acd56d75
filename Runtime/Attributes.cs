using System;

namespace Unroll;

/// <summary>
/// Marks a <c>partial</c> class as a network compiled by Unroll's source generator. Each
/// <c>partial Layer</c> property of the class that carries a layer attribute is a layer,
/// in declaration order.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class NetworkAttribute : Attribute
{
    /// <summary>Input shape of one sample as <c>"C x H x W"</c>, for example <c>"1x32x32"</c>. The batch size is a run-time argument.</summary>
    public string? Input { get; set; }
}

/// <summary>
/// Marks a <c>partial</c> class as a network compiled by Unroll's source generator from an ONNX model. The model file must
/// be in the project as an <c>AdditionalFiles</c> item (<c>&lt;AdditionalFiles Include="models/lenet.onnx" /&gt;</c>); the
/// generator reads its graph at compile time and gives the class the same members as a <see cref="NetworkAttribute"/>
/// network (shapes, summary, <c>Forward</c>, training), plus <c>LoadOnnx(string)</c> and <c>LoadOnnx(Stream)</c>, which
/// read the parameters from the model at run time: weights never enter the source.
/// </summary>
/// <remarks>
/// <para>
/// The graph has one float input [N, C, H, W] (N fixed or symbolic: the class runs any batch) and is made of Conv, MaxPool,
/// AveragePool, GlobalAveragePool, Gemm or MatMul (+ Add) with constant weights, Flatten, Add, Sum, Concat on the channel
/// axis, BatchNormalization, LRN, Pad with zeros, Dropout, Identity, Constant, and the activations Relu, LeakyRelu, Clip with
/// constant bounds (attributes, or initializers and Constant nodes from operator set 11; one bound or both), Sigmoid, Tanh
/// and Softmax. Anything else is reported as a compile error naming the node, the operator and what is missing.
/// </para>
/// <para>
/// Layers are named after the ONNX nodes (or, for unnamed nodes, the values they produce), made valid C# identifiers and
/// unique. An activation that directly follows a convolution, dense layer, batch normalisation or merge is fused into it.
/// With several graph outputs, <see cref="Network.Forward"/> writes them one after the other in the order their layers run.
/// </para>
/// </remarks>
/// <example>
/// <code>
/// [OnnxNetwork("models/lenet.onnx")]
/// public partial class LeNet { }
///
/// var net = new LeNet();
/// net.LoadOnnx("models/lenet.onnx");
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class OnnxNetworkAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="path">The model file: its path, or the end of its path (<c>"lenet.onnx"</c>), among the project's AdditionalFiles items.</param>
    public OnnxNetworkAttribute(string path) => Path = path;

    /// <summary>The model file, as given: matched against the end of each AdditionalFiles item's path.</summary>
    public string Path { get; }
}

/// <summary>
/// Marks a layer as one of the network's outputs. Without any <c>[Output]</c> the last declared layer is the one output;
/// with some, the marked layers are the outputs, and the last declared layer is one only if it is marked too.
/// <see cref="Network.Forward"/> writes the main outputs of each sample one after another, in declaration order.
/// An <see cref="Auxiliary"/> output (GoogLeNet's side classifiers) exists for training only: the forward pass leaves out
/// every layer that only auxiliary outputs need, and training returns the main outputs followed by the auxiliary ones,
/// each loss weighted by <see cref="LossWeight"/>. On a block property it marks the block's last layer.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class OutputAttribute : Attribute
{
    /// <summary>True for an output used in training only (an auxiliary classifier); inference does not compute it.</summary>
    public bool Auxiliary { get; set; }

    /// <summary>The weight of this output's loss in the training loss (GoogLeNet weighs its auxiliary classifiers 0.3); 1 by default, above 0.</summary>
    public float LossWeight { get; set; } = 1f;
}

/// <summary>How a convolution or pooling window treats the border of its input.</summary>
public enum Padding
{
    /// <summary>No padding: the output size is floor((n - f) / s) + 1.</summary>
    Valid = 0,
    /// <summary>Zero padding so that the output size is ceil(n / s); an odd total is put on the bottom and right.</summary>
    Same = 1,
}

/// <summary>Properties shared by every layer attribute.</summary>
public abstract class LayerAttribute : Attribute
{
    /// <summary>Overrides the layer name (the property name by default), for example to match tensor names in a weight file.</summary>
    public string? Name { get; set; }

    /// <summary>
    /// The layer whose output this layer reads: a member name (write <c>nameof(Member)</c>, which survives renames), a layer
    /// <see cref="Name"/>, or <see cref="Layer.NetworkInput"/> for the network's input. By default a layer reads the layer
    /// declared just before it (the first layer reads the network's input). The named layer must be declared earlier.
    /// Merges (<see cref="AddAttribute"/>, <see cref="ConcatAttribute"/>) name their inputs in their constructor instead.
    /// </summary>
    public string? From { get; set; }
}

/// <summary>A 2D convolution (cross-correlation, as in every deep-learning framework) over a C x H x W input.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ConvAttribute : LayerAttribute
{
    /// <summary>Creates a convolution with <paramref name="filters"/> output channels.</summary>
    public ConvAttribute(int filters) => Filters = filters;

    /// <summary>Number of filters, which is the number of output channels.</summary>
    public int Filters { get; }
    /// <summary>Square kernel size (f x f).</summary>
    public int Kernel { get; set; }
    /// <summary>Kernel height, for a non-square kernel (overrides <see cref="Kernel"/>).</summary>
    public int KernelHeight { get; set; }
    /// <summary>Kernel width, for a non-square kernel (overrides <see cref="Kernel"/>).</summary>
    public int KernelWidth { get; set; }
    /// <summary>Stride in both directions; 1 by default.</summary>
    public int Stride { get; set; } = 1;
    /// <summary>Valid (the default) or same padding.</summary>
    public Padding Padding { get; set; }
    /// <summary>Explicit zero padding on every side, in pixels.</summary>
    public int Pad { get; set; }
    /// <summary>Whether the layer adds a bias per filter; true by default.</summary>
    public bool Bias { get; set; } = true;
}

/// <summary>Max pooling over square windows, channel by channel.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class MaxPoolAttribute : LayerAttribute
{
    /// <summary>Creates a max pool with a <paramref name="size"/> x <paramref name="size"/> window.</summary>
    public MaxPoolAttribute(int size) => Size = size;
    /// <summary>Window size.</summary>
    public int Size { get; }
    /// <summary>Stride; equal to the window size when not set.</summary>
    public int Stride { get; set; }
    /// <summary>Padding on every side (padded positions never win the maximum); at most half the window.</summary>
    public int Pad { get; set; }
}

/// <summary>Average pooling over square windows, channel by channel.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class AvgPoolAttribute : LayerAttribute
{
    /// <summary>Creates an average pool with a <paramref name="size"/> x <paramref name="size"/> window.</summary>
    public AvgPoolAttribute(int size) => Size = size;
    /// <summary>Window size.</summary>
    public int Size { get; }
    /// <summary>Stride; equal to the window size when not set.</summary>
    public int Stride { get; set; }
    /// <summary>Padding on every side; at most half the window.</summary>
    public int Pad { get; set; }
    /// <summary>Whether padded positions count in the divisor (false by default, as in ONNX and Keras).</summary>
    public bool CountIncludePad { get; set; }
}

/// <summary>A fully connected layer. A spatial input is flattened in C, H, W order first.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class DenseAttribute : LayerAttribute
{
    /// <summary>Creates a dense layer with <paramref name="units"/> outputs.</summary>
    public DenseAttribute(int units) => Units = units;
    /// <summary>Number of outputs.</summary>
    public int Units { get; }
    /// <summary>Whether the layer adds a bias per unit; true by default.</summary>
    public bool Bias { get; set; } = true;
}

/// <summary>
/// Element-wise sum of two or more layers' outputs of the same shape: the merge of a residual connection. Given one name,
/// it adds the layer declared just before it and the named one; given several, exactly those. An activation on the same
/// member is applied to the sum (ResNet's ReLU after the addition).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class AddAttribute : LayerAttribute
{
    /// <summary>Creates a sum of the named layers' outputs (with the previous layer's when one name is given).</summary>
    /// <param name="inputs">Member names (<c>nameof</c>), layer names or <see cref="Layer.NetworkInput"/>.</param>
    public AddAttribute(params string[] inputs) => Inputs = inputs;
    /// <summary>The layers added, as declared.</summary>
    public string[] Inputs { get; }

    /// <summary>
    /// When an input's shape differs from the first input's (a residual block that changes channels or stride), pass it
    /// through a projection first: a 1x1 convolution without bias, with the stride that matches the sizes, and a batch
    /// normalisation (ResNet's projection shortcut). False by default: mismatched shapes are then an error.
    /// </summary>
    public bool Project { get; set; }
}

/// <summary>
/// Concatenation along the channel axis of layers' outputs with the same height and width (or of flat vectors): the merge
/// of an Inception module. Channels follow in the order of the inputs. Given one name, it concatenates the layer declared
/// just before it and then the named one; given several, exactly those.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ConcatAttribute : LayerAttribute
{
    /// <summary>Creates a concatenation of the named layers' outputs (after the previous layer's when one name is given).</summary>
    /// <param name="inputs">Member names (<c>nameof</c>), layer names or <see cref="Layer.NetworkInput"/>.</param>
    public ConcatAttribute(params string[] inputs) => Inputs = inputs;
    /// <summary>The layers concatenated, in channel order, as declared.</summary>
    public string[] Inputs { get; }
}

/// <summary>
/// Batch normalisation (Ioffe and Szegedy, 2015), per channel: in training, each channel is normalised with the mean and
/// variance of the batch (over samples and positions), then scaled and shifted by the learned gamma (<c>.weight</c>) and
/// beta (<c>.bias</c>); running averages of the mean and variance (<c>.running_mean</c>, <c>.running_var</c>, not
/// trainable) are kept for inference, which normalises with them. An activation on the same member follows the shift.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class BatchNormAttribute : LayerAttribute
{
    /// <summary>Added to the variance before its square root; 1e-5 by default (PyTorch's).</summary>
    public float Epsilon { get; set; } = 1e-5f;
    /// <summary>Weight of a batch's statistics in the running averages; 0.1 by default (PyTorch's convention).</summary>
    public float Momentum { get; set; } = 0.1f;
}

/// <summary>
/// The parameters and input of a block template used with <see cref="BlockAttribute"/>. Inside a template, write
/// <see cref="Channels"/> (or a multiple or fraction of it, such as <c>Block.Channels * 4</c>) for a filter or unit count,
/// <see cref="Stride"/> for a stride, and <see cref="Input"/> to read the block's input.
/// </summary>
public static class Block
{
    /// <summary>Stands for the block's channel count; counts that are multiples of <c>Channels / 16</c> scale with it.</summary>
    public const int Channels = 1 << 20;
    /// <summary>Stands for the block's stride in its first repetition (1 in the others).</summary>
    public const int Stride = 1 << 20;
    /// <summary>The name by which a template's layers read the block's input (the first layer reads it by default).</summary>
    public const string Input = "@block";
}

/// <summary>
/// Inserts the layers of a block template: a class (usually abstract) whose <c>abstract Layer X { get; }</c> properties carry
/// layer attributes, written with <see cref="Block.Channels"/>, <see cref="Block.Stride"/> and <see cref="Block.Input"/>.
/// The block's layers are named <c>Member_r_TemplateMember</c> (r the repetition) and the property is the block's output.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class BlockAttribute : LayerAttribute
{
    /// <summary>Uses <paramref name="template"/> with <paramref name="channels"/> channels.</summary>
    public BlockAttribute(Type template, int channels)
    {
        Template = template;
        Channels = channels;
    }
    /// <summary>The template class.</summary>
    public Type Template { get; }
    /// <summary>What <see cref="Block.Channels"/> stands for.</summary>
    public int Channels { get; }
    /// <summary>What <see cref="Block.Stride"/> stands for in the first repetition; 1 by default.</summary>
    public int Stride { get; set; } = 1;
    /// <summary>How many times the block follows itself; 1 by default. Repetitions after the first have stride 1.</summary>
    public int Repeat { get; set; } = 1;
}

/// <summary>
/// ResNet's basic residual block (He et al., 2016): 3x3 convolution (with the stride), batch normalisation, ReLU, 3x3
/// convolution, batch normalisation, then the sum with the block's input and a ReLU. The input goes through a projection
/// (1x1 convolution with the stride and batch normalisation) when the channels or the size change. Convolutions have no bias.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ResidualBlockAttribute : LayerAttribute
{
    /// <summary>Creates a basic block with <paramref name="channels"/> output channels.</summary>
    public ResidualBlockAttribute(int channels) => Channels = channels;
    /// <summary>Output channels.</summary>
    public int Channels { get; }
    /// <summary>Stride of the first convolution (and of the projection) in the first repetition; 1 by default.</summary>
    public int Stride { get; set; } = 1;
    /// <summary>How many blocks follow each other; 1 by default.</summary>
    public int Repeat { get; set; } = 1;
}

/// <summary>
/// ResNet's bottleneck block: 1x1 convolution to <see cref="Channels"/>, batch normalisation, ReLU, 3x3 convolution with the
/// stride (as in torchvision), batch normalisation, ReLU, 1x1 convolution to <see cref="Channels"/> x <see cref="Expansion"/>,
/// batch normalisation, then the sum with the (projected when needed) input and a ReLU. Convolutions have no bias.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class BottleneckBlockAttribute : LayerAttribute
{
    /// <summary>Creates a bottleneck block whose inner width is <paramref name="channels"/>.</summary>
    public BottleneckBlockAttribute(int channels) => Channels = channels;
    /// <summary>Inner width; the output has <see cref="Expansion"/> times as many channels.</summary>
    public int Channels { get; }
    /// <summary>Stride of the 3x3 convolution (and of the projection) in the first repetition; 1 by default.</summary>
    public int Stride { get; set; } = 1;
    /// <summary>How many blocks follow each other; 1 by default.</summary>
    public int Repeat { get; set; } = 1;
    /// <summary>Output channels over inner width; 4 by default.</summary>
    public int Expansion { get; set; } = 4;
}

/// <summary>
/// GoogLeNet's Inception module (Szegedy et al., 2015), given the six widths of the paper's table: four branches from the
/// input, concatenated in this order: 1x1; 1x1 reduction then 3x3; 1x1 reduction then 5x5; 3x3 max pool (stride 1) then a
/// 1x1 projection. Every convolution has a bias and a ReLU; sizes are kept with padding.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class InceptionAttribute : LayerAttribute
{
    /// <summary>Creates an Inception module with the widths of GoogLeNet's table.</summary>
    public InceptionAttribute(int conv1x1, int reduce3x3, int conv3x3, int reduce5x5, int conv5x5, int poolProjection)
    {
        Conv1x1 = conv1x1;
        Reduce3x3 = reduce3x3;
        Conv3x3 = conv3x3;
        Reduce5x5 = reduce5x5;
        Conv5x5 = conv5x5;
        PoolProjection = poolProjection;
    }
    /// <summary>Width of the 1x1 branch.</summary>
    public int Conv1x1 { get; }
    /// <summary>Width of the 1x1 reduction before the 3x3 convolution.</summary>
    public int Reduce3x3 { get; }
    /// <summary>Width of the 3x3 convolution.</summary>
    public int Conv3x3 { get; }
    /// <summary>Width of the 1x1 reduction before the 5x5 convolution.</summary>
    public int Reduce5x5 { get; }
    /// <summary>Width of the 5x5 convolution.</summary>
    public int Conv5x5 { get; }
    /// <summary>Width of the 1x1 projection after the max pool.</summary>
    public int PoolProjection { get; }
}

/// <summary>
/// Inverted dropout (Srivastava et al., 2014): in training, each value is kept with probability 1 - <see cref="Rate"/> and
/// scaled by 1 / (1 - rate), or set to 0; at inference the layer is the identity and costs nothing (its output is its input,
/// in the same memory). The keep-or-drop choice of a value is a hash of the training step, the sample's index in its batch,
/// the layer's index and the value's index (see <see cref="Kernels.DropoutNoise"/>), so the backward pass recomputes the
/// same mask and the result does not depend on the thread count. Takes no activation.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class DropoutAttribute : LayerAttribute
{
    /// <summary>Creates a dropout layer that drops values with probability <paramref name="rate"/> in training.</summary>
    /// <param name="rate">Probability that a value is dropped: at least 0 and below 1.</param>
    public DropoutAttribute(float rate) => Rate = rate;
    /// <summary>Probability that a value is dropped in training (0 &lt;= rate &lt; 1).</summary>
    public float Rate { get; }
}

/// <summary>
/// Local response normalisation across channels (Krizhevsky et al., 2012), as PyTorch's <c>LocalResponseNorm</c> computes
/// it: b[c] = a[c] / (K + Alpha / Size x sum of a[j]² over j in [c - Size / 2, c + (Size - 1) / 2])^Beta at every position,
/// where channels outside [0, C) count as 0 and Size / 2 rounds down (so an even window reaches one channel further down
/// than up). The divisor is always Size, also where the window is clipped. No parameters. An activation on the same member
/// follows the normalisation.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class LRNAttribute : LayerAttribute
{
    /// <summary>Channels in the window, at least 1; 5 by default (AlexNet's).</summary>
    public int Size { get; set; } = 5;
    /// <summary>Scale of the windowed sum of squares (divided by <see cref="Size"/>), 0 or more; 1e-4 by default.</summary>
    public float Alpha { get; set; } = 1e-4f;
    /// <summary>Exponent of the divisor, 0 or more; 0.75 by default.</summary>
    public float Beta { get; set; } = 0.75f;
    /// <summary>Additive constant of the divisor, above 0; 2 by default (AlexNet's; PyTorch's default is 1).</summary>
    public float K { get; set; } = 2f;
}

/// <summary>
/// Zero padding of height and width (Keras' <c>ZeroPadding2D</c>): the input in the middle of an output that is
/// <see cref="Top"/> + <see cref="Bottom"/> rows taller and <see cref="Left"/> + <see cref="Right"/> columns wider, zeros
/// around it. Needs a spatial input. An activation on the same member applies to the whole output, the zeros included.
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ZeroPadAttribute : LayerAttribute
{
    /// <summary>Creates a padding of no rows and columns; set the sides by name.</summary>
    public ZeroPadAttribute()
    {
    }

    /// <summary>Creates a padding of <paramref name="padding"/> rows and columns on every side (named sides override it).</summary>
    public ZeroPadAttribute(int padding) => Top = Left = Bottom = Right = padding;
    /// <summary>Rows of zeros above the input, 0 or more.</summary>
    public int Top { get; set; }
    /// <summary>Columns of zeros left of the input, 0 or more.</summary>
    public int Left { get; set; }
    /// <summary>Rows of zeros below the input, 0 or more.</summary>
    public int Bottom { get; set; }
    /// <summary>Columns of zeros right of the input, 0 or more.</summary>
    public int Right { get; set; }
}

/// <summary>Global average pooling: the mean of each channel over all positions, giving a flat vector of C features.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class GlobalAvgPoolAttribute : LayerAttribute
{
}

/// <summary>Base of the activation attributes. On a member with a layer attribute, the activation is fused into that layer; alone, it is a layer of its own.</summary>
public abstract class ActivationAttribute : LayerAttribute
{
}

/// <summary>max(x, 0).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ReLUAttribute : ActivationAttribute
{
}

/// <summary>x for x &gt; 0, alpha * x otherwise.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class LeakyReLUAttribute : ActivationAttribute
{
    /// <summary>Creates a leaky ReLU with slope <paramref name="alpha"/> for negative inputs.</summary>
    public LeakyReLUAttribute(float alpha = 0.01f) => Alpha = alpha;
    /// <summary>Slope for negative inputs.</summary>
    public float Alpha { get; }
}

/// <summary>
/// min(max(x, min), max): the value held within [min, max]. <c>[Clip(0, 6)]</c> is ReLU6 (MobileNet's activation); a bound
/// of <see cref="float.NegativeInfinity"/> or <see cref="float.PositiveInfinity"/> leaves that side open
/// (<c>[Clip(float.NegativeInfinity, 1)]</c> is min(x, 1)). The bounds must be ordered (min &lt;= max, neither NaN) and at
/// least one finite. Training passes the gradient where min &lt; y &lt; max and 0 elsewhere, at the bounds too (as a ReLU
/// passes none at 0, and as PyTorch's ReLU6 and Hardtanh do).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class ClipAttribute : ActivationAttribute
{
    /// <summary>Creates a clip to [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <param name="min">The lower bound; <see cref="float.NegativeInfinity"/> for none.</param>
    /// <param name="max">The upper bound; <see cref="float.PositiveInfinity"/> for none.</param>
    public ClipAttribute(float min, float max)
    {
        Min = min;
        Max = max;
    }

    /// <summary>The lower bound (<see cref="float.NegativeInfinity"/>: none).</summary>
    public float Min { get; }

    /// <summary>The upper bound (<see cref="float.PositiveInfinity"/>: none).</summary>
    public float Max { get; }
}

/// <summary>Hyperbolic tangent.</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class TanhAttribute : ActivationAttribute
{
}

/// <summary>Logistic sigmoid 1 / (1 + e^-x).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class SigmoidAttribute : ActivationAttribute
{
}

/// <summary>Softmax over the features of each sample; needs a flat input (after a dense layer).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
public sealed class SoftmaxAttribute : ActivationAttribute
{
}
