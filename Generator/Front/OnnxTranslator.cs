using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using Unroll.Generator.Graph;
using Unroll.Generator.Model;
using Unroll.Onnx;

namespace Unroll.Generator.Front;

/// <summary>Where one parameter tensor's values come from in the ONNX model (see Unroll.Onnx.OnnxWeightBinding).</summary>
internal sealed record OnnxBinding(string Tensor, string Initializer, bool Transpose, float Scale, bool Broadcast = false, int Select = -1);

/// <summary>The ONNX graph's name of an output value, and the layer that computes it.</summary>
internal sealed record OnnxOutputName(string Layer, string Value);

/// <summary>The ONNX model a network was compiled from: the path as [OnnxNetwork] gives it, and where each parameter comes from.</summary>
internal sealed record OnnxSource(string Path, EquatableArray<OnnxBinding> Bindings)
{
    /// <summary>The graph's name of its input.</summary>
    public string InputName { get; init; } = "";

    /// <summary>The graph's names of its outputs, in graph order.</summary>
    public EquatableArray<OnnxOutputName> OutputNames { get; init; } = EquatableArray<OnnxOutputName>.Empty;
}

/// <summary>Something in a model that cannot be compiled: a node (with its operator), or the graph as a whole (empty node).</summary>
internal sealed record OnnxProblem(string Node, string Op, string Message);

/// <summary>
/// One ONNX model file translated, independently of the classes that name it: the layers in the terms of the attribute
/// front end, the parameter bindings, and what could not be translated. Equatable, so that the pipeline reads a file again
/// only when it changes and regenerates nothing when its graph stays the same.
/// </summary>
/// <param name="Damage">Why the file could not be read at all (damaged, truncated, not ONNX); null when it could.</param>
internal sealed record OnnxImport(string Path, string? Input, EquatableArray<LayerSpec> Layers, EquatableArray<OnnxBinding> Bindings,
    EquatableArray<OnnxProblem> Problems, string? Damage)
{
    /// <summary>The graph's name of its input; empty when the model could not be translated.</summary>
    public string InputName { get; init; } = "";

    /// <summary>The graph's names of its outputs and the layers computing them, in graph order.</summary>
    public EquatableArray<OnnxOutputName> OutputNames { get; init; } = EquatableArray<OnnxOutputName>.Empty;
}

/// <summary>
/// Front end of ONNX models: translates a graph into the <see cref="LayerSpec"/>s the attribute front end would produce for
/// the same network, so that shape inference, planning and emission are shared. Weights are not read (only their
/// dimensions); they are bound by name and loaded at run time.
/// </summary>
internal sealed class OnnxTranslator
{
    /// <summary>The operators this translator knows, for the message about any other.</summary>
    private const string Supported = "Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Gemm, MatMul, Add, Sub, Mul, Sum, Concat, Split, BatchNormalization, LRN, Pad, "
        + "Flatten, Reshape, Dropout, Identity, Constant, Clip, Relu, LeakyRelu, Sigmoid, Tanh, Softmax";

    /// <summary>A tensor of the graph as Unroll computes it: the layer producing it (-1: the network's input), its shape there, and its rank in ONNX (4, or 2 after a Flatten or a dense layer).</summary>
    private sealed record Value(int Layer, TensorShape Shape, int Rank);

    /// <summary>A layer being built; named only at the end, when every fusion is known.</summary>
    private sealed class Pending
    {
        public Pending(OnnxNodeProto node, LayerSpec spec, int[] inputs)
        {
            Node = node;
            Spec = spec;
            Inputs = inputs;
            Output = node.Outputs[0];
        }

        public OnnxNodeProto Node { get; }
        public LayerSpec Spec { get; set; }
        public int[] Inputs { get; }

        /// <summary>The ONNX value the layer finally produces (after a fused bias or activation).</summary>
        public string Output { get; set; }

        /// <summary>
        /// The name the layer's values give it: its node's output ("conv1" for a convolution whose ReLU is fused), or the
        /// fused activation's output where that is the node's output with a suffix ("C1" for "C1.Conv2D", as Unroll's own
        /// export names them).
        /// </summary>
        public string ValueName =>
            Node.Outputs[0].StartsWith(Output + ".", StringComparison.Ordinal) || Node.Outputs.IndexOf(Output) > 0 ? Output : Node.Outputs[0];

        /// <summary>Parameter tensors, each named by its suffix only (weight, bias, running_mean, running_var).</summary>
        public List<OnnxBinding> Tensors { get; } = new();

        /// <summary>A dense layer made from a MatMul, which a following Add of a constant vector may give its bias.</summary>
        public bool FromMatMul { get; set; }
    }

    private readonly OnnxModelProto _model;
    private readonly long _opset;
    private readonly Dictionary<string, OnnxTensorProto> _initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxTensorProto> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Value> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);
    private readonly HashSet<string> _weightInputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _uses = new(StringComparer.Ordinal);
    private readonly HashSet<string> _outputs = new(StringComparer.Ordinal);
    private readonly List<Pending> _layers = new();
    private readonly List<OnnxProblem> _problems = new();
    private string? _input;
    private string _inputName = "";
    private readonly List<(int Layer, string Value)> _outputNames = new();

    /// <summary>The input's batch dimension when the model fixes it; -2 (matching no dimension) when it is a symbol.</summary>
    private long _batch = -2;

    private OnnxTranslator(OnnxModelProto model)
    {
        _model = model;
        _opset = model.DefaultOpset;
    }

    /// <summary>Reads and translates the model file at <paramref name="path"/> from its bytes. Never throws for a bad file.</summary>
    public static OnnxImport Translate(string path, byte[] bytes)
    {
        OnnxModelProto model;
        try
        {
            model = OnnxReader.ReadModel(bytes);
        }
        catch (InvalidDataException e)
        {
            return new OnnxImport(path, null, EquatableArray<LayerSpec>.Empty, EquatableArray<OnnxBinding>.Empty, EquatableArray<OnnxProblem>.Empty, e.Message);
        }
        var translator = new OnnxTranslator(model);
        translator.Run();
        return translator.Result(path);
    }

    private void Run()
    {
        OnnxGraphProto graph = _model.Graph;
        foreach (OnnxTensorProto t in graph.Initializers)
            _initializers[t.Name] = t;
        foreach (OnnxNodeProto node in graph.Nodes)
            foreach (string name in node.Inputs)
                _uses[name] = _uses.TryGetValue(name, out int n) ? n + 1 : 1;
        foreach (OnnxValueInfoProto output in graph.Outputs)
            _outputs.Add(output.Name);

        if (!ReadInput(graph))
            return;
        foreach (OnnxNodeProto node in graph.Nodes)
        {
            if (node.Outputs.Count == 0 || node.Outputs[0].Length == 0)
            {
                Fail(node, "has no output");
                continue;
            }
            int before = _problems.Count;
            // A node that reads a failed value fails with it, without a message of its own (the first says what is wrong).
            if (!node.Inputs.Any(_failed.Contains))
                Translate(node);
            if (_problems.Count != before || node.Inputs.Any(_failed.Contains))
                foreach (string output in node.Outputs)
                    _failed.Add(output);
        }
        if (graph.Outputs.Count == 0)
            Problem("has no output");
        foreach (OnnxValueInfoProto output in graph.Outputs)
        {
            if (_failed.Contains(output.Name))
                continue;
            if (!_values.TryGetValue(output.Name, out Value? value))
                Problem($"has output '{output.Name}', which no node computes");
            else if (value.Layer < 0)
            {
                // The input unchanged (Identity, Dropout, a Flatten that changes nothing): a dropout of rate 0 copies it out.
                var identity = new OnnxNodeProto { OpType = "Identity" };
                identity.Outputs.Add(output.Name);
                AddLayer(identity, New(OpKind.Dropout), new[] { value }, value.Shape, value.Rank).Spec = New(OpKind.Dropout) with { Output = OutputRole.Main };
                _outputNames.Add((_layers.Count - 1, output.Name));
            }
            else
            {
                _layers[value.Layer].Spec = _layers[value.Layer].Spec with { Output = OutputRole.Main };
                _outputNames.Add((value.Layer, output.Name));
            }
        }
    }

    /// <summary>
    /// The data input: the one graph input that is not an initializer, float, [N, C, H, W] with C, H and W fixed (N anything).
    /// Further inputs of FLOAT type and fixed dimensions after the first are weights that the caller supplies (ONNX's node
    /// tests pass a convolution's weight so): the translator takes them for initializers, and reports a node that reads one
    /// as data.
    /// </summary>
    private bool ReadInput(OnnxGraphProto graph)
    {
        var inputs = graph.Inputs.Where(i => !_initializers.ContainsKey(i.Name)).ToList();
        foreach (OnnxValueInfoProto weight in inputs.Skip(1).ToList())
            if (weight.ElemType == OnnxDataType.Float && weight.Shape is { } dims && dims.All(d => d.Value is >= 1 and <= int.MaxValue))
            {
                var tensor = new OnnxTensorProto { Name = weight.Name, DataType = OnnxDataType.Float };
                tensor.Dims.AddRange(dims.Select(d => d.Value!.Value));
                _initializers[weight.Name] = tensor;
                _weightInputs.Add(weight.Name);
                inputs.Remove(weight);
            }
        if (inputs.Count != 1)
        {
            Problem(inputs.Count == 0 ? "has no input" : $"has {inputs.Count} inputs ({string.Join(", ", inputs.Select(i => i.Name))}); exactly one is supported");
            return false;
        }
        OnnxValueInfoProto input = inputs[0];
        if (input.ElemType != OnnxDataType.Float)
        {
            Problem($"has input '{input.Name}' of type {OnnxDataType.Name(input.ElemType)}; only FLOAT is supported");
            return false;
        }
        List<OnnxDim>? shape = input.Shape;
        if (shape is null || shape.Count is < 2 or > 4 || shape.Skip(1).Any(d => d.Value is not > 0 || d.Value > int.MaxValue))
        {
            string dims = shape is null ? "no shape" : "shape [" + string.Join(", ", shape) + "]";
            Problem($"has input '{input.Name}' with {dims}; it must be [N, C, H, W] with C, H and W fixed (N may be a symbol), or [N, C, L] or [N, F]");
            return false;
        }
        // [N, F] is held as F x 1 x 1 and [N, C, L] as C x 1 x L: the same values in the same order.
        int c = (int)shape[1].Value!.Value, h = shape.Count == 4 ? (int)shape[2].Value!.Value : 1, w = shape.Count >= 3 ? (int)shape[shape.Count - 1].Value!.Value : 1;
        _input = $"{c}x{h}x{w}";
        _inputName = input.Name;
        _batch = shape[0].Value ?? -2;
        _values[input.Name] = new Value(-1, new TensorShape(c, h, w, false), shape.Count);
        return true;
    }

    // ---------------------------------------------------------------- operators

    private void Translate(OnnxNodeProto node)
    {
        if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
        {
            Fail(node, $"is in domain '{node.Domain}'; only the default ONNX domain is supported");
            return;
        }
        switch (node.OpType)
        {
            case "Constant":
                Constant(node);
                break;
            case "Conv":
                Conv(node);
                break;
            case "MaxPool":
            case "AveragePool":
                Pool(node);
                break;
            case "GlobalAveragePool":
                if (Known(node) && Spatial(node, out Value? x))
                    AddLayer(node, New(OpKind.GlobalAvgPool), new[] { x }, new TensorShape(x.Shape.C, 1, 1, true), x.Rank);
                break;
            case "GlobalMaxPool":
                // A max pooling whose one window is the whole input.
                if (Known(node) && Spatial(node, out Value? m))
                    AddLayer(node, New(OpKind.MaxPool) with { Count = m.Shape.H, KernelHeight = m.Shape.H, KernelWidth = m.Shape.W, Stride = 1, Pads = new Sides(0, 0, 0, 0) },
                        new[] { m }, new TensorShape(m.Shape.C, 1, 1, false), m.Rank);
                break;
            case "Reshape":
                Reshape(node);
                break;
            case "Clip":
                Clip(node);
                break;
            case "Gemm":
                Gemm(node);
                break;
            case "MatMul":
                MatMul(node);
                break;
            case "Add":
            case "Sub":
            case "Mul":
                Arithmetic(node);
                break;
            case "Sum":
                Sum(node);
                break;
            case "Split":
                Split(node);
                break;
            case "Concat":
                Concat(node);
                break;
            case "BatchNormalization":
                BatchNorm(node);
                break;
            case "LRN":
                Lrn(node);
                break;
            case "Pad":
                Pad(node);
                break;
            case "Flatten":
                Flatten(node);
                break;
            case "Dropout":
            case "Identity":
                if (Known(node, "ratio", "seed") && Read(node, 0, out Value? same) && OnlyFirstOutput(node, "mask"))
                    _values[node.Outputs[0]] = same;
                break;
            case "Relu":
            case "LeakyRelu":
            case "Sigmoid":
            case "Tanh":
            case "Softmax":
                Activate(node);
                break;
            default:
                Fail(node, $"is not supported (supported: {Supported})");
                break;
        }
    }

    private void Constant(OnnxNodeProto node)
    {
        if (node.Attribute("value")?.Tensor is { } tensor && node.Attributes.Count == 1)
            _constants[node.Outputs[0]] = tensor;
        else
            Fail(node, "is supported only with a 'value' tensor");
    }

    private void Conv(OnnxNodeProto node)
    {
        if (!Known(node, "kernel_shape", "strides", "pads", "auto_pad", "dilations", "group") || !Spatial(node, out Value? x) || !Weight(node, 1, out OnnxTensorProto? w))
            return;
        if (w.Dims.Count != x.Rank)
        {
            Fail(node, $"has a weight of dimensions {Dims(w)} for a {Describe(x)} input; a 2-D convolution ([O, I, KH, KW]) of an [N, C, H, W] input or a 1-D one ([O, I, K]) of an [N, C, L] input is supported");
            return;
        }
        long group = Int(node, "group", 1);
        if (group != 1)
        {
            Fail(node, $"has group {group}; only group 1 is supported (no grouped or depthwise convolution)");
            return;
        }
        if (!Dilations(node, x) || !Fits(node, w.Dims, 1, int.MaxValue))
            return;
        // A 1-D convolution is a 2-D one of height 1: its [O, I, K] weight has the values of [O, I, 1, K].
        int o = (int)w.Dims[0], kh = x.Rank == 3 ? 1 : (int)w.Dims[2], kw = (int)w.Dims[w.Dims.Count - 1];
        if (w.Dims[1] != x.Shape.C)
        {
            Fail(node, $"has a weight {Dims(w)} for {w.Dims[1]} input channels, but its input has {x.Shape.C}");
            return;
        }
        if (Axes(node, "kernel_shape", x) is { } kernel && !kernel.SequenceEqual(new long[] { kh, kw }))
        {
            Fail(node, $"has kernel_shape [{string.Join(", ", kernel)}], which does not match its weight {Dims(w)}");
            return;
        }
        if (!Window(node, x, kh, kw, out int stride, out Sides pads))
            return;
        string bias = node.Input(2);
        OnnxTensorProto? b = null;
        if (bias.Length > 0 && (!Weight(node, 2, out b) || !Vector(node, b, o, "bias")))
            return;
        var spec = New(OpKind.Conv) with { Count = o, KernelHeight = kh, KernelWidth = kw, Stride = stride, Pads = pads, Bias = b is not null };
        int oh = (x.Shape.H + pads.Top + pads.Bottom - kh) / stride + 1, ow = (x.Shape.W + pads.Left + pads.Right - kw) / stride + 1;
        if (!Positive(node, x, kh, kw, oh, ow))
            return;
        Pending layer = AddLayer(node, spec, new[] { x }, new TensorShape(o, oh, ow, false), x.Rank);
        layer.Tensors.Add(new OnnxBinding("weight", w.Name, false, 1f, Broadcast: x.Rank == 3));
        if (b is not null)
            layer.Tensors.Add(new OnnxBinding("bias", b.Name, false, 1f));
    }

    private void Pool(OnnxNodeProto node)
    {
        bool max = node.OpType == "MaxPool";
        string[] known = max
            ? new[] { "kernel_shape", "strides", "pads", "auto_pad", "ceil_mode", "dilations", "storage_order" }
            : new[] { "kernel_shape", "strides", "pads", "auto_pad", "ceil_mode", "count_include_pad" };
        if (!Known(node, known) || !Spatial(node, out Value? x) || max && !OnlyFirstOutput(node, "Indices"))
            return;
        if (Axes(node, "kernel_shape", x) is not { Length: 2 } kernel || kernel.Any(k => k < 1 || k > int.MaxValue))
        {
            Fail(node, x.Rank == 3 ? "needs kernel_shape with one positive size" : "needs kernel_shape with two positive sizes");
            return;
        }
        if (Int(node, "storage_order", 0) != 0)
        {
            Fail(node, "has storage_order 1; only 0 is supported");
            return;
        }
        int kh = (int)kernel[0], kw = (int)kernel[1];
        if (!Dilations(node, x) || !Window(node, x, kh, kw, out int stride, out Sides pads))
            return;
        bool countIncludePad = Int(node, "count_include_pad", 0) != 0;
        int oh = (x.Shape.H + pads.Top + pads.Bottom - kh) / stride + 1, ow = (x.Shape.W + pads.Left + pads.Right - kw) / stride + 1;
        if (Int(node, "ceil_mode", 0) != 0)
        {
            // Ceil mode adds a last window where the floor leaves input over, unless it would start in the end padding (ONNX
            // Runtime's and PyTorch's rule); that window is padding at the end that counts for nothing.
            int Ceil(int n, int before, int after, int k) => (n + before + after - k + stride - 1) / stride + 1 - ((n + before + after - k + stride - 1) / stride * stride >= n + before ? 1 : 0);
            int ch = Ceil(x.Shape.H, pads.Top, pads.Bottom, kh), cw = Ceil(x.Shape.W, pads.Left, pads.Right, kw);
            if ((ch != oh || cw != ow) && countIncludePad && !max)
            {
                Fail(node, $"has ceil_mode 1 with count_include_pad 1, which gives {ch}x{cw} outputs where floor gives {oh}x{ow}; the last windows would count padding that Unroll counts differently");
                return;
            }
            int Extra(int outputs, int n, int before, int after, int k) => Math.Max((outputs - 1) * stride + k - (n + before + after), 0);
            pads = pads with { Bottom = pads.Bottom + Extra(ch, x.Shape.H, pads.Top, pads.Bottom, kh), Right = pads.Right + Extra(cw, x.Shape.W, pads.Left, pads.Right, kw) };
            (oh, ow) = (ch, cw);
        }
        if (pads.Top > kh / 2 || pads.Bottom > kh / 2 || pads.Left > kw / 2 || pads.Right > kw / 2)
        {
            Fail(node, $"has pads {pads.Top},{pads.Left},{pads.Bottom},{pads.Right} (top, left, bottom, right) with a {kh}x{kw} window; pooling takes at most half the window on each side");
            return;
        }
        if (!Positive(node, x, kh, kw, oh, ow))
            return;
        var spec = New(max ? OpKind.MaxPool : OpKind.AvgPool) with
        {
            Count = kh, KernelHeight = kh, KernelWidth = kw, Stride = stride, Pads = pads, CountIncludePad = countIncludePad,
        };
        AddLayer(node, spec, new[] { x }, new TensorShape(x.Shape.C, oh, ow, false), x.Rank);
    }

    private void Gemm(OnnxNodeProto node)
    {
        if (!Known(node, "alpha", "beta", "transA", "transB") || !Flat(node, out Value? x) || !Weight(node, 1, out OnnxTensorProto? w))
            return;
        if (Int(node, "transA", 0) != 0)
        {
            Fail(node, "has transA 1; only an untransposed input is supported");
            return;
        }
        bool transB = Int(node, "transB", 0) != 0;
        if (w.Dims.Count != 2 || !Fits(node, w.Dims, 1, int.MaxValue))
        {
            Fail(node, $"has a weight of dimensions {Dims(w)}; Gemm's B must be a matrix");
            return;
        }
        int units = (int)w.Dims[transB ? 0 : 1];
        long inputs = w.Dims[transB ? 1 : 0];
        if (!Columns(node, w, inputs, x))
            return;
        OnnxTensorProto? c = null;
        if (node.Input(2).Length > 0 && (!Weight(node, 2, out c) || c.ElementCount != 1 && !Vector(node, c, units, "C")))
            return;
        Pending layer = AddLayer(node, New(OpKind.Dense) with { Count = units, Bias = c is not null }, new[] { x }, new TensorShape(units, 1, 1, true), 2);
        layer.Tensors.Add(new OnnxBinding("weight", w.Name, !transB, Float(node, "alpha", 1f)));
        if (c is not null)
            layer.Tensors.Add(new OnnxBinding("bias", c.Name, false, Float(node, "beta", 1f), Broadcast: c.ElementCount == 1));
    }

    private void MatMul(OnnxNodeProto node)
    {
        if (!Known(node) || !Flat(node, out Value? x) || !Weight(node, 1, out OnnxTensorProto? w))
            return;
        if (w.Dims.Count != 2 || !Fits(node, w.Dims, 1, int.MaxValue))
        {
            Fail(node, $"has a weight of dimensions {Dims(w)}; only a matrix [inputs, units] is supported");
            return;
        }
        if (!Columns(node, w, w.Dims[0], x))
            return;
        int units = (int)w.Dims[1];
        Pending layer = AddLayer(node, New(OpKind.Dense) with { Count = units, Bias = false }, new[] { x }, new TensorShape(units, 1, 1, true), 2);
        layer.Tensors.Add(new OnnxBinding("weight", w.Name, true, 1f));
        layer.FromMatMul = true;
    }

    /// <summary>Add and Sum of computed tensors of one shape.</summary>
    private void Sum(OnnxNodeProto node)
    {
        if (!Known(node) || !ReadAll(node, out List<Value> inputs))
            return;
        foreach (Value v in inputs)
            if (v.Shape != inputs[0].Shape || v.Rank != inputs[0].Rank)
            {
                Fail(node, $"{(node.OpType == "Sum" ? "sums" : "adds")} tensors of shapes {Describe(inputs[0])} and {Describe(v)}; only tensors of one shape are supported (no broadcasting)");
                return;
            }
        if (inputs.Count == 1)
            _values[node.Outputs[0]] = inputs[0];
        else
            AddLayer(node, New(OpKind.Add), inputs.ToArray(), inputs[0].Shape, inputs[0].Rank);
    }

    /// <summary>
    /// Add, Sub and Mul. With a constant operand (an initializer, a Constant node, or a graph input used as a weight): an
    /// affine layer whose weight (Mul) or bias (Add, Sub negated) is that constant, broadcast per channel or per value; an
    /// Add of a vector right after a MatMul becomes its bias instead. Of two computed tensors: Add is a sum, and Sub a sum with
    /// the second negated by a 1x1 convolution of weight -1 (exact for finite values); Mul is not supported.
    /// </summary>
    private void Arithmetic(OnnxNodeProto node)
    {
        if (!Known(node))
            return;
        if (node.Inputs.Count != 2)
        {
            Fail(node, $"has {node.Inputs.Count} inputs; two are needed");
            return;
        }
        int k = IsConstant(node.Input(1)) ? 1 : IsConstant(node.Input(0)) ? 0 : -1;
        if (k < 0)
        {
            if (node.OpType == "Add")
                Sum(node);
            else if (node.OpType == "Sub")
                Difference(node);
            else
                Fail(node, "multiplies two computed tensors; only a product with a constant is supported");
            return;
        }
        string constant = node.Input(k);
        if (IsConstant(node.Input(1 - k)))
        {
            Fail(node, $"has only constant inputs ('{node.Input(0)}', '{node.Input(1)}'); one must be computed");
            return;
        }
        if (node.OpType == "Sub" && k == 0)
        {
            Fail(node, $"subtracts a computed tensor from the constant '{constant}'; only a constant subtracted from a computed tensor is supported");
            return;
        }
        if (!Read(node, 1 - k, out Value? x))
            return;
        if (node.OpType == "Add" && x.Layer >= 0 && _layers[x.Layer] is { FromMatMul: true } dense && !dense.Spec.Bias && dense.Spec.Activation == ActivationKind.None
            && dense.Output == node.Input(1 - k) && SoleReader(node.Input(1 - k)))
        {
            MatMulBias(node, dense, constant, x);
            return;
        }
        if (!Operand(node, constant, x, out OnnxTensorProto? c, out ConstantExtent extent))
            return;
        bool multiply = node.OpType == "Mul";
        var affine = multiply ? new AffineParameters(extent, ConstantExtent.None) : new AffineParameters(ConstantExtent.None, extent);
        Pending layer = AddLayer(node, New(OpKind.Affine) with { Affine = affine }, new[] { x }, x.Shape, x.Rank);
        // Named by the value the node reads: a Constant node's tensor often has no name of its own (the loader reads Constant nodes by their output).
        layer.Tensors.Add(new OnnxBinding(multiply ? "weight" : "bias", constant, false, node.OpType == "Sub" ? -1f : 1f, Broadcast: true));
    }

    /// <summary>
    /// How the FLOAT constant <paramref name="name"/> broadcasts onto <paramref name="x"/> (its dimensions aligned to the
    /// right, as ONNX aligns them): one value or one per channel ([C, 1, 1], [1, C, 1, 1]) is per channel; the tensor's own
    /// [C, H, W] (or [1, C, H, W]) per value. Anything else, and any constant that would change the output's shape, is reported.
    /// </summary>
    private bool Operand(OnnxNodeProto node, string name, Value x, out OnnxTensorProto constant, out ConstantExtent extent)
    {
        extent = ConstantExtent.None;
        constant = Constant(name)!;
        if (constant.DataType != OnnxDataType.Float || constant.ElementCount < 0)
        {
            Fail(node, $"has the constant '{name}' of type {OnnxDataType.Name(constant.DataType)}; only FLOAT constants are supported");
            return false;
        }
        long[] shape = Onnx(x);
        var dims = new List<long>(constant.Dims);
        bool fits = dims.Count <= shape.Length;
        long[] aligned = Enumerable.Repeat(1L, shape.Length).ToArray();
        for (int i = 0; fits && i < dims.Count; i++)
            aligned[shape.Length - dims.Count + i] = dims[i];
        if (fits && aligned[0] != 1 && _weightInputs.Contains(name))
        {
            Fail(node, $"has the graph input '{name}' of dimensions {Dims(constant)} as an operand, which varies by sample (a second data input); only constants are supported there");
            return false;
        }
        fits &= aligned[0] == 1;
        bool one = aligned.All(d => d == 1);
        bool full = fits && aligned.Skip(1).SequenceEqual(shape.Skip(1));
        bool channel = fits && aligned[1] == shape[1] && aligned.Skip(2).All(d => d == 1);
        if (!one && !full && !channel)
        {
            Fail(node, $"has the constant '{name}' of dimensions {Dims(constant)} for a {Describe(x)} tensor; one value, one per channel ([C, 1, 1]) or one per value ([C, H, W]) is supported");
            return false;
        }
        extent = full && !channel ? ConstantExtent.Full : ConstantExtent.Channel;
        return true;
    }

    /// <summary>Sub of two computed tensors of one shape: the second, negated by a 1x1 convolution, added to the first.</summary>
    private void Difference(OnnxNodeProto node)
    {
        if (!ReadAll(node, out List<Value> inputs))
            return;
        Value a = inputs[0], b = inputs[1];
        if (a.Shape != b.Shape || a.Rank != b.Rank || a.Shape.Flat)
        {
            Fail(node, $"subtracts tensors of shapes {Describe(a)} and {Describe(b)}; only tensors of one shape are supported (no broadcasting)");
            return;
        }
        Pending negate = AddLayer(node, New(OpKind.Conv) with { Count = b.Shape.C, KernelHeight = 1, KernelWidth = 1, Stride = 1, Pads = new Sides(0, 0, 0, 0), Bias = false },
            new[] { b }, b.Shape, b.Rank);
        negate.Tensors.Add(new OnnxBinding("weight", "", false, -1f, Select: 0));
        AddLayer(node, New(OpKind.Add), new[] { a, _values[node.Outputs[0]] }, a.Shape, a.Rank);
    }

    /// <summary>Split along the channels: each part a 1x1 convolution that picks its channels (weights 1 and 0, exact for finite values).</summary>
    private void Split(OnnxNodeProto node)
    {
        if (!Known(node, "axis", "split") || !Read(node, 0, out Value? x))
            return;
        if (x.Shape.Flat)
        {
            Fail(node, $"splits a {Describe(x)} tensor; only tensors read from the input or from convolutions, poolings and merges of them are supported");
            return;
        }
        long axis = Int(node, "axis", 0);
        if ((axis < 0 ? axis + x.Rank : axis) != 1)
        {
            Fail(node, $"splits on axis {axis}; only the channel axis (1) is supported");
            return;
        }
        // Operator set 13 moved the sizes from an attribute to an input; without either, the parts are equal.
        long[]? sizes = node.Input(1).Length > 0 ? Int64s(node, 1, "split") : Ints(node, "split");
        if (node.Input(1).Length > 0 && sizes is null)
            return;
        int parts = node.Outputs.Count;
        if (sizes is null)
        {
            if (x.Shape.C % parts != 0)
            {
                Fail(node, $"splits {x.Shape.C} channels into {parts} equal parts");
                return;
            }
            sizes = Enumerable.Repeat((long)(x.Shape.C / parts), parts).ToArray();
        }
        if (sizes.Length != parts || sizes.Any(n => n < 1) || sizes.Sum() != x.Shape.C)
        {
            Fail(node, $"has split [{string.Join(", ", sizes)}] for {parts} outputs of {x.Shape.C} channels; sizes of at least 1 that add up to the channels are needed");
            return;
        }
        int start = 0;
        for (int k = 0; k < parts; k++)
        {
            int count = (int)sizes[k];
            var spec = New(OpKind.Conv) with { Count = count, KernelHeight = 1, KernelWidth = 1, Stride = 1, Pads = new Sides(0, 0, 0, 0), Bias = false };
            var layer = new Pending(node, spec, new[] { x.Layer }) { Output = node.Outputs[k] };
            layer.Tensors.Add(new OnnxBinding("weight", "", false, 1f, Select: start));
            _layers.Add(layer);
            if (node.Outputs[k].Length > 0)
                _values[node.Outputs[k]] = new Value(_layers.Count - 1, x.Shape with { C = count }, x.Rank);
            start += count;
        }
    }

    private void MatMulBias(OnnxNodeProto node, Pending dense, string constant, Value x)
    {
        if (!Weight(node, node.Inputs.IndexOf(constant), out OnnxTensorProto? b) || !Vector(node, b, dense.Spec.Count, "bias"))
            return;
        dense.Spec = dense.Spec with { Bias = true };
        dense.Tensors.Add(new OnnxBinding("bias", b.Name, false, 1f));
        dense.Output = node.Outputs[0];
        _values[node.Outputs[0]] = x;
    }

    private void Concat(OnnxNodeProto node)
    {
        if (!Known(node, "axis"))
            return;
        if (!ReadAll(node, out List<Value> inputs))
            return;
        if (node.Attribute("axis") is null)
        {
            Fail(node, "has no axis");
            return;
        }
        Value first = inputs[0];
        long axis = Int(node, "axis", 1);
        if ((axis < 0 ? axis + first.Rank : axis) != 1)
        {
            Fail(node, $"concatenates on axis {axis}; only the channel axis (1) is supported");
            return;
        }
        int channels = 0;
        foreach (Value v in inputs)
        {
            if (v.Rank != first.Rank || v.Shape.Flat != first.Shape.Flat || !first.Shape.Flat && (v.Shape.H != first.Shape.H || v.Shape.W != first.Shape.W))
            {
                Fail(node, $"concatenates tensors of shapes {Describe(first)} and {Describe(v)}; they need one height and width (or all flat)");
                return;
            }
            channels += v.Shape.C;
        }
        if (inputs.Count == 1)
            _values[node.Outputs[0]] = first;
        else
            AddLayer(node, New(OpKind.Concat), inputs.ToArray(), first.Shape with { C = channels }, first.Rank);
    }

    private void BatchNorm(OnnxNodeProto node)
    {
        if (!Known(node, "epsilon", "momentum", "training_mode", "spatial") || !Read(node, 0, out Value? x))
            return;
        if (Int(node, "training_mode", 0) != 0 || Int(node, "spatial", 1) != 1)
        {
            Fail(node, Int(node, "spatial", 1) != 1 ? "has spatial 0; only per-channel statistics are supported" : "has training_mode 1; only inference mode is supported");
            return;
        }
        if (!OnlyFirstOutput(node, "running statistics"))
            return;
        var tensors = new OnnxTensorProto[4];
        string[] names = { "scale", "B", "mean", "var" };
        for (int i = 0; i < 4; i++)
            if (!Weight(node, i + 1, out tensors[i]!) || !Vector(node, tensors[i], x.Shape.C, names[i]))
                return;
        // ONNX's momentum weighs the running average (0.9); Unroll's, as PyTorch's, weighs the batch (0.1).
        var spec = New(OpKind.BatchNorm) with { Epsilon = Float(node, "epsilon", 1e-5f), Momentum = 1f - Float(node, "momentum", 0.9f) };
        Pending layer = AddLayer(node, spec, new[] { x }, x.Shape, x.Rank);
        string[] suffixes = { "weight", "bias", "running_mean", "running_var" };
        for (int i = 0; i < 4; i++)
            layer.Tensors.Add(new OnnxBinding(suffixes[i], tensors[i].Name, false, 1f));
    }

    private void Lrn(OnnxNodeProto node)
    {
        if (!Known(node, "size", "alpha", "beta", "bias") || !Read(node, 0, out Value? x))
            return;
        long size = Int(node, "size", 0);
        if (size < 1 || size > int.MaxValue || size % 2 == 0)
        {
            Fail(node, $"has size {size}; only an odd window is supported (ONNX centres an even window one channel off Unroll's)");
            return;
        }
        var spec = New(OpKind.LRN) with { Lrn = new LrnParameters((int)size, Float(node, "alpha", 1e-4f), Float(node, "beta", 0.75f), Float(node, "bias", 1f)) };
        AddLayer(node, spec, new[] { x }, x.Shape, x.Rank);
    }

    private void Pad(OnnxNodeProto node)
    {
        if (!Known(node, "mode", "pads", "value") || !Spatial(node, out Value? x))
            return;
        string mode = String(node, "mode", "constant");
        if (mode != "constant")
        {
            Fail(node, $"has mode '{mode}'; only constant (zero) padding is supported");
            return;
        }
        // Operator set 11 moved pads and the value from attributes to inputs.
        long[]? pads = _opset < 11 ? Ints(node, "pads") : Int64s(node, 1, "pads");
        if (pads is null)
            return;
        if (x.Rank == 3 && pads.Length == 6)
            pads = new[] { pads[0], pads[1], 0, pads[2], pads[3], pads[4], 0, pads[5] };
        float value = _opset < 11 ? Float(node, "value", 0f) : node.Input(2).Length == 0 ? 0f : Scalar(node, 2);
        if (node.Input(3).Length > 0)
        {
            Fail(node, "names axes; only pads over all four axes are supported");
            return;
        }
        if (value != 0f || float.IsNaN(value))
        {
            Fail(node, $"pads with the value {value.ToString("R", CultureInfo.InvariantCulture)}; only zero padding is supported");
            return;
        }
        if (pads.Length != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 || pads.Any(p => p < 0 || p > 1 << 20))
        {
            Fail(node, $"has pads [{string.Join(", ", pads)}]; only padding of height and width, 0 or more on each side, is supported");
            return;
        }
        var sides = new Sides((int)pads[2], (int)pads[3], (int)pads[6], (int)pads[7]);
        AddLayer(node, New(OpKind.ZeroPad) with { ZeroPad = sides },
            new[] { x }, x.Shape with { H = x.Shape.H + sides.Top + sides.Bottom, W = x.Shape.W + sides.Left + sides.Right }, x.Rank);
    }

    /// <summary>
    /// Clip to constant bounds, one or both: to [0, +inf) a ReLU, to (-inf, +inf) the identity, to any other range a clip
    /// activation (fused like a ReLU, or a layer of its own).
    /// </summary>
    private void Clip(OnnxNodeProto node)
    {
        if (!Known(node, "min", "max"))
            return;
        // Operator set 11 moved the bounds from attributes to optional inputs, which must then be constants.
        int before = _problems.Count;
        float min = _opset < 11 ? Float(node, "min", float.NegativeInfinity) : node.Input(1).Length == 0 ? float.NegativeInfinity : Scalar(node, 1);
        float max = _opset < 11 ? Float(node, "max", float.PositiveInfinity) : node.Input(2).Length == 0 ? float.PositiveInfinity : Scalar(node, 2);
        if (_problems.Count != before)
            return; // a bound that is no constant, already reported
        if (float.IsNaN(min) || float.IsNaN(max) || min > max)
        {
            Fail(node, $"clips to [{min.ToString("R", CultureInfo.InvariantCulture)}, {max.ToString("R", CultureInfo.InvariantCulture)}]; the bounds must be numbers with min <= max");
            return;
        }
        if (min == 0f && float.IsPositiveInfinity(max))
            Activate(node, "Relu");
        else if (float.IsNegativeInfinity(min) && float.IsPositiveInfinity(max))
        {
            if (Read(node, 0, out Value? x))
                _values[node.Outputs[0]] = x;
        }
        else
            Activate(node, "Clip", min, max);
    }

    /// <summary>
    /// Reshape to a constant shape that Unroll's memory order already has: [N, features] of any tensor (a Flatten), [N, F, 1, 1]
    /// of a flat one, or the tensor's own shape. 0 copies the input's dimension (unless allowzero) and -1 takes what is left.
    /// </summary>
    private void Reshape(OnnxNodeProto node)
    {
        if (!Known(node, "allowzero") || !Read(node, 0, out Value? x))
            return;
        long[]? target = Int64s(node, 1, "shape");
        if (target is null)
            return;
        long[] dims = Onnx(x);
        bool allowZero = Int(node, "allowzero", 0) != 0;
        long[] resolved = target.Select((d, i) => d == 0 && !allowZero && i < dims.Length ? dims[i] : d).ToArray();
        long known = resolved.Where(d => d != -1).Aggregate(1L, (a, d) => a * d);
        long total = dims.Aggregate(1L, (a, d) => a * d);
        if (resolved.Count(d => d == -1) > 1 || resolved.Any(d => d < -1) || known == 0 || total % known != 0)
        {
            Fail(node, $"reshapes {Describe(x)} to [{string.Join(", ", target)}], which is not a shape of its values");
            return;
        }
        resolved = resolved.Select(d => d == -1 ? total / known : d).ToArray();
        // The batch stays first: its dimension (1 here) must not change, and a literal first dimension must be the batch's.
        bool batchKept = resolved.Length >= 2 && (target[0] == 0 || target[0] == -1 || target[0] == _batch);
        if (batchKept && resolved.Length == 2 && resolved[1] == x.Shape.Length)
            _values[node.Outputs[0]] = x with { Rank = 2 };
        else if (batchKept && resolved.Skip(1).SequenceEqual(dims.Skip(1)))
            _values[node.Outputs[0]] = x;
        else if (batchKept && resolved.Length == 4 && resolved[1] == x.Shape.Length && resolved[2] == 1 && resolved[3] == 1 && (x.Rank == 2 || x.Shape.Flat))
            _values[node.Outputs[0]] = x with { Rank = 4 };
        else
            Fail(node, $"reshapes {Describe(x)} to [{string.Join(", ", target)}]; only [N, features], [N, F, 1, 1] of a flat tensor, or the same shape are supported");
    }

    private void Flatten(OnnxNodeProto node)
    {
        if (!Known(node, "axis") || !Read(node, 0, out Value? x))
            return;
        long axis = Int(node, "axis", 1);
        if ((axis < 0 ? axis + x.Rank : axis) != 1)
        {
            Fail(node, $"flattens from axis {axis}; only axis 1 (keeping the batch) is supported");
            return;
        }
        // Unroll's tensors are flat in memory in C, H, W order: a flatten changes how later nodes see the tensor, not its values.
        _values[node.Outputs[0]] = x with { Rank = 2 };
    }

    /// <summary>
    /// An activation node, or (<paramref name="asOp"/>) a node that computes one: a Clip as "Relu", or as "Clip" to
    /// [<paramref name="min"/>, <paramref name="max"/>].
    /// </summary>
    private void Activate(OnnxNodeProto node, string? asOp = null, float min = float.NegativeInfinity, float max = float.PositiveInfinity)
    {
        string op = asOp ?? node.OpType;
        if (asOp is null && !Known(node, op == "LeakyRelu" ? new[] { "alpha" } : op == "Softmax" ? new[] { "axis" } : Array.Empty<string>()) || !Read(node, 0, out Value? x))
            return;
        ActivationKind kind = op switch
        {
            "Relu" => ActivationKind.ReLU,
            "LeakyRelu" => ActivationKind.LeakyReLU,
            "Clip" => ActivationKind.Clip,
            "Sigmoid" => ActivationKind.Sigmoid,
            "Tanh" => ActivationKind.Tanh,
            _ => ActivationKind.Softmax,
        };
        float alpha = Float(node, "alpha", 0.01f);
        if (kind == ActivationKind.Softmax)
        {
            // Before operator set 13 the softmax covers every axis from 'axis' on; from 13, the one axis (-1 by default).
            long axis = Int(node, "axis", _opset < 13 ? 1 : -1);
            long normalised = axis < 0 ? axis + x.Rank : axis;
            bool overFeatures = normalised == 1 && (x.Shape.Flat || x.Shape.H == 1 && x.Shape.W == 1);
            if (!overFeatures)
            {
                Fail(node, $"takes the softmax over axis {axis} of a {Describe(x)} tensor; only the features of a flat tensor or the channels of a C x 1 x 1 one are supported");
                return;
            }
        }
        // An activation that alone reads a convolution, dense layer, batch normalisation or merge is fused into it, as [Conv(...), ReLU] would be.
        string input = node.Inputs[0];
        if (x.Layer >= 0 && _layers[x.Layer] is { } producer && producer.Output == input && SoleReader(input)
            && producer.Spec.Activation == ActivationKind.None && producer.Spec.Op is OpKind.Conv or OpKind.Dense or OpKind.BatchNorm or OpKind.Add or OpKind.Concat or OpKind.Affine)
        {
            producer.Spec = producer.Spec with { Activation = kind, Alpha = alpha, ClipMin = min, ClipMax = max };
            producer.Output = node.Outputs[0];
            producer.FromMatMul = false;
            _values[node.Outputs[0]] = x;
            return;
        }
        AddLayer(node, New(OpKind.Activation) with { Activation = kind, Alpha = alpha, ClipMin = min, ClipMax = max }, new[] { x }, x.Shape, x.Rank);
    }

    // ---------------------------------------------------------------- helpers

    private static LayerSpec New(OpKind op) =>
        new("", "", "", op, 0, 1, 1, 1, true, false, 0, false, false, false, ActivationKind.None, 0.01f, null,
            EquatableArray<ArgumentLocation>.Empty, EquatableArray<string>.Empty);

    private Pending AddLayer(OnnxNodeProto node, LayerSpec spec, Value[] inputs, TensorShape output, int rank)
    {
        var layer = new Pending(node, spec, inputs.Select(v => v.Layer).ToArray());
        _layers.Add(layer);
        _values[node.Outputs[0]] = new Value(_layers.Count - 1, output, rank);
        return layer;
    }

    /// <summary>Whether one node reads <paramref name="value"/> and it is no output of the graph (so a fusion hides nothing).</summary>
    private bool SoleReader(string value) => !_outputs.Contains(value) && _uses.TryGetValue(value, out int n) && n == 1;

    /// <summary>Whether the node's outputs after the first are absent or unread.</summary>
    private bool OnlyFirstOutput(OnnxNodeProto node, string what)
    {
        for (int i = 1; i < node.Outputs.Count; i++)
            if (node.Outputs[i].Length > 0 && (_uses.ContainsKey(node.Outputs[i]) || _outputs.Contains(node.Outputs[i])))
            {
                Fail(node, $"uses its output '{node.Outputs[i]}' ({what}), which is not supported");
                return false;
            }
        return true;
    }

    /// <summary>Checks that the node has no attribute besides <paramref name="known"/>.</summary>
    private bool Known(OnnxNodeProto node, params string[] known)
    {
        foreach (OnnxAttributeProto a in node.Attributes)
            if (Array.IndexOf(known, a.Name) < 0)
            {
                Fail(node, $"has attribute '{a.Name}', which is not supported" + (known.Length > 0 ? $" (supported: {string.Join(", ", known)})" : ""));
                return false;
            }
        return true;
    }

    /// <summary>Input <paramref name="index"/> as a computed tensor (or the network's input).</summary>
    private bool Read(OnnxNodeProto node, int index, out Value value)
    {
        string name = node.Input(index);
        if (_values.TryGetValue(name, out value!))
            return true;
        if (_failed.Contains(name))
            return false; // already reported where it failed
        if (_weightInputs.Contains(name))
            Fail(node, $"reads the graph input '{name}' as data (input {index}); the first graph input is the data, and the others are supported only as weights");
        else if (_initializers.ContainsKey(name) || _constants.ContainsKey(name))
            Fail(node, $"reads the constant '{name}' as input {index}; only computed tensors are supported there");
        else
            Fail(node, name.Length == 0 ? $"has no input {index}" : $"reads '{name}', which no earlier node computes");
        return false;
    }

    /// <summary>Every input as a computed tensor; false (reported) when one is not, or there is none.</summary>
    private bool ReadAll(OnnxNodeProto node, out List<Value> inputs)
    {
        inputs = new List<Value>();
        for (int i = 0; i < node.Inputs.Count; i++)
        {
            if (!Read(node, i, out Value? v))
                return false;
            inputs.Add(v);
        }
        if (inputs.Count > 0)
            return true;
        Fail(node, "has no input");
        return false;
    }

    private bool Spatial(OnnxNodeProto node, out Value value)
    {
        if (!Read(node, 0, out value))
            return false;
        if (value.Rank is 3 or 4 && !value.Shape.Flat)
            return true;
        Fail(node, $"needs a [N, C, H, W] (or [N, C, L]) input, but its input is {Describe(value)}");
        return false;
    }

    private bool Flat(OnnxNodeProto node, out Value value)
    {
        if (!Read(node, 0, out value))
            return false;
        if (value.Rank == 2)
            return true;
        Fail(node, $"needs a 2-D input [N, features] (a Flatten before it), but its input is {Describe(value)}");
        return false;
    }

    /// <summary>Input <paramref name="index"/> as a FLOAT initializer: a weight loaded at run time.</summary>
    private bool Weight(OnnxNodeProto node, int index, out OnnxTensorProto tensor)
    {
        string name = node.Input(index);
        if (_initializers.TryGetValue(name, out tensor!))
        {
            if (tensor.DataType == OnnxDataType.Float && tensor.ElementCount >= 0)
                return true;
            Fail(node, $"has the weight '{name}' of type {OnnxDataType.Name(tensor.DataType)}; only FLOAT weights are supported");
            return false;
        }
        if (_failed.Contains(name))
            return false;
        Fail(node, name.Length == 0 ? $"has no input {index}"
            : _constants.ContainsKey(name) ? $"takes its weight '{name}' from a Constant node; weights must be initializers"
            : $"takes its weight from the computed tensor '{name}'; weights must be initializers");
        return false;
    }

    /// <summary>Whether <paramref name="name"/> is a constant: an initializer (or a graph input used as a weight) or a Constant node's output.</summary>
    private bool IsConstant(string name) => Constant(name) is not null;

    private OnnxTensorProto? Constant(string name) =>
        _initializers.TryGetValue(name, out OnnxTensorProto? t) || _constants.TryGetValue(name, out t) ? t : null;

    /// <summary>An INT64 constant (initializer or Constant node) at input <paramref name="index"/>.</summary>
    private long[]? Int64s(OnnxNodeProto node, int index, string what)
    {
        string name = node.Input(index);
        if ((_initializers.TryGetValue(name, out OnnxTensorProto? t) || _constants.TryGetValue(name, out t)) && t.DataType == OnnxDataType.Int64)
            try
            {
                return t.ToInt64s();
            }
            catch (InvalidDataException e)
            {
                Fail(node, $"has {what} that cannot be read: {e.Message}");
                return null;
            }
        Fail(node, $"takes its {what} from '{name}'; only an INT64 initializer or Constant is supported");
        return null;
    }

    /// <summary>A FLOAT constant scalar at input <paramref name="index"/>; NaN (reported) when it is not one.</summary>
    private float Scalar(OnnxNodeProto node, int index)
    {
        string name = node.Input(index);
        if ((_initializers.TryGetValue(name, out OnnxTensorProto? t) || _constants.TryGetValue(name, out t)) && t.ElementCount == 1)
            try
            {
                return t.ToFloats()[0];
            }
            catch (InvalidDataException)
            {
            }
        Fail(node, $"takes a value from '{name}'; only a constant FLOAT scalar is supported");
        return float.NaN;
    }

    /// <summary>Whether <paramref name="tensor"/> is a vector of <paramref name="count"/> values ([count], or [1, count]).</summary>
    private bool Vector(OnnxNodeProto node, OnnxTensorProto tensor, int count, string what)
    {
        if (tensor.ElementCount == count && tensor.Dims.Count >= 1 && tensor.Dims[tensor.Dims.Count - 1] == count)
            return true;
        Fail(node, $"has the {what} '{tensor.Name}' of dimensions {Dims(tensor)}; a vector of {count} values is needed (no broadcasting)");
        return false;
    }

    /// <summary>Whether a dense weight's input size matches the values of its input.</summary>
    private bool Columns(OnnxNodeProto node, OnnxTensorProto w, long inputs, Value x)
    {
        if (inputs == x.Shape.Length)
            return true;
        Fail(node, $"has a weight {Dims(w)} for {inputs} inputs, but its input has {x.Shape.Length} values");
        return false;
    }

    private bool Fits(OnnxNodeProto node, List<long> dims, long min, long max)
    {
        if (dims.All(d => d >= min && d <= max))
            return true;
        Fail(node, $"has a weight of dimensions [{string.Join(", ", dims)}], out of range");
        return false;
    }

    private bool Dilations(OnnxNodeProto node, Value x)
    {
        if (Axes(node, "dilations", x) is not { } dilations || dilations.All(d => d == 1))
            return true;
        Fail(node, $"has dilations [{string.Join(", ", dilations)}]; only 1 is supported");
        return false;
    }

    private bool Positive(OnnxNodeProto node, Value x, int kh, int kw, int oh, int ow)
    {
        if (oh >= 1 && ow >= 1)
            return true;
        Fail(node, $"has a {kh}x{kw} window that does not fit its padded input {Describe(x)}");
        return false;
    }

    /// <summary>The stride (one for both axes) and the padding of each side, from strides, pads and auto_pad.</summary>
    private bool Window(OnnxNodeProto node, Value x, int kh, int kw, out int stride, out Sides pads)
    {
        stride = 1;
        pads = new Sides(0, 0, 0, 0);
        long[] strides = Axes(node, "strides", x) ?? new long[] { 1, 1 };
        if (strides.Length != 2 || strides[0] != strides[1] || strides[0] < 1 || strides[0] > 1 << 16)
        {
            Fail(node, $"has strides [{string.Join(", ", strides)}]; only one positive stride for both axes is supported");
            return false;
        }
        stride = (int)strides[0];
        string auto = String(node, "auto_pad", "NOTSET");
        switch (auto)
        {
            case "NOTSET":
            {
                long[] p = Axes(node, "pads", x) ?? new long[4];
                if (p.Length != 4 || p.Any(v => v < 0 || v > 1 << 16))
                {
                    Fail(node, $"has pads [{string.Join(", ", p)}]; four sizes of 0 or more (top, left, bottom, right) are needed");
                    return false;
                }
                // ONNX orders pads as all beginnings, then all ends.
                pads = new Sides((int)p[0], (int)p[1], (int)p[2], (int)p[3]);
                return true;
            }
            case "VALID":
                return true;
            case "SAME_UPPER":
            case "SAME_LOWER":
            {
                (int top, int bottom) = Graph.ShapeInference.SamePads(x.Shape.H, kh, stride, oddAtEnd: auto == "SAME_UPPER");
                (int left, int right) = Graph.ShapeInference.SamePads(x.Shape.W, kw, stride, oddAtEnd: auto == "SAME_UPPER");
                pads = new Sides(top, left, bottom, right);
                return true;
            }
            default:
                Fail(node, $"has auto_pad '{auto}'; NOTSET, VALID, SAME_UPPER and SAME_LOWER are supported");
                return false;
        }
    }

    /// <summary>
    /// A window attribute (kernel_shape, strides, dilations, pads) over height and width: a 1-D window of an [N, C, L] tensor,
    /// held as C x 1 x L, gets height 1 and no padding above or below.
    /// </summary>
    private static long[]? Axes(OnnxNodeProto node, string name, Value x)
    {
        long[]? values = Ints(node, name);
        if (values is null || x.Rank != 3)
            return values;
        if (name == "pads")
            return values.Length == 2 ? new[] { 0, values[0], 0, values[1] } : values;
        return values.Length == 1 ? new[] { 1, values[0] } : values;
    }

    private static long Int(OnnxNodeProto node, string name, long fallback) => node.Attribute(name) is { } a ? a.Int : fallback;

    private static float Float(OnnxNodeProto node, string name, float fallback) => node.Attribute(name) is { } a ? a.Float : fallback;

    private static string String(OnnxNodeProto node, string name, string fallback) => node.Attribute(name) is { } a ? a.String : fallback;

    private static long[]? Ints(OnnxNodeProto node, string name) => node.Attribute(name) is { } a ? a.Ints.ToArray() : null;

    /// <summary>The ONNX dimensions of a value, with 1 for the batch.</summary>
    private static long[] Onnx(Value v) => v.Rank switch
    {
        2 => new long[] { 1, v.Shape.Length },
        3 => new long[] { 1, v.Shape.C, v.Shape.W },
        _ => new long[] { 1, v.Shape.C, v.Shape.H, v.Shape.W },
    };

    private static string Dims(OnnxTensorProto t) => "[" + string.Join(", ", t.Dims) + "]";

    private static string Describe(Value v) => v.Rank == 2 ? $"[N, {v.Shape.Length}]"
        : v.Rank == 3 ? $"[N, {v.Shape.C}, {v.Shape.W}]"
        : v.Shape.Flat ? $"[N, {v.Shape.C}, 1, 1]" : $"[N, {v.Shape.C}, {v.Shape.H}, {v.Shape.W}]";

    /// <summary>Records a problem of <paramref name="node"/>, named by its name or, when it has none, by its first output.</summary>
    private void Fail(OnnxNodeProto node, string message) =>
        _problems.Add(new OnnxProblem(node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault() ?? "", node.OpType, message));

    private void Problem(string message) => _problems.Add(new OnnxProblem("", "", message));

    // ---------------------------------------------------------------- result

    private OnnxImport Result(string path)
    {
        if (_problems.Count > 0)
            return new OnnxImport(path, _input, EquatableArray<LayerSpec>.Empty, EquatableArray<OnnxBinding>.Empty, _problems.ToEquatableArray(), null);

        // Names: the node's, unless it only numbers the operator ("Conv_3", as exporters write when they have nothing
        // better), else the value's (see Pending.ValueName), else the operator and its place; valid C#, unique.
        var taken = new HashSet<string>(StringComparer.Ordinal) { AttributeNames.NetworkInput };
        var names = new string[_layers.Count];
        for (int i = 0; i < _layers.Count; i++)
        {
            Pending p = _layers[i];
            string name = (Numbered(p.Node) || p.Node.Outputs.Count > 1 ? null : Identifier(p.Node.Name)) ?? Identifier(p.ValueName) ?? p.Node.OpType + "_" + i.ToString(CultureInfo.InvariantCulture);
            string unique = name;
            for (int k = 2; !taken.Add(unique); k++)
                unique = name + "_" + k.ToString(CultureInfo.InvariantCulture);
            names[i] = unique;
        }
        var layers = new List<LayerSpec>();
        var bindings = new List<OnnxBinding>();
        for (int i = 0; i < _layers.Count; i++)
        {
            Pending p = _layers[i];
            var inputs = p.Inputs.Select(j => j < 0 ? AttributeNames.NetworkInput : names[j]);
            layers.Add(p.Spec with { Name = names[i], Inputs = inputs.ToEquatableArray() });
            foreach (OnnxBinding b in p.Tensors)
                bindings.Add(b with { Tensor = names[i] + "." + b.Tensor });
        }
        return new OnnxImport(path, _input, layers.ToEquatableArray(), bindings.ToEquatableArray(), EquatableArray<OnnxProblem>.Empty, null)
        {
            InputName = _inputName,
            OutputNames = _outputNames.Select(o => new OnnxOutputName(names[o.Layer], o.Value)).ToEquatableArray(),
        };
    }

    /// <summary>Whether the node's name is its operator and a number ("Conv_3", "Relu12"), which says nothing of its role.</summary>
    private static bool Numbered(OnnxNodeProto node)
    {
        string name = node.Name;
        if (!name.StartsWith(node.OpType, StringComparison.Ordinal))
            return false;
        string rest = name.Substring(node.OpType.Length).TrimStart('_');
        return rest.All(char.IsDigit);
    }

    /// <summary>
    /// <paramref name="text"/> as a C# identifier: every run of other characters becomes one underscore, leading and
    /// trailing underscores go, and a leading digit gets "L" before it ("/layer1/conv.1/Conv" gives layer1_conv_1_Conv).
    /// Null when nothing is left.
    /// </summary>
    internal static string? Identifier(string text)
    {
        var result = new StringBuilder();
        foreach (char c in text)
        {
            bool ok = c < 128 ? char.IsLetterOrDigit(c) : char.IsLetter(c);
            if (ok)
                result.Append(c);
            else if (result.Length > 0 && result[result.Length - 1] != '_')
                result.Append('_');
        }
        string name = result.ToString().TrimEnd('_');
        if (name.Length == 0)
            return null;
        return char.IsDigit(name[0]) ? "L" + name : name;
    }
}
