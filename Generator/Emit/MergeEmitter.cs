using System.Globalization;
using System.Linq;
using Unroll.Generator.Front;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the kernels of the layers that join or reduce tensors: the sum of a residual merge, the channel
/// concatenation of an Inception module, and global average pooling; forward and backward, plus the gradient
/// helpers every backward pass of a graph uses (adding one gradient into another, a concatenation's slices).
/// </summary>
internal static class MergeEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Inputs(LayerPlan p) => string.Join(", ", Enumerable.Range(0, p.Sources.Count).Select(k => $"ref float input{I(k)}"));

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        switch (p.Layer.Op)
        {
            case OpKind.Add:
                EmitAdd(w, p, v, name);
                break;
            case OpKind.Concat:
                EmitConcat(w, p, v, name);
                break;
            case OpKind.GlobalAvgPool:
                EmitGlobalAvgPool(w, p, v, name);
                break;
        }
    }

    /// <summary>
    /// The call of a merge kernel (a sum or a concatenation): every source, then the output, then the output rows
    /// [from, to) it computes (a merge is split by rows across the threads of a sample; see <see cref="RowUnits"/>).
    /// </summary>
    public static string Call(string kernel, System.Collections.Generic.IEnumerable<string> sources, string output, string from, string to) =>
        $"{kernel}({string.Join(", ", sources)}, {output}, {from}, {to});";

    /// <summary>Elements of a merge below which it stays on one thread: a memory pass shorter than this costs less than the synchronisation.</summary>
    private const int SplitLength = 32 * 1024;

    /// <summary>
    /// Rows a sum or a concatenation can be split into across the threads of one sample: a large one whose activation
    /// is fused (an activation pass runs over the whole tensor, so it must not be split); zero otherwise.
    /// </summary>
    public static int RowUnits(LayerPlan p, VectorIsa v) =>
        p.Layer.Op is OpKind.Add or OpKind.Concat && p.Out.Length >= SplitLength && !KernelEmitter.NeedsActivationPass(p, v) ? p.Out.H : 0;

    private static void EmitAdd(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        string? activate = v.Activate(l, "sum");
        int row = p.Out.W * p.Out.Cs;
        w.Line($"/// <summary>{l.Name}: sum of {I(p.Sources.Count)} tensors {l.Output}{(activate is null ? "" : $", then {l.ActivationName}")}, output rows [rowFrom, rowTo) of {I(p.Out.H)}; {v.Name}, {I(v.Lanes)} value(s) at a time.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}({Inputs(p)}, ref float output, int rowFrom, int rowTo)");
        w.Open($"for (int i = rowFrom * {I(row)}; i < rowTo * {I(row)}; i += {I(v.Lanes)})");
        w.Line($"{v.Type} sum = {string.Join(" + ", Enumerable.Range(0, p.Sources.Count).Select(k => v.Load($"input{I(k)}", "i")))};");
        w.Line(v.Store(activate ?? "sum", "output", "i"));
        w.Close();
        w.Close();
    }

    private static void EmitConcat(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int row = p.Out.W;
        w.Line($"/// <summary>{l.Name}: {string.Join(" + ", p.Sources.Select(s => I(s.C)))} = {I(p.Out.C)} channels at each position of output rows [rowFrom, rowTo) of {I(p.Out.H)} ({I(row)} position(s) a row), each input copied into its slice; padded channels are zeroed.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}({Inputs(p)}, ref float output, int rowFrom, int rowTo)");
        w.Open($"for (int px = rowFrom * {I(row)}; px < rowTo * {I(row)}; px++)");
        w.Line($"ref float o = ref Unsafe.Add(ref output, px * {I(p.Out.Cs)});");
        int offset = 0;
        for (int k = 0; k < p.Sources.Count; k++)
        {
            TensorSlot s = p.Sources[k];
            w.Line($"MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref input{I(k)}, px * {I(s.Cs)}), {I(s.C)}).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref o, {I(offset)}), {I(s.C)}));");
            offset += s.C;
        }
        if (p.Out.Cs > p.Out.C)
            w.Line($"MemoryMarshal.CreateSpan(ref Unsafe.Add(ref o, {I(p.Out.C)}), {I(p.Out.Cs - p.Out.C)}).Clear();");
        w.Close();
        if (v.Activate(l, "x") is { } activate)
        {
            w.Line($"// {l.ActivationName} over the rows.");
            w.Open($"for (int i = rowFrom * {I(row * p.Out.Cs)}; i < rowTo * {I(row * p.Out.Cs)}; i += {I(v.Lanes)})");
            w.Line($"{v.Type} x = {v.Load("output", "i")};");
            w.Line(v.Store(activate, "output", "i"));
            w.Close();
        }
        w.Close();
    }

    private static void EmitGlobalAvgPool(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int pixels = p.In.H * p.In.W, vectors = p.In.Cs / v.Lanes;
        string? activate = v.Activate(l, "mean");
        w.Line($"/// <summary>{l.Name}: mean of each of {I(p.In.C)} channels over {I(p.In.H)}x{I(p.In.W)} positions; {v.Name}, {I(v.Lanes)} channel(s) per vector.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}(ref float input, ref float output)");
        w.Open($"for (int cv = 0; cv < {I(vectors * v.Lanes)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} sum = {v.Zero};");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line($"sum += {v.Load("input", $"px * {I(p.In.Cs)} + cv")};");
        w.Close();
        w.Line($"{v.Type} mean = sum * {v.Broadcast(VectorIsa.Literal(1f / pixels))};");
        w.Line(v.Store(activate ?? "mean", "output", "cv"));
        w.Close();
        w.Close();
    }

    /// <summary>Global average pooling backward: every position of a channel gets the channel's output gradient over the position count.</summary>
    public static void EmitGlobalAvgPoolBackward(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int pixels = p.In.H * p.In.W, stride = BackwardEmitter.InputGradientStride(p);
        w.Line($"/// <summary>{l.Name} backward: dx[h, w, c] = dy[c] / {I(pixels)}; {v.Name}.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Backward(ref float dy, ref float dx)");
        w.Open($"for (int cv = 0; cv < {I(stride)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} g = {v.Load("dy", "cv")} * {v.Broadcast(VectorIsa.Literal(1f / pixels))};");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line(v.Store("g", "dx", $"px * {I(stride)} + cv"));
        w.Close();
        w.Close();
        w.Close();
    }

    /// <summary>The helpers of a graph's backward pass, in every kernel class.</summary>
    public static void EmitGradientHelpers(CodeWriter w, VectorIsa v)
    {
        w.Line();
        w.Line("/// <summary>into += from, over <paramref name=\"length\"/> values (a multiple of 16): a second contribution to a gradient.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open("private static void AddInto(ref float from, ref float into, int length)");
        w.Open($"for (int i = 0; i < length; i += {I(v.Lanes)})");
        w.Line(v.Store($"{v.Load("into", "i")} + {v.Load("from", "i")}", "into", "i"));
        w.Close();
        w.Close();
        w.Line();
        w.Line("/// <summary>");
        w.Line("/// A concatenation's backward for one input: channels [offset, offset + channels) of each of <paramref name=\"pixels\"/>");
        w.Line("/// positions of dy (stride <paramref name=\"dyStride\"/>) into dx (stride <paramref name=\"dxStride\"/>), written with the");
        w.Line("/// padded channels zeroed, or added.");
        w.Line("/// </summary>");
        w.Open("private static void ConcatSlice(ref float dy, ref float dx, int pixels, int dyStride, int offset, int channels, int dxStride, bool add)");
        w.Open("for (int px = 0; px < pixels; px++)");
        w.Line("ref float from = ref Unsafe.Add(ref dy, px * dyStride + offset);");
        w.Line("ref float to = ref Unsafe.Add(ref dx, px * dxStride);");
        w.Open("if (add)");
        w.Line("for (int c = 0; c < channels; c++)");
        w.Line("    Unsafe.Add(ref to, c) += Unsafe.Add(ref from, c);");
        w.Close();
        w.Open("else");
        w.Line("MemoryMarshal.CreateReadOnlySpan(ref from, channels).CopyTo(MemoryMarshal.CreateSpan(ref to, channels));");
        w.Line("MemoryMarshal.CreateSpan(ref Unsafe.Add(ref to, channels), dxStride - channels).Clear();");
        w.Close();
        w.Close();
        w.Close();
    }
}
