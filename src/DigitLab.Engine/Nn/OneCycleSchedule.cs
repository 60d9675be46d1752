// OneCycleSchedule: warm up to maxLr, then anneal far below the start, as torch.optim.lr_scheduler.OneCycleLR.
namespace DigitLab.Nn;

/// <summary>
/// PyTorch's OneCycleLR (two phases, cosine annealing): from maxLr/divFactor up to maxLr over the first
/// pctStart of the steps, then down to maxLr/divFactor/finalDivFactor at step totalSteps-1. Momentum
/// cycles the other way, from maxMomentum down to baseMomentum and back (PyTorch's cycle_momentum).
/// </summary>
/// <remarks>
/// Defaults are PyTorch's: pctStart 0.3, divFactor 25, finalDivFactor 1e4, baseMomentum 0.85,
/// maxMomentum 0.95, cycleMomentum on. Momentum reaches the optimizer only through
/// <see cref="LearningRateSchedule.Apply"/>, and only when it has one (SGD built with momentum &gt; 0,
/// Adam/AdamW's β1); PyTorch would also switch momentum on for an SGD built without it.
/// Like PyTorch, steps beyond totalSteps are an error.
/// </remarks>
public sealed class OneCycleSchedule : LearningRateSchedule
{
    private readonly double _warmupEnd;   // PyTorch's phase-1 end_step: pctStart·totalSteps - 1 (a float)
    private readonly double _finalStep;   // totalSteps - 1

    public OneCycleSchedule(double maxLr, long totalSteps, double pctStart = 0.3, double divFactor = 25,
        double finalDivFactor = 1e4, bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95)
    {
        RequirePositive(maxLr, nameof(maxLr));
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "totalSteps must be at least 1 step.");
        if (!(pctStart >= 0 && pctStart <= 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "pctStart must be in [0, 1].");
        RequirePositive(divFactor, nameof(divFactor));
        RequirePositive(finalDivFactor, nameof(finalDivFactor));
        if (cycleMomentum && !(0 <= baseMomentum && baseMomentum <= maxMomentum && maxMomentum < 1))
            throw new ArgumentOutOfRangeException(nameof(baseMomentum), baseMomentum, $"Need 0 <= baseMomentum <= maxMomentum < 1; found {baseMomentum} and {maxMomentum}.");
        MaxLearningRate = maxLr;
        TotalSteps = totalSteps;
        PctStart = pctStart;
        InitialLearningRate = maxLr / divFactor;
        MinLearningRate = InitialLearningRate / finalDivFactor;
        CycleMomentum = cycleMomentum;
        BaseMomentum = baseMomentum;
        MaxMomentum = maxMomentum;
        _warmupEnd = pctStart * totalSteps - 1;
        _finalStep = totalSteps - 1;
    }

    public double MaxLearningRate { get; }
    public long TotalSteps { get; }
    public double PctStart { get; }
    /// <summary>maxLr / divFactor: the rate at step 0.</summary>
    public double InitialLearningRate { get; }
    /// <summary>InitialLearningRate / finalDivFactor: the rate at the last step.</summary>
    public double MinLearningRate { get; }
    public bool CycleMomentum { get; }
    public double BaseMomentum { get; }
    public double MaxMomentum { get; }

    public override double At(long step)
    {
        var (pct, warmup) = Phase(step);
        return warmup ? Anneal(InitialLearningRate, MaxLearningRate, pct) : Anneal(MaxLearningRate, MinLearningRate, pct);
    }

    public override double? MomentumAt(long step)
    {
        if (!CycleMomentum) return null;
        var (pct, warmup) = Phase(step);
        return warmup ? Anneal(MaxMomentum, BaseMomentum, pct) : Anneal(BaseMomentum, MaxMomentum, pct);
    }

    /// <summary>PyTorch's phase search: the first phase whose end_step is not before the step, else the last.</summary>
    private (double Pct, bool Warmup) Phase(long step)
    {
        RequireStep(step);
        // PyTorch allows step == total_steps (it raises only beyond); that step extrapolates the last phase.
        if (step > TotalSteps)
            throw new ArgumentOutOfRangeException(nameof(step), step, $"OneCycleSchedule was built for {TotalSteps} steps; step {step} is past its end. Build it with the run's total number of batches.");
        if (step <= _warmupEnd) return (Fraction(step - 0, _warmupEnd - 0), true);
        return (Fraction(step - _warmupEnd, _finalStep - _warmupEnd), false);
    }

    /// <summary>done / length, with a zero-length phase counted as finished (PyTorch divides by zero there,
    /// e.g. 10 steps with pctStart 0.1 makes step 0 the whole warm-up).</summary>
    private static double Fraction(double done, double length) => length > 0 ? done / length : 1.0;

    /// <summary>Cosine from <paramref name="start"/> (pct 0) to <paramref name="end"/> (pct 1), PyTorch's _annealing_cos.</summary>
    private static double Anneal(double start, double end, double pct) => end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1);

    public override string ToString() =>
        $"OneCycle(max lr={MaxLearningRate}, {TotalSteps} steps, warm-up {PctStart:P0})";
}
