using System;
using System.Linq;

namespace Unroll.Tests.Reference;

/// <summary>The reference itself, against values worked out by hand: an oracle has to be right before it judges anything.</summary>
public class ReferenceOpsTests
{
    private static RefTensor Tensor(int c, int h, int w, params float[] values) => RefTensor.FromData(values, new Shape(c, h, w));

    // 1 2 3 / 4 5 6 / 7 8 9
    private static RefTensor OneToNine() => Tensor(1, 3, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9);

    [Theory]
    [InlineData(5, 3, 2, 1, 1)]  // out 3, total 2
    [InlineData(6, 3, 2, 0, 1)]  // out 3, total 1: the odd pixel goes after
    [InlineData(4, 4, 1, 1, 2)]  // out 4, total 3
    [InlineData(7, 1, 3, 0, 0)]  // out 3, total max(6 + 1 - 7, 0) = 0
    [InlineData(5, 1, 3, 0, 0)]  // out 2, total max(3 + 1 - 5, 0) = 0
    [InlineData(1, 7, 1, 3, 3)]  // out 1, total 6
    public void SamePaddingFollowsTensorFlow(int n, int k, int s, int before, int after)
    {
        Assert.Equal((before, after), ReferenceOps.SamePadding(n, k, s));
        Assert.Equal((n + s - 1) / s, ReferenceOps.OutputSize(n, k, s, before, after));
    }

    [Fact]
    public void ConvIsCrossCorrelationWithZeroPadding()
    {
        // Kernel [1 0; 0 -1]: out = x[r, c] - x[r + 1, c + 1] (no flip).
        float[] k = { 1, 0, 0, -1 };
        RefTensor valid = ReferenceOps.Conv2D(OneToNine(), k, null, 1, 2, 2, 1, 0, 0, 0, 0);
        Assert.Equal(new double[] { -4, -4, -4, -4 }, valid.Value);
        // Pad 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1); padding reads as zero; bias 0.5.
        RefTensor padded = ReferenceOps.Conv2D(OneToNine(), k, new[] { 0.5f }, 1, 2, 2, 2, 1, 1, 1, 1);
        Assert.Equal(new Shape(1, 2, 2), padded.Shape);
        Assert.Equal(new[] { -1 + 0.5, -3 + 0.5, -7 + 0.5, 5 - 9 + 0.5 }, padded.Value);
        // Scale: the sum of the absolute terms, |5| + |-9| + |0.5| for the last window.
        Assert.Equal(14.5, padded.Scale[3]);
    }

    [Fact]
    public void ConvWeightsAreOutputInputRowColumn()
    {
        // 2 input channels of 1x2, 2 filters of 1x1: weights [O, I, 1, 1].
        RefTensor x = Tensor(2, 1, 2, 1, 2, 10, 20);
        RefTensor y = ReferenceOps.Conv2D(x, new float[] { 2, 3, -1, 1 }, new float[] { 0, 100 }, 2, 1, 1, 1, 0, 0, 0, 0);
        Assert.Equal(new double[] { 2 * 1 + 3 * 10, 2 * 2 + 3 * 20, -1 + 10 + 100, -2 + 20 + 100 }, y.Value);
        // A non-square kernel [1, 2] (KH = 1, KW = 2): out = x[c] + 2 x[c + 1].
        RefTensor z = ReferenceOps.Conv2D(OneToNine(), new float[] { 1, 2 }, null, 1, 1, 2, 1, 0, 0, 0, 0);
        Assert.Equal(new Shape(1, 3, 2), z.Shape);
        Assert.Equal(new double[] { 5, 8, 14, 17, 23, 26 }, z.Value);
    }

    [Fact]
    public void MaxPoolPaddingNeverWins()
    {
        RefTensor x = Tensor(1, 2, 2, -1, -2, -3, -4);
        RefTensor y = ReferenceOps.MaxPool(x, 2, 1, 1, 1, 1, 1);
        Assert.Equal(new Shape(1, 3, 3), y.Shape);
        Assert.Equal(new double[] { -1, -1, -2, -1, -1, -2, -3, -3, -4 }, y.Value);
    }

    [Fact]
    public void AvgPoolDivisors()
    {
        // 3x3 window, stride 1, pad 1 over 1..9. Corner: real pixels 1, 2, 4, 5.
        RefTensor excluded = ReferenceOps.AvgPool(OneToNine(), 3, 1, 1, 1, 1, 1, countIncludePad: false);
        RefTensor included = ReferenceOps.AvgPool(OneToNine(), 3, 1, 1, 1, 1, 1, countIncludePad: true);
        Assert.Equal(12.0 / 4, excluded.Value[0]);
        Assert.Equal(12.0 / 9, included.Value[0]);
        Assert.Equal(45.0 / 9, excluded.Value[4]);
        Assert.Equal(45.0 / 9, included.Value[4]);
        // Top edge: 1+2+3+4+5+6 over 6 real pixels, or 9 positions.
        Assert.Equal(21.0 / 6, excluded.Value[1]);
        Assert.Equal(21.0 / 9, included.Value[1]);
        // 2x2 window, stride 2, pad 1 over 1..9: output 2x2; the window at (1, 1) covers 5, 6, 8, 9.
        RefTensor strided = ReferenceOps.AvgPool(OneToNine(), 2, 2, 1, 1, 1, 1, countIncludePad: true);
        Assert.Equal(new double[] { 1.0 / 4, (2 + 3) / 4.0, (4 + 7) / 4.0, (5 + 6 + 8 + 9) / 4.0 }, strided.Value);
    }

    [Fact]
    public void DenseFlattensChannelsThenRowsThenColumns()
    {
        // Input 2x1x2: (c0, x0) = 1, (c0, x1) = 2, (c1, x0) = 3, (c1, x1) = 4; weights [O, C*H*W].
        RefTensor x = Tensor(2, 1, 2, 1, 2, 3, 4);
        RefTensor y = ReferenceOps.Dense(x, new float[] { 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1 }, new float[] { 0, 0, -10 }, 3);
        Assert.True(y.Flat);
        Assert.Equal(new double[] { 1, 3, 0 }, y.Value);
        Assert.Equal(20, y.Scale[2]);
    }

    [Fact]
    public void Activations()
    {
        RefTensor x = RefTensor.FromData(new float[] { -2, 0, 3 }, Shape.Flat(3));
        Assert.Equal(new double[] { 0, 0, 3 }, ReferenceOps.Activate(x, Activation.ReLU).Value);
        Assert.Equal(new[] { -2 * (double)0.1f, 0, 3 }, ReferenceOps.Activate(x, Activation.LeakyReLU, 0.1f).Value);
        Assert.Equal(new[] { Math.Tanh(-2), 0, Math.Tanh(3) }, ReferenceOps.Activate(x, Activation.Tanh).Value);
        Assert.Equal(0.5, ReferenceOps.Activate(x, Activation.Sigmoid).Value[1]);
        // Clip: both bounds, one side open, and a range that leaves 0 out (0 becomes the lower bound, held exactly).
        Assert.Equal(new double[] { -1, 0, 2 }, ReferenceOps.Activate(x, Activation.Clip, clipMin: -1, clipMax: 2).Value);
        Assert.Equal(new double[] { -2, 0, 0.5 }, ReferenceOps.Activate(x, Activation.Clip, clipMax: 0.5f).Value);
        RefTensor raised = ReferenceOps.Activate(x, Activation.Clip, clipMin: 0.25f, clipMax: 6);
        Assert.Equal(new double[] { 0.25, 0.25, 3 }, raised.Value);
        Assert.Equal(new double[] { 2, 0.25, 3 }, raised.Scale);
        Assert.Throws<ArgumentException>(() => ReferenceOps.Activate(x, Activation.Clip, clipMin: 1, clipMax: 0));
        RefTensor s = ReferenceOps.Activate(RefTensor.FromData(new[] { 0f, MathF.Log(2), MathF.Log(3) }, Shape.Flat(3)), Activation.Softmax);
        for (int i = 0; i < 3; i++)
            Assert.Equal((i + 1) / 6.0, s.Value[i], 6);
        RefTensor big = ReferenceOps.Activate(RefTensor.FromData(new[] { 1000f, 1000f }, Shape.Flat(2)), Activation.Softmax);
        Assert.Equal(new[] { 0.5, 0.5 }, big.Value);
        Assert.Throws<ArgumentException>(() => ReferenceOps.Activate(OneToNine(), Activation.Softmax));
        // A C x 1 x 1 tensor (a 1x1 conv over 1x1, say) is softmaxed over its channels, as a flat one is.
        Assert.Equal(s.Value, ReferenceOps.Activate(Tensor(3, 1, 1, 0, MathF.Log(2), MathF.Log(3)), Activation.Softmax).Value);
    }

    [Fact]
    public void ReadsLayerDetailsBack()
    {
        var conv = new LayerInfo("c", LayerKind.Conv2D, Activation.Tanh, new Shape(2, 5, 4), new Shape(3, 3, 2),
            new TensorInfo("c.weight", new[] { 3, 2, 3, 2 }, 0, 96, TensorLayout.ConvKernel, new Shape(2, 5, 4)), null, 0, "3x2 s2 p1,0,2,1");
        Assert.Equal(new RefLayer(RefOp.Conv, Activation.Tanh, Units: 3, KernelH: 3, KernelW: 2, Stride: 2, PadTop: 1, PadLeft: 0, PadBottom: 2, PadRight: 1, Bias: false),
            RefLayer.FromInfo(conv));
        var pool = new LayerInfo("p", LayerKind.AvgPool2D, Activation.None, new Shape(2, 5, 4), new Shape(2, 3, 2), null, null, 0, "3x3 s2 p1,1,1,1 incl-pad");
        Assert.True(RefLayer.FromInfo(pool).CountIncludePad);
        Assert.Equal(new Shape(2, 3, 2), RefLayer.FromInfo(pool).OutputShape(new Shape(2, 5, 4)));
    }

    [Fact]
    public void AddSumsItsInputsThenActivates()
    {
        // x = -2 1 3 (1x1x3); layer 0: 1x1 conv 2x - 1 = -5 1 5; layer 1: ReLU(layer 0 + x) = ReLU(-7 2 8).
        var layers = new[]
        {
            new RefLayer(RefOp.Conv, Units: 1),
            new RefLayer(RefOp.Add, Activation.ReLU, Inputs: new[] { 0, RefLayer.NetworkInput }),
        };
        RefTensor x = Tensor(1, 1, 3, -2, 1, 3);
        RefLayerTrace[] trace = ReferenceOps.Trace(layers, x, new (double[]?, double[]?)[] { (new[] { 2.0 }, new[] { -1.0 }), (null, null) });
        Assert.Equal(new[] { trace[0].Output, x }, trace[1].Inputs);
        Assert.Same(trace[0].Output, trace[1].Input);
        Assert.Equal(new double[] { -7, 2, 8 }, trace[1].Pre.Value);
        Assert.Equal(new double[] { 0, 2, 8 }, trace[1].Output.Value);
        // Scales add: |2x| + |-1| from the conv, |x| from the input.
        Assert.Equal(new double[] { 5 + 2, 3 + 1, 7 + 3 }, trace[1].Output.Scale);
        Assert.Equal(new Shape(1, 1, 3), ReferenceOps.OutputShapes(layers, x.Shape)[1]);
        // Three terms, one of them twice; terms of different shapes do not add.
        RefTensor three = ReferenceOps.Add(new[] { x, x, Tensor(1, 1, 3, 0.5f, 0.5f, -0.5f) });
        Assert.Equal(new[] { -3.5, 2.5, 5.5 }, three.Value);
        Assert.Equal(new[] { 4.5, 2.5, 6.5 }, three.Scale);
        Assert.Throws<ArgumentException>(() => ReferenceOps.Add(new[] { x, Tensor(3, 1, 1, 1, 2, 3) }));
        Assert.Throws<ArgumentException>(() => layers[1].OutputShape(new[] { x.Shape, new Shape(3, 1, 1) }));
    }

    [Fact]
    public void ConcatPutsChannelsInInputOrder()
    {
        // a: one 2x2 channel 1..4; b: two 2x2 channels 5..12. Concat(b, a): b's channels, then a's, at every position.
        RefTensor a = Tensor(1, 2, 2, 1, 2, 3, 4), b = Tensor(2, 2, 2, 5, 6, 7, 8, 9, 10, 11, 12);
        RefTensor ba = ReferenceOps.Concat(new[] { b, a });
        Assert.Equal(new Shape(3, 2, 2), ba.Shape);
        Assert.Equal(new double[] { 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4 }, ba.Value);
        Assert.Equal(4, ba.Value[ba.Index(2, 1, 1)]);
        Assert.Equal(7, ba.Value[ba.Index(0, 1, 0)]);
        Assert.Equal(ba.Value.Select(Math.Abs), ba.Scale); // copied values keep their scales
        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, ReferenceOps.Concat(new[] { a, b }).Value);
        // Flat vectors stay flat: features of the first, then of the second.
        RefTensor flat = ReferenceOps.Concat(new[] { RefTensor.FromData(new float[] { 1, -2 }, Shape.Flat(2)), RefTensor.FromData(new float[] { 3 }, Shape.Flat(1)) });
        Assert.Equal(Shape.Flat(3), flat.Shape);
        Assert.Equal(new double[] { 1, -2, 3 }, flat.Value);
        Assert.Equal(Shape.Flat(3), new RefLayer(RefOp.Concat).OutputShape(new[] { Shape.Flat(2), Shape.Flat(1) }));
        // Other heights, or spatial with flat, do not line up.
        Assert.Throws<ArgumentException>(() => ReferenceOps.Concat(new[] { a, Tensor(1, 1, 2, 1, 2) }));
        Assert.Throws<ArgumentException>(() => ReferenceOps.Concat(new[] { RefTensor.FromData(new float[] { 1 }, Shape.Flat(1)), Tensor(1, 1, 1, 1) }));
    }

    [Fact]
    public void GlobalAvgPoolAveragesEachChannelIntoAFlatVector()
    {
        // Two channels of 2x3: 1..6 and -1, -1, -1, 1, 1, 7.
        RefTensor x = Tensor(2, 2, 3, 1, 2, 3, 4, 5, 6, -1, -1, -1, 1, 1, 7);
        RefTensor y = ReferenceOps.GlobalAvgPool(x);
        Assert.Equal(Shape.Flat(2), y.Shape);
        Assert.Equal(new[] { 21 / 6.0, 6 / 6.0 }, y.Value);
        Assert.Equal(new[] { 21 / 6.0, 12 / 6.0 }, y.Scale); // the mean of |x|
        Assert.Equal(Shape.Flat(2), new RefLayer(RefOp.GlobalAvgPool).OutputShape(x.Shape));
        Assert.Throws<ArgumentException>(() => ReferenceOps.GlobalAvgPool(y));
    }

    [Fact]
    public void ReadsAGraphDescriptionBack()
    {
        // input 1x2x2 -> a: 1x1 conv to 2 channels -> cat: Concat(a, input) = 3x2x2 -> gap: 3 features.
        Shape input = new(1, 2, 2), a = new(2, 2, 2), cat = new(3, 2, 2);
        LayerInfo Conv() => new("a", LayerKind.Conv2D, Activation.None, input, a,
            new TensorInfo("a.weight", new[] { 2, 1, 1, 1 }, 0, 32, TensorLayout.ConvKernel, input), null, 16, "1x1 s1 p0,0,0,0");
        LayerInfo Cat(params string[] inputs) => new("cat", LayerKind.Concatenate, Activation.None, a, cat, null, null, 0, "2 inputs", inputs);
        LayerInfo Gap(Shape from) => new("gap", LayerKind.GlobalAvgPool2D, Activation.None, from, Shape.Flat(3), null, null, 12, "2x2");
        NetworkInfo Network(params LayerInfo[] layers) => new("G", input, Shape.Flat(3), layers, 32, 0, "");
        RefLayer[] layers = RefLayer.FromInfo(Network(Conv(), Cat("a", Layer.NetworkInput), Gap(cat)));
        Assert.Null(layers[0].Inputs);
        Assert.Equal(new[] { 0, RefLayer.NetworkInput }, layers[1].Inputs);
        Assert.Equal(RefOp.Concat, layers[1].Op);
        Assert.Null(layers[2].Inputs);
        Assert.Equal(RefOp.GlobalAvgPool, layers[2].Op);
        Assert.Equal(new[] { a, cat, Shape.Flat(3) }, ReferenceOps.OutputShapes(layers, input));
        // Run: the conv doubles and negates, so each position reads 2x, -x, x and the means are those of x times 2, -1, 1.
        float[] weights = { 2, -1 }, x = { 1, 2, 3, 6 };
        RefTensor[] y = ReferenceOps.Run(Network(Conv(), Cat("a", Layer.NetworkInput), Gap(cat)), new (float[]?, float[]?)[] { (weights, null), (null, null), (null, null) }, x, 1);
        Assert.Equal(new[] { 6.0, -3, 3 }, y[0].Value);
        // A name that is not an earlier layer, a merge's count of inputs, and every shape are checked.
        Assert.Throws<InvalidOperationException>(() => RefLayer.FromInfo(Network(Conv(), Cat("gap", "a"), Gap(cat))));
        Assert.Throws<FormatException>(() => RefLayer.FromInfo(Network(Conv(), Cat("a", "a", "a"), Gap(cat))));
        Assert.Throws<InvalidOperationException>(() => RefLayer.FromInfo(Network(Conv(), Cat(Layer.NetworkInput, "a"), Gap(cat))));
        Assert.Throws<InvalidOperationException>(() => RefLayer.FromInfo(Network(Conv(), Cat("a", Layer.NetworkInput), Gap(a))));
    }

    [Fact]
    public void ToleranceFollowsTheAbsoluteSumNotTheCancelledResult()
    {
        // 1000 - 1000 + 0.001: float32 can be off by ~1e-4 here, which is fine against a scale of 2000.
        Assert.True(Tolerance.Within(0.0011f, 0.001, 2000.001));
        Assert.False(Tolerance.Within(0.0011f, 0.001, 0.001));
        Assert.False(Tolerance.Within(float.NaN, 0, 1));
        Assert.Equal(1e-5 * 3 + 1e-6, Tolerance.Allowed(-3, 2), 15);
    }
}
