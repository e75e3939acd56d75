using System;
using System.Collections.Generic;
using System.Linq;
using Unroll.Tests.Weights;
using Unroll.Training;

namespace Unroll.Tests.Training;

public class OptimizerTests
{
    // A 100-float buffer: four groups, a gap no group covers, a tail outside every group.
    // Group lengths are not multiples of the vector width, so both the vector loops and their scalar tails run.
    private const int Total = 100;
    private const int PaddingStart = 73, PaddingEnd = 80; // the last 7 floats of group "c": zero parameters, zero gradients

    private static readonly ParameterGroup[] Layout =
    [
        new("a", 0, 37),
        new("b", 37, 5, LearningRateMultiplier: 0.5, WeightDecay: false),
        new("c", 48, 32, LearningRateMultiplier: 2.0),
        new("frozen", 80, 16, Frozen: true),
    ];

    private static bool IsPadding(int i) => i >= PaddingStart && i < PaddingEnd;

    public static TheoryData<string> Configurations => new()
    {
        "sgd", "sgd-decay", "sgd-momentum", "sgd-momentum-decay", "sgd-nesterov-decay",
        "adam", "adam-decay", "adamw", "adam-betas",
    };

    private static Optimizer Create(string name, int total, IEnumerable<ParameterGroup> groups) => name switch
    {
        "sgd" => new Sgd(total, groups, 0.01),
        "sgd-decay" => new Sgd(total, groups, 0.01, weightDecay: 0.1),
        "sgd-momentum" => new Sgd(total, groups, 0.01, momentum: 0.9),
        "sgd-momentum-decay" => new Sgd(total, groups, 0.01, momentum: 0.9, weightDecay: 0.05),
        "sgd-nesterov-decay" => new Sgd(total, groups, 0.01, momentum: 0.9, nesterov: true, weightDecay: 0.05),
        "adam" => new Adam(total, groups, 0.05),
        "adam-decay" => new Adam(total, groups, 0.05, weightDecay: 0.1),
        "adamw" => new Adam(total, groups, 0.05, weightDecay: 0.1, decoupledWeightDecay: true),
        "adam-betas" => new Adam(total, groups, 0.05, beta1: 0.5, beta2: 0.9, epsilon: 1e-3, weightDecay: 0.01),
        _ => throw new ArgumentException(name),
    };

    /// <summary>The PyTorch update rules, written out in double precision (torch/optim/sgd.py and adam.py, single-tensor path).</summary>
    private sealed class Reference(Optimizer optimizer, double[] parameters)
    {
        private readonly double[] _buf = new double[parameters.Length];
        private readonly double[] _m = new double[parameters.Length];
        private readonly double[] _v = new double[parameters.Length];
        private readonly Dictionary<string, int> _steps = [];

        public double[] P { get; } = parameters;

        public void Step(float[] gradients)
        {
            foreach (ParameterGroup group in optimizer.Groups)
            {
                if (group.Frozen)
                    continue;
                int t = _steps[group.Name] = _steps.GetValueOrDefault(group.Name) + 1;
                double lr = optimizer.LearningRate * group.LearningRateMultiplier;
                for (int i = group.Offset; i < group.Offset + group.Length; i++)
                {
                    if (optimizer is Sgd sgd)
                        SgdStep(sgd, group, i, gradients[i], lr, t);
                    else
                        AdamStep((Adam)optimizer, group, i, gradients[i], lr, t);
                }
            }
        }

        private void SgdStep(Sgd o, ParameterGroup group, int i, double g, double lr, int t)
        {
            double d = g;
            if (group.WeightDecay && o.WeightDecay != 0)
                d += o.WeightDecay * P[i];
            if (o.Momentum != 0)
            {
                _buf[i] = t == 1 ? d : o.Momentum * _buf[i] + d; // torch.clone(d_p) on the first step
                d = o.Nesterov ? d + o.Momentum * _buf[i] : _buf[i];
            }
            P[i] -= lr * d;
        }

        private void AdamStep(Adam o, ParameterGroup group, int i, double g, double lr, int t)
        {
            if (group.WeightDecay && o.DecoupledWeightDecay)
                P[i] *= 1 - lr * o.WeightDecay;
            else if (group.WeightDecay)
                g += o.WeightDecay * P[i];
            _m[i] = o.Beta1 * _m[i] + (1 - o.Beta1) * g;
            _v[i] = o.Beta2 * _v[i] + (1 - o.Beta2) * g * g;
            double correction1 = 1 - Math.Pow(o.Beta1, t), correction2 = 1 - Math.Pow(o.Beta2, t);
            double denominator = Math.Sqrt(_v[i]) / Math.Sqrt(correction2) + o.Epsilon;
            P[i] -= lr / correction1 * _m[i] / denominator;
        }
    }

    private static float[] InitialParameters(int seed)
    {
        var r = new SeededRandom(seed);
        float[] p = new float[Total];
        for (int i = 0; i < Total; i++)
            p[i] = IsPadding(i) ? 0f : r.Uniform(2, 3) * (r.NextDouble() < 0.5 ? -1 : 1);
        return p;
    }

    private static float[] Gradients(SeededRandom r)
    {
        float[] g = new float[Total];
        for (int i = 0; i < Total; i++)
            g[i] = IsPadding(i) ? 0f : r.Uniform(-1, 1);
        return g;
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void StepsMatchADoublePrecisionReferenceOfThePyTorchRules(string configuration)
    {
        Optimizer optimizer = Create(configuration, Total, Layout);
        float[] p = InitialParameters(1), start = (float[])p.Clone();
        var reference = new Reference(optimizer, p.Select(v => (double)v).ToArray());
        var r = new SeededRandom(2);
        var checkedSteps = new List<int>();
        for (int step = 1; step <= 10; step++)
        {
            float[] g = Gradients(r);
            optimizer.Step(p, g);
            reference.Step(g);
            if (step is 1 or 2 or 10)
            {
                checkedSteps.Add(step);
                for (int i = 0; i < Total; i++)
                {
                    double expected = reference.P[i];
                    Assert.True(Math.Abs(p[i] - expected) <= 1e-6 * Math.Abs(expected),
                        $"{configuration}, step {step}, parameter {i}: expected {expected:R}, got {p[i]:R}");
                }
            }
        }
        Assert.Equal([1, 2, 10], checkedSteps);
        Assert.Equal(10, optimizer.StepCount);
        // Updated groups moved; the gap and the tail, which no group covers, did not.
        Assert.NotEqual(start[0], p[0]);
        Assert.NotEqual(start[50], p[50]);
        for (int i = 42; i < 48; i++)
            Assert.Equal(start[i], p[i]);
        for (int i = 96; i < Total; i++)
            Assert.Equal(start[i], p[i]);
    }

    [Fact]
    public void AdamBiasCorrectionOnTheFirstStepsMovesEachParameterByAboutTheLearningRate()
    {
        // With a constant gradient the corrected moments are exactly g and g², so every step is -lr·sign(g) (up to ε).
        var adam = new Adam(3, ParameterGroup.Whole(3), learningRate: 0.01, epsilon: 1e-12);
        float[] p = [1f, 1f, 1f];
        float[] g = [0.5f, -2f, 1e-3f];
        for (int step = 1; step <= 10; step++)
        {
            adam.Step(p, g);
            Assert.Equal(1 - 0.01 * step, p[0], 5);
            Assert.Equal(1 + 0.01 * step, p[1], 5);
            Assert.Equal(1 - 0.01 * step, p[2], 5);
        }
        Assert.Equal(10, adam.GroupStepCount(0));
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void FrozenGroupsStayBitIdenticalAndTheirStateDoesNotAdvance(string configuration)
    {
        Optimizer optimizer = Create(configuration, Total, Layout);
        float[] p = InitialParameters(3), start = (float[])p.Clone();
        var r = new SeededRandom(4);
        for (int step = 0; step < 200; step++)
            optimizer.Step(p, Gradients(r));
        for (int i = 80; i < 96; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(start[i]), BitConverter.SingleToInt32Bits(p[i]));
        Assert.Equal(200, optimizer.StepCount);
        Assert.Equal(200, optimizer.GroupStepCount(0));
        Assert.Equal(0, optimizer.GroupStepCount(3));

        // Unfrozen, the group takes exactly the first step a fresh optimizer would take.
        optimizer.SetFrozen("frozen", false);
        Assert.False(optimizer.Groups[3].Frozen);
        Optimizer fresh = Create(configuration, Total, [new ParameterGroup("frozen", 80, 16)]);
        float[] q = (float[])p.Clone();
        float[] g = Gradients(r);
        optimizer.Step(p, g);
        fresh.Step(q, g);
        Assert.Equal(1, optimizer.GroupStepCount(3));
        Assert.Equal(q.AsSpan(80, 16).ToArray(), p.AsSpan(80, 16).ToArray());
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void ZeroPaddingWithZeroGradientsStaysExactlyZero(string configuration)
    {
        Optimizer optimizer = Create(configuration, Total, Layout);
        float[] p = InitialParameters(5);
        var r = new SeededRandom(6);
        for (int step = 0; step < 300; step++)
        {
            optimizer.Step(p, Gradients(r));
            for (int i = PaddingStart; i < PaddingEnd; i++)
                Assert.Equal(0, BitConverter.SingleToInt32Bits(p[i])); // +0.0f, not -0.0f, not a denormal
        }
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void ANetworksPackedPaddingStaysZeroWhileItsWeightsTrain(string configuration)
    {
        using var net = new TinyA(new NetworkOptions { Seed = 3, Threads = 1 });
        Optimizer optimizer = configuration.StartsWith("sgd", StringComparison.Ordinal)
            ? new Sgd(net.Info, 0.01, momentum: configuration.Contains("momentum") || configuration.Contains("nesterov") ? 0.9 : 0,
                nesterov: configuration.Contains("nesterov"), weightDecay: 0.05)
            : new Adam(net.Info, 0.01, weightDecay: 0.05, decoupledWeightDecay: configuration == "adamw");
        Assert.Equal(net.Parameters.Length, optimizer.ParameterCount);

        // A gradient in the network's storage layout: values where the canonical tensors live, zeros in the padding.
        var live = new bool[net.Parameters.Length];
        foreach (TensorInfo tensor in net.Info.Tensors)
            foreach (int index in TensorLayouts.StorageIndices(tensor))
                live[tensor.Offset + index] = true;
        Assert.Contains(false, live);
        float[] before = net["D"].GetWeights();
        var r = new SeededRandom(7);
        float[] g = new float[net.Parameters.Length];
        for (int step = 0; step < 50; step++)
        {
            for (int i = 0; i < g.Length; i++)
                g[i] = live[i] ? r.Uniform(-1, 1) : 0f;
            optimizer.Step(net.Parameters, g);
        }
        Span<float> stored = net.Parameters;
        for (int i = 0; i < stored.Length; i++)
            if (!live[i])
                Assert.Equal(0, BitConverter.SingleToInt32Bits(stored[i]));
        Assert.NotEqual(before, net["D"].GetWeights());
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void StepAllocatesNothing(string configuration)
    {
        Optimizer optimizer = Create(configuration, Total, Layout);
        float[] p = InitialParameters(8), g = Gradients(new SeededRandom(9));
        optimizer.Step(p, g); // JIT
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int step = 0; step < 100; step++)
            optimizer.Step(p, g);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Theory]
    [MemberData(nameof(Configurations))]
    public void ResetStartsOverLikeAFreshOptimizer(string configuration)
    {
        Optimizer used = Create(configuration, Total, Layout), fresh = Create(configuration, Total, Layout);
        float[] p = InitialParameters(10), g = Gradients(new SeededRandom(11));
        for (int step = 0; step < 5; step++)
            used.Step(new float[Total], g);
        used.Reset();
        Assert.Equal(0, used.StepCount);
        Assert.Equal(0, used.GroupStepCount(0));
        float[] q = (float[])p.Clone();
        for (int step = 0; step < 3; step++)
        {
            used.Step(p, g);
            fresh.Step(q, g);
        }
        Assert.Equal(q, p);
    }

    [Fact]
    public void LearningRateMultiplierZeroLeavesAGroupUnchangedAndTheBaseRateCanChange()
    {
        var sgd = new Sgd(4, [new ParameterGroup("x", 0, 2, LearningRateMultiplier: 0), new ParameterGroup("y", 2, 2)], 0.1);
        float[] p = [1, 1, 1, 1];
        sgd.Step(p, [1, 1, 1, 1]);
        Assert.Equal([1f, 1f, 0.9f, 0.9f], p);
        sgd.LearningRate = 0.5;
        sgd.Step(p, [1, 1, 1, 1]);
        Assert.Equal([1f, 1f], p[..2]);
        Assert.Equal(0.9f - 0.5f, p[2]);
        Assert.Equal(0.9f - 0.5f, p[3]);
    }

    [Fact]
    public void GroupsForANetworkCoverEveryTensorAndSkipDecayOnBiases()
    {
        using var net = new TinyA(new NetworkOptions { Threads = 1 });
        IReadOnlyList<ParameterGroup> groups = ParameterGroup.ForNetwork(net.Info);
        TensorInfo[] tensors = net.Info.Tensors.ToArray();
        Assert.Equal(tensors.Length, groups.Count);
        for (int i = 0; i < tensors.Length; i++)
        {
            Assert.Equal(tensors[i].Name, groups[i].Name);
            Assert.Equal(tensors[i].Offset, groups[i].Offset);
            Assert.Equal(tensors[i].Length, groups[i].Length);
            Assert.Equal(tensors[i].Name.EndsWith(".weight", StringComparison.Ordinal), groups[i].WeightDecay);
            Assert.Equal(1.0, groups[i].LearningRateMultiplier);
            Assert.False(groups[i].Frozen);
        }
        Assert.All(ParameterGroup.ForNetwork(net.Info, decayBiases: true), g => Assert.True(g.WeightDecay));

        var sgd = new Sgd(net.Info, 0.1);
        sgd.SetFrozen("C.weight", true);
        Assert.True(sgd.Groups.Single(g => g.Name == "C.weight").Frozen);
        Assert.Throws<KeyNotFoundException>(() => sgd.SetFrozen("nope", true));
    }

    [Fact]
    public void BadConfigurationsThrow()
    {
        Assert.Throws<ArgumentException>(() => new Sgd(10, [new ParameterGroup("a", 0, 6), new ParameterGroup("b", 5, 5)], 0.1));
        Assert.Throws<ArgumentException>(() => new Sgd(10, [new ParameterGroup("a", 0, 6), new ParameterGroup("a", 6, 4)], 0.1));
        Assert.Throws<ArgumentException>(() => new Sgd(10, [new ParameterGroup("a", 5, 6)], 0.1));
        Assert.Throws<ArgumentException>(() => new Sgd(10, [new ParameterGroup("a", -1, 3)], 0.1));
        Assert.Throws<ArgumentException>(() => new Sgd(10, [new ParameterGroup("a", 0, 3, LearningRateMultiplier: -1)], 0.1));
        Assert.Throws<ArgumentException>(() => new Sgd(10, ParameterGroup.Whole(10), 0.1, nesterov: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(10, ParameterGroup.Whole(10), -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(10, ParameterGroup.Whole(10), 0.1, momentum: -0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(10, ParameterGroup.Whole(10), beta1: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(10, ParameterGroup.Whole(10), epsilon: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(10, ParameterGroup.Whole(10)).LearningRate = double.NaN);
        var sgd = new Sgd(10, ParameterGroup.Whole(10), 0.1);
        Assert.Throws<ArgumentException>(() => sgd.Step(new float[9], new float[10]));
        Assert.Throws<ArgumentException>(() => sgd.Step(new float[10], new float[11]));
        // Adjacent groups and empty groups are fine.
        _ = new Sgd(10, [new ParameterGroup("a", 0, 5), new ParameterGroup("b", 5, 5), new ParameterGroup("c", 3, 0)], 0.1);
    }
}
