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
            if (names.TryGetValue(layer.Name, out string? other))
            {
                diagnostics.Add(DiagnosticInfo.Create(Diagnostics.DuplicateName, layer.At("Name"), layer.Name, other, spec.ClassName));
                ok = false;
            }
            else
                names.Add(layer.Name, layer.Member);
        }

        // Shape inference continues only while shapes are known; every layer's own argument checks always run.
        var layers = new List<LayerModel>();
        TensorShape? current = ok ? input : null;
        foreach (LayerSpec layer in spec.Layers)
        {
            LayerModel? model = InferLayer(layer, current, diagnostics);
            if (model is null)
            {
                ok = false;
                current = null;
                continue;
            }
            layers.Add(model);
            current = model.Output;
        }

        if (!ok || layers.Count != spec.Layers.Count)
            return (null, diagnostics.ToEquatableArray());
        return (new NetworkModel(spec.Namespace, spec.ClassName, spec.Modifiers, input, layers.ToEquatableArray()), diagnostics.ToEquatableArray());
    }

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

    private static LayerModel? InferLayer(LayerSpec layer, TensorShape? input, List<DiagnosticInfo> diagnostics)
    {
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
        if (diagnostics.Count != before || input is not TensorShape x)
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
        if (layer.Activation == ActivationKind.Softmax && !output.Flat)
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
            kh, kw, stride, stride, pt, pl, pb, pr, layer.Bias, layer.CountIncludePad, weights, bias, flops);
    }

    /// <summary>TensorFlow's "same": output ceil(n / s), total padding split with the odd pixel at the end.</summary>
    private static (int Before, int After) SamePads(int n, int k, int s)
    {
        int output = (n + s - 1) / s;
        int total = Math.Max((output - 1) * s + k - n, 0);
        return (total / 2, total - total / 2);
    }
}
