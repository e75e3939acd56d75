using System;
using System.Collections.Generic;
using System.Linq;
using Unroll.Tests.Reference;

namespace Unroll.Tests.Numerics;

/// <summary>The course's 6x6 edge-detection example.</summary>
[Network(Input = "1x6x6")]
public partial class EdgeNet
{
    [Conv(1, Kernel = 3, Bias = false)] public partial Layer Edges { get; }
}

/// <summary>A non-square image for the classic filters.</summary>
[Network(Input = "1x13x11")]
public partial class EdgeNetWide
{
    [Conv(1, Kernel = 3, Bias = false)] public partial Layer Edges { get; }
}

/// <summary>A square image, so that images and results can be transposed.</summary>
[Network(Input = "1x9x9")]
public partial class EdgeNetSquare
{
    [Conv(1, Kernel = 3, Bias = false)] public partial Layer Edges { get; }
}

public class EdgeDetectionTests
{
    public static IEnumerable<object[]> Isas => IsaSupport.Supported().Select(isa => new object[] { isa });

    private static readonly (string Name, Func<float[]> Vertical, Func<float[]> Horizontal)[] Pairs =
    {
        ("plain", () => Filters.Vertical, () => Filters.Horizontal),
        ("Sobel", () => Filters.SobelVertical, () => Filters.SobelHorizontal),
        ("Scharr", () => Filters.ScharrVertical, () => Filters.ScharrHorizontal),
    };

    private static float[] Run(Network net, float[] filter, float[] image)
    {
        net.Layers[0].SetWeights(filter);
        return net.Predict(image);
    }

    /// <summary>Bright (10) on the left three columns, dark (0) on the right; or mirrored.</summary>
    private static float[] StepImage(bool brightLeft)
    {
        float[] image = new float[36];
        for (int r = 0; r < 6; r++)
            for (int c = 0; c < 6; c++)
                image[r * 6 + c] = (c < 3) == brightLeft ? 10 : 0;
        return image;
    }

    private static float[] Transpose(float[] square, int n)
    {
        float[] t = new float[n * n];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
                t[c * n + r] = square[r * n + c];
        return t;
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void VerticalFilterFindsTheCourseEdge(Isa isa)
    {
        using var net = new EdgeNet(new NetworkOptions { Isa = isa, Threads = 1 });
        Assert.Equal(new Shape(1, 4, 4), net.Info.OutputShape);
        float[] rows = { 0, 30, 30, 0 };
        float[] expected = Enumerable.Range(0, 4).SelectMany(_ => rows).ToArray();
        Assert.Equal(expected, Run(net, Filters.Vertical, StepImage(brightLeft: true)));
        // Dark to bright is the opposite edge.
        Assert.Equal(expected.Select(v => -v).ToArray(), Run(net, Filters.Vertical, StepImage(brightLeft: false)));
        // The horizontal filter sees no edge in that image; on the transposed image it sees the same edge, transposed.
        Assert.All(Run(net, Filters.Horizontal, StepImage(brightLeft: true)), v => Assert.Equal(0f, v));
        Assert.Equal(Transpose(expected, 4), Run(net, Filters.Horizontal, Transpose(StepImage(brightLeft: true), 6)));
    }

    [Fact]
    public void HorizontalFiltersAreTheTransposesOfTheVerticalOnes()
    {
        foreach (var (name, vertical, horizontal) in Pairs)
        {
            float[] v = vertical(), h = horizontal();
            Assert.Equal(9, v.Length);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 3; c++)
                    Assert.True(h[r * 3 + c] == v[c * 3 + r], $"{name}: horizontal[{r},{c}] = {h[r * 3 + c]}, vertical[{c},{r}] = {v[c * 3 + r]}");
            // Every row of a vertical filter sums to zero (flat regions give zero), and it responds to a left-to-right fall.
            for (int r = 0; r < 3; r++)
                Assert.Equal(0f, v[r * 3] + v[r * 3 + 1] + v[r * 3 + 2]);
            Assert.True(v[0] > 0 && v[2] < 0, $"{name}: a vertical filter is positive on the left, negative on the right.");
        }
        // Each call returns a fresh copy: callers cannot corrupt the filters.
        float[] first = Filters.SobelVertical;
        first[0] = 99;
        Assert.Equal(1f, Filters.SobelVertical[0]);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void ClassicFiltersMatchTheReferenceOnARandomImage(Isa isa)
    {
        using var net = new EdgeNetWide(new NetworkOptions { Isa = isa, Threads = 1 });
        var random = new SeededRandom(20261127);
        float[] image = new float[13 * 11];
        for (int i = 0; i < image.Length; i++)
            image[i] = random.Uniform(0f, 1f);
        var layer = new RefLayer(RefOp.Conv, Units: 1, KernelH: 3, KernelW: 3, Bias: false);
        foreach (var (name, vertical, horizontal) in Pairs)
            foreach (var (direction, filter) in new[] { ("vertical", vertical()), ("horizontal", horizontal()) })
            {
                float[] actual = Run(net, filter, image);
                RefTensor[] expected = ReferenceOps.Run(new[] { layer }, net.Info.InputShape, new (float[]?, float[]?)[] { (filter, null) }, image, 1);
                Assert.Equal(new Shape(1, 11, 9), expected[0].Shape);
                var lines = new List<string>();
                int bad = Tolerance.Mismatches(actual, expected, lines);
                Assert.True(bad == 0, $"{name} {direction} on {isa}: {bad} value(s) differ:\n{string.Join("\n", lines)}");
            }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void FilteringATransposedImageTransposesTheResult(Isa isa)
    {
        // With integer pixels every product and sum is exact in float32, so the results are bit-equal:
        // (K^T correlated with X^T) = (K correlated with X)^T.
        using var net = new EdgeNetSquare(new NetworkOptions { Isa = isa, Threads = 1 });
        var random = new SeededRandom(5);
        float[] image = new float[81];
        for (int i = 0; i < image.Length; i++)
            image[i] = random.Next(10);
        foreach (var (name, vertical, horizontal) in Pairs)
        {
            float[] viaVertical = Run(net, vertical(), image);
            float[] viaHorizontal = Run(net, horizontal(), Transpose(image, 9));
            Assert.True(Transpose(viaVertical, 7).SequenceEqual(viaHorizontal), $"{name} on {isa}: horizontal(image^T) != vertical(image)^T");
        }
    }
}
