using System.Globalization;
using Unroll.Generator.Front;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the kernels of a zero padding. Channels-last rows of the input and of the output's interior are both contiguous
/// (same channel stride), so the forward pass copies one input row per output row and clears the borders, and the backward
/// pass copies the interior rows of the output gradient back.
/// </summary>
internal static class ZeroPadEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Clears the border at <paramref name="offset"/>, or fills it with <paramref name="border"/> (the activation's value at 0, where it is not 0).</summary>
    private static void Clear(CodeWriter w, string reference, string offset, int length, float? border = null)
    {
        if (length > 0)
            w.Line($"MemoryMarshal.CreateSpan(ref Unsafe.Add(ref {reference}, {offset}), {I(length)}).{(border is float value ? $"Fill({VectorIsa.Literal(value)})" : "Clear()")};");
    }

    private static void Copy(CodeWriter w, string from, string fromOffset, string to, string toOffset, int length) =>
        w.Line($"MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref {from}, {fromOffset}), {I(length)}).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.Add(ref {to}, {toOffset}), {I(length)}));");

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int cs = p.Out.Cs, h = p.In.H, row = p.In.W * cs, outRow = p.Out.W * cs;
        string? activate = l.Activation == ActivationKind.None ? null : v.Activate(l, "x");
        // The border is the activation of 0: zeros, unless a clip's range leaves 0 out.
        float? border = activate is null ? null : VectorIsa.ActivatedZero(l);
        string activation = activate is null ? ""
            : border is float b ? $", then {l.ActivationName}: on the copied values, and the border holds {VectorIsa.Literal(b)} (its value at 0)"
            : $", {l.ActivationName} on the copied values (it maps 0 to 0)";
        w.Line($"/// <summary>{l.Name}: {l.Input} -> {l.Output}, zeros around (rows {I(l.PadTop)} above, {I(l.PadBottom)} below; columns {I(l.PadLeft)} left, {I(l.PadRight)} right){activation}; {v.Name}.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}(ref float input, ref float output)");
        Clear(w, "output", "0", l.PadTop * outRow, border);
        w.Open($"for (int h = 0; h < {I(h)}; h++)");
        w.Line($"ref float o = ref Unsafe.Add(ref output, (h + {I(l.PadTop)}) * {I(outRow)});");
        Clear(w, "o", "0", l.PadLeft * cs, border);
        if (activate is null)
            Copy(w, "input", $"h * {I(row)}", "o", I(l.PadLeft * cs), row);
        else
        {
            w.Open($"for (int i = 0; i < {I(row)}; i += {I(v.Lanes)})");
            w.Line($"{v.Type} x = {v.Load("input", $"h * {I(row)} + i")};");
            w.Line(v.Store(activate, "o", $"{I(l.PadLeft * cs)} + i"));
            w.Close();
        }
        Clear(w, "o", I((l.PadLeft + p.In.W) * cs), l.PadRight * cs, border);
        w.Close();
        Clear(w, "output", I((l.PadTop + h) * outRow), l.PadBottom * outRow, border);
        w.Close();
    }

    /// <summary>The gradient is the output gradient's interior: one row copy per input row.</summary>
    public static void EmitBackward(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int cs = p.Out.Cs, row = p.In.W * cs, outRow = p.Out.W * cs;
        w.Line($"/// <summary>{l.Name} backward: dx = dy[{I(l.PadTop)} .. {I(l.PadTop + p.In.H - 1)}, {I(l.PadLeft)} .. {I(l.PadLeft + p.In.W - 1)}], the interior of the output gradient; {v.Name}.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Backward(ref float dy, ref float dx)");
        w.Open($"for (int h = 0; h < {I(p.In.H)}; h++)");
        Copy(w, "dy", $"(h + {I(l.PadTop)}) * {I(outRow)} + {I(l.PadLeft * cs)}", "dx", $"h * {I(row)}", row);
        w.Close();
        w.Close();
    }
}
