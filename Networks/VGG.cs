namespace Unroll.Networks;

/// <summary>One VGG convolution, used as a block: 3x3 with padding 1 (the size kept) and a ReLU.</summary>
public abstract class VggConv
{
    /// <summary>The convolution, with the block's channel count.</summary>
    [Conv(Block.Channels, Kernel = 3, Pad = 1), ReLU] protected abstract Layer Conv { get; }
}

/// <summary>
/// VGG-16 (Simonyan and Zisserman, 2015, configuration D) on 224x224 RGB images: five stages of 3x3 convolutions
/// (2, 2, 3, 3, 3), each closed by a 2x2 max pool, then three dense layers. 138,357,544 parameters.
/// </summary>
[Network(Input = "3x224x224")]
public partial class VGG16
{
    [Block(typeof(VggConv), 64, Repeat = 2)] public partial Layer Stage1 { get; }
    [MaxPool(2)] public partial Layer Pool1 { get; }
    [Block(typeof(VggConv), 128, Repeat = 2)] public partial Layer Stage2 { get; }
    [MaxPool(2)] public partial Layer Pool2 { get; }
    [Block(typeof(VggConv), 256, Repeat = 3)] public partial Layer Stage3 { get; }
    [MaxPool(2)] public partial Layer Pool3 { get; }
    [Block(typeof(VggConv), 512, Repeat = 3)] public partial Layer Stage4 { get; }
    [MaxPool(2)] public partial Layer Pool4 { get; }
    [Block(typeof(VggConv), 512, Repeat = 3)] public partial Layer Stage5 { get; }
    [MaxPool(2)] public partial Layer Pool5 { get; }
    [Dense(4096), ReLU] public partial Layer Fc6 { get; }
    [Dense(4096), ReLU] public partial Layer Fc7 { get; }
    [Dense(1000), Softmax] public partial Layer Fc8 { get; }
}

/// <summary>VGG-19 (configuration E): stages of 2, 2, 4, 4 and 4 convolutions. 143,667,240 parameters.</summary>
[Network(Input = "3x224x224")]
public partial class VGG19
{
    [Block(typeof(VggConv), 64, Repeat = 2)] public partial Layer Stage1 { get; }
    [MaxPool(2)] public partial Layer Pool1 { get; }
    [Block(typeof(VggConv), 128, Repeat = 2)] public partial Layer Stage2 { get; }
    [MaxPool(2)] public partial Layer Pool2 { get; }
    [Block(typeof(VggConv), 256, Repeat = 4)] public partial Layer Stage3 { get; }
    [MaxPool(2)] public partial Layer Pool3 { get; }
    [Block(typeof(VggConv), 512, Repeat = 4)] public partial Layer Stage4 { get; }
    [MaxPool(2)] public partial Layer Pool4 { get; }
    [Block(typeof(VggConv), 512, Repeat = 4)] public partial Layer Stage5 { get; }
    [MaxPool(2)] public partial Layer Pool5 { get; }
    [Dense(4096), ReLU] public partial Layer Fc6 { get; }
    [Dense(4096), ReLU] public partial Layer Fc7 { get; }
    [Dense(1000), Softmax] public partial Layer Fc8 { get; }
}
