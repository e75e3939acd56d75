using System;

namespace Unroll;

/// <summary>Converts parameter tensors between their canonical order and the order the kernels read.</summary>
public static class TensorLayouts
{
    /// <summary>Vector granule every padded output dimension is rounded up to (one AVX-512 register of floats).</summary>
    public const int Granule = 16;

    /// <summary>Rounds <paramref name="n"/> up to a multiple of <see cref="Granule"/>.</summary>
    public static int Pad(int n) => (n + Granule - 1) / Granule * Granule;

    /// <summary>Writes canonical values into storage order; padding becomes zero.</summary>
    public static void ToStorage(TensorInfo tensor, ReadOnlySpan<float> canonical, Span<float> storage)
    {
        if (canonical.Length != tensor.Count)
            throw new ArgumentException($"Tensor '{tensor.Name}' {tensor.ShapeText} takes {tensor.Count} values, got {canonical.Length}.", nameof(canonical));
        storage = storage.Slice(0, tensor.Length);
        storage.Clear();
        int[] map = StorageIndices(tensor);
        for (int i = 0; i < map.Length; i++)
            storage[map[i]] = canonical[i];
    }

    /// <summary>Reads storage order back into canonical order.</summary>
    public static void ToCanonical(TensorInfo tensor, ReadOnlySpan<float> storage, Span<float> canonical)
    {
        if (canonical.Length != tensor.Count)
            throw new ArgumentException($"Tensor '{tensor.Name}' {tensor.ShapeText} takes {tensor.Count} values, got {canonical.Length}.", nameof(canonical));
        int[] map = StorageIndices(tensor);
        for (int i = 0; i < map.Length; i++)
            canonical[i] = storage[map[i]];
    }

    /// <summary>For every canonical index, the storage index of the same value.</summary>
    public static int[] StorageIndices(TensorInfo tensor)
    {
        int[] map = new int[tensor.Count];
        void pair(int canonicalIndex, int storageIndex) => map[canonicalIndex] = storageIndex;
        int[] shape = tensor.Shape;
        switch (tensor.Layout)
        {
            case TensorLayout.Plain:
                for (int i = 0; i < tensor.Count; i++)
                    pair(i, i);
                break;
            case TensorLayout.ConvKernel:
            {
                int o = shape[0], inC = shape[1], kh = shape[2], kw = shape[3], op = Pad(o);
                for (int a = 0; a < o; a++)
                    for (int b = 0; b < inC; b++)
                        for (int y = 0; y < kh; y++)
                            for (int x = 0; x < kw; x++)
                                pair(((a * inC + b) * kh + y) * kw + x, ((y * kw + x) * inC + b) * op + a);
                break;
            }
            case TensorLayout.DenseMatrix:
            {
                int o = shape[0], op = Pad(o);
                Shape input = tensor.Input;
                int c = input.Channels, h = input.Height, w = input.Width;
                for (int a = 0; a < o; a++)
                    for (int ch = 0; ch < c; ch++)
                        for (int y = 0; y < h; y++)
                            for (int x = 0; x < w; x++)
                                pair(a * c * h * w + (ch * h + y) * w + x, ((y * w + x) * c + ch) * op + a);
                break;
            }
            case TensorLayout.ChannelsLast:
            {
                int c = shape[0], h = shape[1], w = shape[2], cs = Pad(c);
                for (int ch = 0; ch < c; ch++)
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++)
                            pair((ch * h + y) * w + x, (y * w + x) * cs + ch);
                break;
            }
            default:
                throw new NotSupportedException($"Unknown tensor layout {tensor.Layout}.");
        }
        return map;
    }
}
