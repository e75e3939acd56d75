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
/// Property-based tests of the generated backward kernels: the forward suite's random single layers (and short chains),
/// all compiled in one source, run through <see cref="Network.ComputeGradients"/> on every supported instruction set with
/// a fixed random output gradient, against the double-precision reference backward pass. Parameter gradients (read from
/// storage order through <see cref="TensorLayouts.StorageIndices"/>) and input gradients must agree within
/// <see cref="GradientTolerance"/>; padded parameter lanes must get exactly zero gradient; two runs with two threads must
/// give the same bits (the parts are reduced in a fixed order), and agree with the reference within the same tolerance
/// as one thread (the sum runs in another order, so the last bits may differ). Cases ending in a softmax are also run
/// with the softmax folded into the loss.
/// </summary>
public class RandomBackwardTests
{
    /// <summary>The forward suite's seed: the cases are drawn from its 310.</summary>
    public const int Seed = RandomLayerTests.Seed;

    /// <summary>
    /// Five rounds of the 33-kind cycle: the first 165 of the forward suite's cases. Generated code with backward kernels
    /// compiles at 0.2-0.4 s per case on this shared 2-core machine (the forward suite's 310 cases took 124 s to compile),
    /// so the subset keeps the test near a minute (compile 35-46 s, total 45-56 s measured; 56 s and 72 s once clips joined
    /// the draws, on the machine shared with a benchmark). Any property of the forward suite's ranges the subset misses
    /// (<see cref="Missing"/>) is filled with the first later case that has it (one is: a 1x1 max pool).
    /// </summary>
    public const int CoreCount = 165;
    private const int MaxReportedFailures = 12;

    private readonly ITestOutputHelper _output;

    public RandomBackwardTests(ITestOutputHelper output) => _output = output;

    private void Log(string line)
    {
        _output.WriteLine(line);
        Console.WriteLine(line);
    }

    /// <summary>The first <see cref="CoreCount"/> forward cases, plus the earliest later ones that cover what those miss.</summary>
    public static List<RandomCase> Cases()
    {
        List<RandomCase> all = new RandomCaseGenerator(Seed).Generate(RandomLayerTests.CaseCount);
        var chosen = all.Take(CoreCount).ToList();
        int missing = Missing(chosen).Count;
        foreach (RandomCase c in all.Skip(CoreCount))
        {
            if (missing == 0)
                break;
            chosen.Add(c);
            int now = Missing(chosen).Count;
            if (now < missing)
                missing = now;
            else
                chosen.RemoveAt(chosen.Count - 1);
        }
        return chosen;
    }

    [Fact]
    public void TheSubsetCoversEveryLayerKindAndTheRanges() => Covers(Cases());

    internal static void Covers(IReadOnlyList<RandomCase> cases)
    {
        List<string> missing = Missing(cases);
        Assert.True(missing.Count == 0, $"The {cases.Count} cases miss: {string.Join("; ", missing)}");
    }

    /// <summary>The properties of the forward suite's ranges that <paramref name="cases"/> fail to exercise, in words.</summary>
    internal static List<string> Missing(IReadOnlyList<RandomCase> cases)
    {
        var missing = new List<string>();
        void Require(bool condition, string what)
        {
            if (!condition)
                missing.Add(what);
        }
        var layers = cases.SelectMany(c => c.Layers.Zip(new[] { c.Input }.Concat(c.Shapes), (l, input) => (l.Ref, Input: input, l.Attributes))).ToList();
        var convs = layers.Where(l => l.Ref.Op == RefOp.Conv).ToList();
        var pools = layers.Where(l => l.Ref.Op is RefOp.MaxPool or RefOp.AvgPool).ToList();

        Require(RandomCaseGenerator.Kinds.Distinct().All(k => cases.Any(c => c.Kind == k)), "every case kind");
        foreach (int c in RandomCaseGenerator.RequiredChannels)
        {
            Require(convs.Any(l => l.Input.Channels == c), $"a convolution over {c} input channel(s)");
            Require(convs.Any(l => l.Ref.Units == c), $"a convolution with {c} filter(s)");
        }
        Require(layers.Any(l => l.Input.Channels == 40 || l.Ref.Units == 40), "40 channels");
        for (int k = 1; k <= 7; k++)
        {
            Require(convs.Any(l => l.Ref.KernelH == k), $"a {k}-high convolution kernel");
            Require(layers.Any(l => l.Ref.Op == RefOp.MaxPool && l.Ref.KernelH == k), $"a {k}x{k} max pool");
            Require(layers.Any(l => l.Ref.Op == RefOp.AvgPool && l.Ref.KernelH == k), $"a {k}x{k} average pool");
        }
        Require(layers.Any(l => l.Ref.Op == RefOp.MaxPool && l.Ref.Stride < l.Ref.KernelH), "overlapping max-pool windows");
        Require(convs.Any(l => l.Ref.KernelH != l.Ref.KernelW), "a rectangular kernel");
        Require(convs.Any(l => l.Ref.KernelH > l.Input.Height || l.Ref.KernelW > l.Input.Width), "a kernel larger than the unpadded input");
        Require(pools.Any(l => l.Ref.KernelH > l.Input.Height || l.Ref.KernelW > l.Input.Width), "a pool window larger than the unpadded input");
        Require(convs.Any(l => l.Ref.Stride > l.Ref.KernelH), "a stride larger than the kernel");
        for (int s = 1; s <= 3; s++)
        {
            Require(convs.Any(l => l.Ref.Stride == s), $"a convolution with stride {s}");
            Require(pools.Any(l => l.Ref.Stride == s), $"a pool with stride {s}");
        }
        for (int p = 0; p <= 3; p++)
        {
            Require(convs.Any(l => l.Attributes.Contains($"Pad = {p}")), $"a convolution with Pad = {p}");
            if (p > 0)
                Require(pools.Any(l => l.Ref.PadTop == p), $"a pool with pad {p}");
        }
        Require(layers.Any(l => l.Ref.Op == RefOp.MaxPool && l.Ref.PadTop > 0), "a padded max pool");
        Require(layers.Any(l => l.Ref.Op == RefOp.AvgPool && l.Ref.PadTop > 0 && l.Ref.CountIncludePad), "a padded average pool counting the padding");
        Require(layers.Any(l => l.Ref.Op == RefOp.AvgPool && l.Ref.PadTop > 0 && !l.Ref.CountIncludePad), "a padded average pool not counting the padding");
        Require(convs.Any(l => l.Attributes.Contains("Padding.Same") && l.Ref.PadTop != l.Ref.PadBottom), "asymmetric 'same' padding");
        Require(convs.Any(l => !l.Ref.Bias), "a convolution without bias");
        Require(layers.Any(l => l.Ref.Op == RefOp.Dense && !l.Ref.Bias), "a dense layer without bias");
        foreach (Activation a in new[] { Activation.ReLU, Activation.LeakyReLU, Activation.Tanh, Activation.Sigmoid, Activation.Clip })
        {
            Require(convs.Any(l => l.Ref.Activation == a), $"a convolution with {a}");
            Require(layers.Any(l => l.Ref.Op == RefOp.Dense && l.Ref.Activation == a), $"a dense layer with {a}");
            Require(layers.Any(l => l.Ref.Op == RefOp.Activation && l.Ref.Activation == a && !l.Input.IsFlat), $"a stand-alone spatial {a}");
        }
        Require(layers.Any(l => l.Ref.Activation == Activation.LeakyReLU && l.Ref.Alpha != 0.01f), "a leaky ReLU with a declared slope");
        Require(layers.Any(l => l.Ref.Activation == Activation.Clip && l.Ref.ClipMin > -1 && l.Ref.ClipMax <= 1), "a clip with both bounds inside the values");
        Require(layers.Any(l => l.Ref.Activation == Activation.Clip && float.IsInfinity(l.Ref.ClipMin) != float.IsInfinity(l.Ref.ClipMax)), "a one-sided clip");
        Require(layers.Any(l => l.Ref.Op == RefOp.Activation && l.Ref.Activation == Activation.Softmax), "a stand-alone softmax");
        Require(layers.Any(l => l.Ref.Op == RefOp.Dense && l.Ref.Activation == Activation.Softmax), "a dense layer with a fused softmax");
        Require(layers.Any(l => l.Ref.Op == RefOp.Dense && !l.Input.IsFlat), "a dense layer over a spatial input");
        Require(layers.Any(l => l.Ref.Op == RefOp.Dense && l.Input.IsFlat), "a dense layer over a flat input");
        // The network's input gradient comes out of every kind of first layer of a chain (merges and global pooling are
        // covered by the graph tests: BackwardFiniteDifferenceTests, GraphNetworkTests).
        foreach (RefOp op in Enum.GetValues<RefOp>().Except(new[] { RefOp.Add, RefOp.Concat, RefOp.GlobalAvgPool, RefOp.BatchNorm, RefOp.Dropout, RefOp.LRN, RefOp.ZeroPad }))
            Require(cases.Any(c => c.Layers[0].Ref.Op == op), $"a case starting with {op}");
        Require(layers.Any(l => l.Input.Height == 1 && l.Input.Width > 1), "a 1-high input");
        Require(layers.Any(l => l.Input.Height == 40 || l.Input.Width == 40), "a 40-pixel side");
        Require(layers.Any(l => l.Input.Height != l.Input.Width), "a non-square input");
        for (int b = 1; b <= 5; b++)
            Require(cases.Any(c => c.Batch == b), $"batch {b}");
        // Most batches hold several samples, so the gradients accumulate over samples (and split over two threads).
        Require(cases.Count(c => c.Batch > 1) * 10 >= cases.Count * 7, "at least 70% of the cases with batch > 1");
        return missing;
    }

    /// <summary>Counts and margins of one instruction set.</summary>
    private sealed class IsaTally
    {
        public int Cases, TwoThreadCases, FoldedCases, FailedCases;
        public long Values;
        public double Worst;
        public int WorstCase = -1;
    }

    [Fact]
    public void RandomLayerGradientsMatchTheReferenceOnEveryIsa()
    {
        var clock = Stopwatch.StartNew();
        List<RandomCase> cases = Cases();
        var source = new StringBuilder("using Unroll;\n\n");
        foreach (RandomCase c in cases)
            source.AppendLine(c.Declaration);
        Assembly assembly = GeneratorHarness.CompileAndLoad(source.ToString());
        TimeSpan compile = clock.Elapsed;

        Isa[] isas = IsaSupport.Supported();
        var tallies = isas.ToDictionary(isa => isa, _ => new IsaTally());
        var failures = new List<string>();
        var failedCases = new List<string>();
        int ambiguousActivations = 0, ambiguousWindows = 0, tieCases = 0;
        TimeSpan reference = TimeSpan.Zero;
        var random = new SeededRandom(Seed + 2);
        foreach (RandomCase c in cases)
        {
            var parameters = new (float[]? Weights, float[]? Bias)[c.Layers.Count];
            float[] input = new float[c.Batch * c.Input.Length];
            // Every other case that starts with a max pool gets inputs on a grid of quarters, so its windows hold exact
            // ties: the gradient must go to the first maximum in scan order, as the reference's (exact) input says.
            bool ties = c.Layers[0].Ref.Op == RefOp.MaxPool && c.Index % 2 == 1;
            for (int i = 0; i < input.Length; i++)
                input[i] = ties ? MathF.Round(random.Uniform(-1f, 1f) * 4) / 4 : random.Uniform(-1f, 1f);
            if (ties)
                tieCases++;
            RefNetworkGradients? expected = null, folded = null;
            bool endsInSoftmax = c.Layers[^1].Ref.Activation == Activation.Softmax;
            float[] dy = Array.Empty<float>();
            var report = new StringBuilder();
            var failingIsas = new List<Isa>();

            foreach (Isa isa in isas)
            {
                using Network net = GeneratorHarness.Create(assembly, c.ClassName, new NetworkOptions { Isa = isa, Threads = 1, Seed = c.Index });
                if (expected is null)
                {
                    string? problem = RandomLayerTests.CheckDescription(c, net.Info);
                    if (problem is not null)
                    {
                        failingIsas.AddRange(isas);
                        report.Append("  the description disagrees with the declaration: ").AppendLine(problem);
                        break;
                    }
                    for (int i = 0; i < c.Layers.Count; i++)
                        parameters[i] = RandomLayerTests.RandomParameters(net.Layers[i].Info, random);
                    dy = new float[c.Batch * net.OutputLength];
                    for (int i = 0; i < dy.Length; i++)
                        dy[i] = random.Uniform(-1f, 1f);
                    var referenceClock = Stopwatch.StartNew();
                    expected = ReferenceBackward.Network(c.RefLayers.ToList(), c.Input, parameters, input, c.Batch, dy);
                    // The same dy taken as the gradient with respect to the final softmax's input (a folded cross-entropy).
                    if (endsInSoftmax)
                        folded = ReferenceBackward.Network(c.RefLayers.ToList(), c.Input, parameters, input, c.Batch, dy, foldOutputSoftmax: true);
                    reference += referenceClock.Elapsed;
                    ambiguousActivations += expected.AmbiguousActivations;
                    ambiguousWindows += expected.AmbiguousWindows;
                }
                for (int i = 0; i < c.Layers.Count; i++)
                {
                    if (parameters[i].Weights is { } w)
                        net.Layers[i].SetWeights(w);
                    if (parameters[i].Bias is { } b)
                        net.Layers[i].SetBias(b);
                }

                IsaTally tally = tallies[isa];
                var lines = new List<string>();
                int bad = 0;
                double worst = 0;
                (float[] grads, float[] dx) = Run(net, input, c.Batch, dy);
                bad += Compare(net.Info, grads, dx, expected, "1 thread", lines, ref worst);
                tally.Values += grads.Length + dx.Length;
                // Without an input-gradient buffer the first layer skips its input gradient: the parameter gradients keep their bits.
                bad += BitDifferences("1 thread, no input gradient: parameter gradient", grads, Run(net, input, c.Batch, dy, inputGradient: false).Gradients, lines);
                if (folded is not null)
                {
                    (float[] foldedGrads, float[] foldedDx) = Run(net, input, c.Batch, dy, foldOutputSoftmax: true);
                    bad += Compare(net.Info, foldedGrads, foldedDx, folded, "1 thread, softmax folded", lines, ref worst);
                    tally.Values += foldedGrads.Length + foldedDx.Length;
                    tally.FoldedCases++;
                }
                if (c.Batch > 1)
                {
                    // Two threads: each sums its own samples, then the parts are added in order. Deterministic, but in
                    // another order than one thread, so only within the tolerance of the one-thread result's reference.
                    net.ThreadCount = 2;
                    (float[] grads2, float[] dx2) = Run(net, input, c.Batch, dy);
                    (float[] again, float[] dxAgain) = Run(net, input, c.Batch, dy);
                    bad += Compare(net.Info, grads2, dx2, expected, "2 threads", lines, ref worst);
                    tally.Values += grads2.Length + dx2.Length;
                    bad += BitDifferences("2 threads, second run: parameter gradient", grads2, again, lines);
                    bad += BitDifferences("2 threads, second run: input gradient", dx2, dxAgain, lines);
                    tally.TwoThreadCases++;
                }
                tally.Cases++;
                if (worst > tally.Worst)
                    (tally.Worst, tally.WorstCase) = (worst, c.Index);
                if (bad > 0)
                {
                    tally.FailedCases++;
                    failingIsas.Add(isa);
                    report.AppendLine($"  {isa}: {bad} value(s) differ");
                    foreach (string line in lines)
                        report.Append("    ").AppendLine(line);
                }
            }
            if (failingIsas.Count > 0)
            {
                failedCases.Add($"{c.Index} ({c.Kind}: {string.Join("/", failingIsas)})");
                if (failures.Count < MaxReportedFailures)
                    failures.Add($"case {c.Index} ({c.Kind}), batch {c.Batch}, failing on {string.Join(", ", failingIsas)}:\n"
                        + c.Declaration + report.ToString().TrimEnd());
            }
        }
        TimeSpan total = clock.Elapsed;
        Log($"random backward: {cases.Count} cases x {isas.Length} ISAs ({string.Join(", ", isas)}); compile {compile.TotalSeconds:F1} s, "
            + $"reference {reference.TotalSeconds:F1} s, total {total.TotalSeconds:F1} s, seed {Seed}; "
            + $"{ambiguousActivations} ReLU-family or clip unit(s) and {ambiguousWindows} max-pool window(s) within float error of a kink (given slack); "
            + $"{tieCases} case(s) pooling inputs with exact ties");
        foreach (Isa isa in isas)
        {
            IsaTally t = tallies[isa];
            Log($"  {isa}: {t.Cases} random cases checked ({t.TwoThreadCases} also with 2 threads, twice; {t.FoldedCases} also with the final softmax folded), {t.Values} gradient values, "
                + $"{t.FailedCases} failed; worst |unroll - reference| / allowed = {t.Worst:F4} (case {t.WorstCase})");
        }
        Assert.True(failedCases.Count == 0,
            $"{failedCases.Count} case(s) of {cases.Count} failed (seed {Seed}): {string.Join(", ", failedCases)}\n\n"
            + $"The first {failures.Count}:\n\n" + string.Join("\n\n", failures));
    }

    /// <summary>ComputeGradients with a loss that writes the fixed output gradient <paramref name="dy"/> and returns 0; <paramref name="inputGradient"/> false passes no input-gradient buffer.</summary>
    internal static (float[] Gradients, float[] InputGradient) Run(Network net, float[] input, int batch, float[] dy, bool foldOutputSoftmax = false, bool inputGradient = true)
    {
        int outputLength = net.OutputLength;
        float[] dx = inputGradient ? new float[batch * net.InputLength] : Array.Empty<float>();
        dx.AsSpan().Fill(float.NaN);
        double loss = net.ComputeGradients(input, batch, (n, y, g) =>
        {
            dy.AsSpan(n * outputLength, outputLength).CopyTo(g);
            return 0;
        }, dx, foldOutputSoftmax);
        Assert.Equal(0, loss);
        return (net.Gradients.ToArray(), dx);
    }

    /// <summary>
    /// Compares a run's gradients with the reference: every parameter tensor read back to canonical order, every padded
    /// storage lane exactly zero, every sample's input gradient. Returns the number of mismatching values.
    /// </summary>
    internal static int Compare(NetworkInfo info, float[] gradients, float[] inputGradient, RefNetworkGradients expected, string what, List<string> lines, ref double worst)
    {
        int bad = 0;
        if (gradients.Length != info.ParameterStorageLength)
        {
            lines.Add($"{what}: {gradients.Length} gradient values for a parameter buffer of {info.ParameterStorageLength}");
            return 1;
        }
        bool[] mapped = new bool[gradients.Length];
        for (int l = 0; l < info.Layers.Count; l++)
        {
            LayerInfo layer = info.Layers[l];
            foreach ((TensorInfo? tensor, RefGradient? reference) in new[] { (layer.Weights, expected.Weights[l]), (layer.Bias, expected.Bias[l]) })
            {
                if (tensor is null && reference is null)
                    continue;
                if (tensor is null || reference is null)
                {
                    lines.Add($"{what}: layer {layer.Name} has tensor {tensor?.Name ?? "(none)"} but the reference {(reference is null ? "none" : "one")}");
                    bad++;
                    continue;
                }
                int[] map = TensorLayouts.StorageIndices(tensor);
                float[] canonical = new float[map.Length];
                for (int k = 0; k < map.Length; k++)
                {
                    canonical[k] = gradients[tensor.Offset + map[k]];
                    mapped[tensor.Offset + map[k]] = true;
                }
                bad += GradientTolerance.Compare($"{what}: {tensor.Name}", canonical, reference, lines, ref worst, limit: 3);
            }
        }
        int padding = 0;
        for (int i = 0; i < gradients.Length; i++)
            if (!mapped[i] && gradients[i] != 0 && padding++ < 3)
                lines.Add($"{what}: padded parameter lane {i} has gradient {gradients[i]:R}, not 0");
        bad += padding;
        int length = info.InputShape.Length;
        for (int n = 0; n < expected.Input.Length; n++)
            bad += GradientTolerance.Compare($"{what}: sample {n} input gradient", inputGradient.AsSpan(n * length, length), expected.Input[n], lines, ref worst, limit: 3);
        return bad;
    }

    internal static int BitDifferences(string what, float[] a, float[] b, List<string> lines)
    {
        int bad = 0;
        for (int i = 0; i < a.Length; i++)
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]) && bad++ < 3)
                lines.Add($"{what}[{i}]: {a[i]:R} then {b[i]:R}");
        return bad;
    }
}
