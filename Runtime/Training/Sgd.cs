using System;
using System.Collections.Generic;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Unroll.Training;

/// <summary>
/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, with PyTorch's
/// <c>torch.optim.SGD</c> semantics (dampening 0): g ← g + weight_decay·p (groups with weight decay only);
/// with momentum μ &gt; 0: v ← μ·v + g (v starts at 0, so the first step sets v = g), step = g + μ·v with Nesterov,
/// else v; without momentum step = g; then p ← p - lr·step, lr being the group's learning rate.
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly float[]? _velocity;

    /// <summary>Creates the optimizer for a buffer of <paramref name="parameterCount"/> floats split into <paramref name="groups"/>.</summary>
    /// <param name="parameterCount">Length of the parameter and gradient buffers.</param>
    /// <param name="groups">The ranges to update; they may not overlap.</param>
    /// <param name="learningRate">Base learning rate.</param>
    /// <param name="momentum">Momentum factor μ (0: none, and no velocity buffer is allocated).</param>
    /// <param name="nesterov">Nesterov momentum (needs μ &gt; 0).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient of groups whose <see cref="ParameterGroup.WeightDecay"/> is set.</param>
    /// <exception cref="ArgumentException">A group lies outside the buffer, groups overlap or share a name, or a hyperparameter is out of range.</exception>
    public Sgd(int parameterCount, IEnumerable<ParameterGroup> groups, double learningRate, double momentum = 0, bool nesterov = false, double weightDecay = 0)
        : base(parameterCount, groups, learningRate)
    {
        CheckHyperparameter(momentum, nameof(momentum), 0, double.MaxValue);
        CheckHyperparameter(weightDecay, nameof(weightDecay), 0, double.MaxValue);
        if (nesterov && momentum == 0)
            throw new ArgumentException("Nesterov momentum needs a momentum above 0.", nameof(nesterov));
        Momentum = momentum;
        Nesterov = nesterov;
        WeightDecay = weightDecay;
        if (momentum != 0)
            _velocity = new float[parameterCount];
    }

    /// <summary>Creates the optimizer for a network's parameter buffer, one group per tensor (see <see cref="ParameterGroup.ForNetwork"/>).</summary>
    /// <exception cref="ArgumentException">A hyperparameter is out of range.</exception>
    public Sgd(NetworkInfo network, double learningRate, double momentum = 0, bool nesterov = false, double weightDecay = 0)
        : this((network ?? throw new ArgumentNullException(nameof(network))).ParameterStorageLength, ParameterGroup.ForNetwork(network),
            learningRate, momentum, nesterov, weightDecay)
    {
    }

    /// <summary>Momentum factor μ.</summary>
    public double Momentum { get; }

    /// <summary>Whether the step is Nesterov's g + μ·v.</summary>
    public bool Nesterov { get; }

    /// <summary>L2 penalty coefficient.</summary>
    public double WeightDecay { get; }

    /// <inheritdoc />
    public override void Reset()
    {
        base.Reset();
        if (_velocity is not null)
            Array.Clear(_velocity);
    }

    private protected override void UpdateGroup(Span<float> parameters, ReadOnlySpan<float> gradients, int offset,
        double learningRate, bool weightDecay, long step)
    {
        float lr = (float)learningRate, wd = weightDecay ? (float)WeightDecay : 0f, mu = (float)Momentum;
        var vlr = new Vector<float>(lr);
        var vwd = new Vector<float>(wd);
        Span<Vector<float>> p = MemoryMarshal.Cast<float, Vector<float>>(parameters);
        ReadOnlySpan<Vector<float>> g = MemoryMarshal.Cast<float, Vector<float>>(gradients);
        int done = p.Length * Vector<float>.Count;
        if (_velocity is null)
        {
            for (int i = 0; i < p.Length; i++)
                p[i] -= vlr * (g[i] + vwd * p[i]);
            for (int i = done; i < parameters.Length; i++)
                parameters[i] -= lr * (gradients[i] + wd * parameters[i]);
            return;
        }

        Span<float> velocity = _velocity.AsSpan(offset, parameters.Length);
        Span<Vector<float>> v = MemoryMarshal.Cast<float, Vector<float>>(velocity);
        var vmu = new Vector<float>(mu);
        if (Nesterov)
        {
            for (int i = 0; i < p.Length; i++)
            {
                Vector<float> d = g[i] + vwd * p[i];
                Vector<float> b = vmu * v[i] + d;
                v[i] = b;
                p[i] -= vlr * (d + vmu * b);
            }
        }
        else
        {
            for (int i = 0; i < p.Length; i++)
            {
                Vector<float> b = vmu * v[i] + (g[i] + vwd * p[i]);
                v[i] = b;
                p[i] -= vlr * b;
            }
        }
        for (int i = done; i < parameters.Length; i++)
        {
            float d = gradients[i] + wd * parameters[i];
            float b = mu * velocity[i] + d;
            velocity[i] = b;
            parameters[i] -= lr * (Nesterov ? d + mu * b : b);
        }
    }
}
