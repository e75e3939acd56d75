namespace Unroll.Networks;

/// <summary>
/// LeNet-5 on 32x32 single-channel images (LeCun et al., 1998), in the course's form: two
/// convolution and pooling stages, then three dense layers. 61,706 parameters.
/// </summary>
[Network(Input = "1x32x32")]
public partial class LeNet5
{
    [Conv(6, Kernel = 5), ReLU] public partial Layer C1 { get; }
    [MaxPool(2)] public partial Layer S2 { get; }
    [Conv(16, Kernel = 5), ReLU] public partial Layer C3 { get; }
    [MaxPool(2)] public partial Layer S4 { get; }
    [Dense(120), ReLU] public partial Layer F5 { get; }
    [Dense(84), ReLU] public partial Layer F6 { get; }
    [Dense(10), Softmax] public partial Layer Output { get; }
}
