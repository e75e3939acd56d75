using System;
using Unroll.Training;

namespace Unroll.Tests.Training;

public class LearningRateScheduleTests
{
    [Fact]
    public void ConstantIsConstant()
    {
        var s = new ConstantLearningRate(0.05);
        Assert.Equal(0.05, s.At(0));
        Assert.Equal(0.05, s.At(123.5));
        Assert.Equal(0.05, s.At(7, 3, 10));
    }

    [Fact]
    public void StepDecayMultipliesByGammaEveryStepSizeEpochs()
    {
        var s = new StepDecayLearningRate(0.1, stepSize: 3, gamma: 0.5);
        double[] expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125];
        for (int epoch = 0; epoch < expected.Length; epoch++)
            Assert.Equal(expected[epoch], s.At(epoch), 15);
        // Per step it changes only at the epoch boundary.
        Assert.Equal(0.1, s.At(2, 99, 100), 15);
        Assert.Equal(0.05, s.At(3, 0, 100), 15);
        for (int epoch = 0; epoch < 40; epoch++)
            Assert.Equal(0.1 * Math.Pow(0.5, epoch / 3), s.At(epoch), 15);
    }

    [Fact]
    public void CosineAnnealingMatchesTheClosedForm()
    {
        var s = new CosineAnnealingLearningRate(0.1, epochs: 10, minimumLearningRate: 0.001);
        Assert.Equal(0.1, s.At(0), 15);
        Assert.Equal(0.0505, s.At(5), 15); // 0.001 + 0.099 · (1 + cos(π/2)) / 2
        Assert.Equal(0.001, s.At(10), 15);
        Assert.Equal(0.001 + 0.099 * (1 + Math.Cos(Math.PI * 0.25)) / 2, s.At(2.5), 15);
        Assert.Equal(s.At(2.5), s.At(2, 1, 2), 15); // per step: epoch 2, second half
        for (int epoch = 0; epoch <= 10; epoch++)
            Assert.Equal(0.001 + (0.1 - 0.001) * (1 + Math.Cos(Math.PI * epoch / 10)) / 2, s.At(epoch), 15);
        // Monotone down to the minimum over the T epochs.
        for (int epoch = 1; epoch <= 10; epoch++)
            Assert.True(s.At(epoch) < s.At(epoch - 1));
    }

    [Fact]
    public void CosineAnnealingMatchesPyTorchsRecursiveScheduler()
    {
        // torch.optim.lr_scheduler.CosineAnnealingLR.get_lr, stepped epoch by epoch (past T_max too).
        const double baseLr = 0.2, etaMin = 0.01;
        const int tMax = 7;
        var s = new CosineAnnealingLearningRate(baseLr, tMax, etaMin);
        double lr = baseLr;
        for (int epoch = 0; epoch <= 3 * tMax; epoch++)
        {
            if (epoch > 0)
            {
                if ((epoch - 1 - tMax) % (2 * tMax) == 0)
                    lr += (baseLr - etaMin) * (1 - Math.Cos(Math.PI / tMax)) / 2;
                else
                    lr = (1 + Math.Cos(Math.PI * epoch / tMax)) / (1 + Math.Cos(Math.PI * (epoch - 1) / tMax)) * (lr - etaMin) + etaMin;
            }
            Assert.Equal(lr, s.At(epoch), 12);
        }
    }

    [Fact]
    public void ApplySetsTheOptimizersLearningRate()
    {
        var sgd = new Sgd(4, ParameterGroup.Whole(4), 1.0);
        new StepDecayLearningRate(0.1, 2, 0.1).Apply(sgd, 5);
        Assert.Equal(0.001, sgd.LearningRate, 15);
    }

    [Fact]
    public void BadArgumentsThrow()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantLearningRate(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepDecayLearningRate(0.1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLearningRate(0.1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantLearningRate(0.1).At(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantLearningRate(0.1).At(double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantLearningRate(0.1).At(0, 5, 5));
    }
}
