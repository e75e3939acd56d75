using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace Unroll.Bench;

/// <summary>
/// The machine's fused multiply-add peak for one instruction set: a loop of 12 independent FMA chains (enough to hide
/// the FMA latency on two pipes), run at the same time on the given number of threads.
/// </summary>
internal static class FmaPeak
{
    /// <summary>FMAs per loop iteration: one per independent accumulator.</summary>
    private const int Chains = 12;

    /// <summary>Where the loops leave their result, so that the JIT cannot drop their work.</summary>
    private static object? s_sink;

    /// <summary>Floats per FMA for <paramref name="isa"/>: 16 (zmm), 8 (ymm) or 1 (scalar, the portable kernels' width).</summary>
    public static int Lanes(Isa isa) => isa switch
    {
        Isa.Avx512 => Vector512<float>.Count,
        Isa.Avx2 => Vector256<float>.Count,
        _ => 1,
    };

    /// <summary>The peak in GFLOP/s (an FMA counts 2 per lane) over all <paramref name="threads"/>: the median of <paramref name="rounds"/> rounds of about <paramref name="roundMs"/> each.</summary>
    public static double Gflops(Isa isa, int threads, int rounds = 7, double roundMs = 40)
    {
        Action<long> loop = isa switch
        {
            Isa.Avx512 => Loop512,
            Isa.Avx2 => Loop256,
            _ => LoopScalar,
        };
        // Calibrate on one thread (this also compiles the loop with full optimisation).
        loop(10_000);
        long iterations = 200_000;
        while (true)
        {
            long start = Stopwatch.GetTimestamp();
            loop(iterations);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (ms > 5)
            {
                iterations = Math.Max(1, (long)(iterations * roundMs / ms));
                break;
            }
            iterations *= 4;
        }
        double[] gflops = new double[rounds];
        for (int r = 0; r < rounds; r++)
        {
            double seconds = RunConcurrently(loop, iterations, threads);
            gflops[r] = threads * (double)iterations * Chains * Lanes(isa) * 2 / seconds / 1e9;
        }
        return Measure.Median(gflops);
    }

    /// <summary>Seconds from releasing <paramref name="threads"/> threads, each running the loop, until the last finishes.</summary>
    private static double RunConcurrently(Action<long> loop, long iterations, int threads)
    {
        using var start = new Barrier(threads + 1);
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                loop(iterations);
            }) { IsBackground = true };
            workers[t].Start();
        }
        start.SignalAndWait();
        long begin = Stopwatch.GetTimestamp();
        foreach (Thread worker in workers)
            worker.Join();
        return Stopwatch.GetElapsedTime(begin).TotalSeconds;
    }

    // Each chain is acc = acc * m + a with m just below 1, so the values settle near a / (1 - m): no overflow, no denormals.
    // One generic loop; the JIT compiles it apart for each struct type argument, with the FMA inlined.

    private static void Loop512(long iterations) => Loop<Vector512<float>, Zmm>(iterations);

    private static void Loop256(long iterations) => Loop<Vector256<float>, Ymm>(iterations);

    private static void LoopScalar(long iterations) => Loop<float, Scalar>(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Loop<TVector, TOps>(long iterations) where TOps : struct, IFmaOps<TVector>
    {
        TVector m = TOps.Splat(0.99999f), a = TOps.Splat(1e-6f);
        TVector c0 = TOps.Splat(0.10f), c1 = TOps.Splat(0.11f), c2 = TOps.Splat(0.12f), c3 = TOps.Splat(0.13f);
        TVector c4 = TOps.Splat(0.14f), c5 = TOps.Splat(0.15f), c6 = TOps.Splat(0.16f), c7 = TOps.Splat(0.17f);
        TVector c8 = TOps.Splat(0.18f), c9 = TOps.Splat(0.19f), c10 = TOps.Splat(0.20f), c11 = TOps.Splat(0.21f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = TOps.MultiplyAdd(c0, m, a); c1 = TOps.MultiplyAdd(c1, m, a); c2 = TOps.MultiplyAdd(c2, m, a); c3 = TOps.MultiplyAdd(c3, m, a);
            c4 = TOps.MultiplyAdd(c4, m, a); c5 = TOps.MultiplyAdd(c5, m, a); c6 = TOps.MultiplyAdd(c6, m, a); c7 = TOps.MultiplyAdd(c7, m, a);
            c8 = TOps.MultiplyAdd(c8, m, a); c9 = TOps.MultiplyAdd(c9, m, a); c10 = TOps.MultiplyAdd(c10, m, a); c11 = TOps.MultiplyAdd(c11, m, a);
        }
        // Fold the chains so that none of them is dead code.
        TVector s0 = TOps.MultiplyAdd(TOps.MultiplyAdd(c0, m, c1), m, TOps.MultiplyAdd(c2, m, c3));
        TVector s1 = TOps.MultiplyAdd(TOps.MultiplyAdd(c4, m, c5), m, TOps.MultiplyAdd(c6, m, c7));
        TVector s2 = TOps.MultiplyAdd(TOps.MultiplyAdd(c8, m, c9), m, TOps.MultiplyAdd(c10, m, c11));
        s_sink = TOps.MultiplyAdd(TOps.MultiplyAdd(s0, m, s1), m, s2);
    }

    private interface IFmaOps<TVector>
    {
        static abstract TVector Splat(float value);
        static abstract TVector MultiplyAdd(TVector x, TVector y, TVector z);
    }

    private readonly struct Zmm : IFmaOps<Vector512<float>>
    {
        public static Vector512<float> Splat(float value) => Vector512.Create(value);
        public static Vector512<float> MultiplyAdd(Vector512<float> x, Vector512<float> y, Vector512<float> z) => Avx512F.FusedMultiplyAdd(x, y, z);
    }

    private readonly struct Ymm : IFmaOps<Vector256<float>>
    {
        public static Vector256<float> Splat(float value) => Vector256.Create(value);
        public static Vector256<float> MultiplyAdd(Vector256<float> x, Vector256<float> y, Vector256<float> z) => Fma.MultiplyAdd(x, y, z);
    }

    private readonly struct Scalar : IFmaOps<float>
    {
        public static float Splat(float value) => value;
        public static float MultiplyAdd(float x, float y, float z) => MathF.FusedMultiplyAdd(x, y, z);
    }
}
