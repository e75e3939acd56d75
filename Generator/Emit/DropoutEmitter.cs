using System.Globalization;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the training kernel of an inverted dropout (inference has none: the layer is the identity there and shares its
/// input's slot). The kernel keeps a value when the hash of its index under the layer's key reaches a threshold, and scales
/// it by 1 / (1 - rate); the hash is Unroll.Kernels.DropoutNoise.Hash, computed lane by lane with the same 32-bit
/// arithmetic, so every instruction set draws the same mask. Since the map is linear and diagonal, the backward pass is the
/// same kernel applied to the output gradient, in place, with the same key.
/// </summary>
internal static class DropoutEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Hash values at or above this are kept: rate x 2^32, rounded (Unroll.Kernels.DropoutNoise.Threshold).</summary>
    public static uint Threshold(float rate) => (uint)System.Math.Min(System.Math.Round(rate * 4294967296.0), uint.MaxValue);

    /// <summary>The call of the kernel <paramref name="kernel"/> of layer <paramref name="index"/> from <paramref name="input"/> to <paramref name="output"/>.</summary>
    public static string Call(string kernel, int index, string input, string output) =>
        $"{kernel}({input}, {output}, DropoutNoise.LayerKey(noise, {I(index)}));";

    public static void Emit(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int pixels = p.Out.H * p.Out.W, c = p.Out.C, cs = p.Out.Cs;
        float scale = 1f / (1f - l.Rate);
        string threshold = "0x" + Threshold(l.Rate).ToString("X8", CultureInfo.InvariantCulture) + "u";
        w.Line($"/// <summary>");
        w.Line($"/// {l.Name}: inverted dropout over {l.Output} in training, rate {VectorIsa.Literal(l.Rate)}: value c of position p is kept, times");
        w.Line($"/// {VectorIsa.Literal(scale)}, when DropoutNoise.Hash(key, p x {I(c)} + c) &gt;= {threshold}, else 0. Also its own backward pass (dx = dy, the");
        w.Line($"/// same mask and scale), in place. {v.Name}, {I(v.Lanes)} value(s) at a time.");
        w.Line($"/// </summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
        w.Open($"private static void {name}(ref float input, ref float output, ulong key)");
        if (v.IsScalar)
        {
            w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
            w.Open($"for (int c = 0; c < {I(cs)}; c++)");
            w.Line($"int i = px * {I(cs)} + c;");
            w.Line($"Unsafe.Add(ref output, i) = DropoutNoise.Hash(key, (uint)(px * {I(c)} + c)) >= {threshold} ? Unsafe.Add(ref input, i) * {VectorIsa.Literal(scale)} : 0f;");
            w.Close();
            w.Close();
            w.Close();
            return;
        }
        string vc = v.VectorClass, u = $"{vc}<uint>";
        w.Line($"{u} low = {vc}.Create((uint)key), high = {vc}.Create((uint)(key >> 32)), threshold = {vc}.Create({threshold});");
        w.Line($"{v.Type} scale = {v.Broadcast(VectorIsa.Literal(scale))};");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Open($"for (int cv = 0; cv < {I(cs)}; cv += {I(v.Lanes)})");
        w.Line("// DropoutNoise.Hash of each lane's index p x C + c.");
        w.Line($"{u} h = ((({vc}.Create((uint)(px * {I(c)} + cv)) + {u}.Indices) * {vc}.Create(0x9E3779B1u)) + low) ^ high;");
        w.Line($"h ^= {vc}.ShiftRightLogical(h, 16);");
        w.Line($"h *= {vc}.Create(0x85EBCA6Bu);");
        w.Line($"h ^= {vc}.ShiftRightLogical(h, 13);");
        w.Line($"h *= {vc}.Create(0xC2B2AE35u);");
        w.Line($"h ^= {vc}.ShiftRightLogical(h, 16);");
        w.Line($"{v.Type} keep = {vc}.GreaterThanOrEqual(h, threshold).AsSingle();");
        w.Line(v.Store($"({v.Load("input", $"px * {I(cs)} + cv")} * scale) & keep", "output", $"px * {I(cs)} + cv"));
        w.Close();
        w.Close();
        w.Close();
    }
}
