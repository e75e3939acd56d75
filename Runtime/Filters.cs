namespace Unroll;

/// <summary>
/// Classic fixed 3x3 filters, row-major (kernel[row * 3 + column]), ready to load as the weights of a
/// <c>[Conv(1, Kernel = 3)]</c> layer over one channel. Convolution here is cross-correlation, as in
/// every deep-learning framework: a vertical-edge filter responds where brightness falls from left to right.
/// </summary>
public static class Filters
{
    /// <summary>Vertical edges: [1 0 -1] on every row.</summary>
    public static float[] Vertical => new float[] { 1, 0, -1, 1, 0, -1, 1, 0, -1 };

    /// <summary>Horizontal edges: the transpose of <see cref="Vertical"/>.</summary>
    public static float[] Horizontal => new float[] { 1, 1, 1, 0, 0, 0, -1, -1, -1 };

    /// <summary>Sobel vertical edges: [1 0 -1; 2 0 -2; 1 0 -1].</summary>
    public static float[] SobelVertical => new float[] { 1, 0, -1, 2, 0, -2, 1, 0, -1 };

    /// <summary>Sobel horizontal edges: the transpose of <see cref="SobelVertical"/>.</summary>
    public static float[] SobelHorizontal => new float[] { 1, 2, 1, 0, 0, 0, -1, -2, -1 };

    /// <summary>Scharr vertical edges: [3 0 -3; 10 0 -10; 3 0 -3].</summary>
    public static float[] ScharrVertical => new float[] { 3, 0, -3, 10, 0, -10, 3, 0, -3 };

    /// <summary>Scharr horizontal edges: the transpose of <see cref="ScharrVertical"/>.</summary>
    public static float[] ScharrHorizontal => new float[] { 3, 10, 3, 0, 0, 0, -3, -10, -3 };
}
