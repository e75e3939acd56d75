namespace Unroll.Networks;

/// <summary>
/// ResNet-18 (He et al., 2016, table 1) on 224x224 RGB images, as in torchvision: a 7x7/2 stem, four stages of two basic
/// residual blocks, global average pooling and a 1000-way classifier. 11,689,512 parameters.
/// </summary>
[Network(Input = "3x224x224")]
public partial class ResNet18
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3, Bias = false)] public partial Layer Conv1 { get; }
    [BatchNorm, ReLU] public partial Layer BN1 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool1 { get; }
    [ResidualBlock(64, Repeat = 2)] public partial Layer Stage1 { get; }
    [ResidualBlock(128, Stride = 2, Repeat = 2)] public partial Layer Stage2 { get; }
    [ResidualBlock(256, Stride = 2, Repeat = 2)] public partial Layer Stage3 { get; }
    [ResidualBlock(512, Stride = 2, Repeat = 2)] public partial Layer Stage4 { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(1000), Softmax] public partial Layer Fc { get; }
}

/// <summary>ResNet-34: stages of 3, 4, 6 and 3 basic blocks. 21,797,672 parameters.</summary>
[Network(Input = "3x224x224")]
public partial class ResNet34
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3, Bias = false)] public partial Layer Conv1 { get; }
    [BatchNorm, ReLU] public partial Layer BN1 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool1 { get; }
    [ResidualBlock(64, Repeat = 3)] public partial Layer Stage1 { get; }
    [ResidualBlock(128, Stride = 2, Repeat = 4)] public partial Layer Stage2 { get; }
    [ResidualBlock(256, Stride = 2, Repeat = 6)] public partial Layer Stage3 { get; }
    [ResidualBlock(512, Stride = 2, Repeat = 3)] public partial Layer Stage4 { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(1000), Softmax] public partial Layer Fc { get; }
}

/// <summary>ResNet-50: stages of 3, 4, 6 and 3 bottleneck blocks (stride on the 3x3, as in torchvision). 25,557,032 parameters.</summary>
[Network(Input = "3x224x224")]
public partial class ResNet50
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3, Bias = false)] public partial Layer Conv1 { get; }
    [BatchNorm, ReLU] public partial Layer BN1 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool1 { get; }
    [BottleneckBlock(64, Repeat = 3)] public partial Layer Stage1 { get; }
    [BottleneckBlock(128, Stride = 2, Repeat = 4)] public partial Layer Stage2 { get; }
    [BottleneckBlock(256, Stride = 2, Repeat = 6)] public partial Layer Stage3 { get; }
    [BottleneckBlock(512, Stride = 2, Repeat = 3)] public partial Layer Stage4 { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(1000), Softmax] public partial Layer Fc { get; }
}

/// <summary>ResNet-101: stages of 3, 4, 23 and 3 bottleneck blocks. 44,549,160 parameters.</summary>
[Network(Input = "3x224x224")]
public partial class ResNet101
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3, Bias = false)] public partial Layer Conv1 { get; }
    [BatchNorm, ReLU] public partial Layer BN1 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool1 { get; }
    [BottleneckBlock(64, Repeat = 3)] public partial Layer Stage1 { get; }
    [BottleneckBlock(128, Stride = 2, Repeat = 4)] public partial Layer Stage2 { get; }
    [BottleneckBlock(256, Stride = 2, Repeat = 23)] public partial Layer Stage3 { get; }
    [BottleneckBlock(512, Stride = 2, Repeat = 3)] public partial Layer Stage4 { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(1000), Softmax] public partial Layer Fc { get; }
}

/// <summary>ResNet-152: stages of 3, 8, 36 and 3 bottleneck blocks. 60,192,808 parameters.</summary>
[Network(Input = "3x224x224")]
public partial class ResNet152
{
    [Conv(64, Kernel = 7, Stride = 2, Pad = 3, Bias = false)] public partial Layer Conv1 { get; }
    [BatchNorm, ReLU] public partial Layer BN1 { get; }
    [MaxPool(3, Stride = 2, Pad = 1)] public partial Layer Pool1 { get; }
    [BottleneckBlock(64, Repeat = 3)] public partial Layer Stage1 { get; }
    [BottleneckBlock(128, Stride = 2, Repeat = 8)] public partial Layer Stage2 { get; }
    [BottleneckBlock(256, Stride = 2, Repeat = 36)] public partial Layer Stage3 { get; }
    [BottleneckBlock(512, Stride = 2, Repeat = 3)] public partial Layer Stage4 { get; }
    [GlobalAvgPool] public partial Layer Pool { get; }
    [Dense(1000), Softmax] public partial Layer Fc { get; }
}
