// LearningRateSchedule: the learning rate (and optionally momentum) as a function of the optimizer step.
namespace DigitLab.Nn;

/// <summary>
/// Maps an optimizer step (0-based, counting batches) to the learning rate for that step.
/// <c>At(k)</c> equals PyTorch's learning rate after k calls of <c>scheduler.step()</c>, i.e. the rate
/// the (k+1)-th <c>optimizer.step()</c> uses when the scheduler is stepped once per batch.
/// </summary>
/// <remarks>
/// Schedules are closed-form and stateless, so resuming from a checkpoint needs only the step count.
/// Use <see cref="Apply"/> before each <see cref="Optimizer.Step"/> to set the learning rate and, for
/// schedules that cycle it (<see cref="OneCycleSchedule"/>), the momentum.
/// </remarks>
public abstract class LearningRateSchedule
{
    /// <summary>The learning rate for 0-based optimizer step <paramref name="step"/>.</summary>
    public abstract double At(long step);

    /// <summary>The momentum (SGD momentum or Adam's β1) for <paramref name="step"/>, or null when this schedule leaves it alone.</summary>
    public virtual double? MomentumAt(long step) => null;

    /// <summary>
    /// Sets <paramref name="optimizer"/>'s learning rate for <paramref name="step"/>, and its momentum
    /// when this schedule cycles momentum and the optimizer has one (<see cref="Optimizer.HasMomentum"/>).
    /// </summary>
    public void Apply(Optimizer optimizer, long step)
    {
        optimizer.LearningRate = At(step);
        if (MomentumAt(step) is double momentum && optimizer.HasMomentum) optimizer.Momentum = momentum;
    }

    protected static void RequireStep(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "Schedule steps count from 0.");
    }

    protected static void RequirePositive(double value, string name)
    {
        if (!(double.IsFinite(value) && value > 0))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number > 0; found {value}.");
    }
}

/// <summary>The same learning rate at every step.</summary>
public sealed class ConstantSchedule : LearningRateSchedule
{
    public ConstantSchedule(double lr)
    {
        RequirePositive(lr, nameof(lr));
        LearningRate = lr;
    }

    public double LearningRate { get; }

    public override double At(long step)
    {
        RequireStep(step);
        return LearningRate;
    }

    public override string ToString() => $"Constant(lr={LearningRate})";
}
