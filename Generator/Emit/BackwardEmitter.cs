using System;
using System.Globalization;
using System.Linq;
using Unroll.Generator.Front;
using Unroll.Generator.Plan;

namespace Unroll.Generator.Emit;

/// <summary>
/// Writes the backward kernels of one layer for one instruction set. Each takes the layer's saved
/// input (and output), the gradient with respect to its output (dz, already multiplied by the
/// activation's derivative), and accumulates the parameter gradients of one sample; the gradient
/// with respect to its input (dx) is written with channels padded to 16. Gradient lanes of padded
/// channels stay zero, so padded parameter gradients stay zero too.
/// </summary>
internal static class BackwardEmitter
{
    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private const string ConvParameters = "ref float x, ref float dz, ref float dx, ref float transposed, ref float dw, ref float db, bool inputGradient";
    private const string DenseParameters = "ref float x, ref float dz, ref float dx, ref float w, ref float dw, ref float db, bool inputGradient";
    private const string PoolParameters = "ref float x, ref float y, ref float dy, ref float dx";

    /// <summary>Channel stride of a layer's input gradient: always padded to 16, so vector stores stay inside a pixel.</summary>
    public static int InputGradientStride(LayerPlan p) => Planner.Pad(p.In.C);

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
            case OpKind.GlobalAvgPool:
                MergeEmitter.EmitGlobalAvgPoolBackward(w, p, v, name);
                break;
            case OpKind.LRN:
                LrnEmitter.EmitBackward(w, p, v, name);
                break;
            case OpKind.ZeroPad:
                ZeroPadEmitter.EmitBackward(w, p, v, name);
                break;
            case OpKind.Affine:
                AffineEmitter.EmitBackward(w, p, v, name);
                break;
        }
    }

    /// <summary>
    /// The activation-derivative helpers every ISA class carries (multiplying dy in place by f'(y)); with
    /// <paramref name="clip"/> (a layer of the network clips), the clip's too.
    /// </summary>
    public static void EmitActivationHelpers(CodeWriter w, VectorIsa v, bool clip)
    {
        void Helper(string name, string summary, string extraParameter, string body)
        {
            w.Line();
            w.Line($"/// <summary>{summary}, over <paramref name=\"length\"/> values (a multiple of 16).</summary>");
            w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
            w.Open($"private static void {name}(ref float y, ref float dy, int length{extraParameter})");
            w.Open($"for (int i = 0; i < length; i += {I(v.Lanes)})");
            w.Line($"{v.Type} yv = {v.Load("y", "i")};");
            w.Line($"{v.Type} g = {v.Load("dy", "i")};");
            w.Line(v.Store(body, "dy", "i"));
            w.Close();
            w.Close();
        }
        bool scalar = v.Lanes == 1;
        string vc = v.VectorClass;
        Helper("ReLUBackward", "dy *= (y > 0 ? 1 : 0)", "",
            scalar ? "yv > 0f ? g : 0f" : $"{vc}.ConditionalSelect({vc}.GreaterThan(yv, {v.Zero}), g, {v.Zero})");
        Helper("LeakyReLUBackward", "dy *= (y > 0 ? 1 : alpha), for 0 &lt; alpha", ", float alpha",
            scalar ? "yv > 0f ? g : g * alpha" : $"{vc}.ConditionalSelect({vc}.GreaterThan(yv, {v.Zero}), g, g * alpha)");
        Helper("TanhBackward", "dy *= 1 - y * y", "", scalar ? "g * (1f - yv * yv)" : $"g * ({v.Broadcast("1f")} - yv * yv)");
        Helper("SigmoidBackward", "dy *= y * (1 - y)", "", scalar ? "g * yv * (1f - yv)" : $"g * yv * ({v.Broadcast("1f")} - yv)");
        // Strictly inside the bounds, as the ReLU at 0: a value held at a bound passes no gradient (an open side is an infinity, which every y passes).
        if (clip)
            Helper("ClipBackward", "dy *= (min &lt; y &lt; max ? 1 : 0)", ", float min, float max",
                scalar ? "yv > min && yv < max ? g : 0f"
                : $"{vc}.ConditionalSelect({vc}.GreaterThan(yv, {v.Broadcast("min")}) & {vc}.LessThan(yv, {v.Broadcast("max")}), g, {v.Zero})");
    }

    /// <summary>A statement multiplying the gradient at <paramref name="dy"/> by the derivative of <paramref name="layer"/>'s activation at the saved output <paramref name="y"/>.</summary>
    public static string? ActivationBackward(Graph.LayerModel layer, string y, string dy, TensorSlot slot) => layer.Activation switch
    {
        ActivationKind.None => null,
        ActivationKind.ReLU => $"ReLUBackward(ref {y}, ref {dy}, {I(slot.Length)});",
        ActivationKind.LeakyReLU => $"LeakyReLUBackward(ref {y}, ref {dy}, {I(slot.Length)}, {VectorIsa.Literal(layer.Alpha)});",
        ActivationKind.Clip => $"ClipBackward(ref {y}, ref {dy}, {I(slot.Length)}, {VectorIsa.Literal(layer.ClipMin)}, {VectorIsa.Literal(layer.ClipMax)});",
        ActivationKind.Tanh => $"TanhBackward(ref {y}, ref {dy}, {I(slot.Length)});",
        ActivationKind.Sigmoid => $"SigmoidBackward(ref {y}, ref {dy}, {I(slot.Length)});",
        _ => $"Activations.SoftmaxBackward(ref {y}, ref {dy}, {I(slot.C)});",
    };

    private static void Header(CodeWriter w, LayerPlan p, VectorIsa v, string what)
    {
        w.Line($"/// <summary>{p.Layer.Name} backward: {p.Layer.KindName} {p.Layer.Input} -> {p.Layer.Output}; {what}; {v.Name}.</summary>");
        w.Line("[MethodImpl(MethodImplOptions.AggressiveOptimization)]");
    }

    private static void BiasGradient(CodeWriter w, LayerPlan p, VectorIsa v, int pixels)
    {
        int vectors = Schedule.ChannelVectors(v.Target, p.Out.C);
        w.Line("// Bias gradient: the sum of dz over every output pixel.");
        w.Open($"for (int oc0 = 0; oc0 < {I(vectors * v.Lanes)}; oc0 += {I(v.Lanes)})");
        w.Line($"{v.Type} sum = {v.Zero};");
        if (pixels > 1)
        {
            w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
            w.Line($"sum += {v.Load("dz", $"px * {I(p.Out.Cs)} + oc0")};");
            w.Close();
        }
        else
            w.Line($"sum += {v.Load("dz", "oc0")};");
        w.Line(v.Store($"{v.Load("db", "oc0")} + sum", "db", "oc0"));
        w.Close();
    }

    private static void Clear(CodeWriter w, string reference, int length) =>
        w.Line($"MemoryMarshal.CreateSpan(ref {reference}, {I(length)}).Clear();");

    // ---------------------------------------------------------------- convolution

    private static void EmitConv(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int cin = p.In.C, cs = p.In.Cs, cout = p.Out.C, ocs = p.Out.Cs, op = p.PaddedOutputs;
        int oh = p.Out.H, ow = p.Out.W, h = p.In.H, wd = p.In.W;
        int outVectors = Schedule.ChannelVectors(v.Target, cout);
        int block = Math.Min(outVectors, 4);
        int budget = v.Lanes == 16 ? 24 : v.Lanes == 8 ? 12 : 8;
        int icTile = Math.Max(1, Math.Min(cin, budget / block));

        Header(w, p, v, $"weight gradient tiled {icTile} input channel(s) x {block} vector(s) of output channels, input gradient gathered per input pixel through the transposed kernel");
        w.Open($"private static void {name}_Backward({ConvParameters})");
        if (l.Bias)
            BiasGradient(w, p, v, oh * ow);

        w.Line("// Weight gradient: dw[kh, kw, ic, oc] += sum over output pixels of x[ih, iw, ic] * dz[oh, ow, oc].");
        w.Open($"for (int kh = 0; kh < {I(l.KernelH)}; kh++)");
        w.Line($"int ohLo = {I(l.PadTop)} - kh <= 0 ? 0 : ({I(l.PadTop)} - kh + {I(l.StrideH - 1)}) / {I(l.StrideH)};");
        w.Line($"int ohLast = {I(h - 1 + l.PadTop)} - kh, ohHi = ohLast < 0 ? 0 : Math.Min({I(oh)}, ohLast / {I(l.StrideH)} + 1);");
        w.Open($"for (int kw = 0; kw < {I(l.KernelW)}; kw++)");
        w.Line($"int owLo = {I(l.PadLeft)} - kw <= 0 ? 0 : ({I(l.PadLeft)} - kw + {I(l.StrideW - 1)}) / {I(l.StrideW)};");
        w.Line($"int owLast = {I(wd - 1 + l.PadLeft)} - kw, owHi = owLast < 0 ? 0 : Math.Min({I(ow)}, owLast / {I(l.StrideW)} + 1);");
        w.Line($"ref float dwTap = ref Unsafe.Add(ref dw, (kh * {I(l.KernelW)} + kw) * {I(cin * op)});");

        // Independent accumulator sets over consecutive output columns hide the FMA latency when the
        // tile itself is small (one input channel, one vector of outputs, as in a first layer).
        void Tile(int channels, int vectors)
        {
            int sets = Math.Max(1, Math.Min(4, budget / (channels * vectors)));
            for (int u = 0; u < sets; u++)
                for (int i = 0; i < channels; i++)
                    for (int m = 0; m < vectors; m++)
                        w.Line($"{v.Type} a{u}_{i}_{m} = {v.Zero};");
            w.Open("for (int r = ohLo; r < ohHi; r++)");
            w.Line($"int ih = r * {I(l.StrideH)} - {I(l.PadTop)} + kh;");
            w.Line($"ref float xr = ref Unsafe.Add(ref x, (ih * {I(wd)} - {I(l.PadLeft)} + kw) * {I(cs)} + ic0);");
            w.Line($"ref float dzr = ref Unsafe.Add(ref dz, r * {I(ow * ocs)} + oc0);");
            w.Line("int c = owLo;");
            void Columns(int count, string step)
            {
                for (int u = 0; u < count; u++)
                {
                    string col = u == 0 ? "c" : $"(c + {I(u)})";
                    for (int m = 0; m < vectors; m++)
                        w.Line($"{v.Type} d{u}_{m} = {v.Load("dzr", $"{col} * {I(ocs)} + {I(m * v.Lanes)}")};");
                    for (int i = 0; i < channels; i++)
                    {
                        w.Line($"{v.Type} b{u}_{i} = {v.Broadcast($"Unsafe.Add(ref xr, {col} * {I(l.StrideW * cs)} + {I(i)})")};");
                        for (int m = 0; m < vectors; m++)
                            w.Line($"a{u}_{i}_{m} = {v.MultiplyAdd($"b{u}_{i}", $"d{u}_{m}", $"a{u}_{i}_{m}")};");
                    }
                }
            }
            if (sets > 1)
            {
                w.Open($"for (; c + {I(sets)} <= owHi; c += {I(sets)})");
                Columns(sets, "");
                w.Close();
            }
            w.Open("for (; c < owHi; c++)");
            Columns(1, "");
            w.Close();
            w.Close();
            for (int i = 0; i < channels; i++)
                for (int m = 0; m < vectors; m++)
                {
                    string sum = string.Join(" + ", Enumerable.Range(0, sets).Select(u => $"a{u}_{i}_{m}"));
                    string offset = $"(ic0 + {I(i)}) * {I(op)} + oc0 + {I(m * v.Lanes)}";
                    w.Line(v.Store($"{v.Load("dwTap", offset)} + {sum}", "dwTap", offset));
                }
        }

        void OutputBlocks(int channels)
        {
            int full = outVectors / block, rest = outVectors % block, step = block * v.Lanes;
            if (full > 0)
            {
                w.Open($"for (int oc0 = 0; oc0 < {I(full * step)}; oc0 += {I(step)})");
                Tile(channels, block);
                w.Close();
            }
            if (rest > 0)
            {
                w.Open("");
                w.Line($"const int oc0 = {I(full * step)};");
                Tile(channels, rest);
                w.Close();
            }
        }

        int icFull = cin / icTile, icRest = cin % icTile;
        w.Open($"for (int ic0 = 0; ic0 < {I(icFull * icTile)}; ic0 += {I(icTile)})");
        OutputBlocks(icTile);
        w.Close();
        if (icRest > 0)
        {
            w.Open("");
            w.Line($"const int ic0 = {I(icFull * icTile)};");
            OutputBlocks(icRest);
            w.Close();
        }
        w.Close();
        w.Close();

        // Input gradient, gathered: dx[ih, iw, ic] = sum over taps that reach (ih, iw) and over oc of dz[oh, ow, oc] * w[kh, kw, ic, oc].
        int icp = Planner.Pad(cin), dxs = InputGradientStride(p);
        int inVectors = Schedule.ChannelVectors(v.Target, cin);
        int inBlock = Math.Min(inVectors, 4);
        w.Line("if (!inputGradient)");
        w.Line("    return;");
        w.Line("// Input gradient: for every input pixel, the taps whose window covers it, through the kernel transposed to [kh][kw][oc][ic].");
        Clear(w, "dx", h * wd * dxs);
        w.Open($"for (int ih = 0; ih < {I(h)}; ih++)");
        w.Open($"for (int iw = 0; iw < {I(wd)}; iw++)");
        w.Line($"ref float dxp = ref Unsafe.Add(ref dx, (ih * {I(wd)} + iw) * {I(dxs)});");

        // The sum over output channels runs in independent partial sums, so FMA latency does not serialise it.
        int gatherSets = Math.Max(1, Math.Min(Math.Min(4, cout), budget / inBlock));
        void Gather(int vectors)
        {
            for (int u = 0; u < gatherSets; u++)
                for (int m = 0; m < vectors; m++)
                    w.Line($"{v.Type} a{u}_{m} = {v.Zero};");
            // Taps that reach this input pixel: with stride 1 a contiguous range, otherwise every tap tested.
            if (l.StrideH == 1)
            {
                w.Open($"for (int kh = Math.Max(0, ih + {I(l.PadTop - oh + 1)}), khEnd = Math.Min({I(l.KernelH)}, ih + {I(l.PadTop + 1)}); kh < khEnd; kh++)");
                w.Line($"int t = ih + {I(l.PadTop)} - kh;");
            }
            else
            {
                w.Open($"for (int kh = 0; kh < {I(l.KernelH)}; kh++)");
                w.Line($"int t = ih + {I(l.PadTop)} - kh;");
                w.Line($"if (t < 0 || t % {I(l.StrideH)} != 0 || t / {I(l.StrideH)} >= {I(oh)})");
                w.Line("    continue;");
            }
            if (l.StrideW == 1)
            {
                w.Open($"for (int kw = Math.Max(0, iw + {I(l.PadLeft - ow + 1)}), kwEnd = Math.Min({I(l.KernelW)}, iw + {I(l.PadLeft + 1)}); kw < kwEnd; kw++)");
                w.Line($"int u = iw + {I(l.PadLeft)} - kw;");
            }
            else
            {
                w.Open($"for (int kw = 0; kw < {I(l.KernelW)}; kw++)");
                w.Line($"int u = iw + {I(l.PadLeft)} - kw;");
                w.Line($"if (u < 0 || u % {I(l.StrideW)} != 0 || u / {I(l.StrideW)} >= {I(ow)})");
                w.Line("    continue;");
            }
            w.Line($"ref float dzp = ref Unsafe.Add(ref dz, (t / {I(l.StrideH)} * {I(ow)} + u / {I(l.StrideW)}) * {I(ocs)});");
            w.Line($"ref float wt = ref Unsafe.Add(ref transposed, (kh * {I(l.KernelW)} + kw) * {I(cout * icp)} + ic0);");
            w.Line("int oc = 0;");
            void Channels(int count)
            {
                for (int s2 = 0; s2 < count; s2++)
                {
                    string channel = s2 == 0 ? "oc" : $"oc + {I(s2)}";
                    w.Line($"{v.Type} g{s2} = {v.Broadcast($"Unsafe.Add(ref dzp, {channel})")};");
                    for (int m = 0; m < vectors; m++)
                        w.Line($"a{s2}_{m} = {v.MultiplyAdd($"g{s2}", v.Load("wt", $"({channel}) * {I(icp)} + {I(m * v.Lanes)}"), $"a{s2}_{m}")};");
                }
            }
            if (gatherSets > 1)
            {
                w.Open($"for (; oc + {I(gatherSets)} <= {I(cout)}; oc += {I(gatherSets)})");
                Channels(gatherSets);
                w.Close();
            }
            w.Open($"for (; oc < {I(cout)}; oc++)");
            Channels(1);
            w.Close();
            w.Close();
            w.Close();
            for (int m = 0; m < vectors; m++)
            {
                string sum = string.Join(" + ", Enumerable.Range(0, gatherSets).Select(u => $"a{u}_{m}"));
                w.Line(v.Store(sum, "dxp", $"ic0 + {I(m * v.Lanes)}"));
            }
        }

        int inFull = inVectors / inBlock, inRest = inVectors % inBlock, inStep = inBlock * v.Lanes;
        if (inFull > 0)
        {
            w.Open($"for (int ic0 = 0; ic0 < {I(inFull * inStep)}; ic0 += {I(inStep)})");
            Gather(inBlock);
            w.Close();
        }
        if (inRest > 0)
        {
            w.Open("");
            w.Line($"const int ic0 = {I(inFull * inStep)};");
            Gather(inRest);
            w.Close();
        }
        w.Close();
        w.Close();
        w.Close();
    }

    // ---------------------------------------------------------------- dense

    private static void EmitDense(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        int pixels = p.In.H * p.In.W, op = p.PaddedOutputs, dxs = InputGradientStride(p);
        int vectors = Schedule.ChannelVectors(v.Target, p.Out.C);
        Header(w, p, v, "rank-1 weight-gradient update per sample, input gradient as dot products with the weight rows");
        w.Open($"private static void {name}_Backward({DenseParameters})");
        if (l.Bias)
            BiasGradient(w, p, v, 1);
        w.Line("// Weight gradient: dw[k, o] += x[k] * dz[o], one row of padded outputs per input value k.");
        w.Line("ref float dwr = ref dw;");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Open($"for (int c = 0; c < {I(p.In.C)}; c++)");
        w.Line($"{v.Type} b = {v.Broadcast($"Unsafe.Add(ref x, px * {I(p.In.Cs)} + c)")};");
        w.Open($"for (int o = 0; o < {I(vectors * v.Lanes)}; o += {I(v.Lanes)})");
        w.Line(v.Store(v.MultiplyAdd("b", v.Load("dz", "o"), v.Load("dwr", "o")), "dwr", "o"));
        w.Close();
        w.Line($"dwr = ref Unsafe.Add(ref dwr, {I(op)});");
        w.Close();
        w.Close();
        w.Line("if (!inputGradient)");
        w.Line("    return;");
        w.Line("// Input gradient: dx[k] = sum over o of w[k, o] * dz[o].");
        Clear(w, "dx", pixels * dxs);
        w.Line("ref float wr = ref w;");
        w.Open($"for (int px = 0; px < {I(pixels)}; px++)");
        w.Open($"for (int c = 0; c < {I(p.In.C)}; c++)");
        w.Line($"{v.Type} acc = {v.Zero};");
        w.Open($"for (int o = 0; o < {I(vectors * v.Lanes)}; o += {I(v.Lanes)})");
        w.Line($"acc = {v.MultiplyAdd(v.Load("wr", "o"), v.Load("dz", "o"), "acc")};");
        w.Close();
        string sum = v.Lanes == 1 ? "acc" : v.VectorClass + ".Sum(acc)";
        w.Line($"Unsafe.Add(ref dx, px * {I(dxs)} + c) = {sum};");
        w.Line($"wr = ref Unsafe.Add(ref wr, {I(op)});");
        w.Close();
        w.Close();
        w.Close();
    }

    // ---------------------------------------------------------------- pooling

    private static void EmitPool(CodeWriter w, LayerPlan p, VectorIsa v, string name)
    {
        Graph.LayerModel l = p.Layer;
        bool max = l.Op == OpKind.MaxPool;
        int vectors = Schedule.ChannelVectors(v.Target, p.In.C);
        int dxs = InputGradientStride(p);
        string vc = v.VectorClass;
        Header(w, p, v, max ? "the gradient goes to the first input that equals the window's maximum" : "the gradient is shared evenly over the window");
        w.Open($"private static void {name}_Backward({PoolParameters})");
        Clear(w, "dx", p.In.H * p.In.W * dxs);
        KernelEmitter.OpenPoolWindows(w, p, v);
        w.Line($"int o = (oh * {I(p.Out.W)} + ow) * {I(p.Out.Cs)};");
        w.Open($"for (int cv = 0; cv < {I(vectors * v.Lanes)}; cv += {I(v.Lanes)})");
        w.Line($"{v.Type} g = {v.Load("dy", "o + cv")};");
        if (max)
        {
            w.Line($"{v.Type} top = {v.Load("y", "o + cv")};");
            w.Line(v.Lanes == 1 ? "bool open = true;" : $"{v.Type} open = {vc}<float>.AllBitsSet;");
        }
        else
            w.Line("g *= scale;");
        w.Open("for (int kh = khLo; kh < khHi; kh++)");
        w.Open("for (int kw = kwLo; kw < kwHi; kw++)");
        w.Line($"int i = ((ih0 + kh) * {I(p.In.W)} + iw0 + kw) * {I(p.In.Cs)} + cv, d = ((ih0 + kh) * {I(p.In.W)} + iw0 + kw) * {I(dxs)} + cv;");
        if (!max)
            w.Line(v.Store($"{v.Load("dx", "d")} + g", "dx", "d"));
        else if (v.Lanes == 1)
        {
            w.Open("if (open && Unsafe.Add(ref x, i) == top)");
            w.Line("Unsafe.Add(ref dx, d) += g;");
            w.Line("open = false;");
            w.Close();
        }
        else
        {
            w.Line($"{v.Type} hit = {vc}.Equals({v.Load("x", "i")}, top) & open;");
            w.Line(v.Store($"{v.Load("dx", "d")} + (g & hit)", "dx", "d"));
            w.Line($"open = {vc}.AndNot(open, hit);");
        }
        w.Close();
        w.Close();
        w.Close();
        w.Close();
        w.Close();
        w.Close();
    }
}
