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
