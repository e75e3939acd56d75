using System;
using Unroll.Training;

namespace Unroll.Tests.Training;

public class MetricsTests
{
    [Fact]
    public void ArgMaxTakesTheFirstMaximumAndTreatsNaNAsLargest()
    {
        Assert.Equal(2, Metrics.ArgMax([0.1f, 0.2f, 0.7f]));
        Assert.Equal(1, Metrics.ArgMax([0f, 5f, 5f, 1f]));
        Assert.Equal(0, Metrics.ArgMax([-1f]));
        Assert.Equal(0, Metrics.ArgMax([float.NegativeInfinity, float.NegativeInfinity]));
        Assert.Equal(2, Metrics.ArgMax([1f, 9f, float.NaN, float.NaN]));
        Assert.Throws<ArgumentException>(() => Metrics.ArgMax([]));
    }

    [Fact]
    public void RunningMeanWeightsBatchMeansBySize()
    {
        var mean = new RunningMean();
        Assert.True(double.IsNaN(mean.Mean));
        mean.Add(2.0, 3);   // a batch of 3 with mean loss 2
        mean.Add(4.0, 1);   // a batch of 1 with loss 4
        Assert.Equal(2.5, mean.Mean, 15);
        Assert.Equal(4, mean.Weight);
        Assert.Equal(2, mean.Count);
        mean.Add(1.0);
        Assert.Equal(11.0 / 5, mean.Mean, 15);
        mean.Reset();
        Assert.True(double.IsNaN(mean.Mean));
        Assert.Equal(0, mean.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => mean.Add(1, 0));
    }

    [Fact]
    public void RunningAccuracyCountsArgmaxHits()
    {
        var accuracy = new RunningAccuracy();
        Assert.True(double.IsNaN(accuracy.Accuracy));
        Assert.True(accuracy.Add([0.1f, 0.9f], 1));
        Assert.False(accuracy.Add([0.6f, 0.4f], 1));
        float[] batch = [1, 0, 0, /**/ 0, 0, 1, /**/ 0, 1, 0];
        Assert.Equal(2, accuracy.Add(batch, [0, 2, 0]));
        Assert.Equal(3, accuracy.Correct);
        Assert.Equal(5, accuracy.Total);
        Assert.Equal(0.6, accuracy.Accuracy, 15);
        Assert.Throws<ArgumentException>(() => accuracy.Add(new float[8], [0, 1, 2]));
        accuracy.Reset();
        Assert.Equal(0, accuracy.Total);
    }
}
