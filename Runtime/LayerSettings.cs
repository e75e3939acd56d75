namespace Unroll;

/// <summary>
/// The numbers a layer was declared with, as typed values (the generator resolves defaults and <c>Padding.Same</c>
/// first): what <see cref="LayerInfo.Details"/> says in words, plus a leaky ReLU's slope and a clip's bounds. A property that
/// the layer's kind (or activation) does not use keeps its default.
/// </summary>
public sealed record LayerSettings
{
    /// <summary>Kernel or window height of a convolution or pooling layer; 0 for other kinds.</summary>
    public int KernelHeight { get; init; }

    /// <summary>Kernel or window width of a convolution or pooling layer; 0 for other kinds.</summary>
    public int KernelWidth { get; init; }

    /// <summary>Vertical stride of a convolution or pooling layer; 1 for other kinds.</summary>
    public int StrideHeight { get; init; } = 1;

    /// <summary>Horizontal stride of a convolution or pooling layer; 1 for other kinds.</summary>
    public int StrideWidth { get; init; } = 1;

    /// <summary>Rows of padding above the input (convolution, pooling, zero padding).</summary>
    public int PadTop { get; init; }

    /// <summary>Columns of padding left of the input (convolution, pooling, zero padding).</summary>
    public int PadLeft { get; init; }

    /// <summary>Rows of padding below the input (convolution, pooling, zero padding).</summary>
    public int PadBottom { get; init; }

    /// <summary>Columns of padding right of the input (convolution, pooling, zero padding).</summary>
    public int PadRight { get; init; }

    /// <summary>For average pooling: whether padded positions count in the divisor.</summary>
    public bool CountIncludePad { get; init; }

    /// <summary>A batch normalisation's epsilon, added to the variance before its square root.</summary>
    public float Epsilon { get; init; }

    /// <summary>A batch normalisation's momentum, the weight of a batch's statistics in the running averages.</summary>
    public float Momentum { get; init; }

    /// <summary>A dropout's rate, the probability that training drops a value.</summary>
    public float DropoutRate { get; init; }

    /// <summary>A local response normalisation's window, in channels.</summary>
    public int LrnSize { get; init; }

    /// <summary>A local response normalisation's alpha (the sum of squares is scaled by alpha / size).</summary>
    public float LrnAlpha { get; init; }

    /// <summary>A local response normalisation's exponent.</summary>
    public float LrnBeta { get; init; }

    /// <summary>A local response normalisation's additive constant.</summary>
    public float LrnK { get; init; }

    /// <summary>The slope for negative inputs when the layer's activation is <see cref="Activation.LeakyReLU"/>.</summary>
    public float LeakyReLUAlpha { get; init; }

    /// <summary>
    /// The lower bound when the layer's activation is <see cref="Activation.Clip"/>; <see cref="float.NegativeInfinity"/>
    /// (no bound) for a clip bounded above only, and for every other activation.
    /// </summary>
    public float ClipMin { get; init; } = float.NegativeInfinity;

    /// <summary>
    /// The upper bound when the layer's activation is <see cref="Activation.Clip"/>; <see cref="float.PositiveInfinity"/>
    /// (no bound) for a clip bounded below only, and for every other activation.
    /// </summary>
    public float ClipMax { get; init; } = float.PositiveInfinity;
}
