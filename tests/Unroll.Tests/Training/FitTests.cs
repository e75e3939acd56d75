using System;
using System.IO;
using System.Linq;
using System.Threading;
using Unroll.Data;
using Unroll.Networks;
using Unroll.Training;

namespace Unroll.Tests.Training;

/// <summary>The Keras-style loop: it learns, it is reproducible, it stops cleanly, it keeps frozen layers and checkpoints.</summary>
public class FitTests
{
    private static readonly Lazy<(Dataset Train, Dataset Test)> Data = new(() => FashionMnist.LoadEmbedded(FashionMnist.LeNet5Preprocessing));

    private static Dataset Slice(Dataset data, int count) =>
        new(data.Images.AsSpan(0, count * data.SampleLength).ToArray(), data.Labels.AsSpan(0, count).ToArray(), data.SampleShape, data.ClassCount);

    private static LeNet5 Net(int threads, int seed = 1) => new(new NetworkOptions { Threads = threads, Seed = seed });

    [Fact]
    public void LeNet5LearnsFashionMnist()
    {
        (Dataset train, Dataset test) = Data.Value;
        using LeNet5 net = Net(2);
        double before = net.Evaluate(test).Accuracy;
        TrainingHistory history = net.Fit(train, new Sgd(net.Info, 0.01, momentum: 0.9), new FitOptions { Epochs = 3, BatchSize = 64, Seed = 1, Progress = null, Validation = test });
        double after = net.Evaluate(test).Accuracy;
        Assert.InRange(before, 0.0, 0.3);
        Assert.True(after > 0.72, $"test accuracy {after} after 3 epochs on the 4,000-image subset");
        Assert.Equal(3, history.Epochs.Count);
        Assert.True(history.Epochs[2].Loss < history.Epochs[0].Loss);
        Assert.Equal(after, history.Epochs[2].ValidationAccuracy!.Value, 12);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SameSeedAndThreadsGiveIdenticalWeights(int threads)
    {
        Dataset train = Slice(Data.Value.Train, 640);
        float[] Run()
        {
            using LeNet5 net = Net(threads);
            net.Fit(train, new Sgd(net.Info, 0.01, momentum: 0.9), new FitOptions { Epochs = 2, BatchSize = 64, Seed = 7, Progress = null });
            return net.Parameters.ToArray();
        }
        float[] first = Run(), second = Run();
        Assert.Equal(first, second);
    }

    [Fact]
    public void OneAndTwoThreadsAgreeClosely()
    {
        Dataset train = Slice(Data.Value.Train, 256);
        float[] Run(int threads)
        {
            using LeNet5 net = Net(threads);
            net.Fit(train, new Sgd(net.Info, 0.01), new FitOptions { Epochs = 1, BatchSize = 64, Seed = 7, Progress = null });
            return net.Parameters.ToArray();
        }
        float[] one = Run(1), two = Run(2);
        double worst = one.Zip(two, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < 1e-4, $"largest difference {worst}");
    }

    [Fact]
    public void FrozenLayersNeverChange()
    {
        Dataset train = Slice(Data.Value.Train, 256);
        using LeNet5 net = Net(2);
        float[] c1 = net.C1.GetWeights(), c3Bias = net.C3.GetBias(), f5 = net.F5.GetWeights();
        var optimizer = new Sgd(net.Info, 0.05, momentum: 0.9);
        optimizer.SetLayerFrozen("C1", true);
        optimizer.SetLayerFrozen("C3", true);
        net.Fit(train, optimizer, new FitOptions { Epochs = 2, BatchSize = 32, Progress = null });
        Assert.Equal(c1, net.C1.GetWeights());
        Assert.Equal(c3Bias, net.C3.GetBias());
        Assert.NotEqual(f5, net.F5.GetWeights());
    }

    [Fact]
    public void ADivergingLossStopsWithTheEpochAndStepAndKeepsTheCheckpoint()
    {
        (Dataset train, Dataset test) = (Slice(Data.Value.Train, 512), Slice(Data.Value.Test, 128));
        string folder = Directory.CreateTempSubdirectory("unroll-fit").FullName;
        string checkpoint = Path.Combine(folder, "best.unrw");
        try
        {
            using LeNet5 net = Net(2);
            net.Fit(train, new Sgd(net.Info, 0.01), new FitOptions { Epochs = 1, BatchSize = 64, Progress = null, Validation = test, CheckpointPath = checkpoint });
            byte[] saved = File.ReadAllBytes(checkpoint);
            // A learning rate this large overflows the weights within a few steps.
            var wild = new Sgd(net.Info, 1e30);
            var error = Assert.Throws<TrainingDivergedException>(() =>
                net.Fit(train, wild, new FitOptions { Epochs = 3, BatchSize = 64, Progress = null, Validation = test, CheckpointPath = checkpoint }));
            Assert.Equal(1, error.Epoch);
            Assert.InRange(error.Step, 2, 8);
            Assert.Contains($"epoch {error.Epoch}, step {error.Step}", error.Message);
            Assert.Equal(saved, File.ReadAllBytes(checkpoint));
            Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void TheCheckpointHoldsTheBestEpoch()
    {
        (Dataset train, Dataset test) = (Slice(Data.Value.Train, 640), Slice(Data.Value.Test, 200));
        string path = Path.Combine(Path.GetTempPath(), $"unroll-best-{Guid.NewGuid():N}.unrw");
        try
        {
            using LeNet5 net = Net(2);
            TrainingHistory history = net.Fit(train, new Sgd(net.Info, 0.02, momentum: 0.9),
                new FitOptions { Epochs = 4, BatchSize = 32, Progress = null, Validation = test, CheckpointPath = path });
            EpochResult best = history.Epochs.Single(e => e.Epoch == history.BestEpoch);
            Assert.Equal(history.Epochs.Max(e => e.ValidationAccuracy!.Value), best.ValidationAccuracy!.Value);
            using LeNet5 restored = Net(1, seed: 99);
            restored.Load(path);
            Assert.Equal(best.ValidationAccuracy!.Value, restored.Evaluate(test).Accuracy, 12);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void EarlyStoppingRestoresTheBestEpochsWeights()
    {
        // With one validation image, val_accuracy is 0 or 1, so it can improve at most once after the
        // first epoch: with patience 1, training must stop by the third of ten epochs.
        Dataset train = Slice(Data.Value.Train, 256), single = Slice(Data.Value.Test, 1);
        using LeNet5 net = Net(2);
        var snapshots = new System.Collections.Generic.Dictionary<int, float[]>();
        TrainingHistory history = net.Fit(train, new Sgd(net.Info, 0.01, momentum: 0.9), new FitOptions
        {
            Epochs = 10,
            BatchSize = 32,
            Progress = null,
            Validation = single,
            EarlyStoppingPatience = 1,
            RestoreBestWeights = true,
            OnEpochEnd = e => snapshots[e.Epoch] = net.Parameters.ToArray(),
        });
        Assert.True(history.StoppedEarly);
        Assert.InRange(history.Epochs.Count, 2, 3);
        Assert.NotNull(history.BestEpoch);
        Assert.Equal(snapshots[history.BestEpoch!.Value], net.Parameters.ToArray());
    }

    [Fact]
    public void CancellationStopsBetweenSteps()
    {
        Dataset train = Slice(Data.Value.Train, 512);
        using LeNet5 net = Net(2);
        using var cancel = new CancellationTokenSource();
        int epochsSeen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() => net.Fit(train, new Sgd(net.Info, 0.01), new FitOptions
        {
            Epochs = 5,
            BatchSize = 64,
            Progress = null,
            OnEpochEnd = _ =>
            {
                epochsSeen++;
                cancel.Cancel();
            },
        }, cancel.Token));
        Assert.Equal(1, epochsSeen);
        Assert.All(net.Parameters.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void TheProgressLineHasTheKerasFigures()
    {
        (Dataset train, Dataset test) = (Slice(Data.Value.Train, 128), Slice(Data.Value.Test, 64));
        using LeNet5 net = Net(1);
        var text = new StringWriter();
        net.Fit(train, new Sgd(net.Info, 0.01), new FitOptions { Epochs = 2, BatchSize = 32, Progress = text, Validation = test });
        string[] lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches(@"^Epoch 1/2 - [0-9.]+s - loss [0-9.]+ - accuracy [0-9.]+ - val_loss [0-9.]+ - val_accuracy [0-9.]+ - [0-9,]+ img/s - lr 0\.01$", lines[0]);
    }

    [Fact]
    public void MismatchedDataIsAClearError()
    {
        using LeNet5 net = Net(1);
        var wrong = new Dataset(new float[2 * 28 * 28], new[] { 0, 1 }, new Shape(1, 28, 28), 10);
        var error = Assert.Throws<ArgumentException>(() => net.Fit(wrong, new Sgd(net.Info, 0.01), new FitOptions { Progress = null }));
        Assert.Contains("1x28x28", error.Message);
        Assert.Contains("1x32x32", error.Message);
    }
}
