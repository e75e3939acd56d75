namespace Unroll.Networks;

/// <summary>
/// GoogLeNet's auxiliary classifier (section 5 of the paper): a 5x5/3 average pool, a 1x1 convolution of the block's
/// width (128), a 1024-wide dense layer, 70% dropout and a 1000-way softmax.
/// </summary>
internal abstract class GoogLeNetAuxiliary
{
    [AvgPool(5, Stride = 3)] protected abstract Layer Pool { get; }
    [Conv(Block.Channels, Kernel = 1), ReLU] protected abstract Layer Conv { get; }
    [Dense(1024), ReLU] protected abstract Layer Fc1 { get; }
    [Dropout(0.7f)] protected abstract Layer Drop { get; }
    [Dense(1000), Softmax] protected abstract Layer Fc2 { get; }
}

/// <summary>
/// GoogLeNet (Szegedy et al., 2015, table 1) on 224x224 RGB images, as in the paper: a stem with local response
/// normalisation, nine Inception modules with max pools between the stages, global average pooling, dropout and a
/// 1000-way classifier. Max pools take padding 1 where the paper's framework rounded up. Two auxiliary classifiers, on
/// Inception 4a and 4d, add 0.3 times their loss in training; inference leaves them out. 13,378,280 parameters
/// (6,998,552 without the auxiliary classifiers).
/// </summary>
[Network(Input = "3x224x224")]
public partial class GoogLeNet
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3), ReLU] public partial Layer Conv1 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool1 { get; }
    [LRN] public partial Layer Norm1 { get; }
    [Conv(64, Kernel = 1), ReLU] public partial Layer Conv2Reduce { get; }
    [Conv(192, Kernel = 3, Pad = 1), ReLU] public partial Layer Conv2 { get; }
    [LRN] public partial Layer Norm2 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool2 { get; }
    [Inception(64, 96, 128, 16, 32, 32)] public partial Layer Inception3a { get; }
    [Inception(128, 128, 192, 32, 96, 64)] public partial Layer Inception3b { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool3 { get; }
    [Inception(192, 96, 208, 16, 48, 64)] public partial Layer Inception4a { get; }
    [Block(typeof(GoogLeNetAuxiliary), 128), Output(Auxiliary = true, LossWeight = 0.3f)] public partial Layer Aux1 { get; }
    [Inception(160, 112, 224, 24, 64, 64, From = nameof(Inception4a))] public partial Layer Inception4b { get; }
    [Inception(128, 128, 256, 24, 64, 64)] public partial Layer Inception4c { get; }
    [Inception(112, 144, 288, 32, 64, 64)] public partial Layer Inception4d { get; }
    [Block(typeof(GoogLeNetAuxiliary), 128), Output(Auxiliary = true, LossWeight = 0.3f)] public partial Layer Aux2 { get; }
    [Inception(256, 160, 320, 32, 128, 128, From = nameof(Inception4d))] public partial Layer Inception4e { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool4 { get; }
    [Inception(256, 160, 320, 32, 128, 128)] public partial Layer Inception5a { get; }
    [Inception(384, 192, 384, 48, 128, 128)] public partial Layer Inception5b { get; }
    [GlobalAvgPool] public partial Layer Pool5 { get; }
    [Dropout(0.4f)] public partial Layer Drop { get; }
    [Dense(1000), Softmax, Output] public partial Layer Fc { get; }
}
