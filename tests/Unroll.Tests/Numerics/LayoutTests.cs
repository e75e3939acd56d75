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

        for (int ch = 0; ch < cs; ch++)
            for (int p = 0; p < h * w; p++)
                Assert.Equal(ch < c ? source[ch * h * w + p] : -7f, channelsLast[p * cs + ch]);

        float[] back = new float[c * h * w];
        Layout.ToChannelsFirst(ref channelsLast[0], back, c, h, w, cs);
        Assert.Equal(source, back);
    }
}
