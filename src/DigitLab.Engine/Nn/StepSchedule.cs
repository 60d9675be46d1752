// StepSchedule: multiply the learning rate by gamma every stepSize steps, as torch.optim.lr_scheduler.StepLR.
namespace DigitLab.Nn;

/// <summary>lr · gamma^⌊step / stepSize⌋ (PyTorch's StepLR, closed form).</summary>
public sealed class StepSchedule : LearningRateSchedule
{
    public StepSchedule(double lr, long stepSize, double gamma)
    {
        RequirePositive(lr, nameof(lr));
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "stepSize must be at least 1 step.");
        RequirePositive(gamma, nameof(gamma));
        LearningRate = lr;
        StepSize = stepSize;
        Gamma = gamma;
    }

    public double LearningRate { get; }
    public long StepSize { get; }
    public double Gamma { get; }

    public override double At(long step)
    {
        RequireStep(step);
        return LearningRate * Math.Pow(Gamma, step / StepSize);
    }

    public override string ToString() => $"Step(lr={LearningRate}, every {StepSize} steps x{Gamma})";
}
