using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;

namespace Unroll.Training;

/// <summary>
/// Base of the optimizers: updates a flat parameter buffer in place from a gradient buffer of the same length and
/// layout (for a network, <see cref="Network.Parameters"/> and its gradient buffer), group by group. All state is
/// allocated at construction, indexed like the parameter buffer; <see cref="Step"/> allocates nothing. Not thread-safe.
/// </summary>
public abstract class Optimizer
{
    private readonly ParameterGroup[] _groups;
    private readonly long[] _groupSteps;
    private double _learningRate;

    private protected Optimizer(int parameterCount, IEnumerable<ParameterGroup> groups, double learningRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(parameterCount);
        ArgumentNullException.ThrowIfNull(groups);
        ParameterCount = parameterCount;
        _groups = [.. groups];
        _groupSteps = new long[_groups.Length];
        Groups = new ReadOnlyCollection<ParameterGroup>(_groups);
        LearningRate = learningRate;
        Validate(_groups, parameterCount);
    }

    /// <summary>Length of the parameter and gradient buffers <see cref="Step"/> takes.</summary>
    public int ParameterCount { get; }

    /// <summary>The parameter groups, as given (with <see cref="SetFrozen"/> applied).</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>
    /// The base learning rate (finite, at least 0); a group uses it times its <see cref="ParameterGroup.LearningRateMultiplier"/>.
    /// A schedule sets it before each epoch or step (see <see cref="LearningRateSchedule.Apply(Optimizer, double)"/>).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative, infinite or NaN.</exception>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0 && double.IsFinite(value)))
                throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be finite and at least 0.");
            _learningRate = value;
        }
    }

    /// <summary>Calls of <see cref="Step"/> since construction or <see cref="Reset"/>.</summary>
    public long StepCount { get; private set; }

    /// <summary>Steps group <paramref name="index"/> has taken (steps while it was frozen do not count); Adam's bias correction uses it.</summary>
    public long GroupStepCount(int index) => _groupSteps[index];

    /// <summary>Freezes (or unfreezes) every parameter group of layer <paramref name="layerName"/> (its weight and bias), for transfer learning.</summary>
    /// <exception cref="KeyNotFoundException">No group belongs to that layer.</exception>
    public void SetLayerFrozen(string layerName, bool frozen)
    {
        ArgumentNullException.ThrowIfNull(layerName);
        bool found = false;
        for (int i = 0; i < _groups.Length; i++)
        {
            if (_groups[i].Name.StartsWith(layerName + ".", StringComparison.Ordinal))
            {
                _groups[i] = _groups[i] with { Frozen = frozen };
                found = true;
            }
        }
        if (!found)
            throw new KeyNotFoundException($"No parameter group belongs to a layer named '{layerName}'.");
    }

    /// <summary>Freezes or unfreezes the group named <paramref name="name"/>; its state resumes where it stopped.</summary>
    /// <exception cref="KeyNotFoundException">No group has that name.</exception>
    public void SetFrozen(string name, bool frozen)
    {
        for (int i = 0; i < _groups.Length; i++)
        {
            if (_groups[i].Name == name)
            {
                _groups[i] = _groups[i] with { Frozen = frozen };
                return;
            }
        }
        throw new KeyNotFoundException($"No parameter group is named '{name}'.");
    }

    /// <summary>
    /// Takes one optimisation step: updates every group that is not frozen in <paramref name="parameters"/> from
    /// <paramref name="gradients"/> (same length and layout; the gradient of the loss being minimised, already
    /// averaged over the batch if that is the loss). Entries outside every group are left untouched.
    /// </summary>
    /// <exception cref="ArgumentException">A buffer's length is not <see cref="ParameterCount"/>.</exception>
    public void Step(Span<float> parameters, ReadOnlySpan<float> gradients)
    {
        if (parameters.Length != ParameterCount)
            throw new ArgumentException($"The parameter buffer must hold {ParameterCount} values; it holds {parameters.Length}.", nameof(parameters));
        if (gradients.Length != ParameterCount)
            throw new ArgumentException($"The gradient buffer must hold {ParameterCount} values; it holds {gradients.Length}.", nameof(gradients));
        StepCount++;
        for (int i = 0; i < _groups.Length; i++)
        {
            ParameterGroup group = _groups[i];
            if (group.Frozen)
                continue;
            long step = ++_groupSteps[i];
            if (group.Length == 0)
                continue;
            UpdateGroup(parameters.Slice(group.Offset, group.Length), gradients.Slice(group.Offset, group.Length),
                group.Offset, LearningRate * group.LearningRateMultiplier, group.WeightDecay, step);
        }
    }

    /// <summary>Forgets all state (buffers to zero, step counts to zero), as a freshly constructed optimizer.</summary>
    public virtual void Reset()
    {
        StepCount = 0;
        Array.Clear(_groupSteps);
    }

    /// <summary>
    /// Updates one group: <paramref name="parameters"/> and <paramref name="gradients"/> are its slices, its state
    /// starts at <paramref name="offset"/>, <paramref name="step"/> counts this step (1 for the first).
    /// </summary>
    private protected abstract void UpdateGroup(Span<float> parameters, ReadOnlySpan<float> gradients, int offset,
        double learningRate, bool weightDecay, long step);

    private protected static void CheckHyperparameter(double value, string name, double min, double max, bool maxInclusive = true)
    {
        if (!(value >= min && (maxInclusive ? value <= max : value < max)))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be in [{min}, {max}{(maxInclusive ? "]" : ")")}.");
    }

    private static void Validate(ParameterGroup[] groups, int parameterCount)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ranges = new (int Start, int End, string Name)[groups.Length];
        for (int i = 0; i < groups.Length; i++)
        {
            ParameterGroup g = groups[i] ?? throw new ArgumentException("A parameter group is null.", nameof(groups));
            if (string.IsNullOrEmpty(g.Name) || !names.Add(g.Name))
                throw new ArgumentException($"Parameter group names must be unique and non-empty ('{g.Name}').", nameof(groups));
            if (g.Offset < 0 || g.Length < 0 || (long)g.Offset + g.Length > parameterCount)
                throw new ArgumentException($"Parameter group '{g.Name}' [{g.Offset}, {(long)g.Offset + g.Length}) lies outside the buffer of {parameterCount} values.", nameof(groups));
            if (!(g.LearningRateMultiplier >= 0 && double.IsFinite(g.LearningRateMultiplier)))
                throw new ArgumentException($"Parameter group '{g.Name}' has learning-rate multiplier {g.LearningRateMultiplier}; it must be finite and at least 0.", nameof(groups));
            ranges[i] = (g.Offset, g.Offset + g.Length, g.Name);
        }
        // Empty groups cannot collide with anything; the others, sorted by start, must not overlap.
        ranges = Array.FindAll(ranges, r => r.End > r.Start);
        Array.Sort(ranges);
        for (int i = 1; i < ranges.Length; i++)
            if (ranges[i].Start < ranges[i - 1].End)
                throw new ArgumentException($"Parameter groups '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap.", nameof(groups));
    }
}
