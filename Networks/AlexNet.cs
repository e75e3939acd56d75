namespace Unroll.Networks;

/// <summary>
/// AlexNet (Krizhevsky, Sutskever and Hinton, 2012) as one tower, on 227x227 RGB images: five convolutions, local response
/// normalisation after the first two, three max pools, and three dense layers with dropout. 62,378,344 parameters.
/// </summary>
[Network(Input = "3x227x227")]
public partial class AlexNet
{
    [Conv(96, Kernel = 11, Stride = 4), ReLU] public partial Layer Conv1 { get; }
    [LRN(Size = 5, Alpha = 1e-4f, Beta = 0.75f, K = 2f)] public partial Layer Norm1 { get; }
    [MaxPool(3, Stride = 2)] public partial Layer Pool1 { get; }
    [Conv(256, Kernel = 5, Pad = 2), ReLU] public partial Layer Conv2 { get; }
    [LRN(Size = 5, Alpha = 1e-4f, Beta = 0.75f, K = 2f)] public partial Layer Norm2 { get; }
    [MaxPool(3, Stride = 2)] public partial Layer Pool2 { get; }
    [Conv(384, Kernel = 3, Pad = 1), ReLU] public partial Layer Conv3 { get; }
    [Conv(384, Kernel = 3, Pad = 1), ReLU] public partial Layer Conv4 { get; }
    [Conv(256, Kernel = 3, Pad = 1), ReLU] public partial Layer Conv5 { get; }
    [MaxPool(3, Stride = 2)] public partial Layer Pool5 { get; }
    [Dense(4096), ReLU] public partial Layer Fc6 { get; }
    [Dropout(0.5f)] public partial Layer Drop6 { get; }
    [Dense(4096), ReLU] public partial Layer Fc7 { get; }
    [Dropout(0.5f)] public partial Layer Drop7 { get; }
    [Dense(1000), Softmax] public partial Layer Fc8 { get; }
}
