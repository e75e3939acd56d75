using System;
using System.Collections.Generic;
using System.Linq;

namespace Unroll.Tests.Reference;

/// <summary>
/// A gradient (dLoss/d of something) of one tensor, in C, H, W order (or canonical order for parameters), held in double,
/// with the bookkeeping a float32 result is judged by (see <see cref="GradientTolerance"/>):
/// <see cref="Local"/>, the sum of the absolute terms of the value's own sums and products (float32 rounding in
/// computing it is a small multiple of the unit roundoff times this); <see cref="PropagatedSquared"/>, the squares of
/// the errors carried in from the factors (forward values and later layers' gradients, each at its own error scale),
/// which are independent roundings and add like a random walk; and <see cref="Slack"/>, an absolute allowance, zero
/// except where the float pass may legitimately take another branch than the reference: a ReLU-family pre-activation,
/// or a max-pool window's runner-up, within the forward pass's own float error of the kink. There the gradient may
/// differ by the whole branch's contribution, and that allowance is carried on in absolute values.
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
        Local = new double[Value.Length];
        PropagatedSquared = new double[Value.Length];
        Slack = new double[Value.Length];
    }

    public int C { get; }
    public int H { get; }
    public int W { get; }
    public bool Flat { get; }
    public double[] Value { get; }
    public double[] Local { get; }
    public double[] PropagatedSquared { get; }
    public double[] Slack { get; }
    public int Length => Value.Length;

    public Shape Shape => Flat ? Shape.Flat(C) : new Shape(C, H, W);

    public int Index(int c, int y, int x) => (c * H + y) * W + x;

    /// <summary>The value's error scale: its float error is expected within a small multiple of the unit roundoff times this.</summary>
    public double Error(int i) => Local[i] + Math.Sqrt(PropagatedSquared[i]);

    /// <summary>max(|Value|, <see cref="Error"/>): what the tolerance is relative to.</summary>
    public double ErrorScale(int i) => Math.Max(Math.Abs(Value[i]), Error(i));

    /// <summary>A zero gradient shaped like <paramref name="t"/>.</summary>
    public static RefGradient Like(RefTensor t) => new(t.C, t.H, t.W, t.Flat);

    /// <summary>A flat zero gradient of <paramref name="length"/> values (parameter tensors, canonical order).</summary>
    public static RefGradient Vector(int length) => new(length, 1, 1, flat: true);

    /// <summary>An exact gradient (the loss's output gradient, float data): no error, no slack.</summary>
    public static RefGradient FromValues(ReadOnlySpan<double> values, Shape shape)
    {
        var g = new RefGradient(shape.Channels, shape.Height, shape.Width, shape.IsFlat);
        if (values.Length != g.Length)
            throw new ArgumentException($"Expected {g.Length} values for {shape}, got {values.Length}.");
        values.CopyTo(g.Value);
        return g;
    }

    /// <summary>
    /// Adds <paramref name="other"/>: summing a parameter gradient over the batch, or the shares of a tensor read by several
    /// layers (local terms add, carried errors add in quadrature, slack adds).
    /// </summary>
    public void Add(RefGradient other)
    {
        if (other.Length != Length)
            throw new ArgumentException($"Cannot add a gradient of {other.Length} values to one of {Length}.");
        for (int i = 0; i < Length; i++)
        {
            Value[i] += other.Value[i];
            Local[i] += other.Local[i];
            PropagatedSquared[i] += other.PropagatedSquared[i];
            Slack[i] += other.Slack[i];
        }
    }

    /// <summary>One term a * b of a sum: its magnitude is local, and each factor's error times the other factor is carried in.</summary>
    internal void AddProduct(int i, double a, double aError, double b, double bError)
    {
        Value[i] += a * b;
        Local[i] += Math.Abs(a * b);
        PropagatedSquared[i] += a * bError * (a * bError) + b * aError * (b * aError);
    }
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

    /// <summary>Per layer, dLoss/dWeights in canonical order summed over the batch (zero for a layer whose output never reaches the network's); null for layers without weights.</summary>
    public RefGradient?[] Weights { get; }

    /// <summary>Per layer, dLoss/dBias summed over the batch (zero for a layer whose output never reaches the network's); null for layers without a bias.</summary>
    public RefGradient?[] Bias { get; }

    /// <summary>Per sample, dLoss/dInput in C, H, W order: the sum over every layer that reads the network's input.</summary>
    public RefGradient[] Input { get; }

    /// <summary>ReLU-family units whose pre-activation lay within the forward float error of 0, or clip units within it of a bound (their gradient got slack).</summary>
    public int AmbiguousActivations { get; internal set; }

    /// <summary>Max-pool windows whose runner-up lay within the forward float error of the maximum (their gradient got slack).</summary>
    public int AmbiguousWindows { get; internal set; }
}

/// <summary>The forward float error scales of one layer of one sample: the tensors it read (in order), its pre-activation and its output.</summary>
public sealed record RefLayerErrors(IReadOnlyList<double[]> Inputs, double[] Pre, double[] Output)
{
    /// <summary>The error scales of the first (for every layer but a merge, the only) tensor the layer read.</summary>
    public double[] Input => Inputs[0];
}

/// <summary>
/// A plain, loop-by-loop backward pass of every Unroll operation in double, written from the declared semantics and
/// sharing no code with the generator: convolution (weight, bias and input gradients), max pooling (the gradient goes
/// to the first input equal to the window's maximum, scanning kh then kw, padded positions excluded), average pooling
/// (shared evenly, with the forward pass's divisor), dense layers, and the activations' derivatives taken at the
/// output y: ReLU [y &gt; 0], leaky ReLU y &gt; 0 ? 1 : alpha, clip [min &lt; y &lt; max], tanh 1 - y², sigmoid y (1 - y),
/// softmax y (dy - Σ dy y).
/// The forward activations come from <see cref="ReferenceOps.Trace"/>. Parameters are canonical ([O, I, KH, KW],
/// [O, C*H*W], [O]) and in double, so finite differences can perturb them by less than a float's resolution.
/// <para>
/// Beside the values it tracks error scales, the same way for the forward values (<see cref="ForwardErrors"/>) and the
/// gradients (<see cref="RefGradient"/>): a value's own rounding is bounded by the sum of its absolute terms; errors
/// carried in from its inputs, independent roundings of different values, add in quadrature. (The forward suite's
/// <see cref="RefTensor.Scale"/> adds them linearly, a worst case that compounds by the fan-in at every layer: for
/// LeNet-5's output it exceeds the value a hundred-thousand-fold, too loose to judge a deep backward pass by.)
/// An exactly held value (float input data, an empty sum, a ReLU output of a surely negative input) has error 0.
/// </para>
/// </summary>
public static class ReferenceBackward
{
    /// <summary>
    /// The float error bound of a forward value with error scale <paramref name="error"/>, with the forward suite's
    /// constants (<see cref="Tolerance.Allowed"/>); zero for an exactly held value.
    /// </summary>
    public static double ForwardBound(double value, double error) => error == 0 ? 0 : Tolerance.Allowed(value, error);

    private static double ErrorAt(double[]? errors, int i) => errors is null ? 0 : errors[i];

    // ---------------------------------------------------------------- forward error scales

    /// <summary>
    /// The forward float error scales of every layer of one sample's trace (the network's input, which layer 0 reads, is
    /// exact). A sum's local part is its absolute terms and its carried part the quadrature of its terms' errors; a
    /// concatenation carries its inputs' errors unchanged; a global mean is a rounded sum, divided.
    /// </summary>
    public static RefLayerErrors[] ForwardErrors(IReadOnlyList<RefLayer> layers, RefLayerTrace[] trace, IReadOnlyList<(double[]? Weights, double[]? Bias)> parameters)
    {
        var result = new RefLayerErrors[layers.Count];
        double[] networkInput = new double[trace[0].Input.Length];
        for (int l = 0; l < layers.Count; l++)
        {
            RefLayer layer = layers[l];
            RefLayerTrace t = trace[l];
            double[][] inputs = layer.Sources(l).Select(j => j == RefLayer.NetworkInput ? networkInput : result[j].Output).ToArray();
            double[] input = inputs[0];
            double[] pre = layer.Op switch
            {
                RefOp.Conv => ConvErrors(t.Input, input, parameters[l].Weights!, layer.Bias ? parameters[l].Bias : null, layer, t.Pre),
                RefOp.Dense => DenseErrors(t.Input, input, parameters[l].Weights!, layer.Bias ? parameters[l].Bias : null, t.Pre),
                RefOp.MaxPool or RefOp.AvgPool => PoolErrors(t.Input, input, layer, t.Pre),
                RefOp.Add => SumErrors(t.Inputs, inputs),
                RefOp.Concat => inputs.SelectMany(e => e).ToArray(), // C, H, W order: each input's channels are one block
                RefOp.GlobalAvgPool => GlobalAvgPoolErrors(t.Input, input),
                _ => (double[])input.Clone(),
            };
            double[] output = layer.Activation == Unroll.Activation.None ? pre : ActivationErrors(t.Pre, pre, t.Output, layer.Activation, layer.Alpha, layer.ClipMin, layer.ClipMax);
            result[l] = new RefLayerErrors(inputs, pre, output);
        }
        return result;
    }

    private static double[] SumErrors(IReadOnlyList<RefTensor> xs, IReadOnlyList<double[]> pxs)
    {
        double[] e = new double[xs[0].Length];
        for (int i = 0; i < e.Length; i++)
        {
            double local = 0, squared = 0;
            for (int k = 0; k < xs.Count; k++)
            {
                local += Math.Abs(xs[k].Value[i]);
                squared += pxs[k][i] * pxs[k][i];
            }
            e[i] = local + Math.Sqrt(squared);
        }
        return e;
    }

    private static double[] GlobalAvgPoolErrors(RefTensor x, double[] px)
    {
        int positions = x.H * x.W;
        double[] e = new double[x.C];
        for (int ch = 0; ch < x.C; ch++)
        {
            double local = 0, squared = 0;
            for (int at = ch * positions; at < (ch + 1) * positions; at++)
            {
                local += Math.Abs(x.Value[at]);
                squared += px[at] * px[at];
            }
            e[ch] = (local + Math.Sqrt(squared)) / positions;
        }
        return e;
    }

    private static double[] ConvErrors(RefTensor x, double[] px, double[] weights, double[]? bias, RefLayer l, RefTensor y)
    {
        double[] e = new double[y.Length];
        for (int o = 0; o < y.C; o++)
            for (int r = 0; r < y.H; r++)
                for (int c = 0; c < y.W; c++)
                {
                    double local = bias is null ? 0 : Math.Abs(bias[o]), squared = 0;
                    for (int i = 0; i < x.C; i++)
                        for (int a = 0; a < l.KernelH; a++)
                        {
                            int iy = r * l.Stride - l.PadTop + a;
                            if (iy < 0 || iy >= x.H)
                                continue;
                            for (int b = 0; b < l.KernelW; b++)
                            {
                                int ix = c * l.Stride - l.PadLeft + b;
                                if (ix < 0 || ix >= x.W)
                                    continue;
                                double w = weights[((o * x.C + i) * l.KernelH + a) * l.KernelW + b];
                                int at = x.Index(i, iy, ix);
                                local += Math.Abs(w * x.Value[at]);
                                squared += w * px[at] * (w * px[at]);
                            }
                        }
                    e[y.Index(o, r, c)] = local + Math.Sqrt(squared);
                }
        return e;
    }

    private static double[] DenseErrors(RefTensor x, double[] px, double[] weights, double[]? bias, RefTensor y)
    {
        double[] e = new double[y.Length];
        int n = x.Length;
        for (int o = 0; o < y.Length; o++)
        {
            double local = bias is null ? 0 : Math.Abs(bias[o]), squared = 0;
            for (int k = 0; k < n; k++)
            {
                double w = weights[o * n + k];
                local += Math.Abs(w * x.Value[k]);
                squared += w * px[k] * (w * px[k]);
            }
            e[o] = local + Math.Sqrt(squared);
        }
        return e;
    }

    private static double[] PoolErrors(RefTensor x, double[] px, RefLayer l, RefTensor y)
    {
        double[] e = new double[y.Length];
        for (int ch = 0; ch < y.C; ch++)
            for (int r = 0; r < y.H; r++)
                for (int c = 0; c < y.W; c++)
                {
                    double largest = 0, local = 0, squared = 0;
                    for (int a = 0; a < l.KernelH; a++)
                        for (int b = 0; b < l.KernelW; b++)
                        {
                            int iy = r * l.Stride - l.PadTop + a, ix = c * l.Stride - l.PadLeft + b;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue;
                            int at = x.Index(ch, iy, ix);
                            largest = Math.Max(largest, px[at]);
                            local += Math.Abs(x.Value[at]);
                            squared += px[at] * px[at];
                        }
                    int o = y.Index(ch, r, c);
                    // A maximum is one of its inputs (any of them, where they are close); a mean is a rounded sum, divided.
                    e[o] = l.Op == RefOp.MaxPool ? largest : (local + Math.Sqrt(squared)) / Divisor(x, l, r, c);
                }
        return e;
    }

    private static int Divisor(RefTensor x, RefLayer l, int r, int c)
    {
        int real = 0, inPadded = 0;
        for (int a = 0; a < l.KernelH; a++)
            for (int b = 0; b < l.KernelW; b++)
            {
                int iy = r * l.Stride - l.PadTop + a, ix = c * l.Stride - l.PadLeft + b;
                if (iy >= -l.PadTop && iy < x.H + l.PadBottom && ix >= -l.PadLeft && ix < x.W + l.PadRight)
                    inPadded++;
                if (iy >= 0 && iy < x.H && ix >= 0 && ix < x.W)
                    real++;
            }
        int divisor = l.CountIncludePad ? inPadded : real;
        return divisor > 0 ? divisor : throw new InvalidOperationException($"Pool window ({r}, {c}) holds no input pixel.");
    }

    private static double[] ActivationErrors(RefTensor pre, double[] ppre, RefTensor y, Activation activation, float alpha, float clipMin, float clipMax)
    {
        int n = y.Length;
        double[] e = new double[n];
        switch (activation)
        {
            case Unroll.Activation.ReLU:
                for (int i = 0; i < n; i++) // a surely negative input gives exactly 0
                    e[i] = pre.Value[i] < -ForwardBound(pre.Value[i], ppre[i]) ? 0 : ppre[i];
                break;
            case Unroll.Activation.LeakyReLU:
                for (int i = 0; i < n; i++) // alpha * x is rounded once
                    e[i] = pre.Value[i] > 0 ? ppre[i] : Math.Max(1, Math.Abs(alpha)) * ppre[i] + Math.Abs(y.Value[i]);
                break;
            case Unroll.Activation.Clip:
                for (int i = 0; i < n; i++) // an input surely outside the bounds gives the bound, exactly
                {
                    double bound = ForwardBound(pre.Value[i], ppre[i]);
                    e[i] = pre.Value[i] < clipMin - bound || pre.Value[i] > clipMax + bound ? 0 : ppre[i];
                }
                break;
            case Unroll.Activation.Tanh:
                for (int i = 0; i < n; i++) // MathF.Tanh is within a few ulps
                    e[i] = (1 - y.Value[i] * y.Value[i]) * ppre[i] + Math.Abs(y.Value[i]);
                break;
            case Unroll.Activation.Sigmoid:
                for (int i = 0; i < n; i++)
                    e[i] = y.Value[i] * (1 - y.Value[i]) * ppre[i] + Math.Abs(y.Value[i]);
                break;
            case Unroll.Activation.Softmax:
            {
                // d y_i = y_i (d x_i - Σ y_j d x_j); exp(x_i - max) is off by the rounding of its argument, |x_i - max| ulps.
                double max = double.NegativeInfinity, mean = 0;
                for (int i = 0; i < n; i++)
                    max = Math.Max(max, pre.Value[i]);
                for (int j = 0; j < n; j++)
                    mean += y.Value[j] * ppre[j];
                for (int i = 0; i < n; i++)
                    e[i] = y.Value[i] * (ppre[i] + mean + 2 + Math.Abs(pre.Value[i] - max));
                break;
            }
            default:
                throw new NotSupportedException($"No error model for {activation}.");
        }
        return e;
    }

    // ---------------------------------------------------------------- backward operations

    /// <summary>
    /// dz = dy * f'(y) for the activation of a layer whose pre-activation is <paramref name="pre"/> (forward error
    /// scales <paramref name="preErrors"/>, null: exact) and output <paramref name="y"/> (<paramref name="yErrors"/>).
    /// </summary>
    public static RefGradient Activate(RefTensor pre, double[]? preErrors, RefTensor y, double[]? yErrors, RefGradient dy, Activation activation, float alpha, ref int ambiguous,
        float clipMin = float.NegativeInfinity, float clipMax = float.PositiveInfinity)
    {
        if (pre.Length != dy.Length || y.Length != dy.Length)
            throw new ArgumentException($"Activation backward: pre-activation {pre.Length}, output {y.Length}, gradient {dy.Length} values.");
        var dz = new RefGradient(dy.C, dy.H, dy.W, dy.Flat);
        int n = dy.Length;
        void Scaled(int i, double derivative, double bound, double derivativeError)
        {
            dz.Value[i] = dy.Value[i] * derivative;
            dz.Local[i] = Math.Abs(dz.Value[i]);
            double carried = bound * dy.Error(i), fromY = Math.Abs(dy.Value[i]) * derivativeError;
            dz.PropagatedSquared[i] = carried * carried + fromY * fromY;
            dz.Slack[i] = dy.Slack[i] * bound;
        }
        switch (activation)
        {
            case Unroll.Activation.None:
                for (int i = 0; i < n; i++)
                {
                    dz.Value[i] = dy.Value[i];
                    dz.Local[i] = dy.Local[i];
                    dz.PropagatedSquared[i] = dy.PropagatedSquared[i];
                    dz.Slack[i] = dy.Slack[i];
                }
                break;
            case Unroll.Activation.ReLU:
            case Unroll.Activation.LeakyReLU:
            {
                double a = activation == Unroll.Activation.ReLU ? 0 : alpha;
                for (int i = 0; i < n; i++)
                {
                    // The float pass decides on its own y > 0; within its error of 0 either branch is right.
                    double bound = ForwardBound(pre.Value[i], ErrorAt(preErrors, i));
                    bool near = bound > 0 && Math.Abs(pre.Value[i]) <= bound;
                    double derivative = pre.Value[i] > 0 ? 1 : a;
                    Scaled(i, derivative, near ? Math.Max(1, Math.Abs(a)) : Math.Abs(derivative), 0);
                    if (near)
                    {
                        ambiguous++;
                        dz.Slack[i] += (Math.Abs(dy.Value[i]) + GradientTolerance.Relative * dy.Error(i) + dy.Slack[i]) * Math.Abs(1 - a);
                    }
                }
                break;
            }
            case Unroll.Activation.Clip:
                for (int i = 0; i < n; i++)
                {
                    // 1 strictly inside the bounds, 0 outside and at them (as the ReLU at 0); within the float pass's error
                    // of a bound either is right.
                    double bound = ForwardBound(pre.Value[i], ErrorAt(preErrors, i));
                    bool near = bound > 0 && (Math.Abs(pre.Value[i] - clipMin) <= bound || Math.Abs(pre.Value[i] - clipMax) <= bound);
                    double derivative = pre.Value[i] > clipMin && pre.Value[i] < clipMax ? 1 : 0;
                    Scaled(i, derivative, near ? 1 : derivative, 0);
                    if (near)
                    {
                        ambiguous++;
                        dz.Slack[i] += Math.Abs(dy.Value[i]) + GradientTolerance.Relative * dy.Error(i) + dy.Slack[i];
                    }
                }
                break;
            case Unroll.Activation.Tanh:
                for (int i = 0; i < n; i++) // d(1 - y²)/dy = -2y, times y's own error
                    Scaled(i, 1 - y.Value[i] * y.Value[i], 1 - y.Value[i] * y.Value[i], 2 * Math.Abs(y.Value[i]) * ErrorAt(yErrors, i));
                break;
            case Unroll.Activation.Sigmoid:
                for (int i = 0; i < n; i++) // d(y (1 - y))/dy = 1 - 2y
                    Scaled(i, y.Value[i] * (1 - y.Value[i]), y.Value[i] * (1 - y.Value[i]), Math.Abs(1 - 2 * y.Value[i]) * ErrorAt(yErrors, i));
                break;
            case Unroll.Activation.Softmax:
            {
                if (dy.H * dy.W != 1)
                    throw new ArgumentException("Softmax backward needs a flat (or C x 1 x 1) gradient.");
                double dot = 0, dotLocal = 0, dotFromDySquared = 0, dotFromYSquared = 0, dotSlack = 0;
                for (int j = 0; j < n; j++)
                {
                    double s = y.Value[j], yError = ErrorAt(yErrors, j);
                    dot += dy.Value[j] * s;
                    dotLocal += Math.Abs(dy.Value[j] * s);
                    dotFromDySquared += s * dy.Error(j) * (s * dy.Error(j));
                    dotFromYSquared += dy.Value[j] * yError * (dy.Value[j] * yError);
                    dotSlack += dy.Slack[j] * s;
                }
                for (int i = 0; i < n; i++)
                {
                    double s = y.Value[i], difference = dy.Value[i] - dot;
                    dz.Value[i] = s * difference;
                    dz.Local[i] = s * (Math.Abs(dy.Value[i]) + dotLocal);
                    double fromDy = s * dy.Error(i), fromY = ErrorAt(yErrors, i) * difference;
                    dz.PropagatedSquared[i] = fromDy * fromDy + s * s * (dotFromDySquared + dotFromYSquared) + fromY * fromY;
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
    /// <paramref name="xErrors"/> are the input's forward error scales (null: exact).
    /// </summary>
    public static (RefGradient Weights, RefGradient? Bias, RefGradient Input) Conv2D(RefTensor x, double[]? xErrors, double[] weights, bool bias, RefGradient dz,
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
                    double g = dz.Value[at], gError = dz.Error(at), gSlack = dz.Slack[at];
                    if (db is not null)
                    {
                        db.AddProduct(o, g, gError, 1, 0);
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
                                double w = weights[wi], xv = x.Value[xi];
                                dw.AddProduct(wi, g, gError, xv, ErrorAt(xErrors, xi));
                                dw.Slack[wi] += gSlack * (Math.Abs(xv) + GradientTolerance.Relative * ErrorAt(xErrors, xi));
                                dx.AddProduct(xi, g, gError, w, 0);
                                dx.Slack[xi] += gSlack * Math.Abs(w);
                            }
                        }
                }
        return (dw, db, dx);
    }

    /// <summary>
    /// Max-pool backward for one sample: each window's gradient goes to the first real input (scanning kh, then kw)
    /// equal to the window's maximum. <paramref name="xErrors"/> are the input's forward error scales (null: exact);
    /// inputs within float error of the maximum could be the float pass's winner, and get slack.
    /// </summary>
    public static RefGradient MaxPool(RefTensor x, double[]? xErrors, RefGradient dy, int size, int stride, int padTop, int padLeft, ref int ambiguous)
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
                    dx.AddProduct(winner, dy.Value[o], dy.Error(o), 1, 0); // overlapping windows add into the same input
                    dx.Slack[winner] += dy.Slack[o];
                    double winnerBound = ForwardBound(x.Value[winner], ErrorAt(xErrors, winner));
                    int count = 0;
                    for (int a = 0; a < size; a++)
                        for (int b = 0; b < size; b++)
                        {
                            int iy = r * stride - padTop + a, ix = c * stride - padLeft + b;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue;
                            int at = x.Index(ch, iy, ix);
                            double bound = winnerBound + ForwardBound(x.Value[at], ErrorAt(xErrors, at));
                            // Exactly held equal values tie the same way in float; anything within the errors may not.
                            if (at == winner || (bound > 0 && x.Value[winner] - x.Value[at] <= bound))
                                near[count++] = at;
                        }
                    if (count < 2)
                        continue;
                    ambiguous++;
                    for (int k = 0; k < count; k++)
                        dx.Slack[near[k]] += Math.Abs(dy.Value[o]) + GradientTolerance.Relative * dy.Error(o) + dy.Slack[o];
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
        var layer = new RefLayer(RefOp.AvgPool, KernelH: size, KernelW: size, Stride: stride, PadTop: padTop, PadLeft: padLeft,
            PadBottom: padBottom, PadRight: padRight, CountIncludePad: countIncludePad);
        for (int ch = 0; ch < dy.C; ch++)
            for (int r = 0; r < dy.H; r++)
                for (int c = 0; c < dy.W; c++)
                {
                    int o = dy.Index(ch, r, c);
                    double share = 1.0 / Divisor(x, layer, r, c);
                    for (int a = 0; a < size; a++)
                        for (int b = 0; b < size; b++)
                        {
                            int iy = r * stride - padTop + a, ix = c * stride - padLeft + b;
                            if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                continue;
                            int at = x.Index(ch, iy, ix);
                            dx.AddProduct(at, dy.Value[o], dy.Error(o), share, 0);
                            dx.Slack[at] += dy.Slack[o] * share;
                        }
                }
        return dx;
    }

    /// <summary>
    /// Global average pooling backward for one sample: dx[c, h, w] = dy[c] / (H W), every position of a channel sharing
    /// its gradient evenly, as a window of the whole input would.
    /// </summary>
    public static RefGradient GlobalAvgPool(RefTensor x, RefGradient dy)
    {
        if (dy.Length != x.C)
            throw new ArgumentException($"Global average pool backward: {dy.Length} gradient values for {x.C} channels.");
        var dx = RefGradient.Like(x);
        int positions = x.H * x.W;
        for (int ch = 0; ch < x.C; ch++)
            for (int at = ch * positions; at < (ch + 1) * positions; at++)
            {
                dx.AddProduct(at, dy.Value[ch], dy.Error(ch), 1.0 / positions, 0);
                dx.Slack[at] = dy.Slack[ch] / positions;
            }
        return dx;
    }

    /// <summary>
    /// Concatenation backward for one sample: input k gets its own channels of <paramref name="dy"/> (those after the
    /// channels of inputs 0 to k - 1), copied with their error scales and slack unchanged. (A sum's inputs each get all
    /// of dy: no operation of its own.)
    /// </summary>
    public static RefGradient[] Concat(IReadOnlyList<RefTensor> xs, RefGradient dy)
    {
        var dxs = new RefGradient[xs.Count];
        int offset = 0;
        for (int k = 0; k < xs.Count; k++)
        {
            RefGradient dx = dxs[k] = RefGradient.Like(xs[k]);
            if (offset + dx.Length > dy.Length)
                throw new ArgumentException($"Concat backward: {dy.Length} gradient values for inputs of more.");
            // C, H, W order: each input's channels are one contiguous block of the output.
            Array.Copy(dy.Value, offset, dx.Value, 0, dx.Length);
            Array.Copy(dy.Local, offset, dx.Local, 0, dx.Length);
            Array.Copy(dy.PropagatedSquared, offset, dx.PropagatedSquared, 0, dx.Length);
            Array.Copy(dy.Slack, offset, dx.Slack, 0, dx.Length);
            offset += dx.Length;
        }
        if (offset != dy.Length)
            throw new ArgumentException($"Concat backward: {dy.Length} gradient values for inputs of {offset}.");
        return dxs;
    }

    /// <summary>
    /// Dense backward for one sample (input flattened in C, H, W order): dW[o, k] = dz[o] x[k], db = dz,
    /// dx[k] = Σ w[o, k] dz[o]. <paramref name="xErrors"/> are the input's forward error scales (null: exact).
    /// </summary>
    public static (RefGradient Weights, RefGradient? Bias, RefGradient Input) Dense(RefTensor x, double[]? xErrors, double[] weights, bool bias, RefGradient dz, int units)
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
            double g = dz.Value[o], gError = dz.Error(o), gSlack = dz.Slack[o];
            if (db is not null)
            {
                db.AddProduct(o, g, gError, 1, 0);
                db.Slack[o] = gSlack;
            }
            for (int k = 0; k < n; k++)
            {
                double w = weights[o * n + k];
                dw.AddProduct(o * n + k, g, gError, x.Value[k], ErrorAt(xErrors, k));
                dw.Slack[o * n + k] = gSlack * (Math.Abs(x.Value[k]) + GradientTolerance.Relative * ErrorAt(xErrors, k));
                dx.AddProduct(k, g, gError, w, 0);
                dx.Slack[k] += gSlack * Math.Abs(w);
            }
        }
        return (dw, db, dx);
    }

    // ---------------------------------------------------------------- whole network

    /// <summary>
    /// Forward (<see cref="ReferenceOps.Trace"/>) and backward over a batch: <paramref name="outputGradient"/>(n) is
    /// dLoss/dOutput of sample n in C, H, W order (the output is the last layer's). Layers are taken in reverse order;
    /// each hands every tensor it read its share of the gradient (a sum all of it, a concatenation each input its
    /// channels), and a tensor read by several layers, or twice by one, gets the sum of their shares
    /// (<see cref="RefGradient.Add"/>). A layer whose output never reaches the network's output gets no gradient, so its
    /// parameter gradients stay zero. Parameter gradients are summed over the batch (zero-filled for every layer that
    /// has the tensor, null otherwise); input gradients are per sample, the network input's total. With
    /// <paramref name="foldOutputSoftmax"/>, the output gradient is taken with respect to the final softmax's input and
    /// the softmax backward is skipped (cross-entropy folded into p - onehot).
    /// </summary>
    public static RefNetworkGradients Network(IReadOnlyList<RefLayer> layers, Shape inputShape, IReadOnlyList<(double[]? Weights, double[]? Bias)> parameters,
        IReadOnlyList<RefTensor> inputs, Func<int, double[]> outputGradient, bool foldOutputSoftmax = false)
    {
        if (layers.Count == 0)
            throw new ArgumentException("No layers.");
        if (foldOutputSoftmax && layers[^1].Activation != Unroll.Activation.Softmax)
            throw new InvalidOperationException("The network does not end in a softmax, so there is no softmax backward to fold.");
        int batch = inputs.Count;
        RefNetworkGradients result = ZeroGradients(layers, parameters, batch);
        int ambiguousActivations = 0, ambiguousWindows = 0;
        for (int n = 0; n < batch; n++)
        {
            if (inputs[n].Shape != inputShape)
                throw new ArgumentException($"Sample {n} is {inputs[n].Shape}, the network takes {inputShape}.");
            RefLayerTrace[] trace = ReferenceOps.Trace(layers, inputs[n], parameters);
            RefLayerErrors[] errors = ForwardErrors(layers, trace, parameters);
            // dLoss/d(every layer's output), summed over the layers that read it; null where nothing reached it.
            var outputs = new RefGradient?[layers.Count];
            outputs[^1] = RefGradient.FromValues(outputGradient(n), trace[^1].Output.Shape);
            RefGradient input = RefGradient.Like(inputs[n]);
            for (int i = layers.Count - 1; i >= 0; i--)
            {
                if (outputs[i] is not { } g)
                    continue; // its output never reaches the network's output
                RefLayer layer = layers[i];
                RefLayerTrace t = trace[i];
                RefLayerErrors e = errors[i];
                if (layer.Activation != Unroll.Activation.None && !(foldOutputSoftmax && i == layers.Count - 1))
                    g = Activate(t.Pre, e.Pre, t.Output, e.Output, g, layer.Activation, layer.Alpha, ref ambiguousActivations, layer.ClipMin, layer.ClipMax);
                IReadOnlyList<RefGradient> shares = Operation(layer, i, t, e, parameters[i], g, result, ref ambiguousWindows);
                IReadOnlyList<int> sources = layer.Sources(i);
                for (int k = 0; k < sources.Count; k++)
                {
                    int j = sources[k];
                    RefGradient into = j == RefLayer.NetworkInput ? input : outputs[j] ??= RefGradient.Like(trace[j].Output);
                    into.Add(shares[k]);
                }
            }
            result.Input[n] = input;
        }
        result.AmbiguousActivations = ambiguousActivations;
        result.AmbiguousWindows = ambiguousWindows;
        return result;
    }

    /// <summary>Zero parameter gradients for every weight and bias tensor of <paramref name="layers"/>, and room for <paramref name="batch"/> input gradients.</summary>
    private static RefNetworkGradients ZeroGradients(IReadOnlyList<RefLayer> layers, IReadOnlyList<(double[]? Weights, double[]? Bias)> parameters, int batch)
    {
        var result = new RefNetworkGradients(layers.Count, batch);
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i].Op is not (RefOp.Conv or RefOp.Dense))
                continue;
            double[] w = parameters[i].Weights ?? throw new ArgumentException($"Layer {i} has no weights.");
            result.Weights[i] = RefGradient.Vector(w.Length);
            if (layers[i].Bias)
                result.Bias[i] = RefGradient.Vector(layers[i].Units);
        }
        return result;
    }

    /// <summary>
    /// The backward pass of layer <paramref name="index"/>'s operation, from the gradient <paramref name="dz"/> of its
    /// pre-activation: its parameter gradients are added to <paramref name="result"/>, and the shares of the tensors it
    /// read are returned, in the order of its inputs.
    /// </summary>
    private static IReadOnlyList<RefGradient> Operation(RefLayer layer, int index, RefLayerTrace t, RefLayerErrors e, (double[]? Weights, double[]? Bias) parameters,
        RefGradient dz, RefNetworkGradients result, ref int ambiguousWindows)
    {
        switch (layer.Op)
        {
            case RefOp.Conv:
            {
                var (dw, db, dx) = Conv2D(t.Input, e.Input, parameters.Weights!, layer.Bias, dz,
                    layer.Units, layer.KernelH, layer.KernelW, layer.Stride, layer.PadTop, layer.PadLeft);
                Accumulate(result, index, dw, db);
                return new[] { dx };
            }
            case RefOp.Dense:
            {
                var (dw, db, dx) = Dense(t.Input, e.Input, parameters.Weights!, layer.Bias, dz, layer.Units);
                Accumulate(result, index, dw, db);
                return new[] { dx };
            }
            case RefOp.MaxPool:
                return new[] { MaxPool(t.Input, e.Input, dz, layer.KernelH, layer.Stride, layer.PadTop, layer.PadLeft, ref ambiguousWindows) };
            case RefOp.AvgPool:
                return new[] { AvgPool(t.Input, dz, layer.KernelH, layer.Stride, layer.PadTop, layer.PadLeft, layer.PadBottom, layer.PadRight, layer.CountIncludePad) };
            case RefOp.GlobalAvgPool:
                return new[] { GlobalAvgPool(t.Input, dz) };
            case RefOp.Concat:
                return Concat(t.Inputs, dz);
            case RefOp.Add:
                return t.Inputs.Select(_ => dz).ToArray(); // every term gets all of it (the receivers copy it in)
            default:
                return new[] { dz }; // a stand-alone activation: its derivative is applied already, the operation is the identity
        }
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
        result.Weights[layer]!.Add(dw);
        if (db is not null)
            result.Bias[layer]!.Add(db);
    }
}

/// <summary>
/// The comparison rule for gradients: |unroll - ref| &lt;= 1e-5 * max(|ref|, local + sqrt(carried²)) + slack + 1e-6,
/// the forward suite's constants (<see cref="Tolerance"/>). The local part is the sum of the absolute terms of the
/// value's own float32 sums (unit roundoff u = 6e-8; the longest chains here are a few thousand terms, in up to four
/// partial sums, and random-walk rounding keeps their error within a few u sqrt(n) of that sum: ~3e-6 at worst); the
/// carried part is the error brought in by every factor (forward values, later layers' gradients) at its own error
/// scale, in quadrature because different values' roundings are independent. 1e-5 leaves a factor ~3 over the longest
/// chain and far more elsewhere. The slack is non-zero only at kinks the float pass may resolve the other way
/// (see <see cref="RefGradient"/>); the 1e-6 floor covers values that are zero up to rounding.
/// </summary>
public static class GradientTolerance
{
    public const double Relative = Tolerance.Relative;
    public const double Absolute = Tolerance.Absolute;

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
                    $"{what}[{i}]: unroll {actual[i]:R}, reference {expected.Value[i]:R}, |diff| {Math.Abs(actual[i] - expected.Value[i]):G3} > allowed {Allowed(expected, i):G3} (local {expected.Local[i]:G4}, carried {Math.Sqrt(expected.PropagatedSquared[i]):G4}, slack {expected.Slack[i]:G3})"));
        }
        return bad;
    }
}
