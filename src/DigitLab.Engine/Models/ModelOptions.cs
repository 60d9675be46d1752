// ModelOptions: the switches a zoo architecture accepts; stored in checkpoints so a model can be rebuilt.
namespace DigitLab.Models;

/// <summary>Options that change a zoo model's behaviour without changing its parameter names or shapes.</summary>
public sealed record ModelOptions
{
    /// <summary>
    /// Dropout on or off where the model has it (cnn-dropout, net3). Off keeps the layers with p = 0 so that
    /// parameter names, and therefore checkpoints, are the same either way.
    /// </summary>
    public bool Dropout { get; init; } = true;

    public static ModelOptions Default { get; } = new();
}
