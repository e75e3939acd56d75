namespace Unroll.Networks;

/// <summary>
/// Network in Network (Lin, Chen and Yan, 2014) for 224x224 RGB images, as the course and d2l build it: four NiN blocks
/// (a spatial convolution followed by two 1x1 convolutions, all with ReLU), max pools between them, and no dense layer:
/// the last block has one channel per class, averaged over the image. 10 classes; 2,015,398 parameters.
/// </summary>
[Network(Input = "3x224x224")]
public partial class NiN
{
    [Conv(96, Kernel = 11, Stride = 4), ReLU] public partial Layer Conv1 { get; }
    [Conv(96, Kernel = 1), ReLU] public partial Layer Mlp1a { get; }
    [Conv(96, Kernel = 1), ReLU] public partial Layer Mlp1b { get; }
    [MaxPool(3, Stride = 2)] public partial Layer Pool1 { get; }
    [Conv(256, Kernel = 5, Pad = 2), ReLU] public partial Layer Conv2 { get; }
    [Conv(256, Kernel = 1), ReLU] public partial Layer Mlp2a { get; }
    [Conv(256, Kernel = 1), ReLU] public partial Layer Mlp2b { get; }
    [MaxPool(3, Stride = 2)] public partial Layer Pool2 { get; }
    [Conv(384, Kernel = 3, Pad = 1), ReLU] public partial Layer Conv3 { get; }
    [Conv(384, Kernel = 1), ReLU] public partial Layer Mlp3a { get; }
    [Conv(384, Kernel = 1), ReLU] public partial Layer Mlp3b { get; }
    [MaxPool(3, Stride = 2)] public partial Layer Pool3 { get; }
    [Conv(10, Kernel = 3, Pad = 1), ReLU] public partial Layer Conv4 { get; }
    [Conv(10, Kernel = 1), ReLU] public partial Layer Mlp4a { get; }
    [Conv(10, Kernel = 1), ReLU] public partial Layer Mlp4b { get; }
    [GlobalAvgPool, Softmax] public partial Layer Pool4 { get; }
}
