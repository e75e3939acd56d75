using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Unroll.Kernels;

/// <summary>Moves one sample between the user's C, H, W order and the kernels' channels-last order (H, W, C with channel stride cs). Called by generated code.</summary>
public static class Layout
{
    /// <summary>Copies C x H x W values from <paramref name="source"/> to channels-last at <paramref name="destination"/>; padded channels are left as they are.</summary>
    public static void ToChannelsLast(ReadOnlySpan<float> source, ref float destination, int c, int h, int w, int cs)
    {
        if (source.Length < c * h * w)
            throw new ArgumentException($"Expected at least {c * h * w} values.", nameof(source));
        ref float src = ref MemoryMarshal.GetReference(source);
        if (c == cs && (c == 1 || h * w == 1))
        {
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref destination), ref Unsafe.As<float, byte>(ref src), (uint)(c * h * w * sizeof(float)));
            return;
        }
        int plane = h * w;
        for (int ch = 0; ch < c; ch++)
        {
            ref float s = ref Unsafe.Add(ref src, ch * plane);
            for (int p = 0; p < plane; p++)
                Unsafe.Add(ref destination, p * cs + ch) = Unsafe.Add(ref s, p);
        }
    }

    /// <summary>Copies channels-last values at <paramref name="source"/> back to C x H x W order in <paramref name="destination"/>.</summary>
    public static void ToChannelsFirst(ref float source, Span<float> destination, int c, int h, int w, int cs)
    {
        if (destination.Length < c * h * w)
            throw new ArgumentException($"Expected room for {c * h * w} values.", nameof(destination));
        ref float dst = ref MemoryMarshal.GetReference(destination);
        if (h * w == 1 || c == 1 && cs == 1)
        {
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref dst), ref Unsafe.As<float, byte>(ref source), (uint)(c * h * w * sizeof(float)));
            return;
        }
        int plane = h * w;
        for (int ch = 0; ch < c; ch++)
        {
            ref float d = ref Unsafe.Add(ref dst, ch * plane);
            for (int p = 0; p < plane; p++)
                Unsafe.Add(ref d, p) = Unsafe.Add(ref source, p * cs + ch);
        }
    }

    /// <summary>
    /// Transposes a packed convolution kernel [taps][inputs][outputStride] into [taps][outputs][inputStride]
    /// (padding zero), the order the input-gradient pass reads.
    /// </summary>
    public static void TransposeKernel(ReadOnlySpan<float> packed, Span<float> transposed, int taps, int inputs, int outputs, int outputStride, int inputStride)
    {
        if (packed.Length < taps * inputs * outputStride || transposed.Length < taps * outputs * inputStride)
            throw new ArgumentException("Kernel buffers are shorter than their shapes.");
        transposed.Slice(0, taps * outputs * inputStride).Clear();
        for (int t = 0; t < taps; t++)
            for (int i = 0; i < inputs; i++)
                for (int o = 0; o < outputs; o++)
                    transposed[(t * outputs + o) * inputStride + i] = packed[(t * inputs + i) * outputStride + o];
    }
}
