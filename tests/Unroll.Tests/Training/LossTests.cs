using System;
using System.Linq;
using Unroll.Training;

namespace Unroll.Tests.Training;

public class LossTests
{
    private const double Step = 1e-6;

    // Independent double-precision references, written the naive way (fine for the moderate inputs they get).

    private static double[] Softmax(double[] z)
    {
        double[] e = z.Select(Math.Exp).ToArray();
        double s = e.Sum();
        return e.Select(v => v / s).ToArray();
    }

    private static double CrossEntropy(double[] z, double[] t) => -Softmax(z).Select((p, i) => t[i] * Math.Log(p)).Sum();

    private static double Mse(double[] y, double[] t) => y.Select((v, i) => (v - t[i]) * (v - t[i])).Sum() / y.Length;

    private static double Bce(double[] p, double[] t) => -p.Select((v, i) => t[i] * Math.Log(v) + (1 - t[i]) * Math.Log(1 - v)).Sum() / p.Length;

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    private static double BceLogits(double[] z, double[] t) => Bce(z.Select(Sigmoid).ToArray(), t);

    /// <summary>Central differences of <paramref name="f"/> at <paramref name="x"/>.</summary>
    private static double[] NumericGradient(Func<double[], double> f, double[] x)
    {
        double[] g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double[] a = (double[])x.Clone(), b = (double[])x.Clone();
            a[i] += Step;
            b[i] -= Step;
            g[i] = (f(a) - f(b)) / (2 * Step);
        }
        return g;
    }

    private static float[] Random(SeededRandom r, int n, float low, float high) => Enumerable.Range(0, n).Select(_ => r.Uniform(low, high)).ToArray();

    private static double[] D(float[] x) => x.Select(v => (double)v).ToArray();

    private static double[] OneHot(int n, int label) => Enumerable.Range(0, n).Select(i => i == label ? 1.0 : 0.0).ToArray();

    private static void AssertClose(double expected, double actual, double relative = 1e-5, double absolute = 1e-6)
    {
        Assert.True(Math.Abs(expected - actual) <= absolute + relative * Math.Abs(expected), $"expected {expected:R}, got {actual:R}");
    }

    private static void AssertGradient(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            AssertClose(expected[i], actual[i]);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 10)]
    [InlineData(3, 37)]
    public void SoftmaxCrossEntropyWithLabelMatchesFiniteDifferences(int seed, int classes)
    {
        var r = new SeededRandom(seed);
        float[] z = Random(r, classes, -4, 4);
        var loss = new SoftmaxCrossEntropy();
        for (int label = 0; label < classes; label += Math.Max(1, classes / 5))
        {
            double[] t = OneHot(classes, label);
            float[] grad = new float[classes];
            float value = loss.Compute(z, label, grad);
            AssertClose(CrossEntropy(D(z), t), value, 1e-6);
            AssertGradient(NumericGradient(x => CrossEntropy(x, t), D(z)), grad);
        }
    }

    [Fact]
    public void SoftmaxCrossEntropyWithSoftTargetsMatchesFiniteDifferences()
    {
        var r = new SeededRandom(7);
        float[] z = Random(r, 6, -3, 3);
        float[] t = [0.1f, 0.0f, 0.5f, 0.2f, 0.0f, 0.2f];
        float[] grad = new float[6];
        float value = new SoftmaxCrossEntropy().Compute(z, t, grad);
        AssertClose(CrossEntropy(D(z), D(t)), value, 1e-6);
        AssertGradient(NumericGradient(x => CrossEntropy(x, D(t)), D(z)), grad);
    }

    [Fact]
    public void AOneHotTargetVectorEqualsTheLabel()
    {
        var r = new SeededRandom(8);
        float[] z = Random(r, 10, -5, 5);
        foreach (IClassificationLoss loss in new IClassificationLoss[] { new SoftmaxCrossEntropy(), new CrossEntropyAfterSoftmax() })
        {
            float[] input = loss.FoldsSoftmaxBackward ? Softmax(D(z)).Select(v => (float)v).ToArray() : z;
            float[] g1 = new float[10], g2 = new float[10];
            float l1 = loss.Compute(input, 3, g1);
            float l2 = loss.Compute(input, OneHot(10, 3).Select(v => (float)v).ToArray(), g2);
            Assert.Equal(l1, l2);
            Assert.Equal(g1, g2);
        }
    }

    [Fact]
    public void CrossEntropyAfterSoftmaxGivesTheGradientWithRespectToTheSoftmaxInput()
    {
        // The network outputs p = softmax(z); the loss sees p but its gradient must be dL/dz.
        var r = new SeededRandom(9);
        float[] z = Random(r, 8, -3, 3);
        float[] p = Softmax(D(z)).Select(v => (float)v).ToArray();
        var loss = new CrossEntropyAfterSoftmax();
        Assert.True(loss.FoldsSoftmaxBackward);
        Assert.False(new SoftmaxCrossEntropy().FoldsSoftmaxBackward);
        for (int label = 0; label < 8; label++)
        {
            double[] t = OneHot(8, label);
            float[] grad = new float[8];
            float value = loss.Compute(p, label, grad);
            AssertClose(CrossEntropy(D(z), t), value, 1e-6);
            AssertGradient(NumericGradient(x => CrossEntropy(x, t), D(z)), grad);
        }
        float[] soft = [0.3f, 0.7f, 0, 0, 0, 0, 0, 0];
        float[] g = new float[8];
        AssertClose(CrossEntropy(D(z), D(soft)), loss.Compute(p, soft, g), 1e-6);
        AssertGradient(NumericGradient(x => CrossEntropy(x, D(soft)), D(z)), g);
    }

    [Fact]
    public void MeanSquaredErrorMatchesFiniteDifferences()
    {
        var r = new SeededRandom(10);
        float[] y = Random(r, 13, -2, 2), t = Random(r, 13, -2, 2), grad = new float[13];
        float value = new MeanSquaredError().Compute(y, t, grad);
        AssertClose(Mse(D(y), D(t)), value, 1e-6);
        AssertGradient(NumericGradient(x => Mse(x, D(t)), D(y)), grad);
    }

    [Fact]
    public void BinaryCrossEntropyMatchesFiniteDifferences()
    {
        var r = new SeededRandom(11);
        float[] p = Random(r, 9, 0.05f, 0.95f), t = Random(r, 9, 0, 1), grad = new float[9];
        t[0] = 0;
        t[1] = 1;
        float value = new BinaryCrossEntropy().Compute(p, t, grad);
        AssertClose(Bce(D(p), D(t)), value, 1e-6);
        AssertGradient(NumericGradient(x => Bce(x, D(t)), D(p)), grad);
    }

    [Fact]
    public void BinaryCrossEntropyWithLogitsMatchesFiniteDifferences()
    {
        var r = new SeededRandom(12);
        float[] z = Random(r, 9, -6, 6), t = Random(r, 9, 0, 1), grad = new float[9];
        t[0] = 0;
        t[1] = 1;
        float value = new BinaryCrossEntropyWithLogits().Compute(z, t, grad);
        AssertClose(BceLogits(D(z), D(t)), value, 1e-6);
        AssertGradient(NumericGradient(x => BceLogits(x, D(t)), D(z)), grad);
    }

    [Fact]
    public void HandComputedValues()
    {
        float[] g3 = new float[3];
        // log(e + e^2 + e^3) - 3 = 0.40760596444; softmax(1, 2, 3) = (0.09003057, 0.24472847, 0.66524096).
        Assert.Equal(0.40760596f, new SoftmaxCrossEntropy().Compute([1, 2, 3], 2, g3), 6);
        AssertGradient([0.09003057, 0.24472847, -0.33475904], g3);
        Assert.Equal(2.40760596f, new SoftmaxCrossEntropy().Compute([1, 2, 3], 0, g3), 6);
        Assert.Equal(-0.90996943f, g3[0], 6);

        // -log 0.25 = 1.38629436; gradient p - onehot.
        float[] g4 = new float[4];
        Assert.Equal(1.3862944f, new CrossEntropyAfterSoftmax().Compute([0.25f, 0.25f, 0.25f, 0.25f], 1, g4), 6);
        Assert.Equal([0.25f, -0.75f, 0.25f, 0.25f], g4);

        // ((1 - 0)^2 + (2 - 4)^2) / 2 = 2.5; gradient 2 (y - t) / n = (1, -2).
        float[] g2 = new float[2];
        Assert.Equal(2.5f, new MeanSquaredError().Compute([1, 2], [0, 4], g2));
        Assert.Equal([1f, -2f], g2);

        // -(log 0.8 + log(1 - 0.4)) / 2 = (0.22314355 + 0.51082562) / 2 = 0.36698459;
        // gradient (p - t) / (p (1 - p) n) = (-0.2 / 0.16 / 2, 0.4 / 0.24 / 2) = (-0.625, 0.83333333).
        Assert.Equal(0.36698459f, new BinaryCrossEntropy().Compute([0.8f, 0.4f], [1, 0], g2), 6);
        Assert.Equal(-0.625f, g2[0], 6);
        Assert.Equal(0.8333333f, g2[1], 6);

        // z = 0: log 2 each; gradient (0.5 - t) / n.  z = 2, t = 1: log(1 + e^-2) = 0.12692801.
        Assert.Equal((float)Math.Log(2), new BinaryCrossEntropyWithLogits().Compute([0, 0], [1, 0], g2), 6);
        Assert.Equal([-0.25f, 0.25f], g2);
        float[] g1 = new float[1];
        Assert.Equal(0.12692801f, new BinaryCrossEntropyWithLogits().Compute([2], [1], g1), 6);
        Assert.Equal((float)(1 / (1 + Math.Exp(-2)) - 1), g1[0], 6);
    }

    [Fact]
    public void HugeLogitsGiveFiniteLossesAndGradientsThatSumToZero()
    {
        float[] z = [1e4f, -1e4f, 0f, 5e3f, -3e4f];
        var loss = new SoftmaxCrossEntropy();
        float[] grad = new float[z.Length];
        float[] expected = [0f, 2e4f, 1e4f, 5e3f, 4e4f];
        for (int label = 0; label < z.Length; label++)
        {
            float value = loss.Compute(z, label, grad);
            Assert.True(float.IsFinite(value));
            Assert.Equal(expected[label], value);
            Assert.All(grad, v => Assert.True(float.IsFinite(v)));
            Assert.True(Math.Abs(grad.Sum()) <= 1e-6, $"gradient sums to {grad.Sum()}");
            Assert.Equal(label == 0 ? 0f : -1f, grad[label]);
        }

        // Identical huge logits: uniform softmax.
        float[] same = [3e4f, 3e4f, 3e4f, 3e4f];
        float[] g4 = new float[4];
        Assert.Equal((float)Math.Log(4), loss.Compute(same, 2, g4), 6);
        Assert.Equal([0.25f, 0.25f, -0.75f, 0.25f], g4);

        // Saturated probabilities after a softmax: the loss is bounded by -log(epsilon).
        float[] p = [1f, 0f, 0f];
        float[] g3 = new float[3];
        float bounded = new CrossEntropyAfterSoftmax().Compute(p, 1, g3);
        Assert.Equal((float)-Math.Log(1e-7f), bounded, 5);
        Assert.Equal([1f, -1f, 0f], g3);
        Assert.Equal(0f, g3.Sum());
    }

    [Fact]
    public void BinaryLossesStayFiniteAtTheExtremes()
    {
        float[] g = new float[4];
        float value = new BinaryCrossEntropyWithLogits().Compute([1e4f, -1e4f, 1e4f, -1e4f], [1, 0, 0, 1], g);
        Assert.Equal(5e3f, value); // (0 + 0 + 1e4 + 1e4) / 4
        Assert.Equal([0f, 0f, 0.25f, -0.25f], g);

        value = new BinaryCrossEntropy().Compute([1f, 0f, 1f, 0f], [1, 0, 0, 1], g);
        Assert.True(float.IsFinite(value));
        Assert.Equal((float)(-2 * Math.Log(1e-7f) / 4), value, 4);
        Assert.All(g, v => Assert.True(float.IsFinite(v)));
        Assert.True(g[2] > 0 && g[3] < 0);
    }

    [Fact]
    public void ComputeMeanAveragesLossesAndScalesGradients()
    {
        var r = new SeededRandom(13);
        const int batch = 5, classes = 7;
        float[] outputs = Random(r, batch * classes, -3, 3);
        int[] labels = [0, 6, 3, 3, 1];
        float[] grads = new float[outputs.Length], one = new float[classes];
        var loss = new SoftmaxCrossEntropy();
        float mean = loss.ComputeMean(outputs, labels, grads);
        double sum = 0;
        for (int n = 0; n < batch; n++)
        {
            sum += loss.Compute(outputs.AsSpan(n * classes, classes), labels[n], one);
            for (int i = 0; i < classes; i++)
                Assert.Equal(one[i] * (float)(1.0 / batch), grads[n * classes + i]);
        }
        Assert.Equal((float)(sum / batch), mean);

        float[] targets = Random(r, batch * classes, -1, 1);
        var mse = new MeanSquaredError();
        mean = mse.ComputeMean(outputs, targets, grads, batch);
        double whole = Mse(D(outputs), D(targets)); // the mean over every element, as PyTorch's MSELoss()
        AssertClose(whole, mean, 1e-6);
        AssertGradient(NumericGradient(x => Mse(x, D(targets)), D(outputs)), grads);
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        var ce = new SoftmaxCrossEntropy();
        Assert.Throws<ArgumentOutOfRangeException>(() => ce.Compute([1, 2], 2, new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ce.Compute([1, 2], -1, new float[2]));
        Assert.Throws<ArgumentException>(() => ce.Compute([1, 2], 0, new float[3]));
        Assert.Throws<ArgumentException>(() => ce.Compute([], 0, []));
        Assert.Throws<ArgumentException>(() => new MeanSquaredError().Compute([1, 2], [1], new float[2]));
        Assert.Throws<ArgumentException>(() => ce.ComputeMean(new float[7], [0, 1], new float[7]));
        Assert.Throws<ArgumentException>(() => ce.ComputeMean(new float[6], [], new float[6]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BinaryCrossEntropy(0.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CrossEntropyAfterSoftmax(0f));
    }
}
