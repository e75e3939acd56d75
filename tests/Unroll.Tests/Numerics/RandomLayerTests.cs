using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;
using System.Text;
using Unroll.Tests.Infrastructure;
using Unroll.Tests.Reference;
using Xunit.Abstractions;

namespace Unroll.Tests.Numerics;

/// <summary>
/// Property-based tests: a few hundred random single layers (and short chains), all compiled in one
/// source, run on every supported instruction set against the double-precision reference.
/// </summary>
public class RandomLayerTests
{
    /// <summary>Fixed, so every failure reproduces.</summary>
    public const int Seed = 20261127;
    public const int CaseCount = 310;
    private const int MaxReportedFailures = 12;

    private readonly ITestOutputHelper _output;

    public RandomLayerTests(ITestOutputHelper output) => _output = output;

    private void Log(string line)
    {
        _output.WriteLine(line);
        Console.WriteLine(line);
    }

    [Fact]
    public void TheCasesCoverEveryLayerKindAndTheAwkwardSizes()
    {
        List<RandomCase> cases = new RandomCaseGenerator(Seed).Generate(CaseCount);
        var layers = cases.SelectMany(c => c.Layers.Zip(new[] { c.Input }.Concat(c.Shapes), (l, input) => (l.Ref, Input: input, l.Attributes))).ToList();
        var convs = layers.Where(l => l.Ref.Op == RefOp.Conv).ToList();

        // Channel counts that are not multiples of 8 or 16, and the ones at vector boundaries.
        var channels = new HashSet<int>(layers.Select(l => l.Input.Channels).Concat(convs.Select(l => l.Ref.Units)));
        foreach (int c in RandomCaseGenerator.RequiredChannels)
        {
            Assert.Contains(c, convs.Select(l => l.Input.Channels));
            Assert.Contains(c, convs.Select(l => l.Ref.Units));
        }
        Assert.Contains(channels, c => c % 8 != 0 && c > 16);
        Assert.Contains(40, channels);
        // Kernel 1-7, stride 1-3, padding 0-3, spatial sizes 1-40 (non-square), batch 1-5.
        for (int k = 1; k <= 7; k++)
        {
            Assert.Contains(convs, l => l.Ref.KernelH == k);
            Assert.Contains(layers, l => l.Ref.Op == RefOp.MaxPool && l.Ref.KernelH == k);
            Assert.Contains(layers, l => l.Ref.Op == RefOp.AvgPool && l.Ref.KernelH == k);
        }
        Assert.Contains(convs, l => l.Ref.KernelH != l.Ref.KernelW);
        // Windows larger than the unpadded input (they fit only thanks to the padding).
        Assert.Contains(convs, l => l.Ref.KernelH > l.Input.Height || l.Ref.KernelW > l.Input.Width);
        Assert.Contains(layers, l => l.Ref.Op is RefOp.MaxPool or RefOp.AvgPool && (l.Ref.KernelH > l.Input.Height || l.Ref.KernelW > l.Input.Width));
        // Strides larger than the kernel skip input pixels.
        Assert.Contains(convs, l => l.Ref.Stride > l.Ref.KernelH);
        for (int s = 1; s <= 3; s++)
            Assert.Contains(convs, l => l.Ref.Stride == s);
        for (int p = 0; p <= 3; p++)
        {
            Assert.Contains(convs, l => l.Attributes.Contains($"Pad = {p}"));
            if (p > 0)
                Assert.Contains(layers, l => l.Ref.Op is RefOp.MaxPool or RefOp.AvgPool && l.Ref.PadTop == p);
        }
        Assert.Contains(convs, l => l.Attributes.Contains("Padding.Same") && l.Ref.PadTop != l.Ref.PadBottom);
        Assert.Contains(convs, l => !l.Ref.Bias);
        foreach (Activation a in new[] { Activation.ReLU, Activation.LeakyReLU, Activation.Tanh, Activation.Sigmoid, Activation.Clip })
        {
            Assert.Contains(convs, l => l.Ref.Activation == a);
            Assert.Contains(layers, l => l.Ref.Op == RefOp.Activation && l.Ref.Activation == a && !l.Input.IsFlat);
        }
        // Clips: ReLU6, each side open, and both bounds inside the values of order 1 the layers see.
        var clips = layers.Where(l => l.Ref.Activation == Activation.Clip).Select(l => l.Ref).ToList();
        Assert.Contains(clips, c => c.ClipMin == 0 && c.ClipMax == 6);
        Assert.Contains(clips, c => float.IsNegativeInfinity(c.ClipMin) && c.ClipMax < 1);
        Assert.Contains(clips, c => c.ClipMin > -1 && float.IsPositiveInfinity(c.ClipMax));
        Assert.Contains(clips, c => c.ClipMin > -1 && c.ClipMax <= 1 && c.Op == RefOp.Conv);
        Assert.Contains(clips, c => c.ClipMin > -1 && c.ClipMax <= 1 && c.Op == RefOp.Dense);
        Assert.Contains(layers, l => l.Ref.Op == RefOp.Activation && l.Ref.Activation == Activation.Softmax);
        Assert.Contains(layers, l => l.Ref.Op == RefOp.Dense && l.Ref.Activation == Activation.Softmax);
        Assert.Contains(layers, l => l.Ref.Op == RefOp.AvgPool && l.Ref.CountIncludePad && l.Ref.PadTop > 0);
        Assert.Contains(layers, l => l.Ref.Op == RefOp.AvgPool && !l.Ref.CountIncludePad && l.Ref.PadTop > 0);
        Assert.Contains(layers, l => l.Ref.Op == RefOp.Dense && !l.Input.IsFlat);
        Assert.Contains(layers, l => l.Ref.Op == RefOp.Dense && l.Input.IsFlat);
        Assert.Contains(layers, l => l.Input.Height == 1 && l.Input.Width > 1);
        Assert.Contains(layers, l => l.Input.Height == 40 || l.Input.Width == 40);
        Assert.Contains(layers, l => l.Input.Height != l.Input.Width);
        for (int b = 1; b <= 5; b++)
            Assert.Contains(cases, c => c.Batch == b);
        Assert.Contains(cases, c => c.Threads == 2);
        Assert.Equal(RandomCaseGenerator.Kinds.Distinct().Count(), cases.Select(c => c.Kind).Distinct().Count());
    }

    [Fact]
    public void RandomLayersMatchTheReferenceOnEveryIsa()
    {
        var clock = Stopwatch.StartNew();
        List<RandomCase> cases = new RandomCaseGenerator(Seed).Generate(CaseCount);
        var source = new StringBuilder("using Unroll;\n\n");
        foreach (RandomCase c in cases)
            source.AppendLine(c.Declaration);
        Assembly assembly = GeneratorHarness.CompileAndLoad(source.ToString());
        TimeSpan compile = clock.Elapsed;

        Isa[] isas = IsaSupport.Supported();
        var failures = new List<string>();
        var failedCases = new List<string>();
        int failedRuns = 0;
        long values = 0;
        var worst = isas.ToDictionary(isa => isa, _ => (Ratio: 0.0, Case: -1));
        var random = new SeededRandom(Seed + 1);
        foreach (RandomCase c in cases)
        {
            // Parameters and inputs: the same canonical values on every instruction set.
            var parameters = new (float[]? Weights, float[]? Bias)[c.Layers.Count];
            float[] input = new float[c.Batch * c.Input.Length];
            for (int i = 0; i < input.Length; i++)
                input[i] = random.Uniform(-1f, 1f);
            RefTensor[]? expected = null;
            var report = new StringBuilder();
            var failingIsas = new List<Isa>();

            foreach (Isa isa in isas)
            {
                using Network net = GeneratorHarness.Create(assembly, c.ClassName, new NetworkOptions { Isa = isa, Threads = c.Threads, Seed = c.Index });
                if (expected is null)
                {
                    string? problem = CheckDescription(c, net.Info);
                    if (problem is not null)
                    {
                        failedRuns += isas.Length;
                        failingIsas.AddRange(isas);
                        report.Append("  the description disagrees with the declaration: ").AppendLine(problem);
                        break;
                    }
                    for (int i = 0; i < c.Layers.Count; i++)
                        parameters[i] = RandomParameters(net.Layers[i].Info, random);
                    expected = ReferenceOps.Run(c.RefLayers.ToList(), c.Input, parameters, input, c.Batch);
                }
                for (int i = 0; i < c.Layers.Count; i++)
                {
                    if (parameters[i].Weights is { } w)
                        net.Layers[i].SetWeights(w);
                    if (parameters[i].Bias is { } b)
                        net.Layers[i].SetBias(b);
                }
                float[] output = new float[c.Batch * net.OutputLength];
                output.AsSpan().Fill(float.NaN);
                net.Forward(input, output, c.Batch);
                values += output.Length;

                double ratio = Tolerance.WorstRatio(output, expected);
                if (ratio > worst[isa].Ratio)
                    worst[isa] = (ratio, c.Index);
                var lines = new List<string>();
                int bad = Tolerance.Mismatches(output, expected, lines, limit: 3);
                if (bad > 0)
                {
                    failedRuns++;
                    failingIsas.Add(isa);
                    report.AppendLine($"  {isa}: {bad} of {output.Length} values differ");
                    foreach (string line in lines)
                        report.Append("    ").AppendLine(line);
                }
            }
            if (failingIsas.Count > 0)
            {
                failedCases.Add($"{c.Index} ({c.Kind}: {string.Join("/", failingIsas)})");
                if (failures.Count < MaxReportedFailures)
                    failures.Add($"case {c.Index} ({c.Kind}), batch {c.Batch}, {c.Threads} thread(s), failing on {string.Join(", ", failingIsas)}:\n"
                        + c.Declaration + report.ToString().TrimEnd());
            }
        }
        TimeSpan total = clock.Elapsed;
        Log($"random layers: {cases.Count} cases x {isas.Length} ISAs ({string.Join(", ", isas)}) checked, {values} output values; "
            + $"compile {compile.TotalSeconds:F1} s, total {total.TotalSeconds:F1} s, seed {Seed}");
        foreach (Isa isa in isas)
            Log($"  {isa}: worst |unroll - reference| / allowed = {worst[isa].Ratio:F4} (case {worst[isa].Case})");
        Assert.True(failedRuns == 0,
            $"{failedRuns} (case, ISA) run(s) of {cases.Count * isas.Length} failed (seed {Seed}), in {failedCases.Count} case(s): {string.Join(", ", failedCases)}\n\n"
            + $"The first {failures.Count}:\n\n" + string.Join("\n\n", failures));
    }

    /// <summary>Compares the generated description with the reference's own reading of the declaration.</summary>
    internal static string? CheckDescription(RandomCase c, NetworkInfo info)
    {
        if (info.InputShape != c.Input)
            return $"input {info.InputShape}, declared {c.Input}";
        if (info.Layers.Count != c.Layers.Count)
            return $"{info.Layers.Count} layers, declared {c.Layers.Count}";
        IReadOnlyList<Shape> shapes = c.Shapes;
        for (int i = 0; i < c.Layers.Count; i++)
        {
            RefLayer expected = c.Layers[i].Ref;
            RefLayer actual = RefLayer.FromInfo(info.Layers[i], expected.Alpha);
            if (actual != expected)
                return $"layer {i} reads back as {actual}, expected {expected}";
            if (info.Layers[i].OutputShape != shapes[i])
                return $"layer {i} output {info.Layers[i].OutputShape}, the reference computes {shapes[i]}";
        }
        return null;
    }

    /// <summary>Weights uniform in +-sqrt(3 / fan-in) * 1.5 (so activations see values of order 1), biases in +-0.5.</summary>
    internal static (float[]? Weights, float[]? Bias) RandomParameters(LayerInfo layer, SeededRandom random)
    {
        float[]? weights = null, bias = null;
        if (layer.Weights is { } w)
        {
            weights = new float[w.Count];
            float limit = (float)(1.5 * Math.Sqrt(3.0 / (w.Count / w.Shape[0])));
            for (int i = 0; i < weights.Length; i++)
                weights[i] = random.Uniform(-limit, limit);
        }
        if (layer.Bias is { } b)
        {
            bias = new float[b.Count];
            for (int i = 0; i < bias.Length; i++)
                bias[i] = random.Uniform(-0.5f, 0.5f);
        }
        return (weights, bias);
    }
}
