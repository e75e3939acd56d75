using System;
using System.Collections.Generic;
using System.Linq;
using Unroll.Tests.Numerics;
using Xunit.Abstractions;

namespace Unroll.Tests.Reference;

/// <summary>
/// The reference backward pass against central finite differences of the reference forward pass, both in double:
/// the oracle that judges the generated backward kernels has to be right first. Loss L = Σ_n Σ_i r[n, i] y[n, i] for a
/// fixed random r, so dL/dy = r is what the backward pass starts from.
/// <para>
/// Step h = 1e-6. Truncation error h²/6 |L'''| is ~1e-13 here. Rounding: the two evaluations of L differ in the rounding
/// of every value the step touches, each off by about ε = 1.1e-16 of its magnitude; the values are of order 1 (hidden
/// layers) or make up L's own absolute sum S = Σ |r y|, so the difference quotient carries noise of order ε (1 + S) / h,
/// times the square root of the number of roundings on the longest chain (a few thousand terms). A coordinate passes
/// when |fd - ref| &lt;= 1e-7 |ref| + 64 ε (1 + S) / h, i.e. 1e-7 relative plus about 7e-9 (1 + S) absolute.
/// Coordinates where the step moves
/// a ReLU-family pre-activation across 0 or changes a max-pool window's winner are detected exactly (the forward
/// pass's branch pattern differs at ±h), skipped and counted; they must stay rare.
/// </para>
/// </summary>
public class ReferenceBackwardTests
{
    private const double Step = 1e-6;
    private const double RelativeTolerance = 1e-7;
    private const double RoundingFactor = 64;
    private const double Epsilon = 1.1e-16;

    private readonly ITestOutputHelper _output;

    public ReferenceBackwardTests(ITestOutputHelper output) => _output = output;

    private void Log(string line)
    {
        _output.WriteLine(line);
        Console.WriteLine(line);
    }

    // ---------------------------------------------------------------- hand-worked values

    /// <summary>Error scales of a computed tensor: its magnitudes (null would mean exactly held).</summary>
    private static double[] Computed(RefTensor t) => t.Value.Select(Math.Abs).ToArray();

    [Fact]
    public void MaxPoolGradientGoesToTheFirstMaximumInScanOrder()
    {
        // One 2x2 window holding 5, 5, 1, 5, held exactly (as float input data is), so the ties tie in float too: the first 5 gets it all.
        var x = RefTensor.FromData(new float[] { 5, 5, 1, 5 }, new Shape(1, 2, 2));
        RefGradient dy = RefGradient.FromValues(new[] { 3.0 }, new Shape(1, 1, 1));
        int ambiguous = 0;
        RefGradient dx = ReferenceBackward.MaxPool(x, null, dy, 2, 2, 0, 0, ref ambiguous);
        Assert.Equal(new[] { 3.0, 0, 0, 0 }, dx.Value);
        Assert.Equal(0, ambiguous);
        Assert.All(dx.Slack, s => Assert.Equal(0, s));
        // As a computed tensor, the tie is within float error: all three maxima get slack, the 1 none.
        dx = ReferenceBackward.MaxPool(x, Computed(x), dy, 2, 2, 0, 0, ref ambiguous);
        Assert.Equal(1, ambiguous);
        Assert.Equal(new[] { 3.0, 3.0, 0, 3.0 }, dx.Slack);
        // Padding: a 3x3 window at (-1, -1) over 1x1 input -2 sees only the real pixel, which wins although it is negative.
        var one = RefTensor.FromData(new float[] { -2 }, new Shape(1, 1, 1));
        dx = ReferenceBackward.MaxPool(one, null, RefGradient.FromValues(new[] { 1.5 }, new Shape(1, 1, 1)), 3, 1, 1, 1, ref ambiguous);
        Assert.Equal(new[] { 1.5 }, dx.Value);
    }

    [Fact]
    public void AvgPoolGradientUsesTheForwardDivisor()
    {
        // 3x3 input, window 2, stride 2, pad 1: windows hold 1, 2, 2 and 4 real pixels; with the padding counted, 4 each
        // (the padded input is 5x5 and every window lies inside it).
        var x = RefTensor.FromData(new float[9], new Shape(1, 3, 3));
        RefGradient dy = RefGradient.FromValues(new[] { 1.0, 1.0, 1.0, 1.0 }, new Shape(1, 2, 2));
        RefGradient excluded = ReferenceBackward.AvgPool(x, dy, 2, 2, 1, 1, 1, 1, countIncludePad: false);
        Assert.Equal(new[] { 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.5, 0.25, 0.25 }, excluded.Value);
        RefGradient included = ReferenceBackward.AvgPool(x, dy, 2, 2, 1, 1, 1, 1, countIncludePad: true);
        Assert.All(included.Value, v => Assert.Equal(0.25, v));
    }

    [Fact]
    public void ActivationDerivativesAreTakenAtTheOutput()
    {
        var pre = RefTensor.FromData(new float[] { -2, 0.5f, 3 }, Shape.Flat(3));
        RefGradient dy = RefGradient.FromValues(new[] { 1.0, 2.0, -1.0 }, Shape.Flat(3));
        int ambiguous = 0;
        RefGradient Backward(Activation a, float alpha = 0.01f, float min = float.NegativeInfinity, float max = float.PositiveInfinity) =>
            ReferenceBackward.Activate(pre, null, ReferenceOps.Activate(pre, a, alpha, min, max), null, dy, a, alpha, ref ambiguous, min, max);
        Assert.Equal(new[] { 0, 2.0, -1 }, Backward(Activation.ReLU).Value);
        Assert.Equal(new[] { (double)0.2f, 2.0, -1 }, Backward(Activation.LeakyReLU, 0.2f).Value);
        // Clip: the gradient passes strictly inside the bounds only; at a bound (0.5 here) it stops, as the ReLU's at 0.
        Assert.Equal(new[] { 0, 2.0, 0 }, Backward(Activation.Clip, min: -1, max: 2).Value);
        Assert.Equal(new[] { 0, 0, -1.0 }, Backward(Activation.Clip, min: 0.5f, max: 4).Value);
        Assert.Equal(new[] { 1.0, 0, 0 }, Backward(Activation.Clip, max: 0.5f).Value);
        Assert.Equal(new[] { 0, 2.0, -1 }, Backward(Activation.Clip, min: -1).Value);
        double t = Math.Tanh(0.5), s = 1 / (1 + Math.Exp(-0.5));
        Assert.Equal(2 * (1 - t * t), Backward(Activation.Tanh).Value[1], 15);
        Assert.Equal(2 * s * (1 - s), Backward(Activation.Sigmoid).Value[1], 15);
        // Softmax: the gradient is orthogonal to the all-ones direction (adding a constant to every input changes nothing).
        Assert.Equal(0, Backward(Activation.Softmax).Value.Sum(), 15);
        Assert.Equal(0, ambiguous);
    }

    [Fact]
    public void MergeGradientsSliceShareAndSum()
    {
        // x = (x0, x1) flat; layer 0: Concat(x, x) = (x0, x1, x0, x1); layer 1: Dense(1) with weights 1 2 3 4, no bias.
        // Concat hands each copy its slice, (1, 2) and (3, 4), and the input read twice gets their sum.
        var layers = new[]
        {
            new RefLayer(RefOp.Concat, Inputs: new[] { RefLayer.NetworkInput, RefLayer.NetworkInput }),
            new RefLayer(RefOp.Dense, Units: 1, Bias: false),
        };
        var parameters = new (double[]?, double[]?)[] { (null, null), (new[] { 1.0, 2, 3, 4 }, null) };
        var x = RefTensor.FromData(new float[] { 0.5f, -1 }, Shape.Flat(2));
        RefNetworkGradients g = ReferenceBackward.Network(layers, Shape.Flat(2), parameters, new[] { x }, _ => new[] { 1.0 });
        Assert.Equal(new[] { 4.0, 6 }, g.Input[0].Value);
        Assert.Equal(new[] { 0.5, -1, 0.5, -1 }, g.Weights[1]!.Value);
        Assert.Null(g.Weights[0]);
        // Add(x, x) gives each term all of dy: 2 dy per value.
        layers[0] = layers[0] with { Op = RefOp.Add };
        parameters[1] = (new[] { 1.0, 2 }, null);
        Assert.Equal(new[] { 2.0, 4 }, ReferenceBackward.Network(layers, Shape.Flat(2), parameters, new[] { x }, _ => new[] { 1.0 }).Input[0].Value);
        // Global average pooling over 2x3 shares each channel's gradient evenly.
        var spatial = RefTensor.FromData(new float[12], new Shape(2, 2, 3));
        RefGradient dx = ReferenceBackward.GlobalAvgPool(spatial, RefGradient.FromValues(new[] { 6.0, -3 }, Shape.Flat(2)));
        Assert.Equal(Enumerable.Repeat(1.0, 6).Concat(Enumerable.Repeat(-0.5, 6)), dx.Value);
        // Concat of spatial tensors: each gets its channels of dy, errors included.
        RefGradient dy = RefGradient.FromValues(Enumerable.Range(0, 12).Select(i => (double)i).ToArray(), new Shape(3, 2, 2));
        dy.Local[5] = 7;
        RefGradient[] slices = ReferenceBackward.Concat(new[] { RefTensor.FromData(new float[8], new Shape(2, 2, 2)), RefTensor.FromData(new float[4], new Shape(1, 2, 2)) }, dy);
        Assert.Equal(new double[] { 0, 1, 2, 3, 4, 5, 6, 7 }, slices[0].Value);
        Assert.Equal(new double[] { 8, 9, 10, 11 }, slices[1].Value);
        Assert.Equal(7, slices[0].Local[5]);
    }

    [Fact]
    public void ALayerThatNeverReachesTheOutputGetsZeroGradients()
    {
        // Layer 0 (a dense layer) is read by nothing; layer 1 reads the input directly and is the output.
        var layers = new[]
        {
            new RefLayer(RefOp.Dense, Activation.ReLU, Units: 2),
            new RefLayer(RefOp.Dense, Units: 1, Inputs: new[] { RefLayer.NetworkInput }),
        };
        var parameters = new (double[]?, double[]?)[] { (new[] { 1.0, 1, 1, 1 }, new[] { 1.0, 1 }), (new[] { 2.0, -1 }, new[] { 0.5 }) };
        var x = RefTensor.FromData(new float[] { 3, 4 }, Shape.Flat(2));
        RefNetworkGradients g = ReferenceBackward.Network(layers, Shape.Flat(2), parameters, new[] { x, x }, _ => new[] { 1.0 });
        Assert.All(g.Weights[0]!.Value, v => Assert.Equal(0, v));
        Assert.All(g.Bias[0]!.Value, v => Assert.Equal(0, v));
        Assert.Equal(new[] { 6.0, 8 }, g.Weights[1]!.Value); // summed over the two samples
        Assert.Equal(new[] { 2.0, -1 }, g.Input[1].Value);
    }

    // ---------------------------------------------------------------- finite differences

    /// <summary>A network in the reference's terms, with double parameters, inputs and output weights r.</summary>
    private sealed class Problem
    {
        public required IReadOnlyList<RefLayer> Layers { get; init; }
        public required Shape InputShape { get; init; }
        public required (double[]? Weights, double[]? Bias)[] Parameters { get; init; }
        public required double[][] Inputs { get; init; }
        public required double[][] R { get; init; }
        public int Batch => Inputs.Length;
    }

    private sealed class Tally
    {
        public int Checked, Skipped, Failed;
        public double WorstRatio, WorstRelative, WorstAbsolute;
        public readonly List<string> Failures = new();
    }

    /// <summary>Σ_i r_i y_i of one sample, its absolute sum Σ_i |r_i y_i|, and its branch pattern.</summary>
    private static (double Loss, double Scale, List<int> Pattern) Sample(Problem p, int n, IReadOnlyList<RefLayer> layers)
    {
        RefLayerTrace[] trace = ReferenceOps.Trace(layers, RefTensor.FromValues(p.Inputs[n], p.InputShape), p.Parameters);
        RefTensor y = trace[^1].Output;
        double loss = 0, scale = 0;
        for (int i = 0; i < y.Length; i++)
        {
            loss += p.R[n][i] * y.Value[i];
            scale += Math.Abs(p.R[n][i] * y.Value[i]);
        }
        return (loss, scale, Pattern(layers, trace));
    }

    /// <summary>Which side of 0 every ReLU-family pre-activation lies on, and which input wins every max-pool window.</summary>
    private static List<int> Pattern(IReadOnlyList<RefLayer> layers, RefLayerTrace[] trace)
    {
        var pattern = new List<int>();
        for (int l = 0; l < layers.Count; l++)
        {
            RefLayer layer = layers[l];
            RefLayerTrace t = trace[l];
            if (layer.Activation is Activation.ReLU or Activation.LeakyReLU)
                foreach (double v in t.Pre.Value)
                    pattern.Add(v > 0 ? 1 : 0);
            if (layer.Op == RefOp.MaxPool)
            {
                RefTensor x = t.Input;
                for (int ch = 0; ch < t.Pre.C; ch++)
                    for (int r = 0; r < t.Pre.H; r++)
                        for (int c = 0; c < t.Pre.W; c++)
                        {
                            int winner = -1;
                            for (int a = 0; a < layer.KernelH; a++)
                                for (int b = 0; b < layer.KernelW; b++)
                                {
                                    int iy = r * layer.Stride - layer.PadTop + a, ix = c * layer.Stride - layer.PadLeft + b;
                                    if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W)
                                        continue;
                                    int at = x.Index(ch, iy, ix);
                                    if (winner < 0 || x.Value[at] > x.Value[winner])
                                        winner = at;
                                }
                            pattern.Add(winner);
                        }
            }
        }
        return pattern;
    }

    /// <summary>Loss over the given samples (all of them by default) and whether the branch pattern equals <paramref name="reference"/>.</summary>
    private static (double Loss, double Scale, List<int>[] Patterns) Evaluate(Problem p, IReadOnlyList<RefLayer> layers, IEnumerable<int> samples)
    {
        double loss = 0, scale = 0;
        var patterns = new List<List<int>>();
        foreach (int n in samples)
        {
            var (l, s, pattern) = Sample(p, n, layers);
            loss += l;
            scale += s;
            patterns.Add(pattern);
        }
        return (loss, scale, patterns.ToArray());
    }

    private static bool SamePatterns(List<int>[] a, List<int>[] b) => a.Length == b.Length && a.Zip(b).All(pair => pair.First.SequenceEqual(pair.Second));

    /// <summary>
    /// Checks <paramref name="analytic"/> against the central difference of coordinate <paramref name="value"/> (read and
    /// written through the delegates), with only <paramref name="samples"/> affected by it.
    /// </summary>
    private static void Check(Problem p, IReadOnlyList<RefLayer> layers, string what, Func<double> get, Action<double> set, double analytic, int[] samples, Tally tally)
    {
        double saved = get();
        var (_, scale, basePatterns) = Evaluate(p, layers, samples);
        set(saved + Step);
        var (up, upScale, upPatterns) = Evaluate(p, layers, samples);
        set(saved - Step);
        var (down, downScale, downPatterns) = Evaluate(p, layers, samples);
        set(saved);
        if (!SamePatterns(basePatterns, upPatterns) || !SamePatterns(basePatterns, downPatterns))
        {
            tally.Skipped++;
            return;
        }
        double fd = (up - down) / (2 * Step);
        double allowed = RelativeTolerance * Math.Abs(analytic) + RoundingFactor * Epsilon * (1 + Math.Max(scale, Math.Max(upScale, downScale))) / Step;
        double ratio = Math.Abs(fd - analytic) / allowed;
        tally.Checked++;
        tally.WorstAbsolute = Math.Max(tally.WorstAbsolute, Math.Abs(fd - analytic) - RelativeTolerance * Math.Abs(analytic));
        tally.WorstRatio = Math.Max(tally.WorstRatio, ratio);
        if (Math.Abs(analytic) > 1e-3)
            tally.WorstRelative = Math.Max(tally.WorstRelative, Math.Abs(fd - analytic) / Math.Abs(analytic));
        if (!(ratio <= 1))
        {
            tally.Failed++;
            if (tally.Failures.Count < 10)
                tally.Failures.Add(FormattableString.Invariant($"{what}: reference {analytic:R}, finite difference {fd:R}, |diff| {Math.Abs(fd - analytic):G3} > allowed {allowed:G3}"));
        }
    }

    /// <summary>Finite differences of up to <paramref name="perTensor"/> coordinates of every parameter tensor and of <paramref name="perInput"/> input values per sample.</summary>
    private static void CheckProblem(Problem p, string name, int perTensor, int perInput, SeededRandom random, Tally tally, bool fold = false)
    {
        // With the softmax folded, the backward pass starts from the softmax's input: differentiate the network without it.
        IReadOnlyList<RefLayer> layers = fold ? p.Layers.Take(p.Layers.Count - 1).Append(p.Layers[^1] with { Activation = Activation.None }).ToList() : p.Layers;
        RefNetworkGradients g = ReferenceBackward.Network(p.Layers, p.InputShape, p.Parameters,
            p.Inputs.Select(x => RefTensor.FromValues(x, p.InputShape)).ToList(), n => p.R[n], fold);
        int[] all = Enumerable.Range(0, p.Batch).ToArray();
        IEnumerable<int> Pick(int count, int limit) =>
            count <= limit ? Enumerable.Range(0, count) : Enumerable.Range(0, limit).Select(_ => random.Next(count)).Distinct();
        for (int l = 0; l < p.Layers.Count; l++)
        {
            var (w, b) = p.Parameters[l];
            if (w is not null)
                foreach (int k in Pick(w.Length, perTensor))
                    Check(p, layers, $"{name} layer {l} weight[{k}]", () => w[k], v => w[k] = v, g.Weights[l]!.Value[k], all, tally);
            if (b is not null)
                foreach (int k in Pick(b.Length, perTensor))
                    Check(p, layers, $"{name} layer {l} bias[{k}]", () => b[k], v => b[k] = v, g.Bias[l]!.Value[k], all, tally);
        }
        for (int n = 0; n < p.Batch; n++)
        {
            double[] x = p.Inputs[n];
            foreach (int k in Pick(x.Length, perInput))
                Check(p, layers, $"{name} sample {n} input[{k}]", () => x[k], v => x[k] = v, g.Input[n].Value[k], new[] { n }, tally);
        }
    }

    private static double[] Uniform(SeededRandom random, int count, double limit) =>
        Enumerable.Range(0, count).Select(_ => (2 * random.NextDouble() - 1) * limit).ToArray();

    /// <summary>Weights uniform in ±1.5 sqrt(3 / fan-in), biases in ±0.5 (as the forward suite draws them), in full double precision.</summary>
    private static (double[]? Weights, double[]? Bias)[] RandomParameters(IReadOnlyList<RefLayer> layers, Shape input, SeededRandom random)
    {
        var result = new (double[]? Weights, double[]? Bias)[layers.Count];
        Shape[] shapes = ReferenceOps.OutputShapes(layers, input);
        for (int l = 0; l < layers.Count; l++)
        {
            RefLayer layer = layers[l];
            int first = layer.Sources(l)[0];
            Shape shape = first == RefLayer.NetworkInput ? input : shapes[first], output = shapes[l];
            int fanIn = layer.Op switch
            {
                RefOp.Conv => shape.Channels * layer.KernelH * layer.KernelW,
                RefOp.Dense => shape.Length,
                _ => 0,
            };
            if (fanIn > 0)
                result[l] = (Uniform(random, output.Channels * fanIn, 1.5 * Math.Sqrt(3.0 / fanIn)), layer.Bias ? Uniform(random, output.Channels, 0.5) : null);
        }
        return result;
    }

    private static Problem Create(IReadOnlyList<RefLayer> layers, Shape input, int batch, SeededRandom random,
        (double[]? Weights, double[]? Bias)[]? parameters = null)
    {
        Shape output = ReferenceOps.OutputShapes(layers, input)[^1];
        return new Problem
        {
            Layers = layers,
            InputShape = input,
            Parameters = parameters ?? RandomParameters(layers, input, random),
            Inputs = Enumerable.Range(0, batch).Select(_ => Uniform(random, input.Length, 1)).ToArray(),
            R = Enumerable.Range(0, batch).Select(_ => Uniform(random, output.Length, 1)).ToArray(),
        };
    }

    private void Report(string what, Tally tally)
    {
        Log($"{what}: {tally.Checked} coordinates checked, {tally.Skipped} skipped (a kink within ±h), worst |fd - ref| / allowed = {tally.WorstRatio:F4}, "
            + $"worst relative error (|ref| > 1e-3) {tally.WorstRelative:E2}, worst error beyond the relative part {tally.WorstAbsolute:E2}");
        Assert.True(tally.Failed == 0, $"{tally.Failed} of {tally.Checked} coordinates disagree:\n{string.Join("\n", tally.Failures)}");
        Assert.True(tally.Skipped * 20 <= tally.Checked, $"{tally.Skipped} coordinates skipped at kinks against {tally.Checked} checked: too many to trust the rest.");
    }

    public const int SmallCaseSeed = 20261128;
    public const int SmallCaseCount = 165;

    /// <summary>The forward suite's case kinds, with sizes capped (channels, spatial size and units at most 8) so every coordinate is cheap to difference.</summary>
    public static List<RandomCase> SmallCases() => new RandomCaseGenerator(SmallCaseSeed, maxSize: 8, budget: 20_000).Generate(SmallCaseCount);

    [Fact]
    public void SmallRandomLayersOfEveryKindMatchFiniteDifferences()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        List<RandomCase> cases = SmallCases();
        Assert.Equal(RandomCaseGenerator.Kinds.Distinct().Count(), cases.Select(c => c.Kind).Distinct().Count());
        var random = new SeededRandom(SmallCaseSeed + 1);
        var tally = new Tally();
        var kinds = new SortedDictionary<string, int>();
        foreach (RandomCase c in cases)
        {
            List<RefLayer> layers = c.RefLayers.ToList();
            Problem p = Create(layers, c.Input, c.Batch, random);
            int before = tally.Checked;
            CheckProblem(p, $"case {c.Index} ({c.Kind}: {string.Join(" ", c.Layers.Select(l => l.Attributes))} on {c.Input}, batch {c.Batch})", perTensor: 24, perInput: 24, random, tally);
            kinds[c.Kind] = kinds.GetValueOrDefault(c.Kind) + tally.Checked - before;
            // A fused or stand-alone final softmax may be folded: check that path on the same problem.
            if (layers[^1].Activation == Activation.Softmax)
                CheckProblem(p, $"case {c.Index} ({c.Kind}, softmax folded)", perTensor: 4, perInput: 4, random, tally, fold: true);
        }
        Assert.All(kinds, pair => Assert.True(pair.Value > 0, $"no coordinate of kind {pair.Key} was checked"));
        Report($"reference backward, {cases.Count} small random cases ({kinds.Count} kinds), {clock.Elapsed.TotalSeconds:F1} s", tally);
    }

    [Fact]
    public void AStepAcrossAKinkIsDetectedAndSkipped()
    {
        // Dense(1), ReLU over 3 inputs with the pre-activation 3e-7 above 0: a step of 1e-6 on the bias (or on an input,
        // scaled by its weight) crosses the kink, where the difference quotient means nothing. Those are skipped, not failed.
        var layers = new[] { new RefLayer(RefOp.Dense, Activation.ReLU, Units: 1) };
        double[] x = { 0.5, -0.25, 0.75 }, w = { 0.9, 0.4, -0.3 };
        double b = -(w[0] * x[0] + w[1] * x[1] + w[2] * x[2]) + 3e-7;
        var p = new Problem
        {
            Layers = layers,
            InputShape = new Shape(3, 1, 1),
            Parameters = new (double[]?, double[]?)[] { (w, new[] { b }) },
            Inputs = new[] { x },
            R = new[] { new[] { 1.0 } },
        };
        var tally = new Tally();
        CheckProblem(p, "kink", perTensor: 3, perInput: 3, new SeededRandom(1), tally);
        Assert.Equal(0, tally.Failed);
        Assert.Equal(7, tally.Checked + tally.Skipped);
        Assert.True(tally.Skipped >= 4, $"{tally.Skipped} skipped"); // the bias and the three inputs (|w| >= 0.3)
    }

    /// <summary>A k x k, stride 1, "same" convolution reading tensor <paramref name="from"/> of shape <paramref name="input"/>.</summary>
    private static RefLayer Conv(Shape input, int from, int units, int k, Activation activation = Activation.None) =>
        RefLayer.ConvSame(input, units, k, k, 1, activation: activation) with { Inputs = new[] { from } };

    /// <summary>Checks a graph of <paramref name="layers"/> on a random batch of 2, and with a final softmax, also with it folded.</summary>
    private void CheckGraph(string name, IReadOnlyList<RefLayer> layers, Shape input, int seed)
    {
        var random = new SeededRandom(seed);
        Problem p = Create(layers, input, batch: 2, random);
        var tally = new Tally();
        CheckProblem(p, name, perTensor: 24, perInput: 24, random, tally);
        Report($"reference backward, {name} (batch 2)", tally);
        if (layers[^1].Activation != Activation.Softmax)
            return;
        var folded = new Tally();
        CheckProblem(p, name + " softmax folded", perTensor: 8, perInput: 8, random, folded, fold: true);
        Report($"reference backward, {name} with the softmax folded", folded);
    }

    [Fact]
    public void ResidualBlockMatchesFiniteDifferences()
    {
        // stem: 3x3 conv + ReLU; block: 3x3 conv + ReLU -> 3x3 conv -> Add(block input) + ReLU. The stem's output is
        // read by the block's first conv and by the sum, so its gradient is the sum of both paths.
        Shape input = new(2, 6, 5), x = new(4, 6, 5);
        var layers = new[]
        {
            Conv(input, RefLayer.NetworkInput, 4, 3, Activation.ReLU),
            Conv(x, 0, 4, 3, Activation.ReLU),
            Conv(x, 1, 4, 3),
            new RefLayer(RefOp.Add, Activation.ReLU, Inputs: new[] { 2, 0 }),
        };
        CheckGraph("residual block", layers, input, 20261201);
    }

    [Fact]
    public void InceptionBlockMatchesFiniteDifferences()
    {
        // stem: 3x3 conv + ReLU; four branches from it: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3/1 max pool pad 1 -> 1x1;
        // Concat (2 + 3 + 2 + 2 channels) -> global average pool -> Dense + softmax.
        Shape input = new(2, 5, 6), x = new(4, 5, 6), narrow = new(2, 5, 6);
        var layers = new[]
        {
            Conv(input, RefLayer.NetworkInput, 4, 3, Activation.ReLU),
            Conv(x, 0, 2, 1, Activation.ReLU),
            Conv(x, 0, 2, 1, Activation.ReLU),
            Conv(narrow, 2, 3, 3, Activation.ReLU),
            Conv(x, 0, 2, 1, Activation.ReLU),
            Conv(narrow, 4, 2, 5, Activation.ReLU),
            new RefLayer(RefOp.MaxPool, KernelH: 3, KernelW: 3, Stride: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Inputs: new[] { 0 }),
            Conv(x, 6, 2, 1, Activation.ReLU),
            new RefLayer(RefOp.Concat, Inputs: new[] { 1, 3, 5, 7 }),
            new RefLayer(RefOp.GlobalAvgPool),
            new RefLayer(RefOp.Dense, Activation.Softmax, Units: 4),
        };
        Assert.Equal(new Shape(9, 5, 6), ReferenceOps.OutputShapes(layers, input)[8]);
        CheckGraph("Inception block", layers, input, 20261202);
    }

    [Fact]
    public void ATensorReadByTwoLayersGetsBothGradients()
    {
        // t = tanh(3x3 conv(x)) is read by a dense layer and by a global average pool, whose result a second dense layer
        // and the final flat concatenation read; the two dense outputs are added, and that sum is added to itself (one
        // layer reading a tensor twice) before a sigmoid. A dense layer nothing reads gets no gradient.
        Shape input = new(2, 4, 4), t = new(3, 4, 4);
        var layers = new[]
        {
            Conv(input, RefLayer.NetworkInput, 3, 3, Activation.Tanh),
            new RefLayer(RefOp.Dense, Units: 3),
            new RefLayer(RefOp.GlobalAvgPool, Inputs: new[] { 0 }),
            new RefLayer(RefOp.Dense, Activation.LeakyReLU, 0.1f, Units: 3),
            new RefLayer(RefOp.Add, Inputs: new[] { 1, 3 }),
            new RefLayer(RefOp.Dense, Activation.ReLU, Units: 2, Inputs: new[] { 1 }), // never reaches the output
            new RefLayer(RefOp.Add, Activation.Sigmoid, Inputs: new[] { 4, 4 }),
            new RefLayer(RefOp.Concat, Inputs: new[] { 6, 2 }),
            new RefLayer(RefOp.Dense, Units: 2),
        };
        Assert.Equal(t, ReferenceOps.OutputShapes(layers, input)[0]);
        Assert.Equal(Shape.Flat(6), ReferenceOps.OutputShapes(layers, input)[7]);
        CheckGraph("tensor read by two layers", layers, input, 20261203);
    }

    [Fact]
    public void LeNet5MatchesFiniteDifferences()
    {
        var random = new SeededRandom(20261129);
        RefLayer[] layers = LeNet5Tests.Declared;
        Shape input = Unroll.Networks.LeNet5.Description.InputShape;
        (double[]? Weights, double[]? Bias)[] parameters = RandomParameters(layers, input, random);
        // Non-zero biases in ±[0.05, 0.3], as the forward LeNet-5 test sets them.
        foreach (var (_, bias) in parameters)
            if (bias is not null)
                for (int i = 0; i < bias.Length; i++)
                    bias[i] = (random.Next(2) == 0 ? -1 : 1) * (0.05 + 0.25 * random.NextDouble());
        Problem p = Create(layers, input, batch: 2, random, parameters);
        var tally = new Tally();
        CheckProblem(p, "LeNet-5", perTensor: 24, perInput: 24, random, tally);
        Report("reference backward, LeNet-5 (batch 2)", tally);
        var folded = new Tally();
        CheckProblem(p, "LeNet-5 softmax folded", perTensor: 8, perInput: 8, random, folded, fold: true);
        Report("reference backward, LeNet-5 with the softmax folded", folded);
    }
}
