using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text.RegularExpressions;

namespace Unroll.Tests.Reference;

/// <summary>
/// One sample's tensor in the user-facing C, H, W order, held in double, with a per-value error scale.
/// <see cref="Scale"/> is the magnitude float32 rounding errors in a computed value are proportional to:
/// for data it is |x|; for a weighted sum it is the sum of the absolute terms (inputs' scales times |w|,
/// plus |bias|), which bounds both the value and the error carried in from earlier layers.
/// Invariant: Scale[i] &gt;= |Value[i]|.
/// </summary>
public sealed class RefTensor
{
    public RefTensor(int channels, int height, int width, bool flat = false)
    {
        C = channels;
        H = height;
        W = width;
        Flat = flat;
        Value = new double[channels * height * width];
        Scale = new double[channels * height * width];
    }

    public int C { get; }
    public int H { get; }
    public int W { get; }
    public bool Flat { get; }
    public double[] Value { get; }
    public double[] Scale { get; }
    public int Length => Value.Length;

    public Shape Shape => Flat ? Shape.Flat(C) : new Shape(C, H, W);

    public int Index(int c, int y, int x) => (c * H + y) * W + x;

    /// <summary>Exact input data: the scale of every value is its magnitude.</summary>
    public static RefTensor FromData(ReadOnlySpan<float> values, Shape shape)
    {
        var t = new RefTensor(shape.Channels, shape.Height, shape.Width, shape.IsFlat);
        if (values.Length != t.Length)
            throw new ArgumentException($"Expected {t.Length} values for {shape}, got {values.Length}.");
        for (int i = 0; i < t.Length; i++)
        {
            t.Value[i] = values[i];
            t.Scale[i] = Math.Abs(values[i]);
        }
        return t;
    }

    /// <summary>Exact input data given in double (finite differences perturb it by less than a float's resolution).</summary>
    public static RefTensor FromValues(ReadOnlySpan<double> values, Shape shape)
    {
        var t = new RefTensor(shape.Channels, shape.Height, shape.Width, shape.IsFlat);
        if (values.Length != t.Length)
            throw new ArgumentException($"Expected {t.Length} values for {shape}, got {values.Length}.");
        for (int i = 0; i < t.Length; i++)
        {
            t.Value[i] = values[i];
            t.Scale[i] = Math.Abs(values[i]);
        }
        return t;
    }
}

/// <summary>
/// One layer of one sample as the reference ran it: the tensors it read (in the order of its inputs), the result of its
/// operation before the activation, and its output.
/// </summary>
public sealed record RefLayerTrace(IReadOnlyList<RefTensor> Inputs, RefTensor Pre, RefTensor Output)
{
    /// <summary>The first (for every layer but a merge, the only) tensor the layer read.</summary>
    public RefTensor Input => Inputs[0];
}

/// <summary>The operation of a reference layer.</summary>
public enum RefOp
{
    Conv,
    MaxPool,
    AvgPool,
    Dense,
    Activation,
    /// <summary>Element-wise sum of the inputs (all of one shape).</summary>
    Add,
    /// <summary>The inputs' channels one after another (spatial inputs of one height and width, or flat inputs).</summary>
    Concat,
    /// <summary>The mean of each channel over all positions, as a flat vector of C features.</summary>
    GlobalAvgPool,
    /// <summary>Batch normalisation in inference mode: gamma (x - running mean) / sqrt(running variance + eps) + beta.</summary>
    BatchNorm,
    /// <summary>Dropout in inference mode: the identity.</summary>
    Dropout,
    /// <summary>Local response normalisation across channels, PyTorch's window (<see cref="ReferenceOps.Lrn"/>).</summary>
    LRN,
    /// <summary>Zero padding of height and width by <see cref="RefLayer.PadTop"/> and the other pads.</summary>
    ZeroPad,
}

/// <summary>
/// One layer, as the reference computes it: every size and pad explicit. <see cref="Units"/> is the
/// filter count of a convolution or the unit count of a dense layer; <see cref="Bias"/>
/// matters only for those two (it stays true elsewhere). <see cref="Inputs"/> are the indices of the tensors the
/// layer reads, in order: earlier layers' outputs, or -1 (<see cref="NetworkInput"/>) for the network's input; null
/// means the layer just before it (the network's input for layer 0), so a chain needs none. Only a merge
/// (<see cref="RefOp.Add"/>, <see cref="RefOp.Concat"/>) reads more than one. Being a list, it compares by reference
/// in the record's equality.
/// </summary>
public sealed record RefLayer(
    RefOp Op,
    Activation Activation = Activation.None,
    float Alpha = 0.01f,
    int Units = 0,
    int KernelH = 1,
    int KernelW = 1,
    int Stride = 1,
    int PadTop = 0,
    int PadLeft = 0,
    int PadBottom = 0,
    int PadRight = 0,
    bool Bias = true,
    bool CountIncludePad = false,
    IReadOnlyList<int>? Inputs = null,
    IReadOnlyList<double>? RunningMean = null,
    IReadOnlyList<double>? RunningVariance = null,
    double Epsilon = 1e-5,
    (int Size, double Alpha, double Beta, double K) Lrn = default,
    float ClipMin = float.NegativeInfinity,
    float ClipMax = float.PositiveInfinity)
{
    /// <summary>The index that stands for the network's input in <see cref="Inputs"/>.</summary>
    public const int NetworkInput = -1;

    /// <summary>
    /// The tensors this layer reads as layer <paramref name="index"/> of its network: <see cref="Inputs"/>, or the layer
    /// before it. Every one must be an earlier layer or the network's input, and only a merge may read several.
    /// </summary>
    public IReadOnlyList<int> Sources(int index)
    {
        IReadOnlyList<int> sources = Inputs ?? new[] { index - 1 };
        if (sources.Count == 0 || (sources.Count > 1 && Op is not (RefOp.Add or RefOp.Concat)))
            throw new ArgumentException($"Layer {index} ({Op}) reads {sources.Count} tensors.");
        foreach (int j in sources)
            if (j < NetworkInput || j >= index)
                throw new ArgumentException($"Layer {index} reads tensor {j}: only earlier layers and the network input ({NetworkInput}) can be read.");
        return sources;
    }

    /// <summary>A convolution with TensorFlow-style "same" padding for an <paramref name="input"/>-sized input.</summary>
    public static RefLayer ConvSame(Shape input, int units, int kh, int kw, int stride, bool bias = true, Activation activation = Activation.None, float alpha = 0.01f)
    {
        (int top, int bottom) = ReferenceOps.SamePadding(input.Height, kh, stride);
        (int left, int right) = ReferenceOps.SamePadding(input.Width, kw, stride);
        return new RefLayer(RefOp.Conv, activation, alpha, units, kh, kw, stride, top, left, bottom, right, bias);
    }

    /// <summary>The output shape of this layer for one <paramref name="input"/> sample (a merge of that one input).</summary>
    public Shape OutputShape(Shape input) => OutputShape(new[] { input });

    /// <summary>The output shape of this layer for one sample of each of its <paramref name="inputs"/>, in order.</summary>
    public Shape OutputShape(IReadOnlyList<Shape> inputs)
    {
        if (inputs.Count == 0 || (inputs.Count > 1 && Op is not (RefOp.Add or RefOp.Concat)))
            throw new ArgumentException($"{Op} takes {(Op is RefOp.Add or RefOp.Concat ? "one or more inputs" : "one input")}, not {inputs.Count}.");
        Shape input = inputs[0];
        switch (Op)
        {
            case RefOp.Add:
                foreach (Shape other in inputs)
                    if (other != input)
                        throw new ArgumentException($"Add: inputs {input} and {other} differ.");
                return input;
            case RefOp.Concat:
            {
                int channels = 0;
                foreach (Shape other in inputs)
                {
                    if (other.IsFlat != input.IsFlat || other.Height != input.Height || other.Width != input.Width)
                        throw new ArgumentException($"Concat: inputs {input} and {other} do not line up.");
                    channels += other.Channels;
                }
                return input with { Channels = channels };
            }
            case RefOp.GlobalAvgPool:
                return input.IsFlat ? throw new ArgumentException($"Global average pooling needs a spatial input, not {input}.") : Shape.Flat(input.Channels);
            case RefOp.Conv:
            case RefOp.MaxPool:
            case RefOp.AvgPool:
            {
                int oh = ReferenceOps.OutputSize(input.Height, KernelH, Stride, PadTop, PadBottom);
                int ow = ReferenceOps.OutputSize(input.Width, KernelW, Stride, PadLeft, PadRight);
                return new Shape(Op == RefOp.Conv ? Units : input.Channels, oh, ow);
            }
            case RefOp.Dense:
                return Shape.Flat(Units);
            case RefOp.ZeroPad:
                return new Shape(input.Channels, input.Height + PadTop + PadBottom, input.Width + PadLeft + PadRight);
            default:
                return input;
        }
    }

    private static readonly Regex WindowDetails = new(@"^(\d+)x(\d+) s(\d+) p(\d+),(\d+),(\d+),(\d+)( incl-pad)?$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Reads a generated <see cref="LayerInfo"/> back into a reference layer (kernel, stride and pads come
    /// from <see cref="LayerInfo.Details"/>, "5x5 s1 p0,0,0,0"; a clip's bounds from <see cref="LayerInfo.Settings"/>).
    /// The leaky-ReLU slope is passed in.
    /// </summary>
    public static RefLayer FromInfo(LayerInfo info, float alpha = 0.01f)
    {
        RefLayer layer = FromInfoWithoutBounds(info, alpha);
        if (info.Activation != Activation.Clip)
            return layer;
        LayerSettings settings = info.Settings ?? throw new FormatException($"Layer {info.Name}: a clip without settings (its bounds).");
        return layer with { ClipMin = settings.ClipMin, ClipMax = settings.ClipMax };
    }

    private static RefLayer FromInfoWithoutBounds(LayerInfo info, float alpha)
    {
        bool bias = info.Bias is not null;
        switch (info.Kind)
        {
            case LayerKind.Conv2D:
            case LayerKind.MaxPool2D:
            case LayerKind.AvgPool2D:
            {
                Match m = WindowDetails.Match(info.Details);
                if (!m.Success)
                    throw new FormatException($"Layer {info.Name}: cannot read details '{info.Details}'.");
                int Int(int group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
                RefOp op = info.Kind switch { LayerKind.Conv2D => RefOp.Conv, LayerKind.MaxPool2D => RefOp.MaxPool, _ => RefOp.AvgPool };
                return new RefLayer(op, info.Activation, alpha, op == RefOp.Conv ? info.OutputShape.Channels : 0,
                    Int(1), Int(2), Int(3), Int(4), Int(5), Int(6), Int(7), op != RefOp.Conv || bias, m.Groups[8].Success);
            }
            case LayerKind.Dense:
                return new RefLayer(RefOp.Dense, info.Activation, alpha, info.OutputShape.Channels, Bias: bias);
            case LayerKind.Add:
            case LayerKind.Concatenate:
            {
                int count = info.Inputs?.Count ?? 1;
                if (info.Details != FormattableString.Invariant($"{count} inputs"))
                    throw new FormatException($"Layer {info.Name}: details '{info.Details}' for {count} input(s).");
                return new RefLayer(info.Kind == LayerKind.Add ? RefOp.Add : RefOp.Concat, info.Activation, alpha);
            }
            case LayerKind.GlobalAvgPool2D:
                if (info.Details != FormattableString.Invariant($"{info.InputShape.Height}x{info.InputShape.Width}"))
                    throw new FormatException($"Layer {info.Name}: details '{info.Details}' for an input of {info.InputShape}.");
                return new RefLayer(RefOp.GlobalAvgPool, info.Activation, alpha);
            case LayerKind.Activation:
                return new RefLayer(RefOp.Activation, info.Activation, alpha);
            case LayerKind.Dropout:
                return new RefLayer(RefOp.Dropout, info.Activation, alpha);
            case LayerKind.LRN:
            {
                // "size 5 alpha 0.0001 beta 0.75 k 2"
                string[] words = info.Details.Split(' ');
                if (words.Length != 8 || words[0] != "size" || words[2] != "alpha" || words[4] != "beta" || words[6] != "k")
                    throw new FormatException($"Layer {info.Name}: cannot read details '{info.Details}'.");
                double Number(int i) => double.Parse(words[i], CultureInfo.InvariantCulture);
                return new RefLayer(RefOp.LRN, info.Activation, alpha, Lrn: ((int)Number(1), Number(3), Number(5), Number(7)));
            }
            case LayerKind.ZeroPad2D:
            {
                // "p1,2,1,2" (top, left, bottom, right)
                int[] pads = info.Details.TrimStart('p').Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
                return new RefLayer(RefOp.ZeroPad, info.Activation, alpha, PadTop: pads[0], PadLeft: pads[1], PadBottom: pads[2], PadRight: pads[3]);
            }
            case LayerKind.BatchNorm:
            {
                // "eps 1E-05 momentum 0.1"; the running statistics are values, not description: see ReferenceOps.Run(Network).
                string[] words = info.Details.Split(' ');
                if (words.Length != 4 || words[0] != "eps" || words[2] != "momentum")
                    throw new FormatException($"Layer {info.Name}: cannot read details '{info.Details}'.");
                return new RefLayer(RefOp.BatchNorm, info.Activation, alpha, info.OutputShape.Channels, Epsilon: double.Parse(words[1], CultureInfo.InvariantCulture));
            }
            default: // a shape-keeping kind read as an activation would pass every shape check and judge nothing
                throw new NotSupportedException($"Layer {info.Name}: the reference has no {info.Kind}.");
        }
    }

    /// <summary>
    /// Reads every layer of a generated network's description back (<see cref="FromInfo(LayerInfo, float)"/>), with its
    /// <see cref="LayerInfo.Inputs"/> names turned into <see cref="Inputs"/> indices ("input" is the network's input), and
    /// checks every shape the description states against the one the reference computes: each layer's first input,
    /// its output, and the network's outputs. <paramref name="alpha"/> gives the leaky-ReLU slopes.
    /// </summary>
    public static RefLayer[] FromInfo(NetworkInfo network, Func<LayerInfo, float>? alpha = null)
    {
        var layers = new RefLayer[network.Layers.Count];
        var index = new Dictionary<string, int>(StringComparer.Ordinal) { [Layer.NetworkInput] = NetworkInput };
        for (int i = 0; i < layers.Length; i++)
        {
            LayerInfo info = network.Layers[i];
            int[]? inputs = info.Inputs?.Select(name => index.TryGetValue(name, out int j)
                ? j : throw new InvalidOperationException($"Layer {info.Name} reads '{name}', which is neither the network input nor an earlier layer.")).ToArray();
            layers[i] = FromInfo(info, alpha?.Invoke(info) ?? 0.01f) with { Inputs = inputs };
            if (!index.TryAdd(info.Name, i))
                throw new InvalidOperationException($"Two layers are called {info.Name}.");
        }
        Shape[] shapes = ReferenceOps.OutputShapes(layers, network.InputShape);
        for (int i = 0; i < layers.Length; i++)
        {
            LayerInfo info = network.Layers[i];
            int first = layers[i].Sources(i)[0];
            Shape input = first == NetworkInput ? network.InputShape : shapes[first];
            if (info.InputShape != input)
                throw new InvalidOperationException($"Layer {info.Name}: input {info.InputShape}, but the tensor it reads is {input}.");
            if (shapes[i] != info.OutputShape)
                throw new InvalidOperationException($"Layer {info.Name}: the reference computes output {shapes[i]}, the description says {info.OutputShape}.");
        }
        // Every output's shape, and the inference output: the main outputs one after the other (the shape itself when one).
        int mainLength = 0, mains = 0;
        foreach (OutputInfo o in network.Outputs)
        {
            int i = index.TryGetValue(o.Layer, out int j) ? j : throw new InvalidOperationException($"Output {o.Layer} is no layer.");
            if (shapes[i] != o.Shape)
                throw new InvalidOperationException($"Output {o.Layer}: the reference computes {shapes[i]}, the description says {o.Shape}.");
            if (!o.Auxiliary)
            {
                mainLength += o.Length;
                mains++;
            }
        }
        if (mains == 1 ? network.Outputs[0].Shape != network.OutputShape : Shape.Flat(mainLength) != network.OutputShape)
            throw new InvalidOperationException($"The network's output is {network.OutputShape}, but its main outputs give {mainLength} values.");
        return layers;
    }
}

/// <summary>
/// A plain, loop-by-loop reference implementation of every Unroll operation, accumulating in double.
/// It shares no code with the generator or the runtime kernels: sizes and pads are computed here from
/// the declared semantics, and weights are read in canonical order ([O, I, KH, KW] for convolutions,
/// [O, C*H*W] for dense layers).
/// </summary>
public static class ReferenceOps
{
    /// <summary>floor((n + before + after - k) / s) + 1.</summary>
    public static int OutputSize(int n, int k, int s, int before, int after)
    {
        int span = n + before + after - k;
        if (span < 0)
            throw new ArgumentException($"Window {k} does not fit an input of {n} padded by {before}+{after}.");
        return span / s + 1;
    }

    /// <summary>TensorFlow "same": output ceil(n / s); total pad max((out - 1) s + k - n, 0), half (rounded down) before.</summary>
    public static (int Before, int After) SamePadding(int n, int k, int s)
    {
        int output = (int)Math.Ceiling(n / (double)s);
        int total = Math.Max((output - 1) * s + k - n, 0);
        return (total / 2, total - total / 2);
    }

    /// <summary>The values widened to double (null stays null).</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(values))]
    public static double[]? ToDouble(float[]? values) => values is null ? null : Array.ConvertAll(values, v => (double)v);

    /// <summary>Every layer's parameters widened to double.</summary>
    public static (double[]? Weights, double[]? Bias)[] ToDouble(IReadOnlyList<(float[]? Weights, float[]? Bias)> parameters)
    {
        var result = new (double[]? Weights, double[]? Bias)[parameters.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = (ToDouble(parameters[i].Weights), ToDouble(parameters[i].Bias));
        return result;
    }

    /// <summary>Cross-correlation; <paramref name="weights"/> canonical [O, I, KH, KW], <paramref name="bias"/> [O] or null.</summary>
    public static RefTensor Conv2D(RefTensor x, float[] weights, float[]? bias, int filters, int kh, int kw, int stride,
        int padTop, int padLeft, int padBottom, int padRight) =>
        Conv2D(x, ToDouble(weights), ToDouble(bias), filters, kh, kw, stride, padTop, padLeft, padBottom, padRight);

    /// <summary>Cross-correlation with parameters in double; <paramref name="weights"/> canonical [O, I, KH, KW], <paramref name="bias"/> [O] or null.</summary>
    public static RefTensor Conv2D(RefTensor x, double[] weights, double[]? bias, int filters, int kh, int kw, int stride,
        int padTop, int padLeft, int padBottom, int padRight)
    {
        if (weights.Length != filters * x.C * kh * kw)
            throw new ArgumentException($"Conv weights: expected {filters * x.C * kh * kw}, got {weights.Length}.");
        int oh = OutputSize(x.H, kh, stride, padTop, padBottom), ow = OutputSize(x.W, kw, stride, padLeft, padRight);
        var y = new RefTensor(filters, oh, ow);
        for (int o = 0; o < filters; o++)
            for (int r = 0; r < oh; r++)
                for (int c = 0; c < ow; c++)
                {
                    double sum = bias is null ? 0 : bias[o];
                    double scale = bias is null ? 0 : Math.Abs(bias[o]);
                    for (int i = 0; i < x.C; i++)
                        for (int dy = 0; dy < kh; dy++)
                        {
                            int iy = r * stride - padTop + dy;
                            if (iy < 0 || iy >= x.H)
                                continue; // zero padding
                            for (int dx = 0; dx < kw; dx++)
                            {
                                int ix = c * stride - padLeft + dx;
                                if (ix < 0 || ix >= x.W)
                                    continue;
                                double w = weights[((o * x.C + i) * kh + dy) * kw + dx];
                                int at = x.Index(i, iy, ix);
                                sum += w * x.Value[at];
                                scale += Math.Abs(w) * x.Scale[at];
                            }
                        }
                    int index = y.Index(o, r, c);
                    y.Value[index] = sum;
                    y.Scale[index] = scale;
                }
        return y;
    }

    /// <summary>Max over each window; padded positions never win (they are skipped).</summary>
    public static RefTensor MaxPool(RefTensor x, int size, int stride, int padTop, int padLeft, int padBottom, int padRight)
    {
        int oh = OutputSize(x.H, size, stride, padTop, padBottom), ow = OutputSize(x.W, size, stride, padLeft, padRight);
        var y = new RefTensor(x.C, oh, ow);
        for (int ch = 0; ch < x.C; ch++)
            for (int r = 0; r < oh; r++)
                for (int c = 0; c < ow; c++)
                {
                    double best = double.NegativeInfinity, scale = 0;
                    int seen = 0;
                    for (int dy = 0; dy < size; dy++)
                        for (int dx = 0; dx < size; dx++)
                        {
                            int iy = r * stride - padTop + dy, ix = c * stride - padLeft + dx;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue;
                            int at = x.Index(ch, iy, ix);
                            best = Math.Max(best, x.Value[at]);
                            scale = Math.Max(scale, x.Scale[at]);
                            seen++;
                        }
                    if (seen == 0)
                        throw new InvalidOperationException($"Max-pool window ({r}, {c}) holds no input pixel.");
                    y.Value[y.Index(ch, r, c)] = best;
                    y.Scale[y.Index(ch, r, c)] = scale;
                }
        return y;
    }

    /// <summary>
    /// Mean over each window. The divisor is the number of real pixels in the window, or with
    /// <paramref name="countIncludePad"/> the number of window positions inside the padded input.
    /// </summary>
    public static RefTensor AvgPool(RefTensor x, int size, int stride, int padTop, int padLeft, int padBottom, int padRight, bool countIncludePad)
    {
        int oh = OutputSize(x.H, size, stride, padTop, padBottom), ow = OutputSize(x.W, size, stride, padLeft, padRight);
        var y = new RefTensor(x.C, oh, ow);
        for (int ch = 0; ch < x.C; ch++)
            for (int r = 0; r < oh; r++)
                for (int c = 0; c < ow; c++)
                {
                    double sum = 0, scale = 0;
                    int real = 0, inPadded = 0;
                    for (int dy = 0; dy < size; dy++)
                        for (int dx = 0; dx < size; dx++)
                        {
                            int iy = r * stride - padTop + dy, ix = c * stride - padLeft + dx;
                            // Position inside the padded input [-padTop, H + padBottom) x [-padLeft, W + padRight)?
                            if (iy >= -padTop && iy < x.H + padBottom && ix >= -padLeft && ix < x.W + padRight)
                                inPadded++;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue;
                            int at = x.Index(ch, iy, ix);
                            sum += x.Value[at];
                            scale += x.Scale[at];
                            real++;
                        }
                    int divisor = countIncludePad ? inPadded : real;
                    if (divisor == 0)
                        throw new InvalidOperationException($"Average-pool window ({r}, {c}) holds no input pixel.");
                    y.Value[y.Index(ch, r, c)] = sum / divisor;
                    y.Scale[y.Index(ch, r, c)] = scale / divisor;
                }
        return y;
    }

    /// <summary>The mean of each channel over all H x W positions, as a flat vector of C features; the scale is the mean of the scales.</summary>
    public static RefTensor GlobalAvgPool(RefTensor x)
    {
        if (x.Flat)
            throw new ArgumentException("Global average pooling needs a spatial input.");
        int positions = x.H * x.W;
        var y = new RefTensor(x.C, 1, 1, flat: true);
        for (int ch = 0; ch < x.C; ch++)
        {
            double sum = 0, scale = 0;
            for (int at = ch * positions; at < (ch + 1) * positions; at++)
            {
                sum += x.Value[at];
                scale += x.Scale[at];
            }
            y.Value[ch] = sum / positions;
            y.Scale[ch] = scale / positions;
        }
        return y;
    }

    /// <summary>Element-wise sum of tensors of one shape; the scale is the sum of the terms' scales.</summary>
    public static RefTensor Add(IReadOnlyList<RefTensor> xs)
    {
        RefTensor first = xs[0];
        var y = new RefTensor(first.C, first.H, first.W, first.Flat);
        foreach (RefTensor x in xs)
        {
            if (x.Shape != first.Shape)
                throw new ArgumentException($"Add: inputs {first.Shape} and {x.Shape} differ.");
            for (int i = 0; i < y.Length; i++)
            {
                y.Value[i] += x.Value[i];
                y.Scale[i] += x.Scale[i];
            }
        }
        return y;
    }

    /// <summary>
    /// Channel concatenation: the channels of <paramref name="xs"/>[0], then those of [1], and so on, at every position
    /// (all spatial with one height and width, or all flat). Values are copied, so their scales are too.
    /// </summary>
    public static RefTensor Concat(IReadOnlyList<RefTensor> xs)
    {
        RefTensor first = xs[0];
        int channels = 0;
        foreach (RefTensor x in xs)
        {
            if (x.Flat != first.Flat || x.H != first.H || x.W != first.W)
                throw new ArgumentException($"Concat: inputs {first.Shape} and {x.Shape} do not line up.");
            channels += x.C;
        }
        var y = new RefTensor(channels, first.H, first.W, first.Flat);
        int offset = 0;
        foreach (RefTensor x in xs)
        {
            // C, H, W order: a tensor's channels are one contiguous block, and so is its slice of the output.
            Array.Copy(x.Value, 0, y.Value, offset, x.Length);
            Array.Copy(x.Scale, 0, y.Scale, offset, x.Length);
            offset += x.Length;
        }
        return y;
    }

    /// <summary>Fully connected: the input flattened in C, H, W order; <paramref name="weights"/> canonical [O, C*H*W].</summary>
    public static RefTensor Dense(RefTensor x, float[] weights, float[]? bias, int units) =>
        Dense(x, ToDouble(weights), ToDouble(bias), units);

    /// <summary>Fully connected with parameters in double; <paramref name="weights"/> canonical [O, C*H*W].</summary>
    public static RefTensor Dense(RefTensor x, double[] weights, double[]? bias, int units)
    {
        int n = x.Length;
        if (weights.Length != units * n)
            throw new ArgumentException($"Dense weights: expected {units * n}, got {weights.Length}.");
        var y = new RefTensor(units, 1, 1, flat: true);
        for (int o = 0; o < units; o++)
        {
            double sum = bias is null ? 0 : bias[o];
            double scale = bias is null ? 0 : Math.Abs(bias[o]);
            for (int i = 0; i < n; i++)
            {
                double w = weights[o * n + i];
                sum += w * x.Value[i];
                scale += Math.Abs(w) * x.Scale[i];
            }
            y.Value[o] = sum;
            y.Scale[o] = scale;
        }
        return y;
    }

    /// <summary>
    /// Applies an activation. Scales follow first-order error propagation: ReLU and leaky ReLU pass the
    /// input's scale on (times max(1, |alpha|)), and so does a clip to [clipMin, clipMax] (an infinite bound: that side
    /// open), min(max(x, clipMin), clipMax) with slope 0 or 1; the bounded functions keep |output| for their own rounding
    /// and add their derivative times the input's scale (tanh: 1 - y^2, sigmoid: y (1 - y), softmax: 2 y_i
    /// times the largest input scale, since d y_i = y_i (d x_i - sum_j y_j d x_j)). Softmax runs over the channels of a
    /// flat or C x 1 x 1 tensor (the generator allows both).
    /// </summary>
    public static RefTensor Activate(RefTensor x, Activation activation, float alpha = 0.01f, float clipMin = float.NegativeInfinity, float clipMax = float.PositiveInfinity)
    {
        var y = new RefTensor(x.C, x.H, x.W, x.Flat);
        switch (activation)
        {
            case Activation.None:
                Array.Copy(x.Value, y.Value, x.Length);
                Array.Copy(x.Scale, y.Scale, x.Length);
                break;
            case Activation.ReLU:
                for (int i = 0; i < x.Length; i++)
                {
                    y.Value[i] = x.Value[i] > 0 ? x.Value[i] : 0;
                    y.Scale[i] = x.Scale[i];
                }
                break;
            case Activation.LeakyReLU:
                for (int i = 0; i < x.Length; i++)
                {
                    y.Value[i] = x.Value[i] > 0 ? x.Value[i] : alpha * x.Value[i];
                    y.Scale[i] = Math.Max(1, Math.Abs(alpha)) * x.Scale[i];
                }
                break;
            case Activation.Clip:
                // Continuous, slope 0 or 1: the input's scale carries over (at least |y|, for a bound held exactly).
                if (!(clipMin <= clipMax))
                    throw new ArgumentException($"Clip bounds [{clipMin}, {clipMax}] are not ordered.");
                for (int i = 0; i < x.Length; i++)
                {
                    y.Value[i] = Math.Min(Math.Max(x.Value[i], clipMin), clipMax);
                    y.Scale[i] = Math.Max(x.Scale[i], Math.Abs(y.Value[i]));
                }
                break;
            case Activation.Tanh:
                for (int i = 0; i < x.Length; i++)
                {
                    double t = Math.Tanh(x.Value[i]);
                    y.Value[i] = t;
                    y.Scale[i] = Math.Abs(t) + (1 - t * t) * x.Scale[i];
                }
                break;
            case Activation.Sigmoid:
                for (int i = 0; i < x.Length; i++)
                {
                    double s = 1 / (1 + Math.Exp(-x.Value[i]));
                    y.Value[i] = s;
                    y.Scale[i] = s + s * (1 - s) * x.Scale[i];
                }
                break;
            case Activation.Softmax:
            {
                if (x.H * x.W != 1)
                    throw new ArgumentException("Softmax needs a flat (or C x 1 x 1) input.");
                double max = double.NegativeInfinity, maxScale = 0;
                for (int i = 0; i < x.Length; i++)
                {
                    max = Math.Max(max, x.Value[i]);
                    maxScale = Math.Max(maxScale, x.Scale[i]);
                }
                double sum = 0;
                for (int i = 0; i < x.Length; i++)
                    sum += Math.Exp(x.Value[i] - max);
                for (int i = 0; i < x.Length; i++)
                {
                    double s = Math.Exp(x.Value[i] - max) / sum;
                    y.Value[i] = s;
                    y.Scale[i] = s + 2 * s * maxScale;
                }
                break;
            }
            default:
                throw new NotSupportedException($"Unknown activation {activation}.");
        }
        return y;
    }

    /// <summary>One layer: its operation, then its activation.</summary>
    public static RefTensor Apply(RefTensor x, RefLayer layer, float[]? weights, float[]? bias) =>
        Apply(x, layer, ToDouble(weights), ToDouble(bias));

    /// <summary>One layer with parameters in double: its operation, then its activation.</summary>
    public static RefTensor Apply(RefTensor x, RefLayer layer, double[]? weights, double[]? bias)
    {
        RefTensor y = Operation(x, layer, weights, bias);
        return layer.Activation == Activation.None ? y : Activate(y, layer.Activation, layer.Alpha, layer.ClipMin, layer.ClipMax);
    }

    /// <summary>
    /// The layer's operation alone over the tensors it reads, in order, without its activation: a merge of them all, or
    /// any other operation of the one tensor.
    /// </summary>
    public static RefTensor Operation(IReadOnlyList<RefTensor> xs, RefLayer layer, double[]? weights, double[]? bias) => layer.Op switch
    {
        RefOp.Add => Add(xs),
        RefOp.Concat => Concat(xs),
        _ => xs.Count == 1 ? Operation(xs[0], layer, weights, bias) : throw new ArgumentException($"{layer.Op} reads one tensor, not {xs.Count}."),
    };

    /// <summary>The layer's operation alone, without its activation (a stand-alone activation layer, or a merge of one tensor, passes its input through).</summary>
    public static RefTensor Operation(RefTensor x, RefLayer layer, double[]? weights, double[]? bias) => layer.Op switch
    {
        RefOp.Conv => Conv2D(x, weights ?? throw new ArgumentNullException(nameof(weights)), layer.Bias ? bias ?? throw new ArgumentNullException(nameof(bias)) : null,
            layer.Units, layer.KernelH, layer.KernelW, layer.Stride, layer.PadTop, layer.PadLeft, layer.PadBottom, layer.PadRight),
        RefOp.MaxPool => MaxPool(x, Square(layer), layer.Stride, layer.PadTop, layer.PadLeft, layer.PadBottom, layer.PadRight),
        RefOp.AvgPool => AvgPool(x, Square(layer), layer.Stride, layer.PadTop, layer.PadLeft, layer.PadBottom, layer.PadRight, layer.CountIncludePad),
        RefOp.Dense => Dense(x, weights ?? throw new ArgumentNullException(nameof(weights)), layer.Bias ? bias ?? throw new ArgumentNullException(nameof(bias)) : null, layer.Units),
        RefOp.GlobalAvgPool => GlobalAvgPool(x),
        RefOp.LRN => Lrn(x, layer.Lrn.Size, layer.Lrn.Alpha, layer.Lrn.Beta, layer.Lrn.K),
        RefOp.ZeroPad => ZeroPad(x, layer.PadTop, layer.PadLeft, layer.PadBottom, layer.PadRight),
        RefOp.BatchNorm => BatchNorm(x, weights ?? throw new ArgumentNullException(nameof(weights)), bias ?? throw new ArgumentNullException(nameof(bias)),
            layer.RunningMean ?? throw new ArgumentException("A batch normalisation needs its running mean."),
            layer.RunningVariance ?? throw new ArgumentException("A batch normalisation needs its running variance."), layer.Epsilon),
        _ => x,
    };

    /// <summary>
    /// Local response normalisation across channels as PyTorch computes it: y[c] = x[c] / (k + alpha / size x the sum of
    /// x[j]² over j in [c - size / 2, c + (size - 1) / 2] within [0, C))^beta. The scale of y is the scale of x over the
    /// divisor (the divisor's own error is second order).
    /// </summary>
    public static RefTensor Lrn(RefTensor x, int size, double alpha, double beta, double k)
    {
        var y = new RefTensor(x.C, x.H, x.W, x.Flat);
        int positions = x.Flat ? 1 : x.H * x.W;
        for (int ch = 0; ch < x.C; ch++)
            for (int at = 0; at < positions; at++)
            {
                double sum = 0;
                for (int j = Math.Max(0, ch - size / 2); j <= Math.Min(x.C - 1, ch + (size - 1) / 2); j++)
                    sum += x.Value[j * positions + at] * x.Value[j * positions + at];
                double divisor = Math.Pow(k + alpha / size * sum, beta);
                y.Value[ch * positions + at] = x.Value[ch * positions + at] / divisor;
                y.Scale[ch * positions + at] = x.Scale[ch * positions + at] / divisor;
            }
        return y;
    }

    /// <summary>Zero padding of height and width; padded values are exact zeros.</summary>
    public static RefTensor ZeroPad(RefTensor x, int top, int left, int bottom, int right)
    {
        int h = x.H + top + bottom, w = x.W + left + right;
        var y = new RefTensor(x.C, h, w);
        for (int ch = 0; ch < x.C; ch++)
            for (int r = 0; r < x.H; r++)
                for (int q = 0; q < x.W; q++)
                {
                    y.Value[(ch * h + r + top) * w + q + left] = x.Value[(ch * x.H + r) * x.W + q];
                    y.Scale[(ch * h + r + top) * w + q + left] = x.Scale[(ch * x.H + r) * x.W + q];
                }
        return y;
    }

    /// <summary>
    /// Inference-mode batch normalisation per channel: y = gamma (x - mean) / sqrt(variance + eps) + beta. The scale of y
    /// is |gamma / sd| times the scale of x plus |gamma mean / sd| and |beta| (the terms of the float form x a + b).
    /// </summary>
    public static RefTensor BatchNorm(RefTensor x, double[] gamma, double[] beta, IReadOnlyList<double> mean, IReadOnlyList<double> variance, double epsilon)
    {
        var y = new RefTensor(x.C, x.H, x.W, x.Flat);
        int positions = x.Flat ? 1 : x.H * x.W;
        for (int ch = 0; ch < x.C; ch++)
        {
            double a = gamma[ch] / Math.Sqrt(variance[ch] + epsilon);
            for (int at = ch * positions; at < (ch + 1) * positions; at++)
            {
                y.Value[at] = a * (x.Value[at] - mean[ch]) + beta[ch];
                y.Scale[at] = Math.Abs(a) * x.Scale[at] + Math.Abs(a * mean[ch]) + Math.Abs(beta[ch]);
            }
        }
        return y;
    }

    /// <summary>
    /// Runs one sample through <paramref name="layers"/> (canonical parameters in double, null where a layer has none) in
    /// declaration order, each reading its <see cref="RefLayer.Sources"/>, keeping every layer's inputs, pre-activation and
    /// output: the forward pass the network runner and the reference backward pass both use. The network's output is
    /// the last layer's.
    /// </summary>
    public static RefLayerTrace[] Trace(IReadOnlyList<RefLayer> layers, RefTensor input, IReadOnlyList<(double[]? Weights, double[]? Bias)> parameters)
    {
        if (parameters.Count != layers.Count)
            throw new ArgumentException($"{layers.Count} layers but {parameters.Count} parameter sets.");
        var trace = new RefLayerTrace[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            RefTensor[] xs = layers[i].Sources(i).Select(j => j == RefLayer.NetworkInput ? input : trace[j].Output).ToArray();
            RefTensor pre = Operation(xs, layers[i], parameters[i].Weights, parameters[i].Bias);
            RefTensor y = layers[i].Activation == Activation.None ? pre : Activate(pre, layers[i].Activation, layers[i].Alpha, layers[i].ClipMin, layers[i].ClipMax);
            trace[i] = new RefLayerTrace(xs, pre, y);
        }
        return trace;
    }

    /// <summary>Every layer's output shape for one <paramref name="input"/> sample, each from the shapes of the tensors it reads.</summary>
    public static Shape[] OutputShapes(IReadOnlyList<RefLayer> layers, Shape input)
    {
        var shapes = new Shape[layers.Count];
        for (int i = 0; i < shapes.Length; i++)
            shapes[i] = layers[i].OutputShape(layers[i].Sources(i).Select(j => j == RefLayer.NetworkInput ? input : shapes[j]).ToArray());
        return shapes;
    }

    private static int Square(RefLayer pool) =>
        pool.KernelH == pool.KernelW ? pool.KernelH : throw new ArgumentException("Pooling windows are square.");

    /// <summary>
    /// Runs <paramref name="layers"/> (see <see cref="Trace"/>) over a batch (batch-major, C, H, W per sample), with
    /// canonical parameters per layer (null where a layer has none). Returns one tensor per sample.
    /// </summary>
    public static RefTensor[] Run(IReadOnlyList<RefLayer> layers, Shape inputShape, IReadOnlyList<(float[]? Weights, float[]? Bias)> parameters,
        ReadOnlySpan<float> input, int batch)
    {
        if (parameters.Count != layers.Count)
            throw new ArgumentException($"{layers.Count} layers but {parameters.Count} parameter sets.");
        int length = inputShape.Length;
        if (input.Length != batch * length)
            throw new ArgumentException($"Input: expected {batch * length} values, got {input.Length}.");
        (double[]? Weights, double[]? Bias)[] wide = ToDouble(parameters);
        var outputs = new RefTensor[batch];
        for (int n = 0; n < batch; n++)
        {
            RefTensor x = RefTensor.FromData(input.Slice(n * length, length), inputShape);
            outputs[n] = layers.Count == 0 ? x : Trace(layers, x, wide)[^1].Output;
        }
        return outputs;
    }

    /// <summary>
    /// Runs a generated network's description: layers and their inputs are read back with
    /// <see cref="RefLayer.FromInfo(NetworkInfo, Func{LayerInfo, float}?)"/>, and every computed shape must equal the one
    /// the description states.
    /// </summary>
    public static RefTensor[] Run(NetworkInfo info, IReadOnlyList<(float[]? Weights, float[]? Bias)> parameters, ReadOnlySpan<float> input, int batch,
        Func<LayerInfo, float>? alpha = null) =>
        Run(RefLayer.FromInfo(info, alpha), info.InputShape, parameters, input, batch);

    /// <summary>Every layer's canonical weights and bias, read from a network instance.</summary>
    public static (float[]? Weights, float[]? Bias)[] CanonicalParameters(Network network)
    {
        var result = new (float[]? Weights, float[]? Bias)[network.Layers.Count];
        for (int i = 0; i < result.Length; i++)
        {
            Layer layer = network.Layers[i];
            result[i] = (layer.Info.Weights is null ? null : layer.GetWeights(), layer.Info.Bias is null ? null : layer.GetBias());
        }
        return result;
    }

    /// <summary>Runs <paramref name="network"/>'s description on its current parameters.</summary>
    public static RefTensor[] Run(Network network, ReadOnlySpan<float> input, int batch, Func<LayerInfo, float>? alpha = null) =>
        Run(WithRunningStatistics(RefLayer.FromInfo(network.Info, alpha), network), network.Info.InputShape, CanonicalParameters(network), input, batch);

    /// <summary>The layers with every batch normalisation's running mean and variance read from <paramref name="network"/>.</summary>
    public static RefLayer[] WithRunningStatistics(RefLayer[] layers, Network network)
    {
        for (int i = 0; i < layers.Length; i++)
        {
            if (layers[i].Op != RefOp.BatchNorm)
                continue;
            TensorInfo[] state = network.Info.Layers[i].State!.ToArray();
            double[] Read(TensorInfo t) => network.Parameters.Slice(t.Offset, t.Count).ToArray().Select(v => (double)v).ToArray();
            layers[i] = layers[i] with { RunningMean = Read(state[0]), RunningVariance = Read(state[1]) };
        }
        return layers;
    }
}

/// <summary>
/// The comparison rule. float32 accumulation error grows with the absolute sum of the terms (and with
/// the errors carried in from earlier layers, which the reference's scale also tracks), not with the
/// possibly-cancelled result; so a value passes when |unroll - ref| &lt;= 1e-5 * max(|ref|, scale) + 1e-6.
/// For tanh, sigmoid and softmax outputs the scale is |ref| plus the derivative times the input's scale,
/// so for exact inputs this is 1e-5 relative plus 1e-6 absolute, widened only by the propagated input error.
/// </summary>
public static class Tolerance
{
    public const double Relative = 1e-5;
    public const double Absolute = 1e-6;

    public static double Allowed(double reference, double scale) => Relative * Math.Max(Math.Abs(reference), scale) + Absolute;

    public static bool Within(float actual, double reference, double scale) =>
        !float.IsNaN(actual) && Math.Abs(actual - reference) <= Allowed(reference, scale);

    /// <summary>
    /// Compares a batch-major output with the reference's per-sample tensors. Returns the number of
    /// mismatching values and adds a line for each of the first <paramref name="limit"/> to
    /// <paramref name="lines"/>, with the sample, index, both values and the tolerance.
    /// </summary>
    public static int Mismatches(ReadOnlySpan<float> actual, IReadOnlyList<RefTensor> expected, List<string> lines, int limit = 10)
    {
        int count = 0, offset = 0;
        foreach (RefTensor t in expected)
            offset += t.Length;
        if (offset != actual.Length)
        {
            lines.Add($"output has {actual.Length} values, the reference {offset}");
            return 1;
        }
        offset = 0;
        for (int n = 0; n < expected.Count; n++)
        {
            RefTensor t = expected[n];
            for (int i = 0; i < t.Length; i++)
            {
                float a = actual[offset + i];
                if (Within(a, t.Value[i], t.Scale[i]))
                    continue;
                if (count++ < limit)
                    lines.Add(FormattableString.Invariant(
                        $"sample {n} index {i} ({Position(t, i)}): unroll {a:R}, reference {t.Value[i]:R}, |diff| {Math.Abs(a - t.Value[i]):G3} > allowed {Allowed(t.Value[i], t.Scale[i]):G3} (scale {t.Scale[i]:G4})"));
            }
            offset += t.Length;
        }
        return count;
    }

    /// <summary>The largest |actual - reference| / allowed over a batch (below 1 passes): how close the run came to the tolerance.</summary>
    /// <summary>
    /// A plain relative error per sample, for deep networks where the element-wise bound (which adds every layer's worst
    /// case) is loose: the largest |actual - expected| over the largest |expected|, the worst over the samples.
    /// </summary>
    public static double RelativeToLargest(ReadOnlySpan<float> actual, IReadOnlyList<RefTensor> expected)
    {
        double worst = 0;
        int offset = 0;
        foreach (RefTensor sample in expected)
        {
            double largest = 0, difference = 0;
            for (int i = 0; i < sample.Length; i++)
            {
                largest = Math.Max(largest, Math.Abs(sample.Value[i]));
                difference = Math.Max(difference, Math.Abs(actual[offset + i] - sample.Value[i]));
            }
            worst = Math.Max(worst, largest == 0 ? difference : difference / largest);
            offset += sample.Length;
        }
        return worst;
    }

    public static double WorstRatio(ReadOnlySpan<float> actual, IReadOnlyList<RefTensor> expected)
    {
        double worst = 0;
        int offset = 0;
        foreach (RefTensor t in expected)
        {
            for (int i = 0; i < t.Length && offset + i < actual.Length; i++)
                worst = Math.Max(worst, Math.Abs(actual[offset + i] - t.Value[i]) / Allowed(t.Value[i], t.Scale[i]));
            offset += t.Length;
        }
        return worst;
    }

    private static string Position(RefTensor t, int i) =>
        t.Flat ? $"feature {i}" : $"c {i / (t.H * t.W)}, y {i / t.W % t.H}, x {i % t.W}";
}
