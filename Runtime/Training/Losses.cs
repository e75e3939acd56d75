using System;

namespace Unroll.Training;

/// <summary>
/// A loss over one sample with a vector target. <see cref="Compute(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>
/// returns the sample's loss and writes its gradient: nothing is averaged over a batch. A caller that
/// minimises the mean loss of a batch of N samples divides every gradient by N, or uses
/// <see cref="Losses.ComputeMean(ILoss, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int)"/>, which does.
/// Implementations compute in double precision, allocate nothing and keep no state between calls.
/// </summary>
public interface ILoss
{
    /// <summary>A short name for logs, such as <c>softmax-cross-entropy</c>.</summary>
    string Name { get; }

    /// <summary>
    /// True when the gradient is taken with respect to the INPUT of the network's final softmax rather than
    /// its output (the loss takes probabilities and folds the softmax backward into its gradient): the
    /// backward pass must then start below that softmax, skipping its backward.
    /// </summary>
    bool FoldsSoftmaxBackward { get; }

    /// <summary>
    /// Returns the loss of one sample and writes dLoss/dOutput to <paramref name="outputGradient"/> (or, when
    /// <see cref="FoldsSoftmaxBackward"/> is true, dLoss/d(softmax input)).
    /// </summary>
    /// <param name="output">The network's output for the sample.</param>
    /// <param name="target">The target, as long as <paramref name="output"/>.</param>
    /// <param name="outputGradient">Receives the gradient, as long as <paramref name="output"/>. It may not overlap the inputs.</param>
    /// <exception cref="ArgumentException">The lengths differ, or the output is empty.</exception>
    float Compute(ReadOnlySpan<float> output, ReadOnlySpan<float> target, Span<float> outputGradient);
}

/// <summary>A loss that also takes an integer class label as its target (the same as a one-hot target vector).</summary>
public interface IClassificationLoss : ILoss
{
    /// <summary>
    /// Returns the loss of one sample whose class is <paramref name="label"/> and writes the gradient to
    /// <paramref name="outputGradient"/>, exactly as the one-hot target vector of <paramref name="label"/> would.
    /// </summary>
    /// <param name="output">The network's output for the sample: one value per class.</param>
    /// <param name="label">The sample's class, in [0, output.Length).</param>
    /// <param name="outputGradient">Receives the gradient, as long as <paramref name="output"/>. It may not overlap <paramref name="output"/>.</param>
    /// <exception cref="ArgumentException">The lengths differ, or the output is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The label is not a class index.</exception>
    float Compute(ReadOnlySpan<float> output, int label, Span<float> outputGradient);
}

/// <summary>Batch helpers: mean reduction over the samples of a batch.</summary>
public static class Losses
{
    /// <summary>
    /// Mean loss of a batch of <c>labels.Length</c> samples (outputs one after another) and the gradient of that
    /// MEAN: each sample's gradient divided by the batch size, written to <paramref name="outputGradients"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The batch is empty, or the buffer lengths do not match it.</exception>
    public static float ComputeMean(this IClassificationLoss loss, ReadOnlySpan<float> outputs, ReadOnlySpan<int> labels, Span<float> outputGradients)
    {
        ArgumentNullException.ThrowIfNull(loss);
        int batch = labels.Length;
        if (batch == 0)
            throw new ArgumentException("The batch holds no labels.", nameof(labels));
        int width = outputs.Length / batch;
        if (width == 0 || outputs.Length != batch * width)
            throw new ArgumentException($"Outputs must hold batch ({batch}) x classes values; they hold {outputs.Length}.", nameof(outputs));
        CheckLength(outputGradients.Length, outputs.Length, nameof(outputGradients));
        double sum = 0;
        for (int n = 0; n < batch; n++)
            sum += loss.Compute(outputs.Slice(n * width, width), labels[n], outputGradients.Slice(n * width, width));
        Scale(outputGradients, batch);
        return (float)(sum / batch);
    }

    /// <summary>
    /// Mean loss of a batch of <paramref name="batch"/> samples (outputs and targets one after another) and the
    /// gradient of that MEAN: each sample's gradient divided by <paramref name="batch"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The batch is empty, or the buffer lengths do not match it.</exception>
    public static float ComputeMean(this ILoss loss, ReadOnlySpan<float> outputs, ReadOnlySpan<float> targets, Span<float> outputGradients, int batch)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        int width = outputs.Length / batch;
        if (width == 0 || outputs.Length != batch * width)
            throw new ArgumentException($"Outputs must hold batch ({batch}) x features values; they hold {outputs.Length}.", nameof(outputs));
        CheckLength(targets.Length, outputs.Length, nameof(targets));
        CheckLength(outputGradients.Length, outputs.Length, nameof(outputGradients));
        double sum = 0;
        for (int n = 0; n < batch; n++)
            sum += loss.Compute(outputs.Slice(n * width, width), targets.Slice(n * width, width), outputGradients.Slice(n * width, width));
        Scale(outputGradients, batch);
        return (float)(sum / batch);
    }

    internal static void Check(ReadOnlySpan<float> output, Span<float> gradient)
    {
        if (output.IsEmpty)
            throw new ArgumentException("The output is empty.", nameof(output));
        CheckLength(gradient.Length, output.Length, "outputGradient");
    }

    internal static void Check(ReadOnlySpan<float> output, ReadOnlySpan<float> target, Span<float> gradient)
    {
        Check(output, gradient);
        CheckLength(target.Length, output.Length, nameof(target));
    }

    internal static void CheckLabel(int label, int classes)
    {
        if ((uint)label >= (uint)classes)
            throw new ArgumentOutOfRangeException(nameof(label), label, $"The label must be a class index in [0, {classes}).");
    }

    /// <summary>The largest value (NaN if any value is NaN).</summary>
    internal static double Max(ReadOnlySpan<float> values)
    {
        double max = double.NegativeInfinity;
        foreach (float v in values)
        {
            if (float.IsNaN(v))
                return double.NaN;
            if (v > max)
                max = v;
        }
        return max;
    }

    /// <summary>log(1 + x) without the rounding loss of forming 1 + x for small x (x ≥ 0).</summary>
    internal static double Log1P(double x)
    {
        double u = 1.0 + x;
        return u == 1.0 ? x : Math.Log(u) * x / (u - 1.0);
    }

    private static void CheckLength(int actual, int expected, string name)
    {
        if (actual != expected)
            throw new ArgumentException($"'{name}' must hold {expected} values, as the output does; it holds {actual}.", name);
    }

    private static void Scale(Span<float> values, int batch)
    {
        if (batch == 1)
            return;
        float inverse = (float)(1.0 / batch);
        for (int i = 0; i < values.Length; i++)
            values[i] *= inverse;
    }
}

/// <summary>
/// Cross-entropy over LOGITS, fused with the softmax: loss = logsumexp(z) - z[label], gradient = softmax(z) - onehot.
/// For a network whose last layer has NO softmax. The maximum logit is subtracted before exponentiating, so logits
/// such as ±1e4 give a finite loss and a gradient that sums to 0. With a target vector t (soft labels):
/// loss = -Σ t_i log softmax(z)_i, gradient = softmax(z)·Σt - t. Per sample, unreduced (see <see cref="ILoss"/>); the
/// batch mean equals PyTorch's <c>CrossEntropyLoss()</c>.
/// </summary>
public sealed class SoftmaxCrossEntropy : IClassificationLoss
{
    /// <inheritdoc />
    public string Name => "softmax-cross-entropy";

    /// <summary>False: the output is the logits and so is the gradient's variable.</summary>
    public bool FoldsSoftmaxBackward => false;

    /// <inheritdoc />
    public float Compute(ReadOnlySpan<float> output, int label, Span<float> outputGradient)
    {
        Losses.Check(output, outputGradient);
        Losses.CheckLabel(label, output.Length);
        double max = Losses.Max(output);
        double sum = 0;
        foreach (float z in output)
            sum += Math.Exp(z - max);
        double logSum = Math.Log(sum), inverse = 1.0 / sum;
        for (int i = 0; i < output.Length; i++)
            outputGradient[i] = (float)(Math.Exp(output[i] - max) * inverse - (i == label ? 1.0 : 0.0));
        return (float)(logSum - (output[label] - max));
    }

    /// <inheritdoc />
    public float Compute(ReadOnlySpan<float> output, ReadOnlySpan<float> target, Span<float> outputGradient)
    {
        Losses.Check(output, target, outputGradient);
        double max = Losses.Max(output);
        double sum = 0, targetSum = 0;
        for (int i = 0; i < output.Length; i++)
        {
            sum += Math.Exp(output[i] - max);
            targetSum += target[i];
        }
        double logSum = Math.Log(sum), inverse = 1.0 / sum, loss = 0;
        for (int i = 0; i < output.Length; i++)
        {
            double shifted = output[i] - max;
            if (target[i] != 0)
                loss += target[i] * (logSum - shifted);
            outputGradient[i] = (float)(Math.Exp(shifted) * inverse * targetSum - target[i]);
        }
        return (float)loss;
    }
}

/// <summary>
/// Cross-entropy for a network whose last layer ALREADY applies softmax (for example <c>[Dense(10), Softmax]</c>):
/// the output is probabilities p, loss = -log(max(p[label], <see cref="Epsilon"/>)), and the gradient written is
/// p - onehot, which is the gradient with respect to the softmax's INPUT (the pre-softmax logits), not its output.
/// The backward pass therefore skips the softmax backward and starts at the layer below it
/// (<see cref="FoldsSoftmaxBackward"/> is true). With a target vector t: loss = -Σ t_i log max(p_i, ε), gradient = p·Σt - t.
/// The clamp only bounds the reported loss (p = 0 gives -log ε); the gradient uses p unclamped.
/// </summary>
public sealed class CrossEntropyAfterSoftmax : IClassificationLoss
{
    /// <summary>Creates the loss; <paramref name="epsilon"/> (in (0, 1)) is the smallest probability the loss takes a log of.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epsilon"/> is not in (0, 1).</exception>
    public CrossEntropyAfterSoftmax(float epsilon = 1e-7f)
    {
        if (!(epsilon > 0 && epsilon < 1))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be in (0, 1).");
        Epsilon = epsilon;
    }

    /// <summary>The smallest probability the loss takes a log of (1e-7 by default, as in Keras).</summary>
    public float Epsilon { get; }

    /// <inheritdoc />
    public string Name => "cross-entropy-after-softmax";

    /// <summary>True: the gradient is with respect to the final softmax's input; skip the softmax backward.</summary>
    public bool FoldsSoftmaxBackward => true;

    /// <inheritdoc />
    public float Compute(ReadOnlySpan<float> output, int label, Span<float> outputGradient)
    {
        Losses.Check(output, outputGradient);
        Losses.CheckLabel(label, output.Length);
        for (int i = 0; i < output.Length; i++)
            outputGradient[i] = (float)((double)output[i] - (i == label ? 1.0 : 0.0));
        return (float)-Math.Log(Math.Max(output[label], (double)Epsilon));
    }

    /// <inheritdoc />
    public float Compute(ReadOnlySpan<float> output, ReadOnlySpan<float> target, Span<float> outputGradient)
    {
        Losses.Check(output, target, outputGradient);
        double targetSum = 0, loss = 0;
        foreach (float t in target)
            targetSum += t;
        for (int i = 0; i < output.Length; i++)
        {
            if (target[i] != 0)
                loss -= target[i] * Math.Log(Math.Max(output[i], (double)Epsilon));
            outputGradient[i] = (float)(output[i] * targetSum - target[i]);
        }
        return (float)loss;
    }
}

/// <summary>
/// Mean squared error over the sample's n values: loss = (1/n) Σ (y_i - t_i)², gradient = 2 (y_i - t_i) / n.
/// The batch mean equals PyTorch's <c>MSELoss()</c> (a mean over every element).
/// </summary>
public sealed class MeanSquaredError : ILoss
{
    /// <inheritdoc />
    public string Name => "mean-squared-error";

    /// <summary>False.</summary>
    public bool FoldsSoftmaxBackward => false;

    /// <inheritdoc />
    public float Compute(ReadOnlySpan<float> output, ReadOnlySpan<float> target, Span<float> outputGradient)
    {
        Losses.Check(output, target, outputGradient);
        double scale = 2.0 / output.Length, loss = 0;
        for (int i = 0; i < output.Length; i++)
        {
            double d = (double)output[i] - target[i];
            loss += d * d;
            outputGradient[i] = (float)(scale * d);
        }
        return (float)(loss / output.Length);
    }
}

/// <summary>
/// Binary cross-entropy over PROBABILITIES (for example a sigmoid output), one independent binary target per value,
/// averaged over the sample's n values: loss = -(1/n) Σ [t log p + (1 - t) log(1 - p)] with p clamped to
/// [ε, 1 - ε], gradient = (p - t) / (p (1 - p) n) with the same clamped p (so a saturated output still gets a finite,
/// non-zero gradient). Targets are usually 0 or 1, any value in [0, 1] works. The batch mean equals PyTorch's
/// <c>BCELoss()</c> away from the clamp. Prefer <see cref="BinaryCrossEntropyWithLogits"/> when the network can output logits.
/// </summary>
public sealed class BinaryCrossEntropy : ILoss
{
    /// <summary>Creates the loss; <paramref name="epsilon"/> in (0, 0.5) bounds the probabilities away from 0 and 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epsilon"/> is not in (0, 0.5).</exception>
    public BinaryCrossEntropy(float epsilon = 1e-7f)
    {
        if (!(epsilon > 0 && epsilon < 0.5f))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "Epsilon must be in (0, 0.5).");
        Epsilon = epsilon;
    }

    /// <summary>Probabilities are clamped to [Epsilon, 1 - Epsilon] (1e-7 by default, as in Keras).</summary>
    public float Epsilon { get; }

    /// <inheritdoc />
    public string Name => "binary-cross-entropy";

    /// <summary>False.</summary>
    public bool FoldsSoftmaxBackward => false;

    /// <inheritdoc />
    public float Compute(ReadOnlySpan<float> output, ReadOnlySpan<float> target, Span<float> outputGradient)
    {
        Losses.Check(output, target, outputGradient);
        double low = Epsilon, high = 1.0 - Epsilon, inverseN = 1.0 / output.Length, loss = 0;
        for (int i = 0; i < output.Length; i++)
        {
            double p = Math.Clamp((double)output[i], low, high), t = target[i];
            loss -= t * Math.Log(p) + (1.0 - t) * Math.Log(1.0 - p);
            outputGradient[i] = (float)((p - t) / (p * (1.0 - p)) * inverseN);
        }
        return (float)(loss * inverseN);
    }
}

/// <summary>
/// Binary cross-entropy over LOGITS z, fused with the sigmoid, averaged over the sample's n values:
/// loss = (1/n) Σ [max(z, 0) - z t + log(1 + e^-|z|)], gradient = (sigmoid(z) - t) / n. Stable for any finite z
/// (no exponential of a positive number is formed). The batch mean equals PyTorch's <c>BCEWithLogitsLoss()</c>.
/// </summary>
public sealed class BinaryCrossEntropyWithLogits : ILoss
{
    /// <inheritdoc />
    public string Name => "binary-cross-entropy-with-logits";

    /// <summary>False.</summary>
    public bool FoldsSoftmaxBackward => false;

    /// <inheritdoc />
    public float Compute(ReadOnlySpan<float> output, ReadOnlySpan<float> target, Span<float> outputGradient)
    {
        Losses.Check(output, target, outputGradient);
        double inverseN = 1.0 / output.Length, loss = 0;
        for (int i = 0; i < output.Length; i++)
        {
            double z = output[i], t = target[i];
            double e = Math.Exp(-Math.Abs(z));
            loss += Math.Max(z, 0.0) - z * t + Losses.Log1P(e);
            double sigmoid = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
            outputGradient[i] = (float)((sigmoid - t) * inverseN);
        }
        return (float)(loss * inverseN);
    }
}
