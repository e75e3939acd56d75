using System;
using System.Globalization;
using Unroll.Generator.Front;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the shape-specialised kernels of one layer for one instruction set. Every bound, stride and
/// offset is a literal; the micro-kernel over the kernel width, the pixel tile and the channel vectors
/// is straight-line code. Activations that map to vector instructions are applied in registers before
/// the store; the others (tanh, sigmoid, softmax) run as a pass over the output afterwards.
/// </summary>
internal static class KernelEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The one-line description of a layer's kernel, used in comments.</summary>
    public static string Describe(LayerPlan p, VectorIsa v)
    {
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.For(v.Target, p);
        string shapes = $"{l.Input} -> {l.Output}";
        return l.Op switch
        {
            OpKind.Conv => $"{l.KindName} {shapes}, kernel {l.KernelH}x{l.KernelW}, stride {l.StrideH}, pads (t,l,b,r) {l.PadTop},{l.PadLeft},{l.PadBottom},{l.PadRight}, {l.Activation}; "
                + $"{v.Name}: register tile {tile.Pixels} pixel(s) x {tile.Vectors} vector(s) of {v.Lanes} channel(s)",
            OpKind.Dense => $"{l.KindName} {shapes}, {l.Activation}; {v.Name}: {tile.Vectors} vector(s) of {v.Lanes} output(s) per block",
            OpKind.MaxPool or OpKind.AvgPool => $"{l.KindName} {shapes}, window {l.KernelH}x{l.KernelW}, stride {l.StrideH}, pads {l.PadTop},{l.PadLeft},{l.PadBottom},{l.PadRight}; {v.Name}: {v.Lanes} channel(s) per vector",
            _ => $"{l.Activation} over {l.Input}; {v.Name}",
        };
    }

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        switch (p.Layer.Op)
        {
            case OpKind.Conv:
                EmitConv(w, p, v, name);
                break;
            case OpKind.Dense:
                EmitDense(w, p, v, name);
                break;
            case OpKind.MaxPool:
            case OpKind.AvgPool:
                EmitPool(w, p, v, name);
                break;
            default:
                EmitActivation(w, p, v, name);
                break;
        }
    }

    /// <summary>Whether the layer's activation needs a separate pass after its kernel.</summary>
    public static bool NeedsActivationPass(LayerPlan p, VectorIsa v) =>
        p.Layer.Op != OpKind.Activation && v.Activate(p.Layer.Activation, p.Layer.Alpha, "x") is null;

    private static void Summary(CodeWriter w, LayerPlan p, VectorIsa v, string extra = "")
    {
        w.Line($"/// <summary>{p.Layer.Name}: {Describe(p, v)}.{extra}</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
    }

    // ---------------------------------------------------------------- convolution

    private static void EmitConv(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.For(v.Target, p);
        int oh = p.Out.H, ow = p.Out.W;
        (int ohLo, int ohHi) = Interior(p.In.H, l.KernelH, l.StrideH, l.PadTop, oh);
        (int owLo, int owHi) = Interior(p.In.W, l.KernelW, l.StrideW, l.PadLeft, ow);
        const string args = "ref input, ref output, ref weights, ref bias";
        const string parameters = "ref float input, ref float output, ref float weights, ref float bias";
        bool hasBorder = ohLo > 0 || ohHi < oh || owLo > 0 || owHi < ow;
        // Single-pixel tiles only when the interior columns do not split evenly into full tiles.
        bool needsSingle = tile.Pixels > 1 && owHi > owLo && (owHi - owLo) % tile.Pixels != 0;

        Summary(w, p, v, (hasBorder
            ? $" Interior rows {ohLo}..{ohHi - 1}, columns {owLo}..{owHi - 1} run without bounds tests; border pixels clip the window."
            : " Every window lies inside the input: no border code.") + $" Computes output rows [rowFrom, rowTo) of {I(oh)}.");
        w.Open($"private static void {name}({parameters}, int rowFrom, int rowTo)");
        w.Open("for (int oh = rowFrom; oh < rowTo; oh++)");
        w.Line("int ow = 0;");
        if (ohHi > ohLo && owHi > owLo)
        {
            bool allRows = ohLo == 0 && ohHi == oh;
            if (!allRows)
                w.Open($"if (oh >= {I(ohLo)} && oh < {I(ohHi)})");
            if (owLo > 0)
                w.Line($"for (; ow < {I(owLo)}; ow++) {name}_Border({args}, oh, ow);");
            w.Line($"for (; ow + {I(tile.Pixels)} <= {I(owHi)}; ow += {I(tile.Pixels)}) {name}_Tile{I(tile.Pixels)}({args}, oh, ow);");
            if (needsSingle)
                w.Line($"for (; ow < {I(owHi)}; ow++) {name}_Tile1({args}, oh, ow);");
            if (!allRows)
                w.Close();
        }
        if (hasBorder)
            w.Line($"for (; ow < {I(ow)}; ow++) {name}_Border({args}, oh, ow);");
        w.Close();
        w.Close();

        EmitConvTileMethod(w, p, v, name, tile, tile.Pixels, parameters);
        if (needsSingle)
            EmitConvTileMethod(w, p, v, name, tile, 1, parameters);
        if (hasBorder)
            EmitConvBorder(w, p, v, name, tile, parameters);
    }

    /// <summary>The output range [lo, hi) whose windows need no padding.</summary>
    private static (int Lo, int Hi) Interior(int n, int k, int s, int padBefore, int outputs)
    {
        int lo = (padBefore + s - 1) / s;
        int last = n - k + padBefore;
        int hi = last < 0 ? lo : Math.Min(outputs, last / s + 1);
        return (Math.Min(lo, outputs), Math.Max(Math.Min(lo, outputs), hi));
    }

    private static void ChannelBlocks(CodeWriter w, Tile tile, int lanes, Action<int> body)
    {
        int block = tile.Vectors * lanes;
        if (tile.Blocks == 1)
        {
            w.Open("");
            w.Line("const int oc0 = 0;");
            body(tile.Vectors);
            w.Close();
        }
        else if (tile.Blocks > 1)
        {
            w.Open($"for (int oc0 = 0; oc0 < {I(tile.Blocks * block)}; oc0 += {I(block)})");
            body(tile.Vectors);
            w.Close();
        }
        if (tile.Remainder > 0)
        {
            w.Open("");
            w.Line($"const int oc0 = {I(tile.Blocks * block)};");
            body(tile.Remainder);
            w.Close();
        }
    }

    private static void InitAccumulators(CodeWriter w, VectorIsa v, bool bias, int pixels, int vectors)
    {
        for (int t = 0; t < pixels; t++)
            for (int m = 0; m < vectors; m++)
                w.Line($"{v.Type} a{t}_{m} = {(bias ? v.Load("bias", $"oc0 + {I(m * v.Lanes)}") : v.Zero)};");
    }

    private static void StoreAccumulators(CodeWriter w, LayerPlan p, VectorIsa v, int pixels, int vectors, string pixelBase)
    {
        for (int t = 0; t < pixels; t++)
            for (int m = 0; m < vectors; m++)
            {
                string value = v.Activate(p.Layer.Activation, p.Layer.Alpha, $"a{t}_{m}") ?? $"a{t}_{m}";
                w.Line(v.Store(value, "output", $"({pixelBase} + {I(t)}) * {I(p.Out.Cs)} + oc0 + {I(m * v.Lanes)}"));
            }
    }

    private static void EmitConvTileMethod(CodeWriter w, LayerPlan p, VectorIsa v, string name, Tile tile, int pixels, string parameters)
    {
        Graph.LayerModel l = p.Layer;
        int cin = p.In.C, cs = p.In.Cs, op = p.PaddedOutputs, kw = l.KernelW;
        w.Line();
        w.Line($"/// <summary>{pixels} output pixel(s) of row oh from column ow, all channels; the window lies inside the input.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Tile{I(pixels)}({parameters}, int oh, int ow)");
        w.Line($"int ih0 = oh * {I(l.StrideH)} - {I(l.PadTop)}, iw0 = ow * {I(l.StrideW)} - {I(l.PadLeft)};");
        ChannelBlocks(w, tile, v.Lanes, vectors =>
        {
            InitAccumulators(w, v, l.Bias, pixels, vectors);
            w.Open($"for (int kh = 0; kh < {I(l.KernelH)}; kh++)");
            w.Line($"ref float x = ref Unsafe.Add(ref input, ((ih0 + kh) * {I(p.In.W)} + iw0) * {I(cs)});");
            w.Line($"ref float wr = ref Unsafe.Add(ref weights, kh * {I(kw * cin * op)} + oc0);");
            w.Open($"for (int ic = 0; ic < {I(cin)}; ic++)");
            for (int k = 0; k < kw; k++)
            {
                w.Open("");
                for (int m = 0; m < vectors; m++)
                    w.Line($"{v.Type} w{m} = {v.Load("wr", I(k * cin * op + m * v.Lanes))};");
                for (int t = 0; t < pixels; t++)
                {
                    w.Line($"{v.Type} x{t} = {v.Broadcast($"Unsafe.Add(ref x, {I((t * l.StrideW + k) * cs)})")};");
                    for (int m = 0; m < vectors; m++)
                        w.Line($"a{t}_{m} = {v.MultiplyAdd($"x{t}", $"w{m}", $"a{t}_{m}")};");
                }
                w.Close();
            }
            w.Line("x = ref Unsafe.Add(ref x, 1);");
            w.Line($"wr = ref Unsafe.Add(ref wr, {I(op)});");
            w.Close();
            w.Close();
            StoreAccumulators(w, p, v, pixels, vectors, $"oh * {I(p.Out.W)} + ow");
        });
        w.Close();
    }

    private static void EmitConvBorder(CodeWriter w, LayerPlan p, VectorIsa v, string name, Tile tile, string parameters)
    {
        Graph.LayerModel l = p.Layer;
        int cin = p.In.C, cs = p.In.Cs, op = p.PaddedOutputs;
        w.Line();
        w.Line("/// <summary>One border pixel, all channels: the window is clipped to the input (padding contributes zero).</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Border({parameters}, int oh, int ow)");
        w.Line($"int ih0 = oh * {I(l.StrideH)} - {I(l.PadTop)}, iw0 = ow * {I(l.StrideW)} - {I(l.PadLeft)};");
        w.Line($"int khLo = Math.Max(0, -ih0), khHi = Math.Min({I(l.KernelH)}, {I(p.In.H)} - ih0);");
        w.Line($"int kwLo = Math.Max(0, -iw0), kwHi = Math.Min({I(l.KernelW)}, {I(p.In.W)} - iw0);");
        ChannelBlocks(w, tile, v.Lanes, vectors =>
        {
            InitAccumulators(w, v, l.Bias, 1, vectors);
            w.Open("for (int kh = khLo; kh < khHi; kh++)");
            w.Open("for (int kw = kwLo; kw < kwHi; kw++)");
            w.Line($"ref float x = ref Unsafe.Add(ref input, ((ih0 + kh) * {I(p.In.W)} + iw0 + kw) * {I(cs)});");
            w.Line($"ref float wr = ref Unsafe.Add(ref weights, (kh * {I(l.KernelW)} + kw) * {I(cin * op)} + oc0);");
            w.Open($"for (int ic = 0; ic < {I(cin)}; ic++)");
            w.Line($"{v.Type} x0 = {v.Broadcast("Unsafe.Add(ref x, ic)")};");
            for (int m = 0; m < vectors; m++)
                w.Line($"a0_{m} = {v.MultiplyAdd("x0", v.Load("wr", $"ic * {I(op)} + {I(m * v.Lanes)}"), $"a0_{m}")};");
            w.Close();
            w.Close();
            w.Close();
            StoreAccumulators(w, p, v, 1, vectors, $"oh * {I(p.Out.W)} + ow");
        });
        w.Close();
    }

    // ---------------------------------------------------------------- dense

    private static void EmitDense(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        Tile tile = Schedule.For(v.Target, p);
        int pixels = p.In.H * p.In.W, op = p.PaddedOutputs;
        Summary(w, p, v, $" Weights are [H][W][C][{op}]: one row of padded outputs per input value. Computes output chunks [chunkFrom, chunkTo) of {I(Schedule.DenseChunks(tile))}, a chunk being one block of {I(tile.Vectors)} vector(s) (the last may be shorter).");
        w.Open($"private static void {name}(ref float input, ref float output, ref float weights, ref float bias, int chunkFrom, int chunkTo)");
        ChunkRange(w, tile, v.Lanes, vectors =>
        {
            InitAccumulators(w, v, l.Bias, 1, vectors);
            w.Line("ref float wr = ref Unsafe.Add(ref weights, oc0);");
            if (pixels > 1)
            {
                w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
                w.Line($"ref float x = ref Unsafe.Add(ref input, px * {I(p.In.Cs)});");
            }
            else
            {
                w.Open("");
                w.Line("ref float x = ref input;");
            }
            w.Open($"for (int c = 0; c < {I(p.In.C)}; c++)");
            w.Line($"{v.Type} x0 = {v.Broadcast("Unsafe.Add(ref x, c)")};");
            for (int m = 0; m < vectors; m++)
                w.Line($"a0_{m} = {v.MultiplyAdd("x0", v.Load("wr", I(m * v.Lanes)), $"a0_{m}")};");
            w.Line($"wr = ref Unsafe.Add(ref wr, {I(op)});");
            w.Close();
            w.Close();
            StoreAccumulators(w, p, v, 1, vectors, "0");
        });
        w.Close();
    }

    /// <summary>
    /// Loops over the output chunks [chunkFrom, chunkTo): full blocks of <see cref="Tile.Vectors"/> vectors
    /// starting at channel <c>oc0</c>, then the shorter remainder block when the range reaches it.
    /// </summary>
    private static void ChunkRange(CodeWriter w, Tile tile, int lanes, Action<int> body)
    {
        int block = tile.Vectors * lanes;
        if (tile.Blocks > 0)
        {
            w.Open($"for (int oc0 = chunkFrom * {I(block)}; oc0 < Math.Min(chunkTo, {I(tile.Blocks)}) * {I(block)}; oc0 += {I(block)})");
            body(tile.Vectors);
            w.Close();
        }
        if (tile.Remainder > 0)
        {
            w.Open($"if (chunkTo > {I(tile.Blocks)})");
            w.Line($"const int oc0 = {I(tile.Blocks * block)};");
            body(tile.Remainder);
            w.Close();
        }
    }

    // ---------------------------------------------------------------- pooling

    /// <summary>
    /// Opens the loops over output pixels of a pooling layer and clips each window to the input
    /// (khLo..khHi, kwLo..kwHi); for average pooling also defines <c>scale</c>, one over the divisor.
    /// Shared by the forward and backward kernels so both use the same windows and divisors. The forward
    /// kernel covers output rows [rowFrom, rowTo) (<paramref name="rowRange"/>); the backward kernel all rows.
    /// </summary>
    public static void OpenPoolWindows(CodeWriter w, LayerPlan p, VectorIsa v, bool rowRange = false)
    {
        Graph.LayerModel l = p.Layer;
        w.Open(rowRange ? "for (int oh = rowFrom; oh < rowTo; oh++)" : $"for (int oh = 0; oh < {I(p.Out.H)}; oh++)");
        w.Line($"int ih0 = oh * {I(l.StrideH)} - {I(l.PadTop)};");
        w.Line($"int khLo = Math.Max(0, -ih0), khHi = Math.Min({I(l.KernelH)}, {I(p.In.H)} - ih0);");
        w.Open($"for (int ow = 0; ow < {I(p.Out.W)}; ow++)");
        w.Line($"int iw0 = ow * {I(l.StrideW)} - {I(l.PadLeft)};");
        w.Line($"int kwLo = Math.Max(0, -iw0), kwHi = Math.Min({I(l.KernelW)}, {I(p.In.W)} - iw0);");
        if (l.Op == OpKind.AvgPool)
        {
            string count = l.CountIncludePad
                ? $"(Math.Min({I(l.KernelH)}, {I(p.In.H + l.PadBottom)} - ih0)) * (Math.Min({I(l.KernelW)}, {I(p.In.W + l.PadRight)} - iw0))"
                : "(khHi - khLo) * (kwHi - kwLo)";
            w.Line($"{v.Type} scale = {v.Broadcast($"1f / ({count})")};");
        }
    }

    private static void EmitPool(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        bool max = l.Op == OpKind.MaxPool;
        int vectors = Schedule.ChannelVectors(v.Target, p.In.C);
        Summary(w, p, v, (max ? "" : l.CountIncludePad ? " Divides by the window size within the padded input." : " Divides by the number of real (unpadded) pixels in the window.")
            + $" Computes output rows [rowFrom, rowTo) of {I(p.Out.H)}.");
        w.Open($"private static void {name}(ref float input, ref float output, int rowFrom, int rowTo)");
        OpenPoolWindows(w, p, v, rowRange: true);
        w.Line($"ref float o = ref Unsafe.Add(ref output, (oh * {I(p.Out.W)} + ow) * {I(p.Out.Cs)});");
        w.Open($"for (int cv = 0; cv < {I(vectors * v.Lanes)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} acc = {(max ? v.NegativeInfinity : v.Zero)};");
        w.Open("for (int kh = khLo; kh < khHi; kh++)");
        w.Line($"ref float row = ref Unsafe.Add(ref input, (ih0 + kh) * {I(p.In.W * p.In.Cs)} + cv);");
        w.Open("for (int kw = kwLo; kw < kwHi; kw++)");
        string load = v.Load("row", $"(iw0 + kw) * {I(p.In.Cs)}");
        w.Line(max ? $"acc = {v.Max("acc", load)};" : $"acc += {load};");
        w.Close();
        w.Close();
        // Parenthesised: the vector store is a member call on the value, which binds tighter than "*".
        w.Line(v.Store(max ? "acc" : "acc * scale", "o", "cv"));
        w.Close();
        w.Close();
        w.Close();
        w.Close();
    }

    // ---------------------------------------------------------------- activations

    private static void EmitActivation(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        Summary(w, p, v, " Works in place.");
        w.Open($"private static void {name}(ref float data)");
        string? inRegisters = v.Activate(l.Activation, l.Alpha, "x");
        if (inRegisters is not null)
        {
            w.Open($"for (int i = 0; i < {I(p.Out.Length)}; i += {I(v.Lanes)})");
            w.Line($"{v.Type} x = {v.Load("data", "i")};");
            w.Line(v.Store(inRegisters, "data", "i"));
            w.Close();
        }
        else
            w.Line(ActivationPass(p, "data") + ";");
        w.Close();
    }

    /// <summary>A call to the runtime's element-wise pass for activations that have no vector instruction.</summary>
    public static string ActivationPass(LayerPlan p, string data) => p.Layer.Activation switch
    {
        ActivationKind.Tanh => $"Activations.Tanh(ref {data}, {I(p.Out.Length)})",
        ActivationKind.Sigmoid => $"Activations.Sigmoid(ref {data}, {I(p.Out.Length)})",
        ActivationKind.Softmax => $"Activations.Softmax(ref {data}, {I(p.Out.C)})",
        _ => throw new InvalidOperationException($"No pass for {p.Layer.Activation}."),
    };
}
