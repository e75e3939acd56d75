using System;
using System.Collections.Generic;
using System.Globalization;
using Unroll.Generator.Front;
using Unroll.Generator.Model;

namespace Unroll.Generator.Graph;

/// <summary>Graph stage: checks a declared network and infers every shape. Reports each mistake once, on the argument at fault.</summary>
internal static class ShapeInference
{
    public static (NetworkModel? Model, EquatableArray<DiagnosticInfo> Diagnostics) Infer(NetworkSpec spec)
    {
        var diagnostics = new List<DiagnosticInfo>(spec.Diagnostics);
        bool ok = diagnostics.Count == 0;

        TensorShape input = default;
        if (spec.Input is null)
        {
            // An ONNX model that gives no input shape has said why already.
            if (spec.Onnx is null)
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.MissingInput, spec.InputLocation ?? spec.ClassLocation, spec.ClassName));
            ok = false;
        }
        else if (!TryParseShape(spec.Input, out input))
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InvalidInput, spec.InputLocation, spec.ClassName, spec.Input));
            ok = false;
        }
        if (spec.Layers.Count == 0 && spec.Diagnostics.Count == 0)
        {
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.NoLayers, spec.ClassLocation, spec.ClassName));
            ok = false;
        }

        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (LayerSpec layer in spec.Layers)
        {
            if (layer.Name == AttributeNames.NetworkInput)
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.DuplicateName, layer.At("Name"), layer.Name, "Layer.NetworkInput", spec.ClassName));
                ok = false;
            }
            else if (names.TryGetValue(layer.Name, out string? other))
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.DuplicateName, layer.At("Name"), layer.Name, other, spec.ClassName));
                ok = false;
            }
            else
                names.Add(layer.Name, layer.Member);
        }

        int[][]? inputs = ResolveInputs(spec, diagnostics);
        ok &= inputs is not null;

        // Shape inference continues only while shapes are known; every layer's own argument checks always run. A sum that
        // projects mismatched inputs gets its projections inserted before it, so model indices run ahead of spec indices.
        var layers = new List<LayerModel>();
        var shapes = new TensorShape?[spec.Layers.Count];
        var modelIndex = new int[spec.Layers.Count];
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            var inputShapes = new List<TensorShape>();
            var sources = new List<int>();
            bool known = ok;
            if (inputs is not null)
                foreach (int j in inputs[i])
                {
                    TensorShape? shape = j < 0 ? input : shapes[j];
                    sources.Add(j < 0 ? -1 : modelIndex[j]);
                    if (shape is TensorShape s)
                        inputShapes.Add(s);
                    else
                        known = false;
                }
            if (known && layer.Op == OpKind.Add && layer.Project)
                Project(layer, layers, sources, inputShapes, diagnostics);
            LayerModel? model = InferLayer(spec, layer, sources.ToArray(), known ? inputShapes : null, diagnostics,
                k => sources[k] < 0 ? AttributeNames.NetworkInput : layers[sources[k]].Name);
            if (model is null)
            {
                ok = false;
                continue;
            }
            modelIndex[i] = layers.Count;
            layers.Add(model);
            shapes[i] = model.Output;
        }

        List<int> outputs = Outputs(spec, diagnostics);
        ok &= outputs.Count > 0;
        if (ok && inputs is not null)
            WarnUnused(spec, inputs, outputs, diagnostics);
        if (!ok)
            return (null, diagnostics.ToEquatableArray());
        var outputModels = new List<OutputModel>();
        foreach (int i in outputs)
            outputModels.Add(new OutputModel(modelIndex[i], spec.Layers[i].Output == OutputRole.Auxiliary, spec.Layers[i].LossWeight));
        return (new NetworkModel(spec.Namespace, spec.ClassName, spec.Modifiers, input, layers.ToEquatableArray(), outputModels.ToEquatableArray(), spec.Onnx), diagnostics.ToEquatableArray());
    }

    /// <summary>
    /// The outputs as layer indices: those <c>[Output]</c> marks, main ones first, each group in declaration order; the last
    /// layer when none is marked, or when only auxiliary ones are (then an error unless the last layer is one of them).
    /// Empty when the declaration is wrong.
    /// </summary>
    private static List<int> Outputs(NetworkSpec spec, List<DiagnosticInfo> diagnostics)
    {
        var main = new List<int>();
        var auxiliary = new List<int>();
        bool ok = true;
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            if (layer.Output == OutputRole.None)
                continue;
            if (!(layer.LossWeight > 0f) || float.IsInfinity(layer.LossWeight))
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.ArgumentOutOfRange, layer.At("LossWeight", "@output"), layer.Name, "the loss weight", "finite and above 0", R(layer.LossWeight)));
                ok = false;
            }
            (layer.Output == OutputRole.Main ? main : auxiliary).Add(i);
        }
        if (spec.Layers.Count == 0 || !ok)
            return new List<int>();
        if (main.Count == 0)
        {
            int last = spec.Layers.Count - 1;
            if (auxiliary.Contains(last))
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.NoMainOutput, spec.Layers[last].At("@output"), spec.ClassName));
                return new List<int>();
            }
            main.Add(last);
        }
        main.AddRange(auxiliary);
        return main;
    }

    /// <summary>
    /// Each layer's inputs as layer indices (-1: the network's input), from the names it gives or else the layer declared
    /// before it. Null when a name is unknown, refers forward, or closes a cycle (each reported on the name at fault).
    /// </summary>
    private static int[][]? ResolveInputs(NetworkSpec spec, List<DiagnosticInfo> diagnostics)
    {
        // A name may be a member (what nameof gives) or a layer name; members win.
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < spec.Layers.Count; i++)
            index[spec.Layers[i].Name] = i;
        for (int i = 0; i < spec.Layers.Count; i++)
            if (spec.Layers[i].Member.Length > 0)
                index[spec.Layers[i].Member] = i;

        var result = new int[spec.Layers.Count][];
        var forward = new List<(int Layer, int Argument, int Target)>();
        bool ok = true;
        for (int i = 0; i < spec.Layers.Count; i++)
        {
            LayerSpec layer = spec.Layers[i];
            var resolved = new List<int>();
            if (layer.IsMerge && layer.Inputs.Count == 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.MergeNeedsInputs, layer.Location, layer.Name, MergeWord(layer.Op)));
                ok = false;
            }
            if (layer.Inputs.Count == 0 || layer.IsMerge && layer.Inputs.Count == 1)
                resolved.Add(i - 1);
            for (int a = 0; a < layer.Inputs.Count; a++)
            {
                string name = layer.Inputs[a];
                LocationInfo? at = layer.IsMerge ? layer.At(a.ToString(CultureInfo.InvariantCulture)) : layer.At("From");
                if (name == AttributeNames.NetworkInput)
                    resolved.Add(-1);
                else if (!index.TryGetValue(name, out int j))
                {
                    string before = i == 0 ? "none" : string.Join(", ", System.Linq.Enumerable.Select(System.Linq.Enumerable.Take(spec.Layers, i), l => l.Member.Length > 0 ? l.Member : l.Name));
                    diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnknownInput, at, layer.Name, name, before));
                    ok = false;
                }
                else
                {
                    if (j >= i)
                        forward.Add((i, a, j));
                    resolved.Add(j);
                }
            }
            result[i] = resolved.ToArray();
        }

        // A reference forward is a cycle when the target reaches back to the layer through its own inputs.
        foreach ((int i, int a, int j) in forward)
        {
            LayerSpec layer = spec.Layers[i];
            LocationInfo? at = layer.IsMerge ? layer.At(a.ToString(CultureInfo.InvariantCulture)) : layer.At("From");
            if (PathTo(result, j, i, new HashSet<int>()) is { } path)
            {
                string cycle = layer.Name + " -> " + string.Join(" -> ", System.Linq.Enumerable.Select(path, k => spec.Layers[k].Name));
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InputCycle, at, layer.Name, spec.Layers[j].Name, cycle));
            }
            else
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.InputDeclaredLater, at, layer.Name, spec.Layers[j].Name));
            ok = false;
        }
        return ok ? result : null;
    }

    /// <summary>The layers from <paramref name="from"/> to <paramref name="to"/> (both included) following inputs, or null when there is no such path.</summary>
    private static List<int>? PathTo(int[][] inputs, int from, int to, HashSet<int> seen)
    {
        if (from == to)
            return new List<int> { to };
        if (!seen.Add(from))
            return null;
        foreach (int k in inputs[from])
            if (k >= 0 && PathTo(inputs, k, to, seen) is { } path)
            {
                path.Insert(0, from);
                return path;
            }
        return null;
    }

    /// <summary>Warns about layers whose output nothing reads: they cost time and cannot affect the output.</summary>
    private static void WarnUnused(NetworkSpec spec, int[][] inputs, List<int> outputs, List<DiagnosticInfo> diagnostics)
    {
        var used = new bool[spec.Layers.Count];
        foreach (int o in outputs)
            used[o] = true;
        for (int i = spec.Layers.Count - 1; i >= 0; i--)
            if (used[i])
                foreach (int j in inputs[i])
                    if (j >= 0)
                        used[j] = true;
        string names = string.Join(", ", System.Linq.Enumerable.Select(outputs, o => spec.Layers[o].Name));
        for (int i = 0; i < spec.Layers.Count; i++)
            if (!used[i])
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.UnusedLayer, spec.Layers[i].Location, spec.Layers[i].Name, names));
    }

    private static string R(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string MergeWord(OpKind op) => op == OpKind.Add ? "Add" : "Concat";

    /// <summary>Parses "C x H x W" (spaces optional, 'x' or 'X' or '*').</summary>
    public static bool TryParseShape(string text, out TensorShape shape)
    {
        shape = default;
        string[] parts = text.Split('x', 'X', '*', '×');
        if (parts.Length != 3)
            return false;
        int[] dims = new int[3];
        for (int i = 0; i < 3; i++)
            if (!int.TryParse(parts[i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]) || dims[i] <= 0)
                return false;
        if ((long)dims[0] * dims[1] * dims[2] > int.MaxValue / 16)
            return false;
        shape = new TensorShape(dims[0], dims[1], dims[2], false);
        return true;
    }

    /// <summary>
    /// ResNet's projection shortcut: each input of a projecting sum whose shape differs from the first input's goes through a
    /// 1x1 convolution without bias (to the first input's channels, with the stride that gives its size) and a batch
    /// normalisation, inserted as layers named after the sum. An input that no stride can bring to size stays as it is, and
    /// the sum reports the mismatch.
    /// </summary>
    private static void Project(LayerSpec sum, List<LayerModel> layers, List<int> sources, List<TensorShape> shapes, List<DiagnosticInfo> diagnostics)
    {
        TensorShape target = shapes[0];
        for (int k = 1; k < shapes.Count; k++)
        {
            TensorShape from = shapes[k];
            if (from == target || from.Flat || target.Flat)
                continue;
            int stride = Math.Max(1, from.H / target.H);
            if ((from.H - 1) / stride + 1 != target.H || (from.W - 1) / stride + 1 != target.W)
                continue;
            string name = sum.Name + (shapes.Count > 2 ? "_Projection" + k.ToString(CultureInfo.InvariantCulture) : "_Projection");
            LayerSpec Inner(string suffix, OpKind op, int count, string input) => sum with
            {
                Member = "", Name = name + suffix, Modifiers = "", Op = op, Count = count, KernelHeight = 1, KernelWidth = 1, Stride = stride,
                StrideSet = true, SamePadding = false, Pad = 0, PadSet = false, Bias = false, Activation = ActivationKind.None,
                Inputs = new[] { input }.ToEquatableArray(), Project = false, Epsilon = 1e-5f, Momentum = 0.1f,
            };
            string Source(int index) => index < 0 ? AttributeNames.NetworkInput : layers[index].Name;
            LayerModel? conv = InferLayer(null, Inner("", OpKind.Conv, target.C, Source(sources[k])), new[] { sources[k] }, new List<TensorShape> { from }, diagnostics, Source);
            if (conv is null)
                return;
            layers.Add(conv);
            LayerModel? norm = InferLayer(null, Inner("BN", OpKind.BatchNorm, 0, conv.Name) with { Stride = 1 }, new[] { layers.Count - 1 }, new List<TensorShape> { conv.Output }, diagnostics, Source);
            if (norm is null)
                return;
            layers.Add(norm);
            sources[k] = layers.Count - 1;
            shapes[k] = norm.Output;
        }
    }

    /// <param name="inputIndices">The layer's inputs as model indices (-1: the network's input).</param>
    /// <param name="inputShapes">Their shapes, or null when some is unknown (only the checks that need no shape run).</param>
    /// <param name="inputName">The name of input k, for diagnostics.</param>
    private static LayerModel? InferLayer(NetworkSpec? spec, LayerSpec layer, int[] inputIndices, List<TensorShape>? inputShapes, List<DiagnosticInfo> diagnostics,
        Func<int, string> inputName)
    {
        TensorShape? input = inputShapes is { Count: > 0 } ? inputShapes[0] : null;
        int before = diagnostics.Count;
        void Report(Microsoft.CodeAnalysis.DiagnosticDescriptor descriptor, LocationInfo? at, params object[] args) =>
            diagnostics.Add(DiagnosticInfo.Create(descriptor, at, args));

        // Argument checks that need no input shape.
        switch (layer.Op)
        {
            case OpKind.Conv:
            case OpKind.Dense:
                if (layer.Count <= 0)
                    Report(Diagnostics.NonPositiveCount, layer.At("0"), layer.Name, layer.Op == OpKind.Conv ? "the filter count" : "the unit count", layer.Count);
                break;
        }
        if (layer.Op is OpKind.Conv or OpKind.MaxPool or OpKind.AvgPool)
        {
            bool pool = layer.Op != OpKind.Conv;
            if (layer.KernelHeight <= 0)
                Report(Diagnostics.NonPositiveKernel, pool ? layer.At("0") : layer.At("KernelHeight", "Kernel"), layer.Name, pool ? "the window size" : "the kernel height", layer.KernelHeight);
            else if (layer.KernelWidth <= 0)
                Report(Diagnostics.NonPositiveKernel, layer.At("KernelWidth", "Kernel"), layer.Name, "the kernel width", layer.KernelWidth);
            if (layer.StrideSet && layer.Stride <= 0)
                Report(Diagnostics.NonPositiveStride, layer.At("Stride"), layer.Name, layer.Stride);
            if (layer.Pad < 0)
                Report(Diagnostics.NegativePadding, layer.At("Pad"), layer.Name, layer.Pad);
            if (layer.SamePadding && layer.PadSet)
                Report(Diagnostics.ConflictingPadding, layer.At("Pad"), layer.Name, layer.Pad);
            if (pool && layer.KernelHeight > 0 && layer.Pad > layer.KernelHeight / 2)
                Report(Diagnostics.PoolPaddingTooLarge, layer.At("Pad"), layer.Name, layer.Pad, layer.KernelHeight);
        }
        CheckArguments(layer, Report);
        if (diagnostics.Count != before || input is not TensorShape x)
            return null;
        if (layer.IsMerge && !CheckMerge(layer, inputShapes!, diagnostics, inputName))
            return null;

        int kh = layer.KernelHeight, kw = layer.KernelWidth;
        int stride = layer.Op is OpKind.MaxPool or OpKind.AvgPool && !layer.StrideSet ? kh : layer.Stride;
        int pt = 0, pl = 0, pb = 0, pr = 0;
        TensorShape output;
        long weights = 0, bias = 0, flops;
        switch (layer.Op)
        {
            case OpKind.Conv:
            case OpKind.MaxPool:
            case OpKind.AvgPool:
            {
                if (x.Flat)
                {
                    Report(Diagnostics.KernelTooLarge, layer.At("Kernel", "KernelHeight", "0"), layer.Name, $"{kh}x{kw}", x.ToString(), 1, 1);
                    return null;
                }
                if (layer.SamePadding)
                {
                    (pt, pb) = SamePads(x.H, kh, stride);
                    (pl, pr) = SamePads(x.W, kw, stride);
                }
                else if (layer.Pads is { } sides)
                    (pt, pl, pb, pr) = (sides.Top, sides.Left, sides.Bottom, sides.Right);
                else
                    pt = pl = pb = pr = layer.Pad;
                int paddedH = x.H + pt + pb, paddedW = x.W + pl + pr;
                if (kh > paddedH || kw > paddedW)
                {
                    Report(Diagnostics.KernelTooLarge, layer.At(kh > paddedH ? "KernelHeight" : "KernelWidth", "Kernel", "0"), layer.Name, $"{kh}x{kw}", x.ToString(), paddedH, paddedW);
                    return null;
                }
                int oh = (paddedH - kh) / stride + 1, ow = (paddedW - kw) / stride + 1;
                int channels = layer.Op == OpKind.Conv ? layer.Count : x.C;
                output = new TensorShape(channels, oh, ow, false);
                long outputs = output.Length;
                if (layer.Op == OpKind.Conv)
                {
                    weights = (long)layer.Count * x.C * kh * kw;
                    bias = layer.Bias ? layer.Count : 0;
                    flops = 2 * outputs * x.C * kh * kw;
                }
                else
                    flops = outputs * kh * kw;
                break;
            }
            case OpKind.Add:
                output = x;
                flops = (inputShapes!.Count - 1) * x.Length;
                kh = kw = stride = 1;
                break;
            case OpKind.Concat:
            {
                int channels = 0;
                foreach (TensorShape part in inputShapes!)
                    channels += part.C;
                output = x with { C = channels };
                flops = 0;
                kh = kw = stride = 1;
                break;
            }
            case OpKind.GlobalAvgPool:
                if (x.Flat)
                {
                    Report(Diagnostics.KernelTooLarge, layer.Location, layer.Name, "global", x.ToString(), 1, 1);
                    return null;
                }
                output = new TensorShape(x.C, 1, 1, true);
                flops = x.Length;
                kh = x.H;
                kw = x.W;
                stride = 1;
                break;
            case OpKind.BatchNorm:
                // gamma and beta per channel, as the layer's weight and bias.
                output = x;
                weights = bias = x.C;
                flops = 2 * x.Length;
                kh = kw = stride = 1;
                break;
            case OpKind.Dropout:
                // The identity at inference; in training, one hash, compare and multiply per value.
                output = x;
                flops = x.Length;
                kh = kw = stride = 1;
                break;
            case OpKind.LRN:
            {
                // Per value: its square, the window's sum, the power (counted as 2) and the division.
                output = x;
                flops = (layer.Lrn!.Size + 4) * x.Length;
                kh = kw = stride = 1;
                break;
            }
            case OpKind.ZeroPad:
            {
                if (x.Flat)
                {
                    Report(Diagnostics.NeedsSpatialInput, layer.Location, layer.Name, "ZeroPad", x.ToString());
                    return null;
                }
                Sides s = layer.ZeroPad!;
                (pt, pl, pb, pr) = (s.Top, s.Left, s.Bottom, s.Right);
                output = x with { H = x.H + pt + pb, W = x.W + pl + pr };
                flops = 0;
                kh = kw = stride = 1;
                break;
            }
            case OpKind.Affine:
            {
                // The scale as the layer's weight, the shift as its bias; a multiply and an add per value.
                AffineParameters a = layer.Affine!;
                long Count(ConstantExtent e) => e switch { ConstantExtent.Channel => x.C, ConstantExtent.Full => x.Length, _ => 0 };
                output = x;
                weights = Count(a.Scale);
                bias = Count(a.Shift);
                flops = 2 * x.Length;
                kh = kw = stride = 1;
                break;
            }
            case OpKind.Dense:
                output = new TensorShape(layer.Count, 1, 1, true);
                weights = (long)layer.Count * x.Length;
                bias = layer.Bias ? layer.Count : 0;
                flops = 2 * weights;
                kh = kw = stride = 1;
                break;
            default:
                output = x;
                flops = x.Length;
                kh = kw = stride = 1;
                break;
        }
        if (layer.Activation == ActivationKind.Softmax && !output.Flat && (output.H != 1 || output.W != 1))
        {
            Report(Diagnostics.SoftmaxNeedsFlat, layer.At("@activation"), layer.Name, output.ToString());
            return null;
        }
        if (weights > int.MaxValue / 4 || output.Length > int.MaxValue / 32)
        {
            Report(Diagnostics.TooLarge, layer.Location, layer.Name, weights > int.MaxValue / 4 ? $"{weights} weights" : $"output {output}");
            return null;
        }
        if (layer.Activation != ActivationKind.None && layer.Op != OpKind.Activation)
            flops += output.Length;
        return new LayerModel(layer.Member, layer.Name, layer.Modifiers, layer.Op, layer.Activation, layer.Alpha, x, output,
            kh, kw, stride, stride, pt, pl, pb, pr, layer.Bias, layer.CountIncludePad, weights, bias, flops, inputIndices.ToEquatableArray(),
            layer.Epsilon, layer.Momentum, layer.Block, layer.Rate, layer.Lrn, layer.Affine, layer.ClipMin, layer.ClipMax);
    }

    /// <summary>The argument checks of dropout, local response normalisation and zero padding, which need no input shape.</summary>
    private static void CheckArguments(LayerSpec layer, Action<Microsoft.CodeAnalysis.DiagnosticDescriptor, LocationInfo?, object[]> report)
    {
        // A clip's bounds: ordered (which NaN never is) and one of them finite, else the clip is no clip.
        if (layer.Activation == ActivationKind.Clip && (!(layer.ClipMin <= layer.ClipMax) || float.IsInfinity(layer.ClipMin) && float.IsInfinity(layer.ClipMax)))
            report(Diagnostics.ArgumentOutOfRange, layer.At("@activation"), new object[] { layer.Name, "the clip range [min, max]", "ordered (min <= max) with a finite bound",
                $"[{R(layer.ClipMin)}, {R(layer.ClipMax)}]" });
        switch (layer.Op)
        {
            case OpKind.Dropout:
                // Written so that NaN fails too.
                if (!(layer.Rate >= 0f && layer.Rate < 1f))
                    report(Diagnostics.ArgumentOutOfRange, layer.At("0"), new object[] { layer.Name, "the dropout rate", "at least 0 and below 1", R(layer.Rate) });
                if (layer.Activation != ActivationKind.None)
                    report(Diagnostics.DropoutActivation, layer.At("@activation"), new object[] { layer.Name, layer.Activation.ToString() });
                break;
            case OpKind.LRN:
                LrnParameters n = layer.Lrn!;
                if (n.Size <= 0)
                    report(Diagnostics.NonPositiveKernel, layer.At("Size"), new object[] { layer.Name, "the window size", n.Size });
                if (!(n.Alpha >= 0f) || float.IsInfinity(n.Alpha))
                    report(Diagnostics.ArgumentOutOfRange, layer.At("Alpha"), new object[] { layer.Name, "alpha", "finite and 0 or more", R(n.Alpha) });
                if (!(n.Beta >= 0f) || float.IsInfinity(n.Beta))
                    report(Diagnostics.ArgumentOutOfRange, layer.At("Beta"), new object[] { layer.Name, "beta", "finite and 0 or more", R(n.Beta) });
                if (!(n.K > 0f) || float.IsInfinity(n.K))
                    report(Diagnostics.ArgumentOutOfRange, layer.At("K"), new object[] { layer.Name, "k", "finite and above 0", R(n.K) });
                break;
            case OpKind.BatchNorm:
                if (!(layer.Epsilon > 0f) || float.IsInfinity(layer.Epsilon))
                    report(Diagnostics.ArgumentOutOfRange, layer.At("Epsilon"), new object[] { layer.Name, "Epsilon", "finite and above 0", R(layer.Epsilon) });
                if (!(layer.Momentum >= 0f && layer.Momentum <= 1f))
                    report(Diagnostics.ArgumentOutOfRange, layer.At("Momentum"), new object[] { layer.Name, "Momentum", "between 0 and 1", R(layer.Momentum) });
                break;
            case OpKind.ZeroPad:
                Sides s = layer.ZeroPad!;
                foreach ((string side, int value) in new[] { ("Top", s.Top), ("Left", s.Left), ("Bottom", s.Bottom), ("Right", s.Right) })
                    if (value < 0)
                    {
                        report(Diagnostics.NegativePadding, layer.At(side, "0"), new object[] { layer.Name, value });
                        break;
                    }
                break;
        }
    }

    /// <summary>
    /// Checks that a merge's inputs fit together: one shape for a sum; one height and width (or all flat) for a
    /// concatenation. Reports the first misfit on its argument, naming it and the first input with their shapes.
    /// </summary>
    private static bool CheckMerge(LayerSpec layer, List<TensorShape> shapes, List<DiagnosticInfo> diagnostics, Func<int, string> name)
    {
        // With one name given, the first input is the implicit previous layer and the name is argument 0.
        int firstArgument = layer.Inputs.Count == 1 ? 1 : 0;
        for (int k = 1; k < shapes.Count; k++)
        {
            TensorShape a = shapes[0], b = shapes[k];
            bool fits = layer.Op == OpKind.Add ? a == b : a.Flat == b.Flat && (a.Flat || a.H == b.H && a.W == b.W);
            if (fits)
                continue;
            string need = layer.Op == OpKind.Add ? "inputs of one shape" : "inputs of one height and width (or all flat)";
            diagnostics.Add(DiagnosticInfo.Create(Diagnostics.MergeShapeMismatch, layer.At((k - firstArgument).ToString(CultureInfo.InvariantCulture)),
                layer.Name, MergeWord(layer.Op), need, name(0), a.ToString(), name(k), b.ToString()));
            return false;
        }
        return true;
    }

    /// <summary>
    /// TensorFlow's "same" (ONNX's SAME_UPPER): output ceil(n / s), total padding split with the odd pixel at the end;
    /// with <paramref name="oddAtEnd"/> false, at the beginning (ONNX's SAME_LOWER).
    /// </summary>
    internal static (int Before, int After) SamePads(int n, int k, int s, bool oddAtEnd = true)
    {
        int output = (n + s - 1) / s;
        int total = Math.Max((output - 1) * s + k - n, 0);
        int small = total / 2;
        return oddAtEnd ? (small, total - small) : (total - small, small);
    }
}
