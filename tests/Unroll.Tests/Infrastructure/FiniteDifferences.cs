using System;

namespace Unroll.Tests.Infrastructure;

/// <summary>
/// Compares analytic gradients with central differences of a loss, one coordinate at a time, at two step sizes: where
/// the two disagree a kink (ReLU family, max pool) lies within the step, or the float loss's rounding dominates, and the
/// coordinate is skipped and counted instead. Callers bound the share of skipped coordinates.
/// </summary>
/// <param name="loss">The loss at the current values.</param>
/// <param name="step">The smaller step; the other is twice it.</param>
/// <param name="agreementFloor">The scale below which the two steps' agreement is judged absolutely (0.1 or 1).</param>
/// <param name="describe">Prefix of a failure message.</param>
internal sealed class FiniteDifferences(Func<double> loss, float step, double agreementFloor, string describe)
{
    /// <summary>Coordinates compared.</summary>
    public int Checked { get; private set; }

    /// <summary>Coordinates skipped because the two steps disagreed.</summary>
    public int Skipped { get; private set; }

    /// <summary>The largest |numeric - analytic| / max(0.1, |numeric|) seen.</summary>
    public double Worst { get; private set; }

    /// <summary>Checks one coordinate (read and written through <paramref name="get"/> and <paramref name="set"/>): relative error below 1e-2.</summary>
    public void Compare(string what, Func<float> get, Action<float> set, float analytic)
    {
        float saved = get();
        double Numeric(float h)
        {
            set(saved + h);
            double up = loss();
            set(saved - h);
            double down = loss();
            set(saved);
            return (up - down) / (2 * h);
        }
        double n1 = Numeric(step), n2 = Numeric(2 * step);
        double scale = Math.Max(1e-1, Math.Abs(n1));
        if (Math.Abs(n1 - n2) > 2e-3 * Math.Max(agreementFloor, Math.Abs(n1)))
        {
            Skipped++;
            return;
        }
        double error = Math.Abs(n1 - analytic) / scale;
        Worst = Math.Max(Worst, error);
        Checked++;
        Assert.True(error < 1e-2, $"{describe} {what}: analytic {analytic}, numeric {n1} (2h: {n2})");
    }

    /// <summary>At most one coordinate in ten may be skipped.</summary>
    public void AssertFewSkipped() =>
        Assert.True(Skipped * 10 <= Checked, $"{describe}: {Skipped} coordinates skipped as non-smooth, {Checked} checked");
}
