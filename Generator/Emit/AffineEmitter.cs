using System.Globalization;
using Unroll.Generator.Front;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the kernels of an affine layer, y = x scale + shift with constants that are absent, per channel or per value
/// (ONNX's Mul, Add and Sub with a constant, such as a mean image). A per-channel constant is a vector of the padded
/// channels; a per-value one is stored channels-last like the tensor itself, so both are read with the tensor's own offsets.
/// </summary>
internal static class AffineEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The offset of a constant of extent <paramref name="extent"/> for the value at pixel px, channel vector cv.</summary>
    private static string At(ConstantExtent extent, int cs) => extent == ConstantExtent.Full ? $"px * {I(cs)} + cv" : "cv";

    private static string Formula(AffineParameters a) =>
        "y = x" + (a.Scale == ConstantExtent.None ? "" : $" scale[{Index(a.Scale)}]") + (a.Shift == ConstantExtent.None ? "" : $" + shift[{Index(a.Shift)}]");

    private static string Index(ConstantExtent extent) => extent == ConstantExtent.Full ? "c, h, w" : "c";

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        AffineParameters a = l.Affine!;
        int pixels = p.Out.H * p.Out.W, cs = p.Out.Cs;
        string? activate = v.Activate(l, "y");
        bool inRegisters = activate is not null && l.Activation != ActivationKind.None;
        w.Line($"/// <summary>{l.Name}: {Formula(a)}{(inRegisters ? $", then {l.ActivationName}" : "")} over {l.Output}; {v.Name}, {I(v.Lanes)} channel(s) at a time.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}(ref float input, ref float output, ref float scale, ref float shift)");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        string x = v.Load("input", $"px * {I(cs)} + cv");
        string y = (a.Scale, a.Shift) switch
        {
            (ConstantExtent.None, ConstantExtent.None) => x,
            (ConstantExtent.None, _) => $"{x} + {v.Load("shift", At(a.Shift, cs))}",
            (_, ConstantExtent.None) => $"{x} * {v.Load("scale", At(a.Scale, cs))}",
            _ => v.MultiplyAdd(x, v.Load("scale", At(a.Scale, cs)), v.Load("shift", At(a.Shift, cs))),
        };
        w.Line($"{v.Type} y = {y};");
        w.Line(v.Store(activate ?? "y", "output", $"px * {I(cs)} + cv"));
        w.Close();
        w.Close();
        w.Close();
    }

    /// <summary>
    /// dx = dy scale (dy where there is no scale), and this sample's parameter gradients added: dscale += dy x and
    /// dshift += dy, summed over the positions for per-channel constants.
    /// </summary>
    public static void EmitBackward(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        AffineParameters a = l.Affine!;
        int pixels = p.Out.H * p.Out.W, cs = p.Out.Cs;
        w.Line($"/// <summary>{l.Name} backward: dx = dy{(a.Scale == ConstantExtent.None ? "" : " scale")}{(a.Scale == ConstantExtent.None ? "" : $", dscale[{Index(a.Scale)}] += dy x")}{(a.Shift == ConstantExtent.None ? "" : $", dshift[{Index(a.Shift)}] += dy")} (per-channel gradients summed over the positions); {v.Name}.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Backward(ref float x, ref float dy, ref float dx, ref float scale, ref float dscale, ref float dshift, bool inputGradient)");
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        // Per-channel sums are kept in registers over the positions, then added once.
        if (a.Scale == ConstantExtent.Channel)
            w.Line($"{v.Type} scaleSum = {v.Zero};");
        if (a.Shift == ConstantExtent.Channel)
            w.Line($"{v.Type} shiftSum = {v.Zero};");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        string at = $"px * {I(cs)} + cv";
        w.Line($"{v.Type} g = {v.Load("dy", at)};");
        if (a.Scale == ConstantExtent.Channel)
            w.Line($"scaleSum += g * {v.Load("x", at)};");
        else if (a.Scale == ConstantExtent.Full)
            w.Line(v.Store($"{v.Load("dscale", at)} + g * {v.Load("x", at)}", "dscale", at));
        if (a.Shift == ConstantExtent.Channel)
            w.Line("shiftSum += g;");
        else if (a.Shift == ConstantExtent.Full)
            w.Line(v.Store($"{v.Load("dshift", at)} + g", "dshift", at));
        w.Line("if (inputGradient)");
        w.Line("    " + v.Store(a.Scale == ConstantExtent.None ? "g" : $"g * {v.Load("scale", At(a.Scale, cs))}", "dx", at));
        w.Close();
        if (a.Scale == ConstantExtent.Channel)
            w.Line(v.Store($"{v.Load("dscale", "cv")} + scaleSum", "dscale", "cv"));
        if (a.Shift == ConstantExtent.Channel)
            w.Line(v.Store($"{v.Load("dshift", "cv")} + shiftSum", "dshift", "cv"));
        w.Close();
        w.Close();
    }
}
