using System;
using System.Collections.Generic;

namespace Unroll.Tests.Reference;

/// <summary>
/// A gradient (dLoss/d of something) of one tensor, in C, H, W order (or canonical order for parameters), held in double,
/// with the bookkeeping a float32 result is judged by:
/// <see cref="Scale"/> is the magnitude float32 errors in the value are proportional to: the sum of the absolute terms,
/// each factor taken at its own error scale (so errors carried in from the forward pass and from later layers count),
/// Scale[i] &gt;= |Value[i]|.
/// <see cref="Slack"/> is an absolute allowance, zero except where the float computation may legitimately take another
/// branch than the reference: a ReLU-family pre-activation, or a max-pool window's runner-up, that lies within the
/// forward pass's own float error of the kink. There the gradient may differ by the whole branch's contribution, and
/// that allowance is carried on (in absolute values) through the rest of the backward pass.
/// </summary>
public sealed class RefGradient
{
    public RefGradient(int channels, int height, int width, bool flat = false)
    {
        C = channels;
        H = height;
        W = width;
        Flat = flat;
        Value = new double[channels * height * width];
        Scale = new double[Value.Length];
        Slack = new double[Value.Length];
    }

    public int C { get; }
    public int H { get; }
    public int W { get; }
    public bool Flat { get; }
    public double[] Value { get; }
    public double[] Scale { get; }
    public double[] Slack { get; }
    public int Length => Value.Length;

    public Shape Shape => Flat ? Shape.Flat(C) : new Shape(C, H, W);

    public int Index(int c, int y, int x) => (c * H + y) * W + x;

    /// <summary>A zero gradient shaped like <paramref name="t"/>.</summary>
    public static RefGradient Like(RefTensor t) => new(t.C, t.H, t.W, t.Flat);

    /// <summary>A flat zero gradient of <paramref name="length"/> values (parameter tensors, canonical order).</summary>
    public static RefGradient Vector(int length) => new(length, 1, 1, flat: true);

    /// <summary>An exact gradient (the loss's output gradient): scale |value|, no slack.</summary>
    public static RefGradient FromValues(ReadOnlySpan<double> values, Shape shape)
    {
        var g = new RefGradient(shape.Channels, shape.Height, shape.Width, shape.IsFlat);
        if (values.Length != g.Length)
            throw new ArgumentException($"Expected {g.Length} values for {shape}, got {values.Length}.");
        for (int i = 0; i < g.Length; i++)
        {
            g.Value[i] = values[i];
            g.Scale[i] = Math.Abs(values[i]);
        }
        return g;
    }

    /// <summary>Adds <paramref name="other"/> (value, scale and slack): summing a parameter gradient over the batch.</summary>
    public void Add(RefGradient other)
    {
        if (other.Length != Length)
            throw new ArgumentException($"Cannot add a gradient of {other.Length} values to one of {Length}.");
        for (int i = 0; i < Length; i++)
        {
            Value[i] += other.Value[i];
            Scale[i] += other.Scale[i];
            Slack[i] += other.Slack[i];
        }
    }

    /// <summary>max(|Value|, Scale): the magnitude a float error in the value is proportional to.</summary>
    public double ErrorScale(int i) => Math.Max(Math.Abs(Value[i]), Scale[i]);
}

/// <summary>The parameter and input gradients of a whole network over a batch, as <see cref="ReferenceBackward.Network"/> computes them.</summary>
public sealed class RefNetworkGradients
{
    public RefNetworkGradients(int layers, int batch)
    {
        Weights = new RefGradient?[layers];
        Bias = new RefGradient?[layers];
        Input = new RefGradient[batch];
    }

    /// <summary>Per layer, dLoss/dWeights in canonical order summed over the batch; null for layers without weights.</summary>
    public RefGradient?[] Weights { get; }

    /// <summary>Per layer, dLoss/dBias summed over the batch; null for layers without a bias.</summary>
    public RefGradient?[] Bias { get; }

    /// <summary>Per sample, dLoss/dInput in C, H, W order.</summary>
    public RefGradient[] Input { get; }

    /// <summary>The forward pass of each sample, as the reference ran it.</summary>
    public RefLayerTrace[][] Traces { get; internal set; } = Array.Empty<RefLayerTrace[]>();

    /// <summary>ReLU-family units whose pre-activation lay within the forward float error of 0 (their gradient got slack).</summary>
    public int AmbiguousActivations { get; internal set; }

    /// <summary>Max-pool windows whose runner-up lay within the forward float error of the maximum (their gradient got slack).</summary>
    public int AmbiguousWindows { get; internal set; }
}

/// <summary>
/// A plain, loop-by-loop backward pass of every Unroll operation in double, written from the declared semantics and
/// sharing no code with the generator: convolution (weight, bias and input gradients), max pooling (the gradient goes
/// to the first input equal to the window's maximum, scanning kh then kw, padded positions excluded), average pooling
/// (shared evenly, with the forward pass's divisor), dense layers, and the activations' derivatives taken at the
/// output y: ReLU [y &gt; 0], leaky ReLU y &gt; 0 ? 1 : alpha, tanh 1 - y², sigmoid y (1 - y), softmax y (dy - Σ dy y).
/// The forward activations come from <see cref="ReferenceOps.Trace"/>. Parameters are canonical ([O, I, KH, KW],
/// [O, C*H*W], [O]) and in double, so finite differences can perturb them by less than a float's resolution.
/// </summary>
public static class ReferenceBackward
{
    /// <summary>
    /// The float error bound of a forward value, as the forward suite establishes it (<see cref="Tolerance.Allowed"/>);
    /// zero for exact data (the network's input, which float holds exactly).
    /// </summary>
    private static double ForwardError(RefTensor t, int i, bool exact) => exact ? 0 : Tolerance.Allowed(t.Value[i], t.Scale[i]);

    /// <summary>max(|value|, scale) of a forward value: what its float error is proportional to.</summary>
    private static double ErrorScale(RefTensor t, int i) => Math.Max(Math.Abs(t.Value[i]), t.Scale[i]);

    /// <summary>
    /// dz = dy * f'(y) for the activation of a layer whose pre-activation is <paramref name="pre"/> and output
    /// <paramref name="y"/>. <paramref name="exactPre"/> says the pre-activation is the network's input data (a
    /// stand-alone activation first), which float holds exactly, so it can sit at no ambiguous distance from a kink.
    /// </summary>
    public static RefGradient Activate(RefTensor pre, RefTensor y, RefGradient dy, Activation activation, float alpha, bool exactPre, ref int ambiguous)
    {
        if (pre.Length != dy.Length || y.Length != dy.Length)
            throw new ArgumentException($"Activation backward: pre-activation {pre.Length}, output {y.Length}, gradient {dy.Length} values.");
        var dz = new RefGradient(dy.C, dy.H, dy.W, dy.Flat);
        int n = dy.Length;
        switch (activation)
        {
            case Unroll.Activation.None:
                Array.Copy(dy.Value, dz.Value, n);
                Array.Copy(dy.Scale, dz.Scale, n);
                Array.Copy(dy.Slack, dz.Slack, n);
                break;
            case Unroll.Activation.ReLU:
            case Unroll.Activation.LeakyReLU:
            {
                double a = activation == Unroll.Activation.ReLU ? 0 : alpha;
                for (int i = 0; i < n; i++)
                {
                    double derivative = pre.Value[i] > 0 ? 1 : a;
                    dz.Value[i] = dy.Value[i] * derivative;
                    // The float pass decides on its own y > 0; within its error of 0 either branch is right.
                    bool near = !exactPre && Math.Abs(pre.Value[i]) <= ForwardError(pre, i, false);
                    double bound = near ? Math.Max(1, Math.Abs(a)) : Math.Abs(derivative);
                    dz.Scale[i] = dy.ErrorScale(i) * bound;
                    dz.Slack[i] = dy.Slack[i] * bound;
                    if (near)
                    {
                        ambiguous++;
                        dz.Slack[i] += (dy.ErrorScale(i) + dy.Slack[i]) * Math.Abs(1 - a);
                    }
                }
                break;
            }
            case Unroll.Activation.Tanh:
                for (int i = 0; i < n; i++)
                {
                    double t = y.Value[i], derivative = 1 - t * t;
                    dz.Value[i] = dy.Value[i] * derivative;
                    // Error of f'(y_float): |d f'/dy| = 2|y| times y's own error.
                    dz.Scale[i] = dy.ErrorScale(i) * derivative + Math.Abs(dy.Value[i]) * 2 * Math.Abs(t) * ErrorScale(y, i);
                    dz.Slack[i] = dy.Slack[i] * derivative;
                }
                break;
            case Unroll.Activation.Sigmoid:
                for (int i = 0; i < n; i++)
                {
                    double s = y.Value[i], derivative = s * (1 - s);
                    dz.Value[i] = dy.Value[i] * derivative;
                    dz.Scale[i] = dy.ErrorScale(i) * derivative + Math.Abs(dy.Value[i]) * Math.Abs(1 - 2 * s) * ErrorScale(y, i);
                    dz.Slack[i] = dy.Slack[i] * derivative;
                }
                break;
            case Unroll.Activation.Softmax:
            {
                if (!dy.Flat)
                    throw new ArgumentException("Softmax backward needs a flat gradient.");
                double dot = 0, dotScale = 0, dotSlack = 0, yErrorTerms = 0;
                for (int j = 0; j < n; j++)
                {
                    dot += dy.Value[j] * y.Value[j];
                    dotScale += dy.ErrorScale(j) * y.Value[j];
                    dotSlack += dy.Slack[j] * y.Value[j];
                    yErrorTerms += Math.Abs(dy.Value[j]) * ErrorScale(y, j);
                }
                for (int i = 0; i < n; i++)
                {
                    double s = y.Value[i];
                    dz.Value[i] = s * (dy.Value[i] - dot);
                    // d dz_i = dy_i's and the dot's errors times y_i, plus y_i's error times (dy_i - dot), plus y_i times the dot's error from y.
                    dz.Scale[i] = s * (dy.ErrorScale(i) + dotScale) + ErrorScale(y, i) * Math.Abs(dy.Value[i] - dot) + s * yErrorTerms;
                    dz.Slack[i] = s * (dy.Slack[i] + dotSlack);
                }
                break;
            }
            default:
                throw new NotSupportedException($"Unknown activation {activation}.");
        }
        return dz;
    }

    /// <summary>
    /// Convolution backward for one sample: dW[o, i, a, b] = Σ dz[o, r, c] x[i, r s - pt + a, c s - pl + b],
    /// db[o] = Σ dz[o, r, c], dx[i, y, x] = Σ w[o, i, a, b] dz[o, r, c] over the taps that reach (y, x).
    /// </summary>
    public static (RefGradient Weights, RefGradient? Bias, RefGradient Input) Conv2D(RefTensor x, double[] weights, bool bias, RefGradient dz,
        int filters, int kh, int kw, int stride, int padTop, int padLeft)
    {
        if (weights.Length != filters * x.C * kh * kw)
            throw new ArgumentException($"Conv weights: expected {filters * x.C * kh * kw}, got {weights.Length}.");
        if (dz.C != filters)
            throw new ArgumentException($"Conv backward: {dz.C} gradient channels for {filters} filters.");
        var dw = RefGradient.Vector(weights.Length);
        RefGradient? db = bias ? RefGradient.Vector(filters) : null;
        var dx = RefGradient.Like(x);
        for (int o = 0; o < filters; o++)
            for (int r = 0; r < dz.H; r++)
                for (int c = 0; c < dz.W; c++)
                {
                    int at = dz.Index(o, r, c);
                    double g = dz.Value[at], gScale = dz.ErrorScale(at), gSlack = dz.Slack[at];
                    if (db is not null)
                    {
                        db.Value[o] += g;
                        db.Scale[o] += gScale;
                        db.Slack[o] += gSlack;
                    }
                    for (int i = 0; i < x.C; i++)
                        for (int a = 0; a < kh; a++)
                        {
                            int iy = r * stride - padTop + a;
                            if (iy < 0 || iy >= x.H)
                                continue; // zero padding: no input, no gradient
                            for (int b = 0; b < kw; b++)
                            {
                                int ix = c * stride - padLeft + b;
                                if (ix < 0 || ix >= x.W)
                                    continue;
                                int wi = ((o * x.C + i) * kh + a) * kw + b, xi = x.Index(i, iy, ix);
                                double w = weights[wi], xv = x.Value[xi], xScale = ErrorScale(x, xi);
                                dw.Value[wi] += g * xv;
                                dw.Scale[wi] += gScale * xScale;
                                dw.Slack[wi] += gSlack * xScale;
                                dx.Value[xi] += g * w;
                                dx.Scale[xi] += gScale * Math.Abs(w);
                                dx.Slack[xi] += gSlack * Math.Abs(w);
                            }
                        }
                }
        return (dw, db, dx);
    }

    /// <summary>
    /// Max-pool backward for one sample: each window's gradient goes to the first real input (scanning kh, then kw)
    /// equal to the window's maximum. <paramref name="exactInput"/> says <paramref name="x"/> is the network's input
    /// data, which float holds exactly (ties there resolve the same way in float).
    /// </summary>
    public static RefGradient MaxPool(RefTensor x, RefGradient dy, int size, int stride, int padTop, int padLeft, bool exactInput, ref int ambiguous)
    {
        var dx = RefGradient.Like(x);
        Span<int> near = stackalloc int[size * size];
        for (int ch = 0; ch < dy.C; ch++)
            for (int r = 0; r < dy.H; r++)
                for (int c = 0; c < dy.W; c++)
                {
                    int winner = -1;
                    for (int a = 0; a < size; a++)
                        for (int b = 0; b < size; b++)
                        {
                            int iy = r * stride - padTop + a, ix = c * stride - padLeft + b;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue; // padded positions never win
                            int at = x.Index(ch, iy, ix);
                            if (winner < 0 || x.Value[at] > x.Value[winner])
                                winner = at; // strictly greater: the first of equal values keeps the gradient
                        }
                    if (winner < 0)
                        throw new InvalidOperationException($"Max-pool window ({r}, {c}) holds no input pixel.");
                    int o = dy.Index(ch, r, c);
                    dx.Value[winner] += dy.Value[o];
                    dx.Scale[winner] += dy.ErrorScale(o);
                    dx.Slack[winner] += dy.Slack[o];
                    if (exactInput)
                        continue;
                    // Every input within the two values' float errors of the maximum may be the float pass's winner.
                    int count = 0;
                    for (int a = 0; a < size; a++)
                        for (int b = 0; b < size; b++)
                        {
                            int iy = r * stride - padTop + a, ix = c * stride - padLeft + b;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue;
                            int at = x.Index(ch, iy, ix);
                            if (x.Value[winner] - x.Value[at] <= ForwardError(x, winner, false) + ForwardError(x, at, false))
                                near[count++] = at;
                        }
                    if (count < 2)
                        continue;
                    ambiguous++;
                    for (int k = 0; k < count; k++)
                        dx.Slack[near[k]] += dy.ErrorScale(o) + dy.Slack[o];
                }
        return dx;
    }

    /// <summary>
    /// Average-pool backward for one sample: each window's gradient is shared evenly over its real inputs, divided by
    /// the forward pass's divisor (real pixels, or with <paramref name="countIncludePad"/> positions inside the padded input).
    /// </summary>
    public static RefGradient AvgPool(RefTensor x, RefGradient dy, int size, int stride, int padTop, int padLeft, int padBottom, int padRight, bool countIncludePad)
    {
        var dx = RefGradient.Like(x);
        for (int ch = 0; ch < dy.C; ch++)
            for (int r = 0; r < dy.H; r++)
                for (int c = 0; c < dy.W; c++)
                {
                    int real = 0, inPadded = 0;
                    for (int a = 0; a < size; a++)
                        for (int b = 0; b < size; b++)
                        {
                            int iy = r * stride - padTop + a, ix = c * stride - padLeft + b;
                            if (iy >= -padTop && iy < x.H + padBottom && ix >= -padLeft && ix < x.W + padRight)
                                inPadded++;
                            if (iy >= 0 && iy < x.H && ix >= 0 && ix < x.W)
                                real++;
                        }
                    int divisor = countIncludePad ? inPadded : real;
                    if (divisor == 0)
                        throw new InvalidOperationException($"Average-pool window ({r}, {c}) holds no input pixel.");
                    int o = dy.Index(ch, r, c);
                    double g = dy.Value[o] / divisor, gScale = dy.ErrorScale(o) / divisor, gSlack = dy.Slack[o] / divisor;
                    for (int a = 0; a < size; a++)
                        for (int b = 0; b < size; b++)
                        {
                            int iy = r * stride - padTop + a, ix = c * stride - padLeft + b;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue;
                            int at = x.Index(ch, iy, ix);
                            dx.Value[at] += g;
                            dx.Scale[at] += gScale;
                            dx.Slack[at] += gSlack;
                        }
                }
        return dx;
    }

    /// <summary>Dense backward for one sample (input flattened in C, H, W order): dW[o, k] = dz[o] x[k], db = dz, dx[k] = Σ w[o, k] dz[o].</summary>
    public static (RefGradient Weights, RefGradient? Bias, RefGradient Input) Dense(RefTensor x, double[] weights, bool bias, RefGradient dz, int units)
    {
        int n = x.Length;
        if (weights.Length != units * n)
            throw new ArgumentException($"Dense weights: expected {units * n}, got {weights.Length}.");
        if (dz.Length != units)
            throw new ArgumentException($"Dense backward: {dz.Length} gradient values for {units} units.");
        var dw = RefGradient.Vector(weights.Length);
        RefGradient? db = bias ? RefGradient.Vector(units) : null;
        var dx = RefGradient.Like(x);
        for (int o = 0; o < units; o++)
        {
            double g = dz.Value[o], gScale = dz.ErrorScale(o), gSlack = dz.Slack[o];
            if (db is not null)
            {
                db.Value[o] = g;
                db.Scale[o] = gScale;
                db.Slack[o] = gSlack;
            }
            for (int k = 0; k < n; k++)
            {
                double w = weights[o * n + k], xScale = ErrorScale(x, k);
                dw.Value[o * n + k] = g * x.Value[k];
                dw.Scale[o * n + k] = gScale * xScale;
                dw.Slack[o * n + k] = gSlack * xScale;
                dx.Value[k] += g * w;
                dx.Scale[k] += gScale * Math.Abs(w);
                dx.Slack[k] += gSlack * Math.Abs(w);
            }
        }
        return (dw, db, dx);
    }

    /// <summary>
    /// Forward (<see cref="ReferenceOps.Trace"/>) and backward over a batch: <paramref name="outputGradient"/>(n) is
    /// dLoss/dOutput of sample n in C, H, W order. Parameter gradients are summed over the batch; input gradients are
    /// per sample. With <paramref name="foldOutputSoftmax"/>, the output gradient is taken with respect to the final
    /// softmax's input and the softmax backward is skipped (cross-entropy folded into p - onehot).
    /// </summary>
    public static RefNetworkGradients Network(IReadOnlyList<RefLayer> layers, Shape inputShape, IReadOnlyList<(double[]? Weights, double[]? Bias)> parameters,
        IReadOnlyList<RefTensor> inputs, Func<int, double[]> outputGradient, bool foldOutputSoftmax = false)
    {
        if (layers.Count == 0)
            throw new ArgumentException("No layers.");
        if (foldOutputSoftmax && layers[^1].Activation != Unroll.Activation.Softmax)
            throw new InvalidOperationException("The network does not end in a softmax, so there is no softmax backward to fold.");
        int batch = inputs.Count;
        var result = new RefNetworkGradients(layers.Count, batch) { Traces = new RefLayerTrace[batch][] };
        int ambiguousActivations = 0, ambiguousWindows = 0;
        for (int n = 0; n < batch; n++)
        {
            if (inputs[n].Shape != inputShape)
                throw new ArgumentException($"Sample {n} is {inputs[n].Shape}, the network takes {inputShape}.");
            RefLayerTrace[] trace = ReferenceOps.Trace(layers, inputs[n], parameters);
            result.Traces[n] = trace;
            RefGradient g = RefGradient.FromValues(outputGradient(n), trace[^1].Output.Shape);
            for (int i = layers.Count - 1; i >= 0; i--)
            {
                RefLayer layer = layers[i];
                RefLayerTrace t = trace[i];
                bool exactInput = i == 0; // the network's input is float data, held exactly
                if (layer.Activation != Unroll.Activation.None && !(foldOutputSoftmax && i == layers.Count - 1))
                    g = Activate(t.Pre, t.Output, g, layer.Activation, layer.Alpha, exactPre: exactInput && layer.Op == RefOp.Activation, ref ambiguousActivations);
                (double[]? w, double[]? b) = parameters[i];
                switch (layer.Op)
                {
                    case RefOp.Conv:
                    {
                        var (dw, db, dx) = Conv2D(t.Input, w ?? throw new ArgumentException($"Layer {i} has no weights."), layer.Bias, g,
                            layer.Units, layer.KernelH, layer.KernelW, layer.Stride, layer.PadTop, layer.PadLeft);
                        Accumulate(result, i, dw, db);
                        g = dx;
                        break;
                    }
                    case RefOp.Dense:
                    {
                        var (dw, db, dx) = Dense(t.Input, w ?? throw new ArgumentException($"Layer {i} has no weights."), layer.Bias, g, layer.Units);
                        Accumulate(result, i, dw, db);
                        g = dx;
                        break;
                    }
                    case RefOp.MaxPool:
                        g = MaxPool(t.Input, g, layer.KernelH, layer.Stride, layer.PadTop, layer.PadLeft, exactInput, ref ambiguousWindows);
                        break;
                    case RefOp.AvgPool:
                        g = AvgPool(t.Input, g, layer.KernelH, layer.Stride, layer.PadTop, layer.PadLeft, layer.PadBottom, layer.PadRight, layer.CountIncludePad);
                        break;
                    default:
                        break; // a stand-alone activation: its derivative is applied above, the operation is the identity
                }
            }
            result.Input[n] = g;
        }
        result.AmbiguousActivations = ambiguousActivations;
        result.AmbiguousWindows = ambiguousWindows;
        return result;
    }

    /// <summary>Float data and float parameters, as the tests feed the generated network.</summary>
    public static RefNetworkGradients Network(IReadOnlyList<RefLayer> layers, Shape inputShape, IReadOnlyList<(float[]? Weights, float[]? Bias)> parameters,
        ReadOnlySpan<float> input, int batch, ReadOnlySpan<float> outputGradient, bool foldOutputSoftmax = false)
    {
        int length = inputShape.Length;
        if (input.Length != batch * length)
            throw new ArgumentException($"Input: expected {batch * length} values, got {input.Length}.");
        if (batch == 0 || outputGradient.Length % batch != 0)
            throw new ArgumentException($"Output gradient: {outputGradient.Length} values do not split into {batch} samples.");
        var inputs = new RefTensor[batch];
        for (int n = 0; n < batch; n++)
            inputs[n] = RefTensor.FromData(input.Slice(n * length, length), inputShape);
        int outputLength = outputGradient.Length / batch;
        double[] dy = new double[outputGradient.Length];
        for (int i = 0; i < dy.Length; i++)
            dy[i] = outputGradient[i];
        return Network(layers, inputShape, ReferenceOps.ToDouble(parameters), inputs, n => dy.AsSpan(n * outputLength, outputLength).ToArray(), foldOutputSoftmax);
    }

    private static void Accumulate(RefNetworkGradients result, int layer, RefGradient dw, RefGradient? db)
    {
        if (result.Weights[layer] is { } w)
            w.Add(dw);
        else
            result.Weights[layer] = dw;
        if (db is null)
            return;
        if (result.Bias[layer] is { } b)
            b.Add(db);
        else
            result.Bias[layer] = db;
    }
}

/// <summary>
/// The comparison rule for gradients, the forward rule (<see cref="Tolerance"/>) carried through the backward pass:
/// |unroll - ref| &lt;= 1e-5 * max(|ref|, scale) + slack + 1e-6. The scale is the sum of the absolute terms with every
/// factor at its own error scale, so it bounds float32 accumulation (unit roundoff 6e-8; the longest chains here are a
/// few thousand terms split over up to four partial sums, whose random-walk error stays below ~3e-6 of the scale) plus
/// the errors carried in from the forward values (at most 1e-5 of their scale) and from the later layers' gradients.
/// The slack is non-zero only at kinks the float forward pass may resolve the other way (see <see cref="RefGradient"/>).
/// </summary>
public static class GradientTolerance
{
    public const double Relative = 1e-5;
    public const double Absolute = 1e-6;

    public static double Allowed(RefGradient g, int i) => Relative * g.ErrorScale(i) + g.Slack[i] + Absolute;

    public static bool Within(float actual, RefGradient g, int i) =>
        float.IsFinite(actual) && Math.Abs(actual - g.Value[i]) <= Allowed(g, i);

    /// <summary>|actual - ref| / allowed, the margin a value kept (below 1 passes; NaN counts as infinitely bad).</summary>
    public static double Ratio(float actual, RefGradient g, int i) =>
        float.IsFinite(actual) ? Math.Abs(actual - g.Value[i]) / Allowed(g, i) : double.PositiveInfinity;

    /// <summary>
    /// Compares <paramref name="actual"/> (same order as <paramref name="expected"/>) value by value. Returns the number of
    /// mismatches, adds the first <paramref name="limit"/> to <paramref name="lines"/> (prefixed by <paramref name="what"/>),
    /// and raises <paramref name="worst"/> to the largest ratio seen.
    /// </summary>
    public static int Compare(string what, ReadOnlySpan<float> actual, RefGradient expected, List<string> lines, ref double worst, int limit = 5)
    {
        if (actual.Length != expected.Length)
        {
            lines.Add($"{what}: {actual.Length} values, the reference has {expected.Length}");
            return 1;
        }
        int bad = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double ratio = Ratio(actual[i], expected, i);
            worst = Math.Max(worst, ratio);
            if (ratio <= 1)
                continue;
            if (bad++ < limit)
                lines.Add(FormattableString.Invariant(
                    $"{what}[{i}]: unroll {actual[i]:R}, reference {expected.Value[i]:R}, |diff| {Math.Abs(actual[i] - expected.Value[i]):G3} > allowed {Allowed(expected, i):G3} (scale {expected.Scale[i]:G4}, slack {expected.Slack[i]:G3})"));
        }
        return bad;
    }
}
