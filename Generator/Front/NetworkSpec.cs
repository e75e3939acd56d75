using Unroll.Generator.Model;

namespace Unroll.Generator.Front;

/// <summary>The operation a declared layer performs, as the attributes say it.</summary>
internal enum OpKind
{
    Conv,
    MaxPool,
    AvgPool,
    Dense,
    Activation,
    Add,
    Concat,
    GlobalAvgPool,
    BatchNorm,
    Dropout,
    LRN,
    ZeroPad,
    /// <summary>Multiplies by and adds constant tensors (ONNX's Mul, Add and Sub with a constant); no attribute declares it.</summary>
    Affine,
}

/// <summary>Activation kinds; the names match Unroll.Activation in the runtime.</summary>
internal enum ActivationKind
{
    None,
    ReLU,
    LeakyReLU,
    Tanh,
    Sigmoid,
    Softmax,
    /// <summary>min(max(x, ClipMin), ClipMax), with one bound possibly infinite (see <see cref="LayerSpec.ClipMin"/>).</summary>
    Clip,
}

/// <summary>Whether a layer is an output of the network, as <c>[Output]</c> says.</summary>
internal enum OutputRole
{
    /// <summary>Not marked (the last layer is still the output of a network that marks none).</summary>
    None,
    /// <summary>An output inference computes.</summary>
    Main,
    /// <summary>An output for training only (an auxiliary classifier).</summary>
    Auxiliary,
}

/// <summary>A named attribute argument's location, for diagnostics that point at the argument at fault.</summary>
internal sealed record ArgumentLocation(string Name, LocationInfo Location);

/// <summary>A local response normalisation's arguments, as declared (see Unroll.LRNAttribute).</summary>
internal sealed record LrnParameters(int Size, float Alpha, float Beta, float K);

/// <summary>How far a constant of an affine layer varies: absent, one value per channel, or one per value of the tensor.</summary>
internal enum ConstantExtent
{
    None,
    Channel,
    Full,
}

/// <summary>An affine layer's constants: y = x scale + shift, each absent, per channel or per value.</summary>
internal sealed record AffineParameters(ConstantExtent Scale, ConstantExtent Shift);

/// <summary>A zero padding's rows and columns on each side, as declared.</summary>
internal sealed record Sides(int Top, int Left, int Bottom, int Right);

/// <summary>One layer as declared: the raw attribute values, not yet checked.</summary>
/// <param name="Rate">A dropout's rate.</param>
/// <param name="Lrn">A local response normalisation's arguments; null for other layers.</param>
/// <param name="ZeroPad">A zero padding's sides; null for other layers.</param>
/// <param name="Affine">An affine layer's constants; null for other layers.</param>
/// <param name="Inputs">
/// The layers named as inputs, as written: a merge's constructor arguments, or the <c>From</c> argument of any other layer;
/// empty when the layer reads the one declared before it.
/// </param>
/// <param name="Member">The property that declares the layer; empty for the inner layers of a block (the block's property is its last layer).</param>
/// <param name="Project">For a sum: pass inputs of another shape through a projection (1x1 convolution and batch normalisation).</param>
/// <param name="Block">For a block's layers: the block, as the summary shows it (e.g. "Stage1: ResidualBlock(128, stride 2) x 2"); empty otherwise.</param>
/// <param name="Output">Whether <c>[Output]</c> marks the layer (a block's property marks the block's last layer).</param>
/// <param name="LossWeight">For an output: the weight of its loss in training.</param>
/// <param name="Pads">
/// A convolution's or pooling's padding of each side, when given side by side (ONNX pads, which may differ between sides);
/// null when <paramref name="Pad"/> or <paramref name="SamePadding"/> says it.
/// </param>
/// <param name="Alpha">A leaky ReLU's slope for negative inputs.</param>
/// <param name="ClipMin">
/// A clip's lower bound (<see cref="ActivationKind.Clip"/>; <see cref="float.NegativeInfinity"/>: none). Like
/// <paramref name="Alpha"/>, it goes wherever the activation goes (see LayerModel.WithActivationOf).
/// </param>
/// <param name="ClipMax">A clip's upper bound (<see cref="float.PositiveInfinity"/>: none).</param>
internal sealed record LayerSpec(
    string Member,
    string Name,
    string Modifiers,
    OpKind Op,
    int Count,
    int KernelHeight,
    int KernelWidth,
    int Stride,
    bool StrideSet,
    bool SamePadding,
    int Pad,
    bool PadSet,
    bool Bias,
    bool CountIncludePad,
    ActivationKind Activation,
    float Alpha,
    LocationInfo? Location,
    EquatableArray<ArgumentLocation> Arguments,
    EquatableArray<string> Inputs,
    float Epsilon = 1e-5f,
    float Momentum = 0.1f,
    bool Project = false,
    string Block = "",
    float Rate = 0f,
    LrnParameters? Lrn = null,
    Sides? ZeroPad = null,
    OutputRole Output = OutputRole.None,
    float LossWeight = 1f,
    Sides? Pads = null,
    AffineParameters? Affine = null,
    float ClipMin = float.NegativeInfinity,
    float ClipMax = float.PositiveInfinity)
{
    /// <summary>Whether the layer merges several inputs (sum or concatenation).</summary>
    public bool IsMerge => Op is OpKind.Add or OpKind.Concat;

    /// <summary>The location of argument <paramref name="name"/> ("0" for the first positional one), or of the attribute.</summary>
    public LocationInfo? At(params string[] names)
    {
        foreach (string name in names)
            foreach (ArgumentLocation a in Arguments)
                if (a.Name == name)
                    return a.Location;
        return Location;
    }
}

/// <summary>A network class as declared, reduced to equatable values.</summary>
/// <param name="Onnx">For a network compiled from an ONNX model: the model and where each parameter comes from; null otherwise.</param>
internal sealed record NetworkSpec(
    string? Namespace,
    string ClassName,
    string Modifiers,
    string? Input,
    LocationInfo? InputLocation,
    LocationInfo? ClassLocation,
    EquatableArray<LayerSpec> Layers,
    EquatableArray<DiagnosticInfo> Diagnostics,
    OnnxSource? Onnx = null);
