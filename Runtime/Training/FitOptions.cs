using System;
using System.IO;
using Unroll.Data;

namespace Unroll.Training;

/// <summary>Settings of <see cref="Trainer.Fit"/>; the defaults train quietly except for one progress line per epoch.</summary>
public sealed class FitOptions
{
    /// <summary>Passes over the training set; 10 by default.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Samples per gradient step; 32 by default.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Seed of the per-epoch shuffle. The same seed, data and thread count give the same weights.</summary>
    public long Seed { get; init; }

    /// <summary>
    /// The loss; by default cross-entropy, folded with the final softmax when the network ends in one
    /// (<see cref="CrossEntropyAfterSoftmax"/>), on the logits otherwise (<see cref="SoftmaxCrossEntropy"/>).
    /// </summary>
    public IClassificationLoss? Loss { get; init; }

    /// <summary>Learning rate per epoch; the optimizer's own rate stays as it is when null.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>Evaluated after every epoch when set (val_loss, val_accuracy).</summary>
    public Dataset? Validation { get; init; }

    /// <summary>Where the progress line goes; <see cref="Console.Out"/> by default, null for silence.</summary>
    public TextWriter? Progress { get; init; } = Console.Out;

    /// <summary>Saves the weights here (atomically) whenever the monitored figure improves.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>The figure checkpoints and early stopping watch: val_accuracy (the default when validating), val_loss, accuracy or loss.</summary>
    public string? Monitor { get; init; }

    /// <summary>Stops after this many epochs without improvement of the monitored figure; 0 (the default) never stops early.</summary>
    public int EarlyStoppingPatience { get; init; }

    /// <summary>Puts back the best epoch's weights at the end (needs a monitored figure).</summary>
    public bool RestoreBestWeights { get; init; }

    /// <summary>Batches the loader thread prepares ahead; 3 by default, 0 loads on the training thread.</summary>
    public int Prefetch { get; init; } = 3;

    /// <summary>Runs on the loader thread on every batch before it trains, e.g. for data augmentation.</summary>
    public Action<Batch>? Augment { get; init; }

    /// <summary>Called after every epoch with its figures.</summary>
    public Action<EpochResult>? OnEpochEnd { get; init; }
}

/// <summary>The figures of one epoch.</summary>
/// <param name="Epoch">Epoch number, from 1.</param>
/// <param name="Loss">Mean training loss over the epoch.</param>
/// <param name="Accuracy">Training accuracy over the epoch (with the weights of each step).</param>
/// <param name="ValidationLoss">Mean validation loss after the epoch, if validating.</param>
/// <param name="ValidationAccuracy">Validation accuracy after the epoch, if validating.</param>
/// <param name="LearningRate">Learning rate used in the epoch.</param>
/// <param name="Seconds">Wall time of the epoch's training steps (validation excluded).</param>
/// <param name="ImagesPerSecond">Training throughput of the epoch.</param>
public sealed record EpochResult(int Epoch, double Loss, double Accuracy, double? ValidationLoss, double? ValidationAccuracy,
    double LearningRate, double Seconds, double ImagesPerSecond);

/// <summary>The result of <see cref="Trainer.Fit"/>.</summary>
/// <param name="Epochs">Figures of every epoch that ran.</param>
/// <param name="BestEpoch">The epoch with the best monitored figure, if one was monitored.</param>
/// <param name="StoppedEarly">Whether early stopping ended training.</param>
public sealed record TrainingHistory(System.Collections.Generic.IReadOnlyList<EpochResult> Epochs, int? BestEpoch, bool StoppedEarly);

/// <summary>The figures of <see cref="Trainer.Evaluate"/>.</summary>
/// <param name="Loss">Mean loss.</param>
/// <param name="Accuracy">Fraction of samples whose largest output is the label.</param>
/// <param name="Count">Samples evaluated.</param>
public sealed record Evaluation(double Loss, double Accuracy, int Count);

/// <summary>Training produced a loss that is not a finite number; the weights are those of the last good step.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception for <paramref name="epoch"/> and <paramref name="step"/>.</summary>
    public TrainingDivergedException(int epoch, int step, double loss, string? checkpoint)
        : base($"Training diverged: the loss became {loss} at epoch {epoch}, step {step}. The weights are those before that step"
            + (checkpoint is null ? "." : $"; the best checkpoint so far is kept in '{checkpoint}'."))
    {
        Epoch = epoch;
        Step = step;
    }

    /// <summary>Epoch (from 1) of the step whose loss was not finite.</summary>
    public int Epoch { get; }

    /// <summary>Step within the epoch (from 1).</summary>
    public int Step { get; }
}
