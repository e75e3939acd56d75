using System;
using Unroll.Kernels;
using Xunit;

namespace Unroll.Tests.Numerics;

/// <summary>The layout moves between the user's C, H, W order and channels-last, against index arithmetic.</summary>
public class LayoutTests
{
    [Theory]
    [InlineData(1, 5, 7, 1)]
    [InlineData(3, 9, 11, 3)]
    [InlineData(3, 9, 11, 16)]
    [InlineData(6, 28, 28, 16)]
    [InlineData(10, 5, 5, 16)]
    [InlineData(20, 9, 7, 32)]
    [InlineData(8, 8, 8, 16)]
    [InlineData(16, 3, 5, 16)]
    [InlineData(17, 13, 3, 32)]
    [InlineData(64, 7, 9, 64)]
    [InlineData(40, 1, 1, 48)]
    [InlineData(256, 6, 6, 256)]
    public void RoundTripMatchesIndexArithmetic(int c, int h, int w, int cs)
    {
        var random = new Random(c * 1000 + h * 10 + w);
        float[] source = new float[c * h * w];
        for (int i = 0; i < source.Length; i++)
            source[i] = (float)random.NextDouble();
        float[] channelsLast = new float[h * w * cs];
        Array.Fill(channelsLast, -7f);

        Layout.ToChannelsLast(source, ref channelsLast[0], c, h, w, cs);

        // Padded channels keep their value or become zero (edge blocks are transposed in registers with zero rows).
        for (int ch = 0; ch < cs; ch++)
            for (int p = 0; p < h * w; p++)
                if (ch < c)
                    Assert.Equal(source[ch * h * w + p], channelsLast[p * cs + ch]);
                else
                    Assert.Contains(channelsLast[p * cs + ch], new[] { -7f, 0f });

        float[] back = new float[c * h * w];
        Layout.ToChannelsFirst(ref channelsLast[0], back, c, h, w, cs);
        Assert.Equal(source, back);

        // Row ranges, as threads sharing a sample use them: two halves give the same result as the whole,
        // and neither half writes outside its rows.
        int middle = h / 2;
        float[] halves = new float[h * w * cs];
        Layout.ToChannelsLast(source, ref halves[0], c, h, w, cs, 0, middle);
        Assert.All(halves.AsSpan(middle * w * cs).ToArray(), value => Assert.Equal(0f, value));
        Layout.ToChannelsLast(source, ref halves[0], c, h, w, cs, middle, h);
        for (int p = 0; p < h * w; p++)
            for (int ch = 0; ch < c; ch++)
                Assert.Equal(channelsLast[p * cs + ch], halves[p * cs + ch]);
        float[] backHalves = new float[c * h * w];
        Array.Fill(backHalves, -5f);
        Layout.ToChannelsFirst(ref channelsLast[0], backHalves, c, h, w, cs, 0, middle);
        for (int ch = 0; ch < c; ch++)
            for (int p = middle * w; p < h * w; p++)
                Assert.Equal(-5f, backHalves[ch * h * w + p]);
        Layout.ToChannelsFirst(ref channelsLast[0], backHalves, c, h, w, cs, middle, h);
        Assert.Equal(source, backHalves);
    }
}
