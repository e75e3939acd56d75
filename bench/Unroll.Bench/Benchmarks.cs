using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;

namespace Unroll.Bench;

/// <summary>Forward passes of every inference case: ONNX Runtime (the baseline) and Unroll, on the same model, weights and input.</summary>
public class InferenceBenchmarks
{
    private CaseSetup? _setup;

    /// <summary>The case identifiers (<c>conv3x3_64_56_b1</c>, ...).</summary>
    public static IEnumerable<string> CaseIds => Cases.All.Where(c => !c.Training).Select(c => c.Id);

    /// <summary>The case.</summary>
    [ParamsSource(nameof(CaseIds))]
    public string Case { get; set; } = "";

    /// <summary>Threads of both sides.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Creates the network and the ONNX Runtime session.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _setup = new CaseSetup(Cases.Find(Case), IsaSupport.Default, Threads);
        _setup.StartOrt();
    }

    /// <summary>ONNX Runtime's forward pass.</summary>
    [Benchmark(Baseline = true)]
    public void OnnxRuntime() => _setup!.RunOrt();

    /// <summary>Unroll's forward pass.</summary>
    [Benchmark]
    public void Unroll() => _setup!.RunUnroll();

    /// <summary>Releases the session and the network.</summary>
    [GlobalCleanup]
    public void Cleanup() => _setup?.Dispose();
}

/// <summary>Training steps (forward and backward, no input gradient); ONNX Runtime has no training in this package, so there is no baseline.</summary>
public class TrainingBenchmarks
{
    private CaseSetup? _setup;

    /// <summary>The training case identifiers.</summary>
    public static IEnumerable<string> CaseIds => Cases.All.Where(c => c.Training).Select(c => c.Id);

    /// <summary>The case.</summary>
    [ParamsSource(nameof(CaseIds))]
    public string Case { get; set; } = "";

    /// <summary>Threads the batch is split over.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    /// <summary>Creates the network.</summary>
    [GlobalSetup]
    public void Setup() => _setup = new CaseSetup(Cases.Find(Case), IsaSupport.Default, Threads);

    /// <summary>One training step.</summary>
    [Benchmark]
    public void Unroll() => _setup!.RunUnroll();

    /// <summary>Releases the network.</summary>
    [GlobalCleanup]
    public void Cleanup() => _setup?.Dispose();
}
