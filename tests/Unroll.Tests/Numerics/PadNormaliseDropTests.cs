using System;
using System.Linq;
using Unroll.Kernels;
using Unroll.Tests.Infrastructure;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Zero padding, local response normalisation and dropout, forward, on every ISA, against plain double implementations
/// written here (inputs and outputs in C, H, W order), plus hand-checked LRN values and dropout's statistics and noise contract.
/// </summary>
public class PadNormaliseDropTests
{
    private static float[] Random(int count, int seed, float low = -1f, float high = 1f)
    {
        var random = new SeededRandom(seed);
        return Enumerable.Range(0, count).Select(_ => random.Uniform(low, high)).ToArray();
    }

    /// <summary>A network of the one layer <paramref name="layer"/> (its attributes) over <paramref name="input"/>, compiled once.</summary>
    private static System.Reflection.Assembly Compile(string layer, string input) => GeneratorHarness.CompileAndLoad($$"""
        using Unroll;
        [Network(Input = "{{input}}")]
        public partial class G { {{layer}} public partial Layer L { get; } }
        """);

    private static Network Create(System.Reflection.Assembly assembly, Isa isa, int threads = 1, int seed = 0) =>
        GeneratorHarness.Create(assembly, "G", new NetworkOptions { Isa = isa, Threads = threads, Seed = seed });

    // ---------------------------------------------------------------- zero padding

    [Theory]
    [InlineData("[ZeroPad(1)]", 1, 1, 1, 1)]
    [InlineData("[ZeroPad(Top = 2, Left = 0, Bottom = 1, Right = 3)]", 2, 0, 1, 3)]
    [InlineData("[ZeroPad(1, Bottom = 0), ReLU]", 1, 1, 0, 1)]
    [InlineData("[ZeroPad(2), Sigmoid]", 2, 2, 2, 2)]
    public void ZeroPadPlacesTheInputAmongZeros(string attribute, int top, int left, int bottom, int right)
    {
        const int c = 17, h = 3, w = 4;
        int oh = h + top + bottom, ow = w + left + right;
        var assembly = Compile(attribute, $"{c}x{h}x{w}");
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = Create(assembly, isa);
            Assert.Equal(new Shape(c, oh, ow), net.Info.OutputShape);
            float[] x = Random(2 * c * h * w, 3);
            float[] y = net.Predict(x);
            Assert.Equal(2 * c * oh * ow, y.Length);
            Func<double, double> f = attribute.Contains("ReLU") ? v => Math.Max(v, 0) : attribute.Contains("Sigmoid") ? v => 1 / (1 + Math.Exp(-v)) : v => v;
            for (int n = 0; n < 2; n++)
                for (int ch = 0; ch < c; ch++)
                    for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                        {
                            int si = i - top, sj = j - left;
                            double value = si >= 0 && si < h && sj >= 0 && sj < w ? x[((n * c + ch) * h + si) * w + sj] : 0;
                            float actual = y[((n * c + ch) * oh + i) * ow + j];
                            Assert.True(Math.Abs(actual - f(value)) <= 1e-6, $"{isa} {attribute} y[{n},{ch},{i},{j}] = {actual}, expected {f(value)}");
                        }
        }
    }

    // ---------------------------------------------------------------- local response normalisation

    /// <summary>PyTorch's LocalResponseNorm in double: window [c - size / 2, c + (size - 1) / 2], divisor size.</summary>
    private static double[] Lrn(float[] x, int batch, int c, int pixels, int size, double alpha, double beta, double k)
    {
        var y = new double[x.Length];
        for (int n = 0; n < batch; n++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < pixels; p++)
                {
                    double sum = 0;
                    for (int j = ch - size / 2; j <= ch + (size - 1) / 2; j++)
                        if (j >= 0 && j < c)
                            sum += Math.Pow(x[(n * c + j) * pixels + p], 2);
                    int i = (n * c + ch) * pixels + p;
                    y[i] = x[i] / Math.Pow(k + alpha / size * sum, beta);
                }
        return y;
    }

    [Theory]
    // Odd window (size 3, alpha / size = 1, beta 1/2, k 1) at x = 1, 2, 3, 4: s = 1 + 0 + 1 + 4 = 6, 1 + 1 + 4 + 9 = 15,
    // 1 + 4 + 9 + 16 = 30, 1 + 9 + 16 + 0 = 26, so y = 1 / √6, 2 / √15, 3 / √30, 4 / √26.
    [InlineData(3, 3f, 0.5f, 1f, new[] { 0.40824829, 0.51639778, 0.54772256, 0.78446454 })]
    // Even window (size 2: channels c - 1 and c, alpha / size = 1, beta 1, k 1): s = 1 + 1 = 2, 1 + 1 + 4 = 6, 1 + 4 + 9 = 14,
    // 1 + 9 + 16 = 26, so y = 1 / 2, 2 / 6, 3 / 14, 4 / 26.
    [InlineData(2, 2f, 1f, 1f, new[] { 0.5, 0.33333333, 0.21428571, 0.15384615 })]
    // Size 4 (channels c - 2 .. c + 1, alpha / size = 1/2), beta 2 through exp and log, k 2: s = 2 + (1 + 4) / 2 = 4.5,
    // 2 + (1 + 4 + 9) / 2 = 9, 2 + (1 + 4 + 9 + 16) / 2 = 17, 2 + (4 + 9 + 16) / 2 = 16.5; y = x / s².
    [InlineData(4, 2f, 2f, 2f, new[] { 0.04938272, 0.02469136, 0.01038062, 0.01469238 })]
    public void LrnMatchesHandCheckedValues(int size, float alpha, float beta, float k, double[] expected)
    {
        var assembly = Compile(FormattableString.Invariant($"[LRN(Size = {size}, Alpha = {alpha}f, Beta = {beta}f, K = {k}f)]"), "4x1x1");
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = Create(assembly, isa);
            float[] y = net.Predict([1f, 2f, 3f, 4f]);
            for (int c = 0; c < 4; c++)
                Assert.True(Math.Abs(y[c] - expected[c]) <= 5e-6 * Math.Abs(expected[c]), $"{isa} size {size}: y[{c}] = {y[c]}, expected {expected[c]}");
        }
    }

    [Theory]
    [InlineData(5, 1e-4f, 0.75f, 2f, 20, 1e-6)]     // AlexNet's constants, 20 channels: two vectors, padded lanes in the second
    [InlineData(4, 0.5f, 0.6f, 1f, 7, 1e-5)]        // an even window and exp/log (Vector512.Exp/Log are a few ulp off)
    [InlineData(7, 2f, 0.75f, 0.5f, 33, 1e-6)]      // a window wider than the channels near the ends
    public void LrnMatchesTheDoubleReference(int size, float alpha, float beta, float k, int channels, double tolerance)
    {
        var assembly = Compile(FormattableString.Invariant($"[LRN(Size = {size}, Alpha = {alpha}f, Beta = {beta}f, K = {k}f)]"), $"{channels}x3x2");
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = Create(assembly, isa);
            float[] x = Random(2 * channels * 6, 11, -3f, 3f);
            float[] y = net.Predict(x);
            double[] expected = Lrn(x, 2, channels, 6, size, alpha, beta, k);
            for (int i = 0; i < y.Length; i++)
                Assert.True(Math.Abs(y[i] - expected[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"{isa} y[{i}] = {y[i]}, expected {expected[i]}");
        }
    }

    // ---------------------------------------------------------------- dropout

    [Fact]
    public void DropoutIsTheIdentityAtInference()
    {
        var assembly = Compile("[Dropout(0.5f)]", "5x3x3");
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network net = Create(assembly, isa);
            float[] x = Random(3 * 45, 5);
            Assert.Equal(x, net.Predict(x));
        }
    }

    /// <summary>
    /// A dropout shares its input's slot at inference, so that slot lives until the last reader of either: here the tanh
    /// after the dropout must not work in place, since the sum reads the convolution's output after it. The dense layer at
    /// the end makes a batch run in sample groups too.
    /// </summary>
    [Fact]
    public void DropoutSharesItsInputsSlotWithoutClobberingIt()
    {
        var assembly = GeneratorHarness.CompileAndLoad("""
            using Unroll;
            [Network(Input = "3x6x6")]
            public partial class WithDropout
            {
                [Conv(4, Kernel = 3, Pad = 1)] public partial Layer A { get; }
                [Dropout(0.5f)] public partial Layer D { get; }
                [Tanh] public partial Layer T { get; }
                [Add(nameof(A))] public partial Layer S { get; }
                [Dropout(0.1f)] public partial Layer E { get; }
                [Dense(3)] public partial Layer F { get; }
            }
            [Network(Input = "3x6x6")]
            public partial class WithoutDropout
            {
                [Conv(4, Kernel = 3, Pad = 1)] public partial Layer A { get; }
                [Tanh] public partial Layer T { get; }
                [Add(nameof(A))] public partial Layer S { get; }
                [Dense(3)] public partial Layer F { get; }
            }
            """);
        foreach (Isa isa in IsaSupport.Supported())
        {
            using Network with = GeneratorHarness.Create(assembly, "WithDropout", new NetworkOptions { Isa = isa, Threads = 1, Seed = 4 });
            using Network without = GeneratorHarness.Create(assembly, "WithoutDropout", new NetworkOptions { Isa = isa, Threads = 1, Seed = 4 });
            without.Layers[0].SetWeights(with.Layers[0].GetWeights());
            without.Layers[0].SetBias(Random(4, 7));
            with.Layers[0].SetBias(Random(4, 7));
            without.Layers[3].SetWeights(with.Layers[5].GetWeights());
            foreach (int batch in new[] { 1, 5 })
            {
                float[] x = Random(batch * 108, 6);
                Assert.Equal(without.Predict(x), with.Predict(x));
            }
        }
    }

    [Fact]
    public void DropoutInTrainingDropsAtTheRateAndScalesWhatItKeeps()
    {
        const float rate = 0.3f;
        const int batch = 4, c = 19, h = 6, w = 7;
        const int length = c * h * w;
        float[] x = Random(batch * length, 8, 0.5f, 1.5f);
        float[]? first = null;
        var assembly = Compile("[Dropout(0.3f)]", $"{c}x{h}x{w}");
        foreach (Isa isa in IsaSupport.Supported())
            foreach (int threads in new[] { 1, 2 })
            {
                using Network net = Create(assembly, isa, threads, seed: 9);
                net.TrainingStep = 5;
                float[] y = new float[x.Length], dx = new float[x.Length];
                net.ComputeGradients(x, batch, (n, o, g) =>
                {
                    o.CopyTo(y.AsSpan(n * length));
                    g.Fill(1f);
                    return 0;
                }, dx);
                Assert.Equal(6, net.TrainingStep);

                // The noise contract, bit for bit: the key of layer 0 for sample n of step 5 under seed 9, and the index p x C + c.
                int zeros = 0;
                for (int n = 0; n < batch; n++)
                {
                    ulong key = DropoutNoise.LayerKey(DropoutNoise.SampleNoise(DropoutNoise.SeedNoise(9), 5, n), 0);
                    for (int ch = 0; ch < c; ch++)
                        for (int p = 0; p < h * w; p++)
                        {
                            int i = n * length + ch * h * w + p;
                            bool kept = DropoutNoise.Hash(key, (uint)(p * c + ch)) >= DropoutNoise.Threshold(rate);
                            double expected = kept ? x[i] / (1.0 - rate) : 0;
                            Assert.True(Math.Abs(y[i] - expected) <= 1e-6 * expected, $"{isa} y[{i}] = {y[i]}, expected {expected}");
                            // dLoss/dy = 1, so dx is the mask times the scale.
                            Assert.True(Math.Abs(dx[i] - (kept ? 1 / (1.0 - rate) : 0)) <= 1e-6, $"{isa} dx[{i}] = {dx[i]}");
                            zeros += kept ? 0 : 1;
                        }
                }
                // The fraction dropped: binomial with p = 0.3 over 3192 values, within five standard deviations.
                double fraction = (double)zeros / x.Length, sd = Math.Sqrt(rate * (1 - rate) / x.Length);
                Assert.True(Math.Abs(fraction - rate) < 5 * sd, $"{isa}: dropped {fraction:F4}, expected {rate} ± {5 * sd:F4}");
                // Every instruction set and thread count draws the same masks.
                first ??= y;
                Assert.Equal(first, y);
            }
    }

    [Fact]
    public void DropoutMasksDifferBetweenStepsAndSamples()
    {
        using Network net = Create(Compile("[Dropout(0.5f)]", "16x4x4"), IsaSupport.Supported().Last());
        float[] x = Enumerable.Repeat(1f, 2 * 256).ToArray();
        float[] Step()
        {
            float[] y = new float[x.Length];
            net.ComputeGradients(x, 2, (n, o, g) =>
            {
                o.CopyTo(y.AsSpan(n * 256));
                return 0;
            });
            return y;
        }
        float[] a = Step(), b = Step();
        Assert.NotEqual(a, b);
        Assert.NotEqual(a.AsSpan(0, 256).ToArray(), a.AsSpan(256, 256).ToArray());
        net.TrainingStep = 0;
        Assert.Equal(a, Step());
    }
}
