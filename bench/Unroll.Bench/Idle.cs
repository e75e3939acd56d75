using System;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;

namespace Unroll.Bench;

/// <summary>How idle the machine's CPUs are, from /proc/stat (Linux); elsewhere the machine counts as idle.</summary>
internal static class Idle
{
    /// <summary>The share of CPU time spent idle over <paramref name="span"/>, in percent (100 where /proc/stat is missing).</summary>
    public static double Percent(TimeSpan span)
    {
        if (Sample() is not { } before)
            return 100;
        Thread.Sleep(span);
        if (Sample() is not { } after || after.Total == before.Total)
            return 100;
        return 100.0 * (after.Idle - before.Idle) / (after.Total - before.Total);
    }

    /// <summary>Waits until the CPUs were at least 90% idle over 5 s, for at most <paramref name="seconds"/>; says on stderr how it went.</summary>
    public static void Wait(int seconds)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            double idle = Percent(TimeSpan.FromSeconds(5));
            if (idle >= 90)
            {
                Console.Error.WriteLine(FormattableString.Invariant($"CPUs {idle:F0}% idle: measuring."));
                return;
            }
            if (DateTime.UtcNow >= deadline)
            {
                Console.Error.WriteLine(FormattableString.Invariant($"CPUs only {idle:F0}% idle after waiting {seconds} s: measuring anyway."));
                return;
            }
        }
    }

    private static (long Idle, long Total)? Sample()
    {
        try
        {
            // First line: "cpu  user nice system idle iowait irq softirq steal ..." in clock ticks.
            string? line = File.ReadLines("/proc/stat").FirstOrDefault();
            if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
                return null;
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long total = 0, idle = 0;
            for (int i = 1; i < fields.Length && i <= 8; i++)
            {
                long value = long.Parse(fields[i], CultureInfo.InvariantCulture);
                total += value;
                if (i is 4 or 5)
                    idle += value;
            }
            return (idle, total);
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
