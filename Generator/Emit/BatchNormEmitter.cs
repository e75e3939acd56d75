using System.Globalization;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the kernels of a batch normalisation. One kernel applies a per-channel scale and shift (and the activation):
/// inference takes them from the running statistics, training from the batch's. Training adds three per-sample passes
/// around the runtime's reductions over the batch: the sums of x and x² that give the batch mean and variance; the sums
/// of dy and dy x̂ that the backward pass needs; and dx = a dy + b x + c with per-channel coefficients the runtime
/// derives from them.
/// </summary>
internal static class BatchNormEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Rows of a layer's block in the batch-statistics buffer (see <see cref="Schedule.BatchNormStatistics"/>).</summary>
    public const int ScaleRow = 0, ShiftRow = 1, MeanRow = 2, InverseDeviationRow = 3, CoefficientRows = 4;

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int pixels = p.Out.H * p.Out.W, cs = p.Out.Cs;
        string? activate = v.Activate(l, "y");
        w.Line($"/// <summary>{l.Name}: y = x scale[c] + shift[c]{(activate is null || l.Activation == Front.ActivationKind.None ? "" : $", then {l.ActivationName}")} over {l.Output}; scale and shift are rows 0 and 1 of <paramref name=\"scaleShift\"/>; {v.Name}.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}(ref float input, ref float output, ref float scaleShift)");
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} scale = {v.Load("scaleShift", "cv")}, shift = {v.Load("scaleShift", $"{I(cs)} + cv")};");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line($"{v.Type} y = {v.MultiplyAdd(v.Load("input", $"px * {I(cs)} + cv"), "scale", "shift")};");
        w.Line(v.Store(activate ?? "y", "output", $"px * {I(cs)} + cv"));
        w.Close();
        w.Close();
        w.Close();
    }

    /// <summary>The training passes: sums for the statistics, sums for the backward coefficients, and the input gradient.</summary>
    public static void EmitTraining(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int pixels = p.Out.H * p.Out.W, cs = p.Out.Cs, c = p.Out.C;

        w.Line();
        w.Line($"/// <summary>{l.Name}: adds this sample's per-channel sums of x (to sums[c]) and of x² (to sums[{I(cs)} + c]); summed in float over the sample's positions, in double across samples.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Sums(ref float x, ref double sums)");
        SampleSums(w, v, pixels, cs, c, "xv", v.Load("x", $"px * {I(cs)} + cv"), "xv", "xv * xv");
        w.Close();

        w.Line();
        w.Line($"/// <summary>{l.Name}: adds this sample's per-channel sums of dy (to sums[c]) and of dy x̂ (to sums[{I(cs)} + c]), x̂ = (x - mean) / sd with the batch's mean and sd (rows {I(MeanRow)} and {I(InverseDeviationRow)} of <paramref name=\"statistics\"/>).</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_GradientSums(ref float x, ref float dy, ref float statistics, ref double sums)");
        w.Line($"ref float mean = ref Unsafe.Add(ref statistics, {I(MeanRow * cs)});");
        w.Line($"ref float inverse = ref Unsafe.Add(ref statistics, {I(InverseDeviationRow * cs)});");
        SampleSums(w, v, pixels, cs, c, "g", v.Load("dy", $"px * {I(cs)} + cv"), "g",
            $"g * (({v.Load("x", $"px * {I(cs)} + cv")} - {v.Load("mean", "cv")}) * {v.Load("inverse", "cv")})");
        w.Close();

        w.Line();
        w.Line($"/// <summary>{l.Name} backward: dx = a dy + b x + c per channel, with a, b, c rows {I(CoefficientRows)} to {I(CoefficientRows + 2)} of <paramref name=\"statistics\"/> (computed by the runtime from the batch's sums).</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}_Backward(ref float x, ref float dy, ref float dx, ref float statistics)");
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} a = {v.Load("statistics", $"{I(CoefficientRows * cs)} + cv")}, b = {v.Load("statistics", $"{I((CoefficientRows + 1) * cs)} + cv")}, c = {v.Load("statistics", $"{I((CoefficientRows + 2) * cs)} + cv")};");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line($"int i = px * {I(cs)} + cv;");
        w.Line(v.Store($"{v.MultiplyAdd("a", v.Load("dy", "i"), v.MultiplyAdd("b", v.Load("x", "i"), "c"))}", "dx", "i"));
        w.Close();
        w.Close();
        w.Close();
    }

    /// <summary>Per-channel sums over a sample's positions of two values, in float vectors, then added to the double sums.</summary>
    private static void SampleSums(CodeWriter w, VectorIsa v, int pixels, int cs, int c, string name, string load, string first, string second)
    {
        w.Line($"Span<float> partial = stackalloc float[{I(2 * cs)}];");
        w.Line("ref float t = ref MemoryMarshal.GetReference(partial);");
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} s = {v.Zero}, q = {v.Zero};");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Line($"{v.Type} {name} = {load};");
        w.Line($"s += {first};");
        w.Line($"q += {second};");
        w.Close();
        w.Line(v.Store("s", "t", "cv"));
        w.Line(v.Store("q", "t", $"{I(cs)} + cv"));
        w.Close();
        w.Open($"for (int ch = 0; ch < {I(c)}; ch++)");
        w.Line("Unsafe.Add(ref sums, ch) += Unsafe.Add(ref t, ch);");
        w.Line($"Unsafe.Add(ref sums, {I(cs)} + ch) += Unsafe.Add(ref t, {I(cs)} + ch);");
        w.Close();
    }
}
