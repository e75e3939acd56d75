using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Unroll.Training;

/// <summary>
/// Adam, with PyTorch's <c>torch.optim.Adam</c> semantics (or <c>torch.optim.AdamW</c> with
/// <see cref="DecoupledWeightDecay"/>; no AMSGrad). For a group's t-th step (t counts the group's own steps) with
/// learning rate lr: with L2 decay g ← g + weight_decay·p, with decoupled decay p ← p·(1 - lr·weight_decay) instead;
/// then m ← β1·m + (1 - β1)·g, v ← β2·v + (1 - β2)·g², and
/// p ← p - lr / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + ε), ε added after the square root.
/// </summary>
public sealed class Adam : Optimizer
{
    private readonly float[] _m;
    private readonly float[] _v;

    /// <summary>Creates the optimizer for a buffer of <paramref name="parameterCount"/> floats split into <paramref name="groups"/>.</summary>
    /// <param name="parameterCount">Length of the parameter and gradient buffers.</param>
    /// <param name="groups">The ranges to update; they may not overlap.</param>
    /// <param name="learningRate">Base learning rate.</param>
    /// <param name="beta1">Decay of the first-moment average, in [0, 1).</param>
    /// <param name="beta2">Decay of the second-moment average, in [0, 1).</param>
    /// <param name="epsilon">Added to the corrected root of the second moment; above 0.</param>
    /// <param name="weightDecay">Weight decay of groups whose <see cref="ParameterGroup.WeightDecay"/> is set.</param>
    /// <param name="decoupledWeightDecay">AdamW: decay the parameters directly (p ← p·(1 - lr·weight_decay)) instead of adding an L2 term to the gradient.</param>
    /// <exception cref="ArgumentException">A group lies outside the buffer, groups overlap or share a name, or a hyperparameter is out of range.</exception>
    public Adam(int parameterCount, IEnumerable<ParameterGroup> groups, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8, double weightDecay = 0, bool decoupledWeightDecay = false)
        : base(parameterCount, groups, learningRate)
    {
        CheckHyperparameter(beta1, nameof(beta1), 0, 1, maxInclusive: false);
        CheckHyperparameter(beta2, nameof(beta2), 0, 1, maxInclusive: false);
        if (!(epsilon > 0 && double.IsFinite(epsilon)))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "epsilon must be finite and above 0.");
        CheckHyperparameter(weightDecay, nameof(weightDecay), 0, double.MaxValue);
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        DecoupledWeightDecay = decoupledWeightDecay;
        _m = new float[parameterCount];
        _v = new float[parameterCount];
    }

    /// <summary>Creates the optimizer for a network's parameter buffer, one group per tensor (see <see cref="ParameterGroup.ForNetwork"/>).</summary>
    /// <exception cref="ArgumentException">A hyperparameter is out of range.</exception>
    public Adam(NetworkInfo network, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double epsilon = 1e-8, double weightDecay = 0, bool decoupledWeightDecay = false)
        : this((network ?? throw new ArgumentNullException(nameof(network))).ParameterStorageLength, ParameterGroup.ForNetwork(network),
            learningRate, beta1, beta2, epsilon, weightDecay, decoupledWeightDecay)
    {
    }

    /// <summary>Decay of the first-moment average.</summary>
    public double Beta1 { get; }

    /// <summary>Decay of the second-moment average.</summary>
    public double Beta2 { get; }

    /// <summary>Added to the corrected root of the second moment.</summary>
    public double Epsilon { get; }

    /// <summary>Weight decay coefficient.</summary>
    public double WeightDecay { get; }

    /// <summary>True for AdamW's decoupled decay, false for an L2 term added to the gradient.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <inheritdoc />
    public override void Reset()
    {
        base.Reset();
        Array.Clear(_m);
        Array.Clear(_v);
    }

    private protected override void UpdateGroup(Span<float> parameters, ReadOnlySpan<float> gradients, int offset,
        double learningRate, bool weightDecay, long step)
    {
        // Per-group scalars in double, as PyTorch computes them in Python floats.
        double correction1 = 1.0 - Math.Pow(Beta1, step), correction2 = 1.0 - Math.Pow(Beta2, step);
        float stepSize = (float)(learningRate / correction1);
        float root2 = (float)Math.Sqrt(correction2);
        float b1 = (float)Beta1, c1 = (float)(1.0 - Beta1), b2 = (float)Beta2, c2 = (float)(1.0 - Beta2), eps = (float)Epsilon;
        // One loop for both decays: l2 = 0 leaves g as it is, keep = 1 leaves p as it is.
        float l2 = weightDecay && !DecoupledWeightDecay ? (float)WeightDecay : 0f;
        float keep = weightDecay && DecoupledWeightDecay ? (float)(1.0 - learningRate * WeightDecay) : 1f;

        Span<float> m = _m.AsSpan(offset, parameters.Length), v = _v.AsSpan(offset, parameters.Length);
        Span<Vector<float>> pv = MemoryMarshal.Cast<float, Vector<float>>(parameters);
        ReadOnlySpan<Vector<float>> gv = MemoryMarshal.Cast<float, Vector<float>>(gradients);
        Span<Vector<float>> mv = MemoryMarshal.Cast<float, Vector<float>>(m), vv = MemoryMarshal.Cast<float, Vector<float>>(v);
        var vStep = new Vector<float>(stepSize);
        var vRoot2 = new Vector<float>(root2);
        var vb1 = new Vector<float>(b1);
        var vc1 = new Vector<float>(c1);
        var vb2 = new Vector<float>(b2);
        var vc2 = new Vector<float>(c2);
        var vEps = new Vector<float>(eps);
        var vl2 = new Vector<float>(l2);
        var vKeep = new Vector<float>(keep);
        for (int i = 0; i < pv.Length; i++)
        {
            Vector<float> p = pv[i];
            Vector<float> g = gv[i] + vl2 * p;
            p *= vKeep;
            Vector<float> a = vb1 * mv[i] + vc1 * g;
            Vector<float> s = vb2 * vv[i] + vc2 * (g * g);
            mv[i] = a;
            vv[i] = s;
            pv[i] = p - vStep * (a / (Vector.SquareRoot(s) / vRoot2 + vEps));
        }
        for (int i = pv.Length * Vector<float>.Count; i < parameters.Length; i++)
        {
            float p = parameters[i];
            float g = gradients[i] + l2 * p;
            p *= keep;
            float a = b1 * m[i] + c1 * g;
            float s = b2 * v[i] + c2 * (g * g);
            m[i] = a;
            v[i] = s;
            parameters[i] = p - stepSize * (a / (MathF.Sqrt(s) / root2 + eps));
        }
    }
}
