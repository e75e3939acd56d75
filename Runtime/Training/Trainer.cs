using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Unroll.Data;

namespace Unroll.Training;

/// <summary>Keras-style training and evaluation of classifiers: <c>network.Fit(train, optimizer, options)</c>, <c>network.Evaluate(test)</c>.</summary>
public static class Trainer
{
    /// <summary>
    /// Trains <paramref name="network"/> on <paramref name="train"/> with mini-batch gradient steps: a loader thread
    /// shuffles and prepares batches while the current one trains; the batch is split across the network's threads.
    /// Prints one progress line per epoch (updated in place on a terminal), validates, checkpoints and stops early as
    /// <paramref name="options"/> say. A loss that is not finite stops training with <see cref="TrainingDivergedException"/>
    /// before that step changes any weight.
    /// </summary>
    /// <exception cref="ArgumentException">The data does not fit the network.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the weights are those of the last finished step.</exception>
    public static TrainingHistory Fit(this Network network, Dataset train, Optimizer optimizer, FitOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(optimizer);
        options ??= new FitOptions();
        CheckData(network, train, nameof(train));
        if (options.Validation is { } validation)
            CheckData(network, validation, nameof(options));
        if (optimizer.ParameterCount != network.Parameters.Length)
            throw new ArgumentException($"The optimizer updates {optimizer.ParameterCount} values; {network.Info.Name} stores {network.Parameters.Length}.", nameof(optimizer));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Epochs, 1);
        IClassificationLoss loss = options.Loss ?? DefaultLoss(network);
        string? monitor = options.Monitor ?? (options.Validation is not null ? "val_accuracy" : null);
        if (monitor is not null and not ("val_accuracy" or "val_loss" or "accuracy" or "loss"))
            throw new ArgumentException($"Unknown figure '{monitor}' to monitor: use val_accuracy, val_loss, accuracy or loss.", nameof(options));
        if (monitor is "val_accuracy" or "val_loss" && options.Validation is null)
            throw new ArgumentException($"Monitoring {monitor} needs FitOptions.Validation.", nameof(options));

        var step = new StepLoss(loss, options.BatchSize, network.Info.Outputs);
        LossFunction lossFunction = step.Compute;
        var epochs = new List<EpochResult>();
        double best = double.NaN;
        int? bestEpoch = null;
        float[]? bestWeights = null;
        int sinceBest = 0;
        bool stoppedEarly = false;
        using var loader = new BatchLoader(train, options.BatchSize, options.Seed, shuffle: true, prefetch: options.Prefetch, prepare: options.Augment);
        var progress = new ProgressLine(options.Progress, options.Epochs, loader.BatchesPerEpoch);

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            options.Schedule?.Apply(optimizer, epoch - 1);
            double lossSum = 0;
            long correct = 0, seen = 0;
            int stepIndex = 0;
            var clock = Stopwatch.StartNew();
            foreach (Batch batch in loader.Epoch(epoch - 1, cancellationToken))
            {
                stepIndex++;
                step.Begin(batch.Labels);
                double batchLoss = network.ComputeGradients(batch.Images, batch.Count, lossFunction, default, loss.FoldsSoftmaxBackward);
                if (!double.IsFinite(batchLoss))
                {
                    progress.Abort();
                    throw new TrainingDivergedException(epoch, stepIndex, batchLoss, bestEpoch is null ? null : options.CheckpointPath);
                }
                optimizer.Step(network.Parameters, network.Gradients);
                lossSum += batchLoss;
                correct += step.Correct;
                seen += batch.Count;
                progress.Update(epoch, stepIndex, lossSum / seen, (double)correct / seen, clock.Elapsed.TotalSeconds, seen);
                cancellationToken.ThrowIfCancellationRequested();
            }
            clock.Stop();
            Evaluation? validationResult = options.Validation is { } v ? network.Evaluate(v, loss) : null;
            var result = new EpochResult(epoch, lossSum / seen, (double)correct / seen, validationResult?.Loss, validationResult?.Accuracy,
                optimizer.LearningRate, clock.Elapsed.TotalSeconds, seen / clock.Elapsed.TotalSeconds);
            epochs.Add(result);
            progress.Finish(result);
            options.OnEpochEnd?.Invoke(result);

            if (monitor is null)
                continue;
            double figure = monitor switch
            {
                "val_accuracy" => result.ValidationAccuracy!.Value,
                "val_loss" => result.ValidationLoss!.Value,
                "accuracy" => result.Accuracy,
                _ => result.Loss,
            };
            bool higherIsBetter = monitor.EndsWith("accuracy", StringComparison.Ordinal);
            if (double.IsNaN(best) || (higherIsBetter ? figure > best : figure < best))
            {
                best = figure;
                bestEpoch = epoch;
                sinceBest = 0;
                if (options.CheckpointPath is { } path)
                    network.Save(path);
                if (options.RestoreBestWeights)
                    bestWeights = network.Parameters.ToArray();
            }
            else if (options.EarlyStoppingPatience > 0 && ++sinceBest >= options.EarlyStoppingPatience)
            {
                stoppedEarly = true;
                options.Progress?.WriteLine($"Early stopping: {monitor} has not improved for {sinceBest} epoch(s); best {best:0.0000} at epoch {bestEpoch}.");
                break;
            }
        }
        if (bestWeights is not null)
            bestWeights.CopyTo(network.Parameters);
        return new TrainingHistory(epochs, bestEpoch, stoppedEarly);
    }

    /// <summary>Mean loss and accuracy of <paramref name="network"/> over <paramref name="data"/>, by batches of <paramref name="batchSize"/>.</summary>
    /// <exception cref="ArgumentException">The data does not fit the network.</exception>
    public static Evaluation Evaluate(this Network network, Dataset data, IClassificationLoss? loss = null, int batchSize = 256)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        CheckData(network, data, nameof(data));
        loss ??= DefaultLoss(network);
        int inputLength = network.InputLength, outputLength = network.OutputLength;
        float[] outputs = new float[batchSize * outputLength];
        float[] gradient = new float[outputLength];
        OutputInfo first = network.Info.Outputs[0];
        double lossSum = 0;
        long correct = 0;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, data.Count - start);
            network.Forward(data.Images.AsSpan(start * inputLength, count * inputLength), outputs.AsSpan(0, count * outputLength), count);
            for (int n = 0; n < count; n++)
            {
                // The loss of every main output, weighted; the accuracy of the first.
                ReadOnlySpan<float> output = outputs.AsSpan(n * outputLength, outputLength);
                int label = data.Labels[start + n];
                foreach (OutputInfo o in network.Info.Outputs)
                    if (!o.Auxiliary)
                        lossSum += o.LossWeight * loss.Compute(output.Slice(o.Offset, o.Length), label, gradient.AsSpan(o.Offset, o.Length));
                if (Metrics.ArgMax(output.Slice(first.Offset, first.Length)) == label)
                    correct++;
            }
        }
        return new Evaluation(lossSum / data.Count, (double)correct / data.Count, data.Count);
    }

    /// <summary>Cross-entropy folded with the final softmax when every output ends in one, on logits otherwise.</summary>
    public static IClassificationLoss DefaultLoss(Network network) =>
        network.EndsInSoftmax ? new CrossEntropyAfterSoftmax() : new SoftmaxCrossEntropy();

    private static void CheckData(Network network, Dataset data, string name)
    {
        if (data.SampleLength != network.InputLength)
            throw new ArgumentException($"Samples of {data.SampleShape} ({data.SampleLength} values) do not fit {network.Info.Name}'s input {network.Info.InputShape} ({network.InputLength} values).", name);
        foreach (OutputInfo output in network.Info.Outputs)
            if (data.ClassCount > output.Length)
                throw new ArgumentException($"The data has {data.ClassCount} classes; {network.Info.Name}'s output {output.Layer} has {output.Length} values.", name);
    }

    /// <summary>
    /// The per-sample loss of one step: mean reduction over the batch, and which samples were right (by the first output). A
    /// network with several outputs (auxiliary classifiers) is trained on the sum of every output's loss times its weight.
    /// </summary>
    private sealed class StepLoss
    {
        private readonly IClassificationLoss _loss;
        private readonly IReadOnlyList<OutputInfo> _outputs;
        private int[] _labels;
        private bool[] _correct;
        private int _count;

        public StepLoss(IClassificationLoss loss, int batchSize, IReadOnlyList<OutputInfo> outputs)
        {
            _loss = loss;
            _outputs = outputs;
            _labels = new int[batchSize];
            _correct = new bool[batchSize];
        }

        public void Begin(ReadOnlySpan<int> labels)
        {
            if (labels.Length > _labels.Length)
            {
                _labels = new int[labels.Length];
                _correct = new bool[labels.Length];
            }
            labels.CopyTo(_labels);
            _count = labels.Length;
        }

        /// <summary>Called from worker threads, each on its own samples.</summary>
        public float Compute(int sample, ReadOnlySpan<float> output, Span<float> outputGradient)
        {
            float value = 0;
            foreach (OutputInfo o in _outputs)
            {
                Span<float> gradient = outputGradient.Slice(o.Offset, o.Length);
                value += o.LossWeight * _loss.Compute(output.Slice(o.Offset, o.Length), _labels[sample], gradient);
                float scale = o.LossWeight / _count;
                for (int i = 0; i < gradient.Length; i++)
                    gradient[i] *= scale;
            }
            OutputInfo first = _outputs[0];
            _correct[sample] = Metrics.ArgMax(output.Slice(first.Offset, first.Length)) == _labels[sample];
            return value;
        }

        public int Correct
        {
            get
            {
                int n = 0;
                for (int i = 0; i < _count; i++)
                    if (_correct[i])
                        n++;
                return n;
            }
        }
    }

    /// <summary>The Keras-style line per epoch: updated in place on a terminal, written once per epoch otherwise.</summary>
    private sealed class ProgressLine
    {
        private readonly TextWriter? _writer;
        private readonly bool _inPlace;
        private readonly int _epochs, _steps;
        private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
        private bool _drawn;

        public ProgressLine(TextWriter? writer, int epochs, int steps)
        {
            _writer = writer;
            _inPlace = writer is not null && ReferenceEquals(writer, Console.Out) && !Console.IsOutputRedirected;
            _epochs = epochs;
            _steps = steps;
        }

        public void Update(int epoch, int step, double loss, double accuracy, double seconds, long images)
        {
            if (!_inPlace || (_sinceDraw.ElapsedMilliseconds < 200 && step != _steps))
                return;
            _sinceDraw.Restart();
            const int width = 20;
            int filled = (int)((long)width * step / _steps);
            double secondsLeft = seconds / step * (_steps - step);
            string bar = new string('=', filled) + (filled < width ? ">" : "") + new string('.', Math.Max(0, width - filled - 1));
            _writer!.Write(FormattableString.Invariant(
                $"\rEpoch {epoch}/{_epochs} [{bar}] {step}/{_steps} - loss {loss:0.0000} - accuracy {accuracy:0.0000} - {images / Math.Max(seconds, 1e-9):N0} img/s - ETA {secondsLeft:0}s   "));
            _drawn = true;
        }

        public void Finish(EpochResult r)
        {
            if (_writer is null)
                return;
            string validation = r.ValidationLoss is { } vl ? FormattableString.Invariant($" - val_loss {vl:0.0000} - val_accuracy {r.ValidationAccuracy:0.0000}") : "";
            string line = FormattableString.Invariant($"Epoch {r.Epoch}/{_epochs} - {r.Seconds:0.0}s - loss {r.Loss:0.0000} - accuracy {r.Accuracy:0.0000}{validation} - {r.ImagesPerSecond:N0} img/s - lr {r.LearningRate:G4}");
            _writer.Write(_inPlace && _drawn ? "\r" + line + new string(' ', 20) + "\n" : line + "\n");
            _writer.Flush();
            _drawn = false;
        }

        public void Abort()
        {
            if (_inPlace && _drawn)
                _writer!.WriteLine();
        }
    }
}
