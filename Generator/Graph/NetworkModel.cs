using Unroll.Generator.Front;
using Unroll.Generator.Model;

namespace Unroll.Generator.Graph;

/// <summary>A checked layer: what is computed, with every shape known. Says nothing of how it is computed (that is the plan's job).</summary>
/// <param name="Alpha">A leaky ReLU's slope for negative inputs.</param>
/// <param name="ClipMin">A clip's lower bound (<see cref="ActivationKind.Clip"/>; negative infinity: none).</param>
/// <param name="ClipMax">A clip's upper bound (positive infinity: none).</param>
internal sealed record LayerModel(
    string Member,
    string Name,
    string Modifiers,
    OpKind Op,
    ActivationKind Activation,
    float Alpha,
    TensorShape Input,
    TensorShape Output,
    int KernelH,
    int KernelW,
    int StrideH,
    int StrideW,
    int PadTop,
    int PadLeft,
    int PadBottom,
    int PadRight,
    bool Bias,
    bool CountIncludePad,
    long WeightCount,
    long BiasCount,
    long Flops,
    EquatableArray<int> Inputs,
    float Epsilon = 1e-5f,
    float Momentum = 0.1f,
    string Block = "",
    float Rate = 0f,
    LrnParameters? Lrn = null,
    AffineParameters? Affine = null,
    float ClipMin = float.NegativeInfinity,
    float ClipMax = float.PositiveInfinity)
{
    /// <summary>Whether the layer reads exactly the layer before it (index <paramref name="index"/> - 1, or the input for the first layer).</summary>
    public bool ReadsPrevious(int index) => Inputs.Count == 1 && Inputs[0] == index - 1;

    /// <summary>
    /// This layer with the activation of <paramref name="other"/> and its parameters (slope, bounds): what a layer takes on
    /// when a batch normalisation or a residual sum after it is folded into it.
    /// </summary>
    public LayerModel WithActivationOf(LayerModel other) =>
        this with { Activation = other.Activation, Alpha = other.Alpha, ClipMin = other.ClipMin, ClipMax = other.ClipMax };

    /// <summary>The activation as comments, summaries and kernel keys name it: its kind, and a clip's bounds ("Clip(0, 6)", "Clip(-inf, 1)").</summary>
    public string ActivationName => Activation == ActivationKind.Clip ? $"Clip({Bound(ClipMin)}, {Bound(ClipMax)})" : Activation.ToString();

    private static string Bound(float value) => float.IsNegativeInfinity(value) ? "-inf" : float.IsPositiveInfinity(value) ? "inf" : R(value);

    public long ParameterCount => WeightCount + BiasCount;

    /// <summary>Type name shown in summaries and in the runtime's LayerKind.</summary>
    public string KindName => Op switch
    {
        OpKind.Conv => "Conv2D",
        OpKind.MaxPool => "MaxPool2D",
        OpKind.AvgPool => "AvgPool2D",
        OpKind.Dense => "Dense",
        OpKind.Add => "Add",
        OpKind.Concat => "Concatenate",
        OpKind.GlobalAvgPool => "GlobalAvgPool2D",
        OpKind.BatchNorm => "BatchNorm",
        OpKind.Dropout => "Dropout",
        OpKind.LRN => "LRN",
        OpKind.ZeroPad => "ZeroPad2D",
        OpKind.Affine => "Affine",
        _ => "Activation",
    };

    /// <summary>Kernel, stride and padding in words, e.g. "5x5 s1 p0".</summary>
    public string Details => Op switch
    {
        OpKind.Conv or OpKind.MaxPool or OpKind.AvgPool =>
            $"{KernelH}x{KernelW} s{StrideH} p{PadTop},{PadLeft},{PadBottom},{PadRight}" + (Op == OpKind.AvgPool && CountIncludePad ? " incl-pad" : ""),
        OpKind.Dense => $"{Input.Length}->{Output.C}",
        OpKind.Add or OpKind.Concat => $"{Inputs.Count} inputs",
        OpKind.GlobalAvgPool => $"{KernelH}x{KernelW}",
        OpKind.BatchNorm => $"eps {R(Epsilon)} momentum {R(Momentum)}",
        OpKind.Dropout => $"rate {R(Rate)}",
        OpKind.LRN when Lrn is { } n => $"size {n.Size} alpha {R(n.Alpha)} beta {R(n.Beta)} k {R(n.K)}",
        OpKind.ZeroPad => $"p{PadTop},{PadLeft},{PadBottom},{PadRight}",
        OpKind.Affine when Affine is { } a => $"scale {Extent(a.Scale)} shift {Extent(a.Shift)}",
        _ => ActivationName,
    };

    private static string Extent(ConstantExtent extent) => extent switch
    {
        ConstantExtent.Channel => "per-channel",
        ConstantExtent.Full => "per-value",
        _ => "none",
    };

    private static string R(float value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>One output of a network: the layer whose output it is, whether only training computes it, and its loss weight.</summary>
internal sealed record OutputModel(int Layer, bool Auxiliary, float LossWeight);

/// <summary>A checked network: layers in execution order with shapes, parameter and FLOP counts.</summary>
/// <param name="Outputs">
/// The outputs: the main ones (which inference computes) in declaration order, then the auxiliary ones. A network that marks
/// none has one, its last layer.
/// </param>
/// <param name="Onnx">For a network compiled from an ONNX model: the model and where each parameter comes from; null otherwise.</param>
internal sealed record NetworkModel(
    string? Namespace,
    string ClassName,
    string Modifiers,
    TensorShape Input,
    EquatableArray<LayerModel> Layers,
    EquatableArray<OutputModel> Outputs,
    Front.OnnxSource? Onnx = null)
{
    /// <summary>
    /// The shape of one sample's inference output: the main output's, or with several, a flat vector holding each one after
    /// the other (C, H, W order each).
    /// </summary>
    public TensorShape Output
    {
        get
        {
            int main = 0, length = 0;
            foreach (OutputModel o in Outputs)
                if (!o.Auxiliary)
                {
                    main++;
                    length += (int)Layers[o.Layer].Output.Length;
                }
            return main == 1 ? Layers[Outputs[0].Layer].Output : new TensorShape(length, 1, 1, Flat: true);
        }
    }

    /// <summary>Values of one sample's training output: every output, main then auxiliary, one after the other.</summary>
    public int TrainingOutputLength
    {
        get
        {
            int length = 0;
            foreach (OutputModel o in Outputs)
                length += (int)Layers[o.Layer].Output.Length;
            return length;
        }
    }

    /// <summary>Whether any output is for training only.</summary>
    public bool HasAuxiliaryOutputs
    {
        get
        {
            foreach (OutputModel o in Outputs)
                if (o.Auxiliary)
                    return true;
            return false;
        }
    }

    /// <summary>The shape of tensor <paramref name="index"/>: a layer's output, or the network's input for -1.</summary>
    public TensorShape ShapeOf(int index) => index < 0 ? Input : Layers[index].Output;

    /// <summary>The name of tensor <paramref name="index"/>: a layer's name, or "input" for -1.</summary>
    public string NameOf(int index) => index < 0 ? Front.AttributeNames.NetworkInput : Layers[index].Name;

    /// <summary>Whether every layer reads just the one before it.</summary>
    public bool IsChain
    {
        get
        {
            for (int i = 0; i < Layers.Count; i++)
                if (!Layers[i].ReadsPrevious(i))
                    return false;
            return true;
        }
    }
}
