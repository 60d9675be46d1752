// CosineSchedule: half a cosine from lr down to minLr over totalSteps, as torch.optim.lr_scheduler.CosineAnnealingLR.
namespace DigitLab.Nn;

/// <summary>
/// minLr + (lr - minLr) · (1 + cos(π · step / totalSteps)) / 2 (PyTorch's CosineAnnealingLR with
/// T_max = totalSteps, eta_min = minLr, closed form).
/// </summary>
/// <remarks>
/// Past <see cref="TotalSteps"/> the rate stays at <see cref="MinLearningRate"/>; PyTorch's would
/// climb back up the cosine, which a run that ends at totalSteps never sees.
/// </remarks>
public sealed class CosineSchedule : LearningRateSchedule
{
    public CosineSchedule(double lr, long totalSteps, double minLr = 0)
    {
        RequirePositive(lr, nameof(lr));
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "totalSteps must be at least 1 step.");
        if (!(minLr >= 0 && minLr <= lr))
            throw new ArgumentOutOfRangeException(nameof(minLr), minLr, $"minLr must be in [0, lr = {lr}].");
        LearningRate = lr;
        TotalSteps = totalSteps;
        MinLearningRate = minLr;
    }

    public double LearningRate { get; }
    public long TotalSteps { get; }
    public double MinLearningRate { get; }

    public override double At(long step)
    {
        RequireStep(step);
        if (step >= TotalSteps) return MinLearningRate;
        return MinLearningRate + (LearningRate - MinLearningRate) * (1 + Math.Cos(Math.PI * step / TotalSteps)) / 2;
    }

    public override string ToString() => $"Cosine(lr={LearningRate} -> {MinLearningRate} over {TotalSteps} steps)";
}
