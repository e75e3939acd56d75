using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Unroll.Kernels;

/// <summary>Moves one sample between the user's C, H, W order and the kernels' channels-last order (H, W, C with channel stride cs). Called by generated code.</summary>
public static class Layout
{
    /// <summary>Copies C x H x W values from <paramref name="source"/> to channels-last at <paramref name="destination"/>; padded channels are left as they are or set to zero.</summary>
    public static void ToChannelsLast(ReadOnlySpan<float> source, ref float destination, int c, int h, int w, int cs) =>
        ToChannelsLast(source, ref destination, c, h, w, cs, 0, h);

    /// <summary>Like <see cref="ToChannelsLast(ReadOnlySpan{float}, ref float, int, int, int, int)"/> for image rows [<paramref name="rowFrom"/>, <paramref name="rowTo"/>) only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToChannelsLast(ReadOnlySpan<float> source, ref float destination, int c, int h, int w, int cs, int rowFrom, int rowTo)
    {
        if (source.Length < c * h * w)
            throw new ArgumentException($"Expected at least {c * h * w} values.", nameof(source));
        if ((uint)rowFrom > (uint)rowTo || rowTo > h)
            throw new ArgumentOutOfRangeException(nameof(rowTo), $"Rows [{rowFrom}, {rowTo}) are not within 0..{h}.");
        int first = rowFrom * w, count = (rowTo - rowFrom) * w;
        ref float src = ref Unsafe.Add(ref MemoryMarshal.GetReference(source), first);
        ref float dst = ref Unsafe.Add(ref destination, first * cs);
        if (c == 1 && cs == 1 || h * w == 1)
        {
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref dst), ref Unsafe.As<float, byte>(ref src), (uint)(c * count * sizeof(float)));
            return;
        }
        // Rows are channels: padded channels of a destination pixel may take zeros; a source plane is read only within the range.
        Transpose(ref src, h * w, c, ref dst, cs, columns: count, sourceRoom: count, destinationRoom: cs);
    }

    /// <summary>Copies channels-last values at <paramref name="source"/> back to C x H x W order in <paramref name="destination"/>.</summary>
    public static void ToChannelsFirst(ref float source, Span<float> destination, int c, int h, int w, int cs) =>
        ToChannelsFirst(ref source, destination, c, h, w, cs, 0, h);

    /// <summary>Like <see cref="ToChannelsFirst(ref float, Span{float}, int, int, int, int)"/> for image rows [<paramref name="rowFrom"/>, <paramref name="rowTo"/>) only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToChannelsFirst(ref float source, Span<float> destination, int c, int h, int w, int cs, int rowFrom, int rowTo)
    {
        if (destination.Length < c * h * w)
            throw new ArgumentException($"Expected room for {c * h * w} values.", nameof(destination));
        if ((uint)rowFrom > (uint)rowTo || rowTo > h)
            throw new ArgumentOutOfRangeException(nameof(rowTo), $"Rows [{rowFrom}, {rowTo}) are not within 0..{h}.");
        int first = rowFrom * w, count = (rowTo - rowFrom) * w;
        ref float src = ref Unsafe.Add(ref source, first * cs);
        ref float dst = ref Unsafe.Add(ref MemoryMarshal.GetReference(destination), first);
        if (h * w == 1 || c == 1 && cs == 1)
        {
            Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref dst), ref Unsafe.As<float, byte>(ref src), (uint)(c * count * sizeof(float)));
            return;
        }
        // Columns are channels: a source pixel may be read up to its padded channels; destination planes only within the range.
        Transpose(ref src, cs, count, ref dst, h * w, columns: c, sourceRoom: cs, destinationRoom: count);
    }

    /// <summary>
    /// Writes the transpose of a <paramref name="rows"/> x <paramref name="columns"/> matrix (row stride
    /// <paramref name="sourceStride"/>) to <paramref name="destination"/> (row stride <paramref name="destinationStride"/>).
    /// Works in 16-column strips so both sides stream whole cache lines, with 8 x 8 register transposes
    /// inside the strip when AVX is available. A block at the matrix's edge is still transposed in registers
    /// when the buffers have room: up to <paramref name="sourceRoom"/> columns of a source row may be read
    /// (channel padding), and up to <paramref name="destinationRoom"/> entries of a destination row written
    /// (the missing source rows are written as zeros there); otherwise the edge goes element by element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose(ref float source, int sourceStride, int rows, ref float destination, int destinationStride, int columns,
        int sourceRoom, int destinationRoom)
    {
        const int Strip = 16;
        for (int c0 = 0; c0 < columns; c0 += Strip)
        {
            int end = Math.Min(c0 + Strip, columns);
            int r = 0;
            if (Avx.IsSupported)
            {
                for (; r < rows; r += 8)
                {
                    int blockRows = Math.Min(8, rows - r);
                    if (blockRows < 8 && r + 8 > destinationRoom)
                        break;
                    int c = c0;
                    for (; c < end; c += 8)
                    {
                        int blockColumns = Math.Min(8, end - c);
                        if (blockColumns < 8 && c + 8 > sourceRoom)
                            break;
                        ref float from = ref Unsafe.Add(ref source, r * sourceStride + c);
                        ref float to = ref Unsafe.Add(ref destination, c * destinationStride + r);
                        // Constant counts for whole blocks: inlined, their row tests fold away.
                        if (blockRows == 8 && blockColumns == 8)
                            Transpose8x8(ref from, sourceStride, ref to, destinationStride, 8, 8);
                        else
                            Transpose8x8(ref from, sourceStride, ref to, destinationStride, blockRows, blockColumns);
                    }
                    for (int rr = r; rr < r + blockRows; rr++)
                        for (int cc = c; cc < end; cc++)
                            Unsafe.Add(ref destination, cc * destinationStride + rr) = Unsafe.Add(ref source, rr * sourceStride + cc);
                }
            }
            for (; r < rows; r++)
                for (int c = c0; c < end; c++)
                    Unsafe.Add(ref destination, c * destinationStride + r) = Unsafe.Add(ref source, r * sourceStride + c);
        }
    }

    /// <summary>
    /// Copies C x H x W values from <paramref name="source"/> into padded planes split by column phase, for generated
    /// convolution kernels that run their vectors along the output row: per channel, <paramref name="rows"/> padded rows
    /// (image row y is padded row y + <paramref name="padTop"/>), each stored as <paramref name="phases"/> phase rows of
    /// <paramref name="width"/> floats, phase k holding padded columns k, k + phases, k + 2 phases and so on (image column
    /// x is padded column x + <paramref name="padLeft"/>). Padding, and phase columns past the padded row, are zero; padded
    /// columns from <paramref name="phases"/> x <paramref name="width"/> on (which no window of a stride that drops the
    /// row's last columns reads) are left out. Writes padded rows [<paramref name="rowFrom"/>, <paramref name="rowTo"/>) of
    /// every channel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SplitPhases(ReadOnlySpan<float> source, ref float destination, int c, int h, int w, int padTop, int padLeft,
        int rows, int phases, int width, int rowFrom, int rowTo)
    {
        if (source.Length < c * h * w)
            throw new ArgumentException($"Expected at least {c * h * w} values.", nameof(source));
        if ((uint)rowFrom > (uint)rowTo || rowTo > rows)
            throw new ArgumentOutOfRangeException(nameof(rowTo), $"Rows [{rowFrom}, {rowTo}) are not within 0..{rows}.");
        if (phases < 1 || width < 0 || padLeft < 0 || padTop < 0)
            throw new ArgumentException($"Phases ({phases}) must be positive, and the width ({width}) and the padding ({padTop}, {padLeft}) not negative.", nameof(phases));
        ref float src = ref MemoryMarshal.GetReference(source);
        int rowLength = phases * width;
        // Image columns from this one on fall past the phase rows.
        int columns = Math.Min(w, rowLength - padLeft);
        for (int ch = 0; ch < c; ch++)
            for (int r = rowFrom; r < rowTo; r++)
            {
                ref float row = ref Unsafe.Add(ref destination, (ch * rows + r) * rowLength);
                MemoryMarshal.CreateSpan(ref row, rowLength).Clear();
                int y = r - padTop;
                if ((uint)y >= (uint)h)
                    continue;
                ref float line = ref Unsafe.Add(ref src, (ch * h + y) * w);
                if (phases == 1)
                {
                    if (columns > 0)
                        Unsafe.CopyBlockUnaligned(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref row, padLeft)), ref Unsafe.As<float, byte>(ref line), (uint)(columns * sizeof(float)));
                    continue;
                }
                // Padded column x + padLeft goes to phase (x + padLeft) % phases, at (x + padLeft) / phases.
                for (int k = 0; k < phases; k++)
                {
                    int first = ((k - padLeft) % phases + phases) % phases;
                    ref float phase = ref Unsafe.Add(ref row, k * width + (first + padLeft) / phases);
                    int j = 0, x = first;
                    if (phases == 2 && Avx512F.IsSupported)
                    {
                        // Every other value of 32 adjacent ones, picked from two vectors by one permute.
                        Vector512<int> even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                        for (; x + 32 <= columns; x += 32, j += 16)
                            Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref line, (nuint)x), even, Vector512.LoadUnsafe(ref line, (nuint)(x + 16)))
                                .StoreUnsafe(ref phase, (nuint)j);
                    }
                    for (; x < columns; x += phases, j++)
                        Unsafe.Add(ref phase, j) = Unsafe.Add(ref line, x);
                }
            }
    }

    /// <summary>
    /// Stores 16 adjacent pixels of 8 channels, given as one vector per channel (lane p holds pixel p), channels-last in
    /// pixel slots of 16 floats from <paramref name="destination"/>: pixel p's channels go to floats 0..7 of its slot,
    /// and floats 8..15 (channel padding) are set to zero. The transpose runs in registers, an 8 x 8 block per half.
    /// Called by generated AVX-512 convolution kernels whose vectors run along the row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePixels16x8(ref float destination, Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3,
        Vector512<float> c4, Vector512<float> c5, Vector512<float> c6, Vector512<float> c7) =>
        StorePixels16x8(ref destination, ref Unsafe.Add(ref destination, 8 * 16), c0, c1, c2, c3, c4, c5, c6, c7);

    /// <summary>
    /// Like <see cref="StorePixels16x8(ref float, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float})"/>,
    /// with pixels 8..15 stored in the 8 slots from <paramref name="upper"/> instead of right after pixel 7: generated
    /// kernels that pool two strips into one vector (8 pooled pixels of each) store each strip's pixels where they go.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePixels16x8(ref float lower, ref float upper, Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3,
        Vector512<float> c4, Vector512<float> c5, Vector512<float> c6, Vector512<float> c7)
    {
        const int Slot = 16;
        StorePixels8x8(ref lower, Slot, c0.GetLower(), c1.GetLower(), c2.GetLower(), c3.GetLower(), c4.GetLower(), c5.GetLower(), c6.GetLower(), c7.GetLower());
        StorePixels8x8(ref upper, Slot, c0.GetUpper(), c1.GetUpper(), c2.GetUpper(), c3.GetUpper(), c4.GetUpper(), c5.GetUpper(), c6.GetUpper(), c7.GetUpper());
    }

    /// <summary>
    /// Stores pixels 0..7 only (lanes 0..7 of each channel vector) of
    /// <see cref="StorePixels16x8(ref float, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float})"/>:
    /// the 8 pooled pixels of a strip pooled alone.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePixels8x8(ref float destination, Vector512<float> c0, Vector512<float> c1, Vector512<float> c2, Vector512<float> c3,
        Vector512<float> c4, Vector512<float> c5, Vector512<float> c6, Vector512<float> c7) =>
        StorePixels8x8(ref destination, 16, c0.GetLower(), c1.GetLower(), c2.GetLower(), c3.GetLower(), c4.GetLower(), c5.GetLower(), c6.GetLower(), c7.GetLower());

    /// <summary>
    /// The maximum of each adjacent pair of lanes of two vectors: lane j &lt; 8 holds the larger of lanes 2j and 2j + 1 of
    /// <paramref name="a"/>, lane 8 + j that of <paramref name="b"/>. Generated AVX-512 kernels that pool a row of pixels
    /// 2 to 1 call it; <paramref name="b"/> may be <paramref name="a"/> when only one vector is pooled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaxOfPairs(Vector512<float> a, Vector512<float> b)
    {
        Vector512<int> even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        Vector512<int> odd = Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
        return Vector512.Max(Avx512F.PermuteVar16x32x2(a, even, b), Avx512F.PermuteVar16x32x2(a, odd, b));
    }

    /// <summary>
    /// The 8 x 8 transpose of <see cref="StorePixels16x8(ref float, ref float, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float}, Vector512{float})"/>: 8 pixels of 8 channels each to slots of
    /// <paramref name="slot"/> floats, zeros in floats 8..15 of each slot.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePixels8x8(ref float destination, int slot, Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7)
    {
        TransposeStore8x8(r0, r1, r2, r3, r4, r5, r6, r7, ref destination, slot, 8);
        for (int p = 0; p < 8; p++)
            Vector256<float>.Zero.StoreUnsafe(ref destination, (nuint)(p * slot + 8));
    }

    /// <summary>
    /// Transposes one 8 x 8 block in registers: the classic unpack, shuffle and lane-permute sequence.
    /// Source rows from <paramref name="loadRows"/> on are taken as zeros and not read; destination rows from
    /// <paramref name="storeRows"/> on are not written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref float source, int sourceStride, ref float destination, int destinationStride, int loadRows, int storeRows)
    {
        Vector256<float> r0 = Vector256.LoadUnsafe(ref source);
        Vector256<float> r1 = loadRows > 1 ? Vector256.LoadUnsafe(ref source, (nuint)sourceStride) : default;
        Vector256<float> r2 = loadRows > 2 ? Vector256.LoadUnsafe(ref source, (nuint)(2 * sourceStride)) : default;
        Vector256<float> r3 = loadRows > 3 ? Vector256.LoadUnsafe(ref source, (nuint)(3 * sourceStride)) : default;
        Vector256<float> r4 = loadRows > 4 ? Vector256.LoadUnsafe(ref source, (nuint)(4 * sourceStride)) : default;
        Vector256<float> r5 = loadRows > 5 ? Vector256.LoadUnsafe(ref source, (nuint)(5 * sourceStride)) : default;
        Vector256<float> r6 = loadRows > 6 ? Vector256.LoadUnsafe(ref source, (nuint)(6 * sourceStride)) : default;
        Vector256<float> r7 = loadRows > 7 ? Vector256.LoadUnsafe(ref source, (nuint)(7 * sourceStride)) : default;
        TransposeStore8x8(r0, r1, r2, r3, r4, r5, r6, r7, ref destination, destinationStride, storeRows);
    }

    /// <summary>
    /// Writes the transpose of the 8 x 8 block whose rows are <paramref name="r0"/> to <paramref name="r7"/>: the classic
    /// unpack, shuffle and lane-permute sequence. Destination rows from <paramref name="storeRows"/> on are not written.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransposeStore8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, ref float destination, int destinationStride, int storeRows)
    {
        // Interleave pairs of rows: t0 = a0 b0 a1 b1 | a4 b4 a5 b5, and so on.
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        // Gather columns of four rows within each 128-bit lane.
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        // Join the lanes of rows 0-3 and 4-7.
        Avx.Permute2x128(u0, u4, 0x20).StoreUnsafe(ref destination);
        if (storeRows > 1) Avx.Permute2x128(u1, u5, 0x20).StoreUnsafe(ref destination, (nuint)destinationStride);
        if (storeRows > 2) Avx.Permute2x128(u2, u6, 0x20).StoreUnsafe(ref destination, (nuint)(2 * destinationStride));
        if (storeRows > 3) Avx.Permute2x128(u3, u7, 0x20).StoreUnsafe(ref destination, (nuint)(3 * destinationStride));
        if (storeRows > 4) Avx.Permute2x128(u0, u4, 0x31).StoreUnsafe(ref destination, (nuint)(4 * destinationStride));
        if (storeRows > 5) Avx.Permute2x128(u1, u5, 0x31).StoreUnsafe(ref destination, (nuint)(5 * destinationStride));
        if (storeRows > 6) Avx.Permute2x128(u2, u6, 0x31).StoreUnsafe(ref destination, (nuint)(6 * destinationStride));
        if (storeRows > 7) Avx.Permute2x128(u3, u7, 0x31).StoreUnsafe(ref destination, (nuint)(7 * destinationStride));
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

    /// <summary>
    /// The Winograd F(2x2, 3x3) transform U = G g Gᵀ of a packed 3x3 kernel [3][3][inputs][outputStride], written as
    /// [16][inputs][outputStride] (element xi = 4 i + j of the 4x4 U first), the order the inference GEMMs read.
    /// G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]; sums are taken in double and rounded once.
    /// Padded outputs stay zero, since the packed kernel holds zeros there.
    /// </summary>
    public static void WinogradKernel(ReadOnlySpan<float> packed, Span<float> transformed, int inputs, int outputStride) =>
        WinogradKernel(packed, transformed, inputs, outputStride, 3, 3, 1, 1);

    /// <summary>
    /// Like <see cref="WinogradKernel(ReadOnlySpan{float}, Span{float}, int, int)"/> for a strided convolution run as a
    /// 3x3 stride-1 one over its input split by phase (see <see cref="SplitPhaseChannels"/>): the packed kernel is
    /// [<paramref name="kernelH"/>][<paramref name="kernelW"/>][inputs][outputStride] with at most 3 taps per phase each
    /// way, and the transformed one has inputs x <paramref name="strideH"/> x <paramref name="strideW"/> phase channels.
    /// Phase channel (pr inputs + c) strideW + pc, tap (a, b) is the packed tap (a strideH + pr, b strideW + pc) of
    /// input c, zero where that falls past the kernel.
    /// </summary>
    public static void WinogradKernel(ReadOnlySpan<float> packed, Span<float> transformed, int inputs, int outputStride,
        int kernelH, int kernelW, int strideH, int strideW)
    {
        if (strideH < 1 || strideW < 1 || kernelH < 1 || kernelW < 1 || kernelH > 3 * strideH || kernelW > 3 * strideW)
            throw new ArgumentException($"A {kernelH}x{kernelW} kernel at stride {strideH}x{strideW} does not split into 3x3 phase kernels.", nameof(kernelH));
        int channels = inputs * strideH * strideW;
        int plane = channels * outputStride, packedPlane = inputs * outputStride;
        if (packed.Length < kernelH * kernelW * packedPlane || transformed.Length < 16 * plane)
            throw new ArgumentException($"Kernel buffers are shorter than their shapes: expected at least {kernelH * kernelW * packedPlane} packed and {16 * plane} transformed values.");
        Span<double> gg = stackalloc double[12];
        Span<double> g = stackalloc double[9];
        // Where phase channel i's tap (a, b) starts in the packed kernel (its outputs follow), or -1 past the kernel's edge.
        Span<int> taps = stackalloc int[9];
        for (int i = 0; i < channels; i++)
        {
            int pc = i % strideW, c = i / strideW % inputs, pr = i / (strideW * inputs);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                {
                    int ky = a * strideH + pr, kx = b * strideW + pc;
                    taps[3 * a + b] = ky < kernelH && kx < kernelW ? (ky * kernelW + kx) * packedPlane + c * outputStride : -1;
                }
            for (int o = 0; o < outputStride; o++)
            {
                // The phase kernel g[a][b]: every stride-th tap of the packed kernel from (pr, pc), zero past its edge.
                for (int t = 0; t < 9; t++)
                    g[t] = taps[t] < 0 ? 0 : packed[taps[t] + o];
                int at = i * outputStride + o;
                // G g: 4 rows of 3.
                for (int col = 0; col < 3; col++)
                {
                    double g0 = g[col], g1 = g[3 + col], g2 = g[6 + col];
                    gg[col] = g0;
                    gg[3 + col] = 0.5 * (g0 + g1 + g2);
                    gg[6 + col] = 0.5 * (g0 - g1 + g2);
                    gg[9 + col] = g2;
                }
                // (G g) Gᵀ: 4 columns per row.
                for (int r = 0; r < 4; r++)
                {
                    double a = gg[3 * r], b = gg[3 * r + 1], c2 = gg[3 * r + 2];
                    transformed[(4 * r) * plane + at] = (float)a;
                    transformed[(4 * r + 1) * plane + at] = (float)(0.5 * (a + b + c2));
                    transformed[(4 * r + 2) * plane + at] = (float)(0.5 * (a - b + c2));
                    transformed[(4 * r + 3) * plane + at] = (float)c2;
                }
            }
        }
    }

    /// <summary>
    /// Splits a C x H x W input by phase of a strided convolution's window into channels-last phase channels, so that
    /// the convolution becomes a stride-1 one over them (see
    /// <see cref="WinogradKernel(ReadOnlySpan{float}, Span{float}, int, int, int, int, int, int)"/>): pixel (i, j),
    /// phase channel (pr c + ch) strideW + pc (pr &lt; strideH, pc &lt; strideW) holds input channel ch at padded row
    /// i strideH + pr and padded column j strideW + pc (image row y is padded row y + <paramref name="padTop"/>, image
    /// column x padded column x + <paramref name="padLeft"/>), zero in the padding and past the image. The source's
    /// value (ch, y, x) is at ch <paramref name="channelStride"/> + (y w + x) <paramref name="pixelStride"/>: planes
    /// (H W, 1) or channels-last (1, channel stride). Only image rows below <paramref name="h"/> and columns below
    /// <paramref name="columns"/> (at most <paramref name="w"/>) are read, the others taken as zero: the caller passes
    /// the rows and columns the convolution's windows reach, so a value no window reads (say an infinity) cannot reach
    /// the output through a transform's zero coefficient. Writes <paramref name="rows"/> x <paramref name="width"/>
    /// pixels of <paramref name="cs"/> floats each (channels past the phase channels zero), pixel rows
    /// [<paramref name="rowFrom"/>, <paramref name="rowTo"/>) only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SplitPhaseChannels(ReadOnlySpan<float> source, ref float destination, int c, int h, int w, int columns, int channelStride, int pixelStride,
        int padTop, int padLeft, int strideH, int strideW, int rows, int width, int cs, int rowFrom, int rowTo)
    {
        if (c < 1 || h < 1 || w < 1 || channelStride < 1 || pixelStride < 1 || strideH < 1 || strideW < 1 || padTop < 0 || padLeft < 0 || width < 0)
            throw new ArgumentException($"Shape {c}x{h}x{w} with strides ({channelStride}, {pixelStride}), phases {strideH}x{strideW}, padding ({padTop}, {padLeft}) and width {width}: none may be below 1 (padding and width below 0).", nameof(c));
        if ((uint)columns > (uint)w)
            throw new ArgumentOutOfRangeException(nameof(columns), $"Columns read ({columns}) must be within 0..{w}.");
        int phases = c * strideH * strideW;
        if (cs < phases)
            throw new ArgumentException($"The channel stride ({cs}) is less than the {phases} phase channels.", nameof(cs));
        long needed = (long)(c - 1) * channelStride + ((long)h * w - 1) * pixelStride + 1;
        if (source.Length < needed)
            throw new ArgumentException($"Expected at least {needed} values.", nameof(source));
        if ((uint)rowFrom > (uint)rowTo || rowTo > rows)
            throw new ArgumentOutOfRangeException(nameof(rowTo), $"Rows [{rowFrom}, {rowTo}) are not within 0..{rows}.");
        ref float src = ref MemoryMarshal.GetReference(source);
        // Pixels whose strideW columns all lie among the columns read: they are read without a test.
        int innerFrom = Math.Min(width, (padLeft + strideW - 1) / strideW), innerTo = Math.Max(innerFrom, Math.Min(width, (columns + padLeft) / strideW));
        for (int i = rowFrom; i < rowTo; i++)
        {
            ref float line = ref Unsafe.Add(ref destination, i * width * cs);
            if (cs > phases)
                for (int j = 0; j < width; j++)
                    MemoryMarshal.CreateSpan(ref Unsafe.Add(ref line, j * cs + phases), cs - phases).Clear();
            for (int pr = 0; pr < strideH; pr++)
            {
                int y = i * strideH + pr - padTop;
                for (int ch = 0; ch < c; ch++)
                {
                    ref float to = ref Unsafe.Add(ref line, (pr * c + ch) * strideW);
                    if ((uint)y >= (uint)h)
                    {
                        for (int j = 0; j < width; j++)
                            MemoryMarshal.CreateSpan(ref Unsafe.Add(ref to, j * cs), strideW).Clear();
                        continue;
                    }
                    ref float from = ref Unsafe.Add(ref src, ch * channelStride + y * w * pixelStride);
                    for (int j = 0; j < width; j++)
                    {
                        int x0 = j * strideW - padLeft;
                        ref float pixel = ref Unsafe.Add(ref to, j * cs);
                        if (j >= innerFrom && j < innerTo)
                        {
                            if (strideW == 4 && pixelStride == 1)
                                Vector128.LoadUnsafe(ref from, (nuint)x0).StoreUnsafe(ref pixel);
                            else
                                for (int pc = 0; pc < strideW; pc++)
                                    Unsafe.Add(ref pixel, pc) = Unsafe.Add(ref from, (x0 + pc) * pixelStride);
                        }
                        else
                            for (int pc = 0; pc < strideW; pc++)
                                Unsafe.Add(ref pixel, pc) = (uint)(x0 + pc) < (uint)columns ? Unsafe.Add(ref from, (x0 + pc) * pixelStride) : 0f;
                    }
                }
            }
        }
    }
}
