namespace Unroll.Tests.Onnx;

/// <summary>
/// The source of Models/kinds.onnx: a residual block with batch normalisations, a concatenation, and one of each other
/// layer kind ONNX import maps (a Same convolution with stride 2, whose pads differ between sides; LRN; zero padding;
/// max and both average poolings; dropout; global average pooling; dense layers on spatial and flat inputs; a batch
/// normalisation of a flat vector; fused and stand-alone activations).
/// </summary>
[Network(Input = "3x16x16")]
public partial class ImportKindsNet
{
    [Conv(8, Kernel = 3, Stride = 2, Padding = Padding.Same, Bias = false)] public partial Layer Stem { get; }
    [BatchNorm, ReLU] public partial Layer BN1 { get; }
    [Conv(8, Kernel = 3, Pad = 1), LeakyReLU(0.2f)] public partial Layer A1 { get; }
    [Conv(8, Kernel = 3, Pad = 1)] public partial Layer A2 { get; }
    [BatchNorm(Epsilon = 1e-3f)] public partial Layer BN2 { get; }
    [Add(nameof(BN1)), ReLU] public partial Layer Res { get; }
    [Conv(4, Kernel = 1), Tanh] public partial Layer B1 { get; }
    [MaxPool(3, Stride = 1, Pad = 1, From = nameof(Res))] public partial Layer B2 { get; }
    [Concat(nameof(B1), nameof(B2), nameof(Res))] public partial Layer Cat { get; }
    [LRN(Size = 3, Alpha = 0.5f, Beta = 0.75f, K = 1.5f)] public partial Layer Norm { get; }
    [ZeroPad(Top = 1, Left = 0, Bottom = 0, Right = 1)] public partial Layer Pad { get; }
    [AvgPool(3, Stride = 2, Pad = 1, CountIncludePad = true)] public partial Layer AvgIn { get; }
    [AvgPool(3, Stride = 2, Pad = 1, From = nameof(Pad))] public partial Layer AvgEx { get; }
    [Add(nameof(AvgIn)), Sigmoid] public partial Layer Both { get; }
    [Dropout(0.25f)] public partial Layer Drop { get; }
    [GlobalAvgPool] public partial Layer Gap { get; }
    [Dense(16), ReLU] public partial Layer Fc1 { get; }
    [Dense(10, From = nameof(Drop)), Tanh] public partial Layer Fc2 { get; }
    [Concat(nameof(Fc1), nameof(Fc2))] public partial Layer Head { get; }
    [BatchNorm] public partial Layer HeadNorm { get; }
    [Dense(6)] public partial Layer Logits { get; }
    [Softmax] public partial Layer Out { get; }
}

/// <summary>LeNet-5 compiled back from its export (Models/lenet5.onnx, an AdditionalFiles item), batch fixed at 1 there.</summary>
[OnnxNetwork("lenet5.onnx")]
public partial class ImportedLeNet5
{
}

/// <summary><see cref="ImportKindsNet"/> compiled back from its export (Models/kinds.onnx), any batch.</summary>
[OnnxNetwork("Onnx/Models/kinds.onnx")]
public partial class ImportedKinds
{
}
