namespace Unroll.Tests.Onnx;

/// <summary>
/// Every layer kind of the runtime in one graph: zero padding, a strided convolution without bias with a batch
/// normalisation folded into it, LRN with odd and even windows (spatial and flat), a non-square convolution with Same
/// padding, a sum of three, max and both average poolings, a concatenation of spatial and of flat tensors, dropout,
/// stand-alone and fused activations (leaky ReLU with its slope, tanh, sigmoid, softmax), a dense layer on a spatial and
/// on a flat input, global average pooling, and a batch normalisation of a flat vector.
/// </summary>
[Network(Input = "3x12x12")]
public partial class EveryKindNet
{
    [ZeroPad(Top = 1, Left = 2, Bottom = 0, Right = 1)] public partial Layer Pad { get; }
    [Conv(8, Kernel = 3, Stride = 2, Pad = 1, Bias = false)] public partial Layer Conv1 { get; }
    [BatchNorm(Epsilon = 1e-3f), LeakyReLU(0.2f)] public partial Layer Norm1 { get; }
    [LRN(Size = 3, Alpha = 0.5f, Beta = 0.75f, K = 1.5f)] public partial Layer Lrn3 { get; }
    [LRN(Size = 4, Alpha = 0.3f, Beta = 0.6f, K = 1f)] public partial Layer Lrn4 { get; }
    [Conv(8, Kernel = 1), Tanh] public partial Layer Branch1 { get; }
    [Conv(8, KernelHeight = 3, KernelWidth = 1, Padding = Padding.Same, From = nameof(Lrn4))] public partial Layer Branch2 { get; }
    [Add(nameof(Branch1), nameof(Branch2), nameof(Lrn4)), ReLU] public partial Layer Sum3 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer MaxP { get; }
    [AvgPool(3, Stride = 2, Pad = 1, CountIncludePad = true, From = nameof(Sum3))] public partial Layer AvgIn { get; }
    [AvgPool(3, Stride = 2, Pad = 1, From = nameof(Sum3))] public partial Layer AvgEx { get; }
    [Concat(nameof(MaxP), nameof(AvgIn), nameof(AvgEx))] public partial Layer Cat { get; }
    [Dropout(0.3f)] public partial Layer Drop { get; }
    [Sigmoid] public partial Layer Sig { get; }
    [GlobalAvgPool] public partial Layer Gap { get; }
    [Dense(12), Tanh] public partial Layer FcA { get; }
    [Dense(12, Bias = false, From = nameof(Sig))] public partial Layer FcB { get; }
    [Add(nameof(FcA))] public partial Layer Sum2 { get; }
    [Concat(nameof(FcA), nameof(Sum2))] public partial Layer CatFlat { get; }
    [BatchNorm] public partial Layer NormFlat { get; }
    [LRN(Size = 2, Alpha = 0.2f, Beta = 0.5f, K = 1f)] public partial Layer LrnFlatEven { get; }
    [LRN(Size = 5, Alpha = 0.1f, Beta = 0.75f, K = 2f)] public partial Layer LrnFlatOdd { get; }
    [Dense(5)] public partial Layer Fc { get; }
    [LeakyReLU(0.1f)] public partial Layer Leaky { get; }
    [Softmax] public partial Layer Out { get; }
}

/// <summary>A softmax over the channels of a C x 1 x 1 output (a spatial tensor, not a flat one).</summary>
[Network(Input = "4x3x3")]
public partial class SpatialSoftmaxNet
{
    [Conv(6, Kernel = 3), Softmax] public partial Layer Scores { get; }
}

/// <summary>
/// Clips as the exporter writes them (a Clip node with scalar initializers for its bounds, an open side left out): ReLU6
/// fused into a convolution, one from above only after a max pooling, one from below only fused into a dense layer, and
/// one with both bounds standing alone after it.
/// </summary>
[Network(Input = "3x6x6")]
public partial class ClipExportNet
{
    [Conv(6, Kernel = 3, Pad = 1), Clip(0f, 6f)] public partial Layer Relu6 { get; }
    [MaxPool(2)] public partial Layer Pool { get; }
    [Clip(float.NegativeInfinity, 0.5f)] public partial Layer Capped { get; }
    [Dense(8), Clip(-0.3f, float.PositiveInfinity)] public partial Layer Floored { get; }
    [Clip(-0.25f, 0.25f)] public partial Layer Both { get; }
}
