using System;
using System.Diagnostics;

namespace Unroll.Bench;

/// <summary>Times a call: warm up, then rounds long enough to time well, and the median of the per-call times.</summary>
internal static class Measure
{
    /// <summary>Milliseconds of calls before timing, unless the caller says otherwise.</summary>
    public const double WarmupMs = 100;

    /// <summary>
    /// Calls <paramref name="call"/> for at least <paramref name="warmupMs"/> (and 3 times), then times
    /// <paramref name="rounds"/> rounds, each of as many calls as fill about <paramref name="roundMs"/>, and returns
    /// the median of the rounds' per-call times, in milliseconds.
    /// </summary>
    public static double MedianMs(Action call, int rounds, double roundMs = 20, double warmupMs = WarmupMs)
    {
        int warm = 0;
        var clock = Stopwatch.StartNew();
        while (warm < 3 || clock.Elapsed.TotalMilliseconds < warmupMs)
        {
            call();
            warm++;
        }
        double estimate = clock.Elapsed.TotalMilliseconds / warm;
        int reps = Math.Max(1, (int)Math.Ceiling(roundMs / estimate));
        double[] perCall = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            long start = Stopwatch.GetTimestamp();
            for (int k = 0; k < reps; k++)
                call();
            perCall[r] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / reps;
        }
        return Median(perCall);
    }

    /// <summary>The median of <paramref name="values"/> (sorted in place).</summary>
    public static double Median(double[] values)
    {
        Array.Sort(values);
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
    }
}
