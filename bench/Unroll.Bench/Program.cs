using System;
using System.Linq;
using BenchmarkDotNet.Running;
using Unroll;
using Unroll.Bench;

// Unroll.Bench: Unroll against ONNX Runtime.
//   quick [--isa Avx512|Avx2|Portable] [--cases SUBSTRING] [--threads 1,2] [--rounds N]
//        every case at each thread count, one JSON object per line on stdout, a table on stderr (bench/README.md)
//   peak [ISA]   the FMA peak alone, at 1 and 2 threads
//   list         the case identifiers
//   bdn [BenchmarkDotNet arguments]
//        the same cases under BenchmarkDotNet, ONNX Runtime as the baseline
string command = args.Length > 0 ? args[0].ToLowerInvariant() : "";
switch (command)
{
    case "quick":
        return QuickBench.Run(args[1..]);
    case "bdn":
        BenchmarkSwitcher.FromTypes([typeof(InferenceBenchmarks), typeof(TrainingBenchmarks)]).Run(args[1..]);
        return 0;
    case "peak":
        // The FMA peak alone: peak [ISA] (the machine's default ISA otherwise), at 1 and 2 threads.
        Isa isa = args.Length > 1 ? IsaSupport.Parse(args[1]) : IsaSupport.Default;
        foreach (int threads in new[] { 1, 2 })
            Console.WriteLine(FormattableString.Invariant($"{isa} {threads} thread(s): {FmaPeak.Gflops(isa, threads):F1} GFLOP/s"));
        return 0;
    case "list":
        foreach (BenchCase c in Cases.All)
            Console.WriteLine(c.Id);
        return 0;
    default:
        Console.Error.WriteLine("usage: Unroll.Bench quick [--isa Avx512|Avx2|Portable] [--cases SUBSTRING] [--threads 1,2] [--rounds N]");
        Console.Error.WriteLine("       Unroll.Bench bdn [BenchmarkDotNet arguments, e.g. --filter *Inference* --job short]");
        Console.Error.WriteLine("       Unroll.Bench peak [Avx512|Avx2|Portable]");
        Console.Error.WriteLine("       Unroll.Bench list");
        return 2;
}
