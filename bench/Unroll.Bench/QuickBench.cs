using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;

namespace Unroll.Bench;

/// <summary>
/// The quick benchmark: every case at each thread count, Unroll against ONNX Runtime on the same model, weights and
/// input, one JSON object per line on stdout and a table on stderr.
/// </summary>
internal static class QuickBench
{
    /// <summary>Relative tolerance of the output check: max |Unroll - reference| must not exceed it times max |reference|.</summary>
    private const double Tolerance = 1e-4;

    /// <summary>Rounds of a case whose <see cref="BenchCase.Rounds"/> is not set, unless <c>--rounds</c> is given.</summary>
    private const int DefaultRounds = 21;

    /// <param name="Rounds">The rounds of every case (<c>--rounds</c>); null: each case's own, or <see cref="DefaultRounds"/>.</param>
    private sealed record Options(Isa Isa, string? Cases, int[] Threads, int? Rounds, int WaitIdleSeconds);

    private sealed record Row(string Id, int Threads, double UnrollMs, double? OrtMs, double Gflops, double? OrtGflops, double PctPeak, double? Diff, string Check);

    public static int Run(string[] args)
    {
        Options options;
        try
        {
            options = Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine("error: " + e.Message);
            Console.Error.WriteLine("usage: quick [--isa Avx512|Avx2|Portable] [--cases SUBSTRING] [--threads 1,2] [--rounds N] [--wait-idle SECONDS]");
            return 2;
        }
        if (options.WaitIdleSeconds > 0)
            Idle.Wait(options.WaitIdleSeconds);
        var wall = Stopwatch.StartNew();
        List<BenchCase> cases = Cases.Matching(options.Cases).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine($"error: no case matches '{options.Cases}'. Cases: {string.Join(", ", Cases.All.Select(c => c.Id))}");
            return 2;
        }

        double idleBefore = Idle.Percent(TimeSpan.FromSeconds(1));
        var peak = new Dictionary<int, double>();
        foreach (int t in options.Threads)
            peak[t] = FmaPeak.Gflops(options.Isa, t);
        WriteLine(w =>
        {
            w.WriteString("kind", "run");
            w.WriteString("isa", options.Isa.ToString());
            w.WriteNumber("peak_vector_bits", FmaPeak.Lanes(options.Isa) * 32);
            w.WriteStartObject("peak_gflops");
            foreach ((int t, double g) in peak)
                w.WriteNumber(t.ToString(CultureInfo.InvariantCulture), Round(g));
            w.WriteEndObject();
            w.WriteString("onnxruntime", OrtRunner.Version);
            w.WriteString("cpu", CpuName());
            w.WriteNumber("processors", Environment.ProcessorCount);
            w.WriteNumber("rounds", options.Rounds ?? DefaultRounds);
            w.WriteString("runtime", System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription);
            w.WriteNumber("idle_pct_before", Math.Round(idleBefore, 1));
        });

        var rows = new List<Row>();
        foreach (BenchCase benchCase in cases)
            foreach (int threads in options.Threads)
            {
                rows.Add(RunCase(benchCase, options, threads, peak[threads], rows.Count == 0 ? FirstWarmupMs : Measure.WarmupMs));
                GC.Collect();
            }

        WriteLine(w =>
        {
            w.WriteString("kind", "summary");
            w.WriteNumber("rows", rows.Count);
            w.WriteNumber("mismatches", rows.Count(r => r.Check == "MISMATCH"));
            foreach (int t in options.Threads)
            {
                double[] ratios = rows.Where(r => r.Threads == t && r.OrtMs is not null).Select(r => r.UnrollMs / r.OrtMs!.Value).ToArray();
                if (ratios.Length > 0)
                    w.WriteNumber($"geomean_ratio_t{t}", Round(Math.Exp(ratios.Average(Math.Log))));
            }
            w.WriteNumber("wall_s", Math.Round(wall.Elapsed.TotalSeconds, 1));
        });
        PrintTable(rows, options, peak);
        return rows.Any(r => r.Check == "MISMATCH") ? 1 : 0;
    }

    /// <summary>
    /// Milliseconds each side calls the run's first case before timing it. The run starts after idle seconds (the idle
    /// wait, the idle share sampled before the peak), and a kernel that streams megabytes from memory then ran about 1.4
    /// times slower for half a second or more before it reached its usual speed, while the FMA peak loop, which
    /// touches no memory, did not. AVX2's 1x1 256 -> 64 case alone in the run, 6 processes: after a 100 ms warm-up the
    /// timed rounds started at 1.3-1.7 ms in 5, whose median stayed there in 4 (against 1.03-1.08 ms once fast); after a
    /// 1.5 s warm-up every median was 1.03-1.11 ms (2 s leaves a margin). Without it, the first case's Unroll figure caught the slow start and
    /// ONNX Runtime's, timed after it, did not.
    /// </summary>
    private const double FirstWarmupMs = 2000;

    private static Row RunCase(BenchCase benchCase, Options options, int threads, double peak, double warmupMs)
    {
        using var setup = new CaseSetup(benchCase, options.Isa, threads);
        int rounds = options.Rounds ?? benchCase.Rounds ?? DefaultRounds;
        // Unroll is timed before the ONNX Runtime session exists, so that none of ORT's threads is spinning meanwhile.
        double unrollMs = Measure.MedianMs(setup.RunUnroll, rounds, warmupMs: warmupMs);
        setup.StartOrt();
        setup.RunOrt();
        setup.RunUnroll();
        if (!benchCase.Training)
        {
            (double diff, double reference) = MaxDifference(setup.UnrollOutput, setup.OrtOutput);
            double ortMs = Measure.MedianMs(setup.RunOrt, rounds, warmupMs: warmupMs);
            return Report(setup, peak, rounds, unrollMs, ortMs, diff, reference, "onnxruntime");
        }
        // ONNX Runtime has no training to time, but the gradients are checked against a double-precision reference
        // computed from its forward output (the loss's gradient is the output itself).
        (double gradientDiff, double gradientReference) = TrainingCheck.Compare(setup.Network, setup.Input, setup.OrtOutput, setup.Batch);
        return Report(setup, peak, rounds, unrollMs, null, gradientDiff, gradientReference, "none");
    }

    private static Row Report(CaseSetup setup, double peak, int rounds, double unrollMs, double? ortMs, double diff, double reference, string peer)
    {
        double gflops = setup.Flops / (unrollMs * 1e6);
        double? ortGflops = ortMs is { } o ? setup.Flops / (o * 1e6) : null;
        string check = diff <= Tolerance * Math.Max(reference, 1e-30) ? "ok" : "MISMATCH";
        BenchCase c = setup.Case;
        WriteLine(w =>
        {
            w.WriteString("kind", "case");
            w.WriteString("case", c.Name);
            w.WriteString("mode", c.Training ? "train" : "forward");
            w.WriteString("isa", setup.Network.Isa.ToString());
            w.WriteNumber("threads", setup.Threads);
            w.WriteNumber("batch", c.Batch);
            w.WriteNumber("rounds", rounds);
            w.WriteNumber("flops", setup.Flops);
            w.WriteNumber("unroll_ms", Round(unrollMs));
            Nullable(w, "ort_ms", ortMs);
            Nullable(w, "ratio", ortMs is { } om ? unrollMs / om : null);
            w.WriteNumber("gflops", Round(gflops));
            Nullable(w, "ort_gflops", ortGflops);
            w.WriteNumber("peak_gflops", Round(peak));
            w.WriteNumber("pct_peak", Round(100 * gflops / peak));
            Nullable(w, "ort_pct_peak", ortGflops is { } og ? 100 * og / peak : null);
            w.WriteNumber("max_abs_diff", Round(diff));
            w.WriteNumber("max_abs_ref", Round(reference));
            w.WriteString("check", check);
            w.WriteString("peer", peer);
            if (c.Training)
            {
                // "flops" counts a training step as three forward passes (forward, weight gradient, input gradient), the
                // usual convention; without an input gradient only the first two run, which is what these two count.
                double executed = setup.Flops * 2 / 3;
                w.WriteNumber("executed_flops", executed);
                w.WriteNumber("executed_pct_peak", Round(100 * executed / (unrollMs * 1e6) / peak));
            }
        });
        return new Row(c.Id, setup.Threads, unrollMs, ortMs, gflops, ortGflops, 100 * gflops / peak, diff, check);
    }

    /// <summary>max |a - b| and max |b|.</summary>
    public static (double Diff, double Reference) MaxDifference(ReadOnlySpan<float> actual, ReadOnlySpan<float> reference)
    {
        double diff = 0, max = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs((double)actual[i] - reference[i]));
            max = Math.Max(max, Math.Abs((double)reference[i]));
        }
        return (diff, max);
    }

    private static void PrintTable(List<Row> rows, Options options, Dictionary<int, double> peak)
    {
        TextWriter e = Console.Error;
        e.WriteLine();
        e.WriteLine($"Unroll vs ONNX Runtime {OrtRunner.Version}, {options.Isa}, FMA peak " +
            string.Join(", ", peak.Select(p => FormattableString.Invariant($"{p.Value:F0} GFLOP/s at {p.Key} thread(s)"))));
        e.WriteLine(FormattableString.Invariant($"{"case",-28} {"thr",3} {"unroll ms",10} {"ort ms",10} {"ratio",6} {"GFLOP/s",8} {"ort GF/s",8} {"%peak",6} {"max diff",9} check"));
        foreach (Row r in rows)
            e.WriteLine(FormattableString.Invariant(
                $"{r.Id,-28} {r.Threads,3} {r.UnrollMs,10:0.0000} {Text(r.OrtMs, "0.0000"),10} {Text(r.OrtMs is { } o ? r.UnrollMs / o : null, "0.00"),6} {r.Gflops,8:0.0} {Text(r.OrtGflops, "0.0"),8} {r.PctPeak,6:0.0} {Text(r.Diff, "0.0E+0"),9} {r.Check}"));
        e.WriteLine("ratio = unroll_ms / ort_ms: below 1 means Unroll is faster.");
    }

    private static string Text(double? value, string format) => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static Options Parse(string[] args)
    {
        Isa isa = IsaSupport.Default;
        string? cases = null;
        int[] threads = [1, 2];
        int? rounds = null;
        int waitIdle = 0;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--isa":
                    isa = IsaSupport.Parse(Value());
                    break;
                case "--cases":
                    cases = Value();
                    break;
                case "--threads":
                    threads = Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => int.Parse(t, NumberStyles.None, CultureInfo.InvariantCulture)).Distinct().ToArray();
                    if (threads.Length == 0 || threads.Any(t => t < 1))
                        throw new ArgumentException("--threads takes a comma-separated list of counts of at least 1.");
                    break;
                case "--rounds":
                    rounds = int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
                    if (rounds < 1)
                        throw new ArgumentException("--rounds must be at least 1.");
                    break;
                case "--wait-idle":
                    waitIdle = int.Parse(Value(), NumberStyles.None, CultureInfo.InvariantCulture);
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{args[i]}'.");
            }
        }
        if (!IsaSupport.IsSupported(isa))
            throw new ArgumentException($"This machine cannot run {isa} kernels; it runs {string.Join(", ", IsaSupport.Supported())}.");
        return new Options(isa, cases, threads, rounds, waitIdle);
    }

    private static string CpuName()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal))
                    return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return "unknown";
    }

    /// <summary>Writes one JSON object on one line of stdout.</summary>
    private static void WriteLine(Action<Utf8JsonWriter> fill)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            fill(writer);
            writer.WriteEndObject();
        }
        Console.Out.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
        Console.Out.Flush();
    }

    private static void Nullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
            w.WriteNumber(name, Round(v));
        else
            w.WriteNull(name);
    }

    /// <summary>Rounds to 4 significant digits, so the JSON stays readable.</summary>
    private static double Round(double value)
    {
        if (value == 0 || double.IsNaN(value) || double.IsInfinity(value))
            return value;
        int decimals = 3 - (int)Math.Floor(Math.Log10(Math.Abs(value)));
        return decimals <= 0 ? Math.Round(value) : Math.Round(value, Math.Min(decimals, 15));
    }
}
