using System;

namespace Unroll.Kernels;

/// <summary>Where a batch normalisation keeps its numbers; written by the generator for each batch-normalisation layer.</summary>
/// <param name="Layer">Index of the layer.</param>
/// <param name="Channels">Channels normalised.</param>
/// <param name="PaddedChannels">Channels rounded up to 16: the row length of every per-channel vector below.</param>
/// <param name="Pixels">Positions per sample (H x W; 1 for a flat input).</param>
/// <param name="GammaOffset">Gamma (the scale) in the parameter buffer.</param>
/// <param name="BetaOffset">Beta (the shift) in the parameter buffer.</param>
/// <param name="StateOffset">The running mean in the parameter buffer, followed by the running variance.</param>
/// <param name="StatisticsOffset">The layer's block in the batch-statistics buffer (seven rows: scale, shift, mean, 1 / sd, then a, b, c).</param>
/// <param name="Epsilon">Added to the variance before its square root.</param>
/// <param name="Momentum">Weight of a batch's statistics in the running averages.</param>
public sealed record BatchNormSite(int Layer, int Channels, int PaddedChannels, int Pixels, int GammaOffset, int BetaOffset, int StateOffset,
    int StatisticsOffset, float Epsilon, float Momentum);

/// <summary>The per-channel arithmetic of batch normalisation that runs once per batch or once per weight change, not per value.</summary>
public static class BatchNormKernels
{
    private const int ScaleRow = 0, ShiftRow = 1, MeanRow = 2, InverseRow = 3, ARow = 4, BRow = 5, CRow = 6;

    /// <summary>
    /// Inference form: scale = gamma / sqrt(var + eps) and shift = beta - mean x scale per channel, from the running
    /// statistics, into <paramref name="scaleShift"/> (scale row, then shift row, each as long as <paramref name="gamma"/>).
    /// Padded channels get 0 in both.
    /// </summary>
    public static void ScaleShift(ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon, Span<float> scaleShift)
    {
        int c = gamma.Length;
        if (beta.Length != c || mean.Length != c || variance.Length != c || scaleShift.Length != 2 * c)
            throw new ArgumentException($"Every per-channel row must hold {c} values and the output {2 * c}.");
        for (int i = 0; i < c; i++)
        {
            double scale = gamma[i] / Math.Sqrt((double)variance[i] + epsilon);
            scaleShift[i] = (float)scale;
            scaleShift[c + i] = (float)(beta[i] - mean[i] * scale);
        }
    }

    /// <summary>
    /// Folds an inference-mode batch normalisation into the convolution before it: with s = gamma / sqrt(var + eps) per
    /// output channel, w' = w s and b' = (b - mean) s + beta (b = 0 for a convolution without bias). The weights are stored
    /// with the output channel fastest ([..][O padded]), as <paramref name="gamma"/> is long; <paramref name="folded"/>
    /// receives the weights, then the bias.
    /// </summary>
    public static void Fold(ReadOnlySpan<float> weights, ReadOnlySpan<float> bias, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float epsilon, Span<float> folded)
    {
        int c = gamma.Length;
        if (weights.Length % c != 0 || folded.Length != weights.Length + c || !bias.IsEmpty && bias.Length != c)
            throw new ArgumentException($"Weights must hold whole rows of {c} outputs, and the folded form {weights.Length + c} values.");
        Span<float> scale = c <= 1024 ? stackalloc float[c] : new float[c];
        for (int o = 0; o < c; o++)
        {
            double s = gamma[o] / Math.Sqrt((double)variance[o] + epsilon);
            scale[o] = (float)s;
            folded[weights.Length + o] = (float)(((bias.IsEmpty ? 0 : bias[o]) - mean[o]) * s + beta[o]);
        }
        for (int row = 0; row < weights.Length; row += c)
            for (int o = 0; o < c; o++)
                folded[row + o] = weights[row + o] * scale[o];
    }

    /// <summary>
    /// After every sample's sums of x and x² are in: the batch mean and variance (over samples and positions), the rows
    /// the forward pass normalises with (scale, shift, mean, 1 / sd), and the running averages updated with the
    /// momentum (the running variance takes the unbiased batch variance, as PyTorch does).
    /// </summary>
    /// <param name="site">The layer.</param>
    /// <param name="sums">Per channel, the sum of x, then (one padded row later) the sum of x², over the batch.</param>
    /// <param name="batch">Samples in the batch.</param>
    /// <param name="parameters">The parameter buffer (gamma, beta read; running statistics updated).</param>
    /// <param name="statistics">The batch-statistics buffer.</param>
    public static void Normalize(BatchNormSite site, ReadOnlySpan<double> sums, int batch, Span<float> parameters, Span<float> statistics)
    {
        int c = site.PaddedChannels;
        double count = (double)batch * site.Pixels;
        Span<float> rows = statistics.Slice(site.StatisticsOffset, 7 * c);
        rows.Slice(0, 4 * c).Clear();
        for (int i = 0; i < site.Channels; i++)
        {
            double mean = sums[i] / count;
            double variance = Math.Max(sums[c + i] / count - mean * mean, 0);
            double inverse = 1 / Math.Sqrt(variance + site.Epsilon);
            double scale = parameters[site.GammaOffset + i] * inverse;
            rows[ScaleRow * c + i] = (float)scale;
            rows[ShiftRow * c + i] = (float)(parameters[site.BetaOffset + i] - mean * scale);
            rows[MeanRow * c + i] = (float)mean;
            rows[InverseRow * c + i] = (float)inverse;
            double unbiased = count > 1 ? variance * count / (count - 1) : variance;
            ref float runningMean = ref parameters[site.StateOffset + i];
            ref float runningVariance = ref parameters[site.StateOffset + c + i];
            runningMean = (float)((1 - site.Momentum) * runningMean + site.Momentum * mean);
            runningVariance = (float)((1 - site.Momentum) * runningVariance + site.Momentum * unbiased);
        }
    }

    /// <summary>
    /// After every sample's sums of dy and dy x̂ are in: gamma's and beta's gradients (added to <paramref name="gradients"/>)
    /// and the coefficients of the input gradient dx = a dy + b x + c, with M the count of normalised values per channel:
    /// a = gamma / sd, b = -a (Σ dy x̂) / (M sd), c = -a Σ dy / M - b mean.
    /// </summary>
    public static void Coefficients(BatchNormSite site, ReadOnlySpan<double> sums, int batch, ReadOnlySpan<float> parameters, Span<float> gradients, Span<float> statistics)
    {
        int c = site.PaddedChannels;
        double count = (double)batch * site.Pixels;
        Span<float> rows = statistics.Slice(site.StatisticsOffset, 7 * c);
        rows.Slice(ARow * c, 3 * c).Clear();
        for (int i = 0; i < site.Channels; i++)
        {
            double sumDy = sums[i], sumDyXhat = sums[c + i];
            gradients[site.GammaOffset + i] += (float)sumDyXhat;
            gradients[site.BetaOffset + i] += (float)sumDy;
            double inverse = rows[InverseRow * c + i];
            double a = parameters[site.GammaOffset + i] * inverse;
            double b = -a * inverse * sumDyXhat / count;
            rows[ARow * c + i] = (float)a;
            rows[BRow * c + i] = (float)b;
            rows[CRow * c + i] = (float)(-a * sumDy / count - b * rows[MeanRow * c + i]);
        }
    }
}
