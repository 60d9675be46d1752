// ScheduleTests: learning-rate schedules at hand-checkable points, momentum cycling and errors.
using DigitLab.Nn;

namespace DigitLab.Tests.Nn;

public class ScheduleTests
{
    /// <summary>Schedules are double arithmetic on a few terms.</summary>
    private const int Digits = 12;

    [Fact]
    public void ConstantAndStepSchedules()
    {
        Assert.Equal(0.3, new ConstantSchedule(0.3).At(1000));
        var s = new StepSchedule(1.0, stepSize: 10, gamma: 0.1);
        Assert.Equal(1.0, s.At(0));
        Assert.Equal(1.0, s.At(9));
        Assert.Equal(0.1, s.At(10), Digits);
        Assert.Equal(0.01, s.At(25), Digits);
    }

    [Fact]
    public void CosineGoesFromLrThroughTheMidpointToMinLrAndStays()
    {
        var s = new CosineSchedule(0.1, totalSteps: 100, minLr: 0.02);
        Assert.Equal(0.1, s.At(0), Digits);
        Assert.Equal(0.06, s.At(50), Digits);
        Assert.Equal(0.02, s.At(100), Digits);
        Assert.Equal(0.02, s.At(150));
        Assert.True(s.At(30) > s.At(31));
    }

    [Fact]
    public void OneCycleWarmsUpToMaxThenAnnealsFarBelowTheStart()
    {
        // 100 steps, pctStart 0.3: the warm-up ends at step 29 (PyTorch's 0.3·100 - 1), the last step is 99.
        var s = new OneCycleSchedule(maxLr: 1.0, totalSteps: 100);
        Assert.Equal(1.0 / 25, s.At(0), Digits);
        Assert.Equal(1.0, s.At(29), Digits);
        Assert.Equal(1.0 / 25 / 1e4, s.At(99), Digits);
        Assert.Equal(0.95, s.MomentumAt(0)!.Value, Digits);
        Assert.Equal(0.85, s.MomentumAt(29)!.Value, Digits);
        Assert.Equal(0.95, s.MomentumAt(99)!.Value, Digits);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.At(101));
        Assert.Null(new OneCycleSchedule(1.0, 100, cycleMomentum: false).MomentumAt(5));
    }

    [Fact]
    public void OneCycleWithAOneStepWarmUpPeaksAtStepZeroInsteadOfDividingByZero()
    {
        // 10 steps, pctStart 0.1: PyTorch's warm-up phase ends at step 0.1·10 - 1 = 0 and its formula is 0/0 there.
        var s = new OneCycleSchedule(maxLr: 1.0, totalSteps: 10, pctStart: 0.1);
        Assert.Equal(1.0, s.At(0));
        Assert.Equal(0.85, s.MomentumAt(0)!.Value, Digits);
        Assert.Equal(1.0 / 25 / 1e4, s.At(9), Digits);
        var allWarmUp = new OneCycleSchedule(maxLr: 1.0, totalSteps: 10, pctStart: 1.0);
        Assert.Equal(1.0, allWarmUp.At(9), Digits);
        Assert.True(double.IsFinite(allWarmUp.At(10)));
    }

    [Fact]
    public void ApplySetsLearningRateAndCyclesMomentumOnlyWhereThereIsOne()
    {
        var p = new Parameter("w", 1);
        var schedule = new OneCycleSchedule(maxLr: 0.5, totalSteps: 10);
        var sgd = new Sgd([("w", p)], lr: 1, momentum: 0.9);
        var plain = new Sgd([("w", p)], lr: 1);
        var adam = new Adam([("w", p)]);
        schedule.Apply(sgd, 2);
        schedule.Apply(plain, 2);
        schedule.Apply(adam, 2);
        Assert.Equal(schedule.At(2), sgd.LearningRate);
        Assert.Equal(schedule.MomentumAt(2)!.Value, sgd.Momentum);
        Assert.Equal(schedule.At(2), plain.LearningRate);
        Assert.Equal(0, plain.Momentum);
        Assert.Equal(schedule.MomentumAt(2)!.Value, adam.Beta1);
    }

    [Fact]
    public void BadArgumentsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepSchedule(0.1, 0, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(0.1, 10, minLr: 0.2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycleSchedule(0.1, 10, pctStart: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConstantSchedule(0.1).At(-1));
    }
}
