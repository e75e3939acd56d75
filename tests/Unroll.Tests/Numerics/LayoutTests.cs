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

    /// <summary>
    /// The padded, phase-split planes that convolutions writing planes read: every float against index arithmetic, over
    /// the permuting path (2 phases, rows of 32 or more) and the scalar one, with row ranges as threads use them.
    /// </summary>
    [Theory]
    [InlineData(1, 3, 5, 1, 1, 2, 4)]
    [InlineData(3, 20, 64, 2, 2, 2, 34)]
    [InlineData(2, 7, 70, 3, 3, 2, 38)]
    [InlineData(3, 13, 193, 1, 1, 4, 49)]
    [InlineData(2, 9, 32, 1, 1, 1, 34)]
    [InlineData(2, 6, 40, 0, 0, 2, 22)]
    [InlineData(1, 3, 10, 0, 0, 4, 2)]
    [InlineData(2, 4, 70, 1, 2, 2, 30)]
    [InlineData(1, 2, 9, 0, 3, 1, 10)]
    public void SplitPhasesMatchesIndexArithmetic(int c, int h, int w, int padTop, int padLeft, int phases, int width)
    {
        var random = new Random(c * 1000 + h * 10 + w);
        float[] source = new float[c * h * w];
        for (int i = 0; i < source.Length; i++)
            source[i] = (float)random.NextDouble() + 1f;
        int rows = h + 2 * padTop;
        float[] split = new float[c * rows * phases * width];
        Array.Fill(split, -7f);
        int middle = rows / 2;
        Layout.SplitPhases(source, ref split[0], c, h, w, padTop, padLeft, rows, phases, width, 0, middle);
        Assert.Equal(-7f, split[middle * phases * width]);
        Layout.SplitPhases(source, ref split[0], c, h, w, padTop, padLeft, rows, phases, width, middle, rows);
        for (int ch = 0; ch < c; ch++)
            for (int r = 0; r < rows; r++)
                for (int k = 0; k < phases; k++)
                    for (int j = 0; j < width; j++)
                    {
                        int y = r - padTop, x = j * phases + k - padLeft;
                        float expected = y >= 0 && y < h && x >= 0 && x < w ? source[(ch * h + y) * w + x] : 0f;
                        Assert.Equal(expected, split[((ch * rows + r) * phases + k) * width + j]);
                    }
    }

    [Fact]
    public void SplitPhasesRejectsBadArguments()
    {
        float[] source = new float[2 * 3 * 10];
        float[] split = new float[2 * 5 * 2 * 6];
        var error = Assert.Throws<ArgumentException>(() => Layout.SplitPhases(source, ref split[0], 2, 3, 10, 1, 1, 5, 0, 6, 0, 5));
        Assert.Contains("Phases (0) must be positive", error.Message);
        Assert.Throws<ArgumentException>(() => Layout.SplitPhases(source.AsSpan(1), ref split[0], 2, 3, 10, 1, 1, 5, 2, 6, 0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.SplitPhases(source, ref split[0], 2, 3, 10, 1, 1, 5, 2, 6, 0, 6));
    }
    [Theory]
    [InlineData(3, 67, 67, 0, 0, false, 0, 0, 4, 4, 17, 17, 48)]
    [InlineData(3, 30, 31, 0, 0, false, 4, 4, 3, 3, 12, 13, 32)]
    [InlineData(1, 40, 44, 0, 0, true, 3, 3, 4, 4, 11, 12, 16)]
    [InlineData(16, 20, 21, 1, 0, true, 1, 2, 2, 2, 12, 13, 64)]
    [InlineData(5, 9, 14, 0, 2, true, 2, 0, 2, 3, 7, 6, 32)]
    [InlineData(2, 11, 9, 2, 3, false, 0, 5, 4, 2, 5, 9, 16)]
    [InlineData(3, 35, 38, 0, 3, false, 0, 0, 4, 4, 9, 10, 48)]
    public void SplitPhaseChannelsMatchesIndexArithmetic(int c, int h, int w, int rowsLeftOut, int columnsLeftOut, bool channelsLast, int padTop, int padLeft,
        int strideH, int strideW, int rows, int width, int cs)
    {
        var random = new Random(c * 1000 + h * 10 + w);
        // Channels-last sources carry a padded channel stride whose padding the split must not read as data.
        int sourceCs = channelsLast ? c + 3 : 1;
        float[] source = new float[channelsLast ? h * w * sourceCs : c * h * w];
        for (int i = 0; i < source.Length; i++)
            source[i] = (float)random.NextDouble() + 1f;
        int channelStride = channelsLast ? 1 : h * w, pixelStride = channelsLast ? sourceCs : 1;
        int readRows = h - rowsLeftOut, readColumns = w - columnsLeftOut;
        float[] split = new float[rows * width * cs];
        Array.Fill(split, -7f);
        int middle = rows / 2;
        Layout.SplitPhaseChannels(source, ref split[0], c, readRows, w, readColumns, channelStride, pixelStride, padTop, padLeft, strideH, strideW, rows, width, cs, 0, middle);
        Assert.Equal(-7f, split[middle * width * cs]);
        Layout.SplitPhaseChannels(source, ref split[0], c, readRows, w, readColumns, channelStride, pixelStride, padTop, padLeft, strideH, strideW, rows, width, cs, middle, rows);
        int phases = c * strideH * strideW;
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < width; j++)
                for (int k = 0; k < cs; k++)
                {
                    float expected = 0f;
                    if (k < phases)
                    {
                        int pc = k % strideW, ch = k / strideW % c, pr = k / (strideW * c);
                        int y = i * strideH + pr - padTop, x = j * strideW + pc - padLeft;
                        if (y >= 0 && y < readRows && x >= 0 && x < readColumns)
                            expected = source[ch * channelStride + (y * w + x) * pixelStride];
                    }
                    Assert.True(expected == split[(i * width + j) * cs + k], $"pixel ({i}, {j}) channel {k}: expected {expected}, got {split[(i * width + j) * cs + k]}.");
                }
    }

    [Fact]
    public void SplitPhaseChannelsRejectsBadArguments()
    {
        float[] source = new float[2 * 9 * 10];
        float[] split = new float[5 * 6 * 16];
        var error = Assert.Throws<ArgumentException>(() => Layout.SplitPhaseChannels(source, ref split[0], 2, 9, 10, 10, 90, 1, 0, 0, 2, 2, 5, 6, 7, 0, 5));
        Assert.Contains("channel stride (7) is less than the 8 phase channels", error.Message);
        Assert.Throws<ArgumentException>(() => Layout.SplitPhaseChannels(source.AsSpan(1), ref split[0], 2, 9, 10, 10, 90, 1, 0, 0, 2, 2, 5, 6, 16, 0, 5));
        Assert.Throws<ArgumentException>(() => Layout.SplitPhaseChannels(source, ref split[0], 2, 9, 10, 10, 90, 1, 0, 0, 0, 2, 5, 6, 16, 0, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.SplitPhaseChannels(source, ref split[0], 2, 9, 10, 10, 90, 1, 0, 0, 2, 2, 5, 6, 16, 0, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => Layout.SplitPhaseChannels(source, ref split[0], 2, 9, 10, 11, 90, 1, 0, 0, 2, 2, 5, 6, 16, 0, 5));
    }

    [Theory]
    [InlineData(3, 11, 11, 4, 4, 96)]
    [InlineData(2, 9, 7, 3, 3, 16)]
    [InlineData(4, 5, 5, 2, 2, 32)]
    [InlineData(3, 3, 3, 1, 1, 16)]
    public void StridedWinogradKernelIsTheTransformOfEachPhaseKernel(int inputs, int kernelH, int kernelW, int strideH, int strideW, int outputStride)
    {
        var random = new Random(inputs * 100 + kernelH);
        float[] packed = new float[kernelH * kernelW * inputs * outputStride];
        for (int i = 0; i < packed.Length; i++)
            packed[i] = (float)random.NextDouble() - 0.5f;
        int channels = inputs * strideH * strideW;
        float[] actual = new float[16 * channels * outputStride];
        Layout.WinogradKernel(packed, actual, inputs, outputStride, kernelH, kernelW, strideH, strideW);
        // The oracle: each phase channel's 3x3 kernel gathered by index arithmetic, through the 3x3 transform.
        float[] gathered = new float[9 * channels * outputStride];
        for (int k = 0; k < channels; k++)
        {
            int pc = k % strideW, c = k / strideW % inputs, pr = k / (strideW * inputs);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    for (int o = 0; o < outputStride; o++)
                    {
                        int ky = a * strideH + pr, kx = b * strideW + pc;
                        gathered[((a * 3 + b) * channels + k) * outputStride + o] = ky < kernelH && kx < kernelW ? packed[((ky * kernelW + kx) * inputs + c) * outputStride + o] : 0f;
                    }
        }
        float[] expected = new float[actual.Length];
        Layout.WinogradKernel(gathered, expected, channels, outputStride);
        Assert.Equal(expected, actual);
        Assert.Throws<ArgumentException>(() => Layout.WinogradKernel(packed, actual, inputs, outputStride, 3 * strideH + 1, kernelW, strideH, strideW));
    }
}
