using System.Globalization;
using Unroll.Generator.Front;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the kernels of a local response normalisation across channels, PyTorch's convention:
/// b[c] = a[c] s[c]^-beta with s[c] = k + alpha / n x (sum of a[j]² for j in [c - n / 2, c + (n - 1) / 2]), channels
/// outside [0, C) counting as 0, n the window size. At each position the squares go into a zero-bordered row, so that every
/// channel's window is n loads at fixed offsets from its own: straight-line vector code, no clipping at run time.
/// </summary>
/// <remarks>
/// The backward pass in closed form: with p[c] = s[c]^-beta, db[c]/da[i] = p[c] [c = i] - (2 alpha beta / n) a[c] a[i] p[c] / s[c]
/// for every c whose window holds i, that is c in [i - (n - 1) / 2, i + n / 2] (the window mirrored). So
/// dx[i] = dy[i] p[i] - (2 alpha beta / n) a[i] (sum over that mirrored window of t[c]), t[c] = dy[c] a[c] p[c] / s[c]:
/// two passes over a position's channels, the second again n loads at fixed offsets from a zero-bordered row of t.
/// s is recomputed from the saved input (b is not kept: with a fused activation the saved output is f(b)).
/// </remarks>
internal static class LrnEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(float value) => VectorIsa.Literal(value);

    /// <summary>s^-beta: square roots for the common exponents (exact to rounding), exp and log otherwise.</summary>
    private static string PowerOfMinusBeta(VectorIsa v, float beta, string s)
    {
        string sqrt(string x) => v.IsScalar ? $"MathF.Sqrt({x})" : $"{v.VectorClass}.Sqrt({x})";
        string one = v.IsScalar ? "1f" : $"{v.Type}.One";
        return beta switch
        {
            0f => one,
            0.5f => $"{one} / {sqrt(s)}",
            0.75f => $"{one} / ({sqrt(s)} * {sqrt(sqrt(s))})",
            1f => $"{one} / {s}",
            _ => v.IsScalar ? $"MathF.Pow({s}, {F(-beta)})" : $"{v.VectorClass}.Exp({v.VectorClass}.Log({s}) * {v.Broadcast(F(-beta))})",
        };
    }

    /// <summary>The sum of the <paramref name="size"/> vectors of <paramref name="row"/> from <paramref name="offset"/> on.</summary>
    private static string WindowSum(VectorIsa v, string row, string offset, int size)
    {
        var terms = new System.Collections.Generic.List<string>();
        for (int j = 0; j < size; j++)
            terms.Add(v.Load(row, j == 0 ? offset : $"{offset} + {I(j)}"));
        return "(" + string.Join(" + ", terms) + ")";
    }

    /// <summary>Declares a zero-filled row of <paramref name="length"/> floats on the stack and a reference to it.</summary>
    private static void Row(CodeWriter w, string name, int length)
    {
        w.Line($"Span<float> {name}Row = stackalloc float[{I(length)}];");
        w.Line($"{name}Row.Clear();");
        w.Line($"ref float {name} = ref MemoryMarshal.GetReference({name}Row);");
    }

    /// <summary>Writes the squares of the position's channels into the bordered row (real channels only; the rest stay 0).</summary>
    private static void Squares(CodeWriter w, VectorIsa v, LayerPlan p, string a, int before)
    {
        int c = p.In.C, cs = p.In.Cs;
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} value = {v.Load(a, "cv")};");
        w.Line(v.Store("value * value", "squares", $"{I(before)} + cv"));
        w.Close();
        if (cs > c)
            w.Line($"MemoryMarshal.CreateSpan(ref Unsafe.Add(ref squares, {I(before + c)}), {I(cs - c)}).Clear();");
    }

    /// <summary>s for the channels at cv: k + alpha / n x the window's sum of squares.</summary>
    private static string Divisor(VectorIsa v, LrnParameters n) =>
        v.MultiplyAdd(v.Broadcast(F(n.Alpha / n.Size)), WindowSum(v, "squares", "cv", n.Size), v.Broadcast(F(n.K)));

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        LrnParameters n = l.Lrn!;
        int pixels = p.Out.H * p.Out.W, cs = p.In.Cs, below = n.Size / 2;
        string? activate = v.Activate(l, "y");
        w.Line($"/// <summary>");
        w.Line($"/// {l.Name}: local response normalisation over {l.Output}: y[c] = x[c] / ({F(n.K)} + {F(n.Alpha)} / {I(n.Size)} x sum of x[j]², j = c - {I(below)} .. c + {I((n.Size - 1) / 2)})^{F(n.Beta)};");
        w.Line($"/// {(activate is null || l.Activation == ActivationKind.None ? "" : $"then {l.ActivationName}; ")}each position's squares in a row with {I(below)} zero(s) before; {v.Name}, {I(v.Lanes)} channel(s) per vector.");
        w.Line($"/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}(ref float input, ref float output)");
        Row(w, "squares", cs + n.Size - 1);
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line($"ref float a = ref Unsafe.Add(ref input, px * {I(cs)});");
        Squares(w, v, p, "a", below);
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} s = {Divisor(v, n)};");
        w.Line($"{v.Type} y = {v.Load("a", "cv")} * ({PowerOfMinusBeta(v, n.Beta, "s")});");
        w.Line(v.Store(activate ?? "y", "output", $"px * {I(p.Out.Cs)} + cv"));
        w.Close();
        w.Close();
        w.Close();
    }

    public static void EmitBackward(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        LrnParameters n = l.Lrn!;
        int pixels = p.Out.H * p.Out.W, c = p.In.C, cs = p.In.Cs, stride = BackwardEmitter.InputGradientStride(p);
        int below = n.Size / 2, above = (n.Size - 1) / 2;
        w.Line($"/// <summary>");
        w.Line($"/// {l.Name} backward, in closed form (see LrnEmitter): dx[i] = dy[i] p[i] - {F(2 * n.Alpha * n.Beta / n.Size)} x[i] (sum of t[c], c = i - {I(above)} .. i + {I(below)}),");
        w.Line($"/// p = s^-{F(n.Beta)}, t[c] = dy[c] x[c] p[c] / s[c], s recomputed from x; {v.Name}.");
        w.Line($"/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Backward(ref float x, ref float dy, ref float dx)");
        Row(w, "squares", cs + n.Size - 1);
        Row(w, "terms", cs + n.Size - 1);
        Row(w, "powers", cs);
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line($"ref float a = ref Unsafe.Add(ref x, px * {I(cs)});");
        w.Line($"ref float g = ref Unsafe.Add(ref dy, px * {I(p.Out.Cs)});");
        Squares(w, v, p, "a", below);
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} s = {Divisor(v, n)};");
        w.Line($"{v.Type} power = {PowerOfMinusBeta(v, n.Beta, "s")};");
        w.Line(v.Store("power", "powers", "cv"));
        w.Line(v.Store($"{v.Load("g", "cv")} * {v.Load("a", "cv")} * power / s", "terms", $"{I(above)} + cv"));
        w.Close();
        if (cs > c)
            w.Line($"MemoryMarshal.CreateSpan(ref Unsafe.Add(ref terms, {I(above + c)}), {I(cs - c)}).Clear();");
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} window = {WindowSum(v, "terms", "cv", n.Size)};");
        w.Line(v.Store($"{v.Load("g", "cv")} * {v.Load("powers", "cv")} - {v.Broadcast(F(2 * n.Alpha * n.Beta / n.Size))} * {v.Load("a", "cv")} * window", "dx", $"px * {I(stride)} + cv"));
        w.Close();
        if (stride > c)
            w.Line($"MemoryMarshal.CreateSpan(ref Unsafe.Add(ref dx, px * {I(stride)} + {I(c)}), {I(stride - c)}).Clear();");
        w.Close();
        w.Close();
    }
}
