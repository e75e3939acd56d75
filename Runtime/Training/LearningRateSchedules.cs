using System;

namespace Unroll.Training;

/// <summary>
/// A learning rate as a function of the epoch. Epochs count from 0 (the first epoch runs at epoch 0, as a PyTorch
/// scheduler before its first <c>step()</c>); a fractional epoch (epoch + step / stepsPerEpoch) evaluates the
/// schedule per step. Stateless: the value depends only on the epoch.
/// </summary>
public abstract class LearningRateSchedule
{
    private protected LearningRateSchedule()
    {
    }

    /// <summary>The learning rate for (possibly fractional) epoch <paramref name="epoch"/> ≥ 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The epoch is negative or NaN.</exception>
    public double At(double epoch)
    {
        if (!(epoch >= 0))
            throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "The epoch must be at least 0.");
        return Evaluate(epoch);
    }

    /// <summary>The learning rate for step <paramref name="step"/> (0-based) of the <paramref name="stepsPerEpoch"/> steps of epoch <paramref name="epoch"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A count is out of range.</exception>
    public double At(int epoch, int step, int stepsPerEpoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfLessThan(stepsPerEpoch, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(step, stepsPerEpoch);
        return Evaluate(epoch + (double)step / stepsPerEpoch);
    }

    /// <summary>Sets <paramref name="optimizer"/>'s learning rate to <see cref="At(double)"/>.</summary>
    public void Apply(Optimizer optimizer, double epoch)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        optimizer.LearningRate = At(epoch);
    }

    /// <summary>The learning rate for a valid epoch.</summary>
    private protected abstract double Evaluate(double epoch);

    private protected static void CheckRate(double rate, string name)
    {
        if (!(rate >= 0 && double.IsFinite(rate)))
            throw new ArgumentOutOfRangeException(name, rate, "A learning rate must be finite and at least 0.");
    }
}

/// <summary>The same learning rate for every epoch.</summary>
public sealed class ConstantLearningRate : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rate is negative or not finite.</exception>
    public ConstantLearningRate(double learningRate)
    {
        CheckRate(learningRate, nameof(learningRate));
        LearningRate = learningRate;
    }

    /// <summary>The learning rate.</summary>
    public double LearningRate { get; }

    private protected override double Evaluate(double epoch) => LearningRate;
}

/// <summary>
/// Step decay, PyTorch's <c>StepLR</c>: lr = initial · gamma^floor(epoch / stepSize), so the rate is multiplied by
/// gamma every <see cref="StepSize"/> epochs (and stays constant within an epoch when evaluated per step).
/// </summary>
public sealed class StepDecayLearningRate : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The rate or gamma is negative or not finite, or the step size is below 1.</exception>
    public StepDecayLearningRate(double initialLearningRate, int stepSize, double gamma = 0.1)
    {
        CheckRate(initialLearningRate, nameof(initialLearningRate));
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSize, 1);
        if (!(gamma >= 0 && double.IsFinite(gamma)))
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "Gamma must be finite and at least 0.");
        InitialLearningRate = initialLearningRate;
        StepSize = stepSize;
        Gamma = gamma;
    }

    /// <summary>The rate of epochs 0 to <see cref="StepSize"/> - 1.</summary>
    public double InitialLearningRate { get; }

    /// <summary>Epochs between decays.</summary>
    public int StepSize { get; }

    /// <summary>Factor applied at each decay.</summary>
    public double Gamma { get; }

    private protected override double Evaluate(double epoch) => InitialLearningRate * Math.Pow(Gamma, Math.Floor(epoch / StepSize));
}

/// <summary>
/// Cosine annealing, PyTorch's <c>CosineAnnealingLR</c> in closed form:
/// lr = minimum + (initial - minimum) · (1 + cos(π · epoch / epochs)) / 2, from the initial rate at epoch 0 down to
/// the minimum at epoch <see cref="Epochs"/>. As in PyTorch the formula is not clamped: past <see cref="Epochs"/> it
/// rises again (period 2 · epochs), so train for <see cref="Epochs"/> epochs (or restart the schedule).
/// </summary>
public sealed class CosineAnnealingLearningRate : LearningRateSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A rate is negative or not finite, or <paramref name="epochs"/> is below 1.</exception>
    public CosineAnnealingLearningRate(double initialLearningRate, int epochs, double minimumLearningRate = 0)
    {
        CheckRate(initialLearningRate, nameof(initialLearningRate));
        CheckRate(minimumLearningRate, nameof(minimumLearningRate));
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1);
        InitialLearningRate = initialLearningRate;
        Epochs = epochs;
        MinimumLearningRate = minimumLearningRate;
    }

    /// <summary>The rate at epoch 0 (PyTorch's base_lr).</summary>
    public double InitialLearningRate { get; }

    /// <summary>Epochs from the initial rate to the minimum (PyTorch's T_max).</summary>
    public int Epochs { get; }

    /// <summary>The rate at epoch <see cref="Epochs"/> (PyTorch's eta_min).</summary>
    public double MinimumLearningRate { get; }

    private protected override double Evaluate(double epoch) =>
        MinimumLearningRate + (InitialLearningRate - MinimumLearningRate) * (1 + Math.Cos(Math.PI * epoch / Epochs)) / 2;
}
