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
        RefTensor s = ReferenceOps.Activate(RefTensor.FromData(new[] { 0f, MathF.Log(2), MathF.Log(3) }, Shape.Flat(3)), Activation.Softmax);
        for (int i = 0; i < 3; i++)
            Assert.Equal((i + 1) / 6.0, s.Value[i], 6);
        RefTensor big = ReferenceOps.Activate(RefTensor.FromData(new[] { 1000f, 1000f }, Shape.Flat(2)), Activation.Softmax);
        Assert.Equal(new[] { 0.5, 0.5 }, big.Value);
        Assert.Throws<ArgumentException>(() => ReferenceOps.Activate(OneToNine(), Activation.Softmax));
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
    public void ToleranceFollowsTheAbsoluteSumNotTheCancelledResult()
    {
        // 1000 - 1000 + 0.001: float32 can be off by ~1e-4 here, which is fine against a scale of 2000.
        Assert.True(Tolerance.Within(0.0011f, 0.001, 2000.001));
        Assert.False(Tolerance.Within(0.0011f, 0.001, 0.001));
        Assert.False(Tolerance.Within(float.NaN, 0, 1));
        Assert.Equal(1e-5 * 3 + 1e-6, Tolerance.Allowed(-3, 2), 15);
    }
}
