using System;

namespace Unroll.Training;

/// <summary>Helpers for classification metrics.</summary>
public static class Metrics
{
    /// <summary>
    /// Index of the largest value, the first one on ties (as NumPy and PyTorch). NaN counts as larger than any
    /// number, so the first NaN wins.
    /// </summary>
    /// <exception cref="ArgumentException">The span is empty.</exception>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
            throw new ArgumentException("No values to take the maximum of.", nameof(values));
        int best = 0;
        float max = values[0];
        if (float.IsNaN(max))
            return 0;
        for (int i = 1; i < values.Length; i++)
        {
            float v = values[i];
            if (float.IsNaN(v))
                return i;
            if (v > max)
            {
                max = v;
                best = i;
            }
        }
        return best;
    }
}

/// <summary>
/// A weighted running mean, such as an epoch's loss from batch means: <c>Add(batchMeanLoss, batchSize)</c> per batch
/// makes <see cref="Mean"/> the mean over samples. Sums in double. Not thread-safe.
/// </summary>
public sealed class RunningMean
{
    private double _sum;

    /// <summary>Total weight added (samples, for a loss).</summary>
    public double Weight { get; private set; }

    /// <summary>Number of <see cref="Add"/> calls.</summary>
    public long Count { get; private set; }

    /// <summary>The weighted mean of the values added; NaN before the first one.</summary>
    public double Mean => Weight > 0 ? _sum / Weight : double.NaN;

    /// <summary>Adds <paramref name="value"/> with weight <paramref name="weight"/> (for a batch mean, the batch size).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The weight is not finite and above 0.</exception>
    public void Add(double value, double weight = 1)
    {
        if (!(weight > 0 && double.IsFinite(weight)))
            throw new ArgumentOutOfRangeException(nameof(weight), weight, "The weight must be finite and above 0.");
        _sum += value * weight;
        Weight += weight;
        Count++;
    }

    /// <summary>Forgets every value (for the next epoch).</summary>
    public void Reset()
    {
        _sum = 0;
        Weight = 0;
        Count = 0;
    }
}

/// <summary>
/// Running classification accuracy: a sample is correct when the argmax of its output (see <see cref="Metrics.ArgMax"/>)
/// is its label. Not thread-safe.
/// </summary>
public sealed class RunningAccuracy
{
    /// <summary>Samples counted correct.</summary>
    public long Correct { get; private set; }

    /// <summary>Samples counted.</summary>
    public long Total { get; private set; }

    /// <summary>Correct / Total, in [0, 1]; NaN before the first sample.</summary>
    public double Accuracy => Total > 0 ? (double)Correct / Total : double.NaN;

    /// <summary>Counts one sample; returns whether it is correct.</summary>
    /// <exception cref="ArgumentException">The output is empty.</exception>
    public bool Add(ReadOnlySpan<float> output, int label)
    {
        bool correct = Metrics.ArgMax(output) == label;
        Total++;
        if (correct)
            Correct++;
        return correct;
    }

    /// <summary>Counts a batch of <c>labels.Length</c> samples whose outputs lie one after another; returns how many are correct.</summary>
    /// <exception cref="ArgumentException">The outputs are not a whole, non-zero number of values per label.</exception>
    public int Add(ReadOnlySpan<float> outputs, ReadOnlySpan<int> labels)
    {
        int batch = labels.Length;
        if (batch == 0)
            return 0;
        int width = outputs.Length / batch;
        if (width == 0 || outputs.Length != batch * width)
            throw new ArgumentException($"Outputs must hold batch ({batch}) x classes values; they hold {outputs.Length}.", nameof(outputs));
        int correct = 0;
        for (int n = 0; n < batch; n++)
            if (Add(outputs.Slice(n * width, width), labels[n]))
                correct++;
        return correct;
    }

    /// <summary>Forgets every sample (for the next epoch).</summary>
    public void Reset()
    {
        Correct = 0;
        Total = 0;
    }
}
