namespace Unroll.Generator.Front;

/// <summary>Full metadata names of the runtime's attributes; matched as strings so the generator loads no other assembly.</summary>
internal static class AttributeNames
{
    public const string Network = "Unroll.NetworkAttribute";
    public const string OnnxNetwork = "Unroll.OnnxNetworkAttribute";
    public const string Conv = "Unroll.ConvAttribute";
    public const string MaxPool = "Unroll.MaxPoolAttribute";
    public const string AvgPool = "Unroll.AvgPoolAttribute";
    public const string Dense = "Unroll.DenseAttribute";
    public const string Add = "Unroll.AddAttribute";
    public const string Concat = "Unroll.ConcatAttribute";
    public const string GlobalAvgPool = "Unroll.GlobalAvgPoolAttribute";
    public const string BatchNorm = "Unroll.BatchNormAttribute";
    public const string Block = "Unroll.BlockAttribute";
    public const string ResidualBlock = "Unroll.ResidualBlockAttribute";
    public const string BottleneckBlock = "Unroll.BottleneckBlockAttribute";
    public const string Inception = "Unroll.InceptionAttribute";
    public const string Output = "Unroll.OutputAttribute";

    /// <summary>The name by which a block template's layers refer to the block's input (Unroll.Block.Input).</summary>
    public const string BlockInput = "@block";

    /// <summary>The value of Unroll.Block.Channels and Unroll.Block.Stride: counts and strides from it on stand for the block's.</summary>
    public const int BlockParameter = 1 << 20;
    public const string Dropout = "Unroll.DropoutAttribute";
    public const string LRN = "Unroll.LRNAttribute";
    public const string ZeroPad = "Unroll.ZeroPadAttribute";
    public const string ReLU = "Unroll.ReLUAttribute";
    public const string LeakyReLU = "Unroll.LeakyReLUAttribute";
    public const string Clip = "Unroll.ClipAttribute";
    public const string Tanh = "Unroll.TanhAttribute";
    public const string Sigmoid = "Unroll.SigmoidAttribute";
    public const string Softmax = "Unroll.SoftmaxAttribute";
    public const string LayerType = "Unroll.Layer";

    /// <summary>The name by which layers refer to the network's input (Unroll.Layer.NetworkInput).</summary>
    public const string NetworkInput = "input";
}
