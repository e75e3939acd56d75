using System;
using System.Runtime.CompilerServices;

namespace Unroll.Kernels;

/// <summary>Element-wise passes for activations without a vector instruction. Called by generated code.</summary>
public static class Activations
{
    /// <summary>tanh in place over <paramref name="length"/> values.</summary>
    public static void Tanh(ref float data, int length)
    {
        for (int i = 0; i < length; i++)
        {
            ref float x = ref Unsafe.Add(ref data, i);
            x = MathF.Tanh(x);
        }
    }

    /// <summary>The logistic sigmoid in place over <paramref name="length"/> values.</summary>
    public static void Sigmoid(ref float data, int length)
    {
        for (int i = 0; i < length; i++)
        {
            ref float x = ref Unsafe.Add(ref data, i);
            x = 1f / (1f + MathF.Exp(-x));
        }
    }

    /// <summary>Softmax in place over <paramref name="length"/> values; the maximum is subtracted first, so large inputs do not overflow.</summary>
    public static void Softmax(ref float data, int length)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < length; i++)
            max = MathF.Max(max, Unsafe.Add(ref data, i));
        double sum = 0;
        for (int i = 0; i < length; i++)
        {
            ref float x = ref Unsafe.Add(ref data, i);
            x = MathF.Exp(x - max);
            sum += x;
        }
        float scale = (float)(1.0 / sum);
        for (int i = 0; i < length; i++)
            Unsafe.Add(ref data, i) *= scale;
    }

    /// <summary>
    /// Softmax backward in place: dy becomes y * (dy - sum(dy * y)) over <paramref name="length"/> values,
    /// where y is the softmax output.
    /// </summary>
    public static void SoftmaxBackward(ref float y, ref float dy, int length)
    {
        double dot = 0;
        for (int i = 0; i < length; i++)
            dot += (double)Unsafe.Add(ref dy, i) * Unsafe.Add(ref y, i);
        for (int i = 0; i < length; i++)
        {
            ref float g = ref Unsafe.Add(ref dy, i);
            g = (float)(Unsafe.Add(ref y, i) * (g - dot));
        }
    }
}
