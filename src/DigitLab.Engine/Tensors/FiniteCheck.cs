// FiniteCheck: the one place that refuses NaN and infinity: a training loss (stop at the first), loaded weights and normalisation, and a prediction's probabilities.
using DigitLab.Tensors;

namespace DigitLab.Tensors;

/// <summary>Training stopped at a loss that is not a finite number (the run diverged).</summary>
public sealed class DivergedException(string message) : ArithmeticException(message);

public static class FiniteCheck
{
    /// <summary>Index of the first NaN or infinity in <paramref name="values"/>, or -1.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++) if (!float.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>Throws <see cref="DivergedException"/> when a batch's loss is not finite, naming where and what to change.</summary>
    /// <param name="epoch">1-based epoch.</param>
    /// <param name="batch">1-based batch within the epoch.</param>
    /// <param name="step">1-based optimizer step of the run.</param>
    public static void Loss(float loss, int epoch, int batch, long step, double learningRate)
    {
        if (float.IsFinite(loss)) return;
        throw new DivergedException(
            $"Training diverged: the loss became {loss} at epoch {epoch}, batch {batch} (optimizer step {step}) with learning rate {learningRate:G3}. " +
            $"Nothing from this run was saved (a checkpoint already at the output path is kept as it was). Train again with a lower learning rate, such as --lr {learningRate / 10:G3}, or with --clip-norm 1.");
    }

    /// <summary>Throws <see cref="InvalidDataException"/> (message from <paramref name="bad"/>) at the first tensor holding NaN or infinity.</summary>
    public static void Tensors(IEnumerable<(string Name, Tensor Tensor)> tensors, Func<string, string> bad)
    {
        foreach (var (name, tensor) in tensors)
        {
            int at = FirstNonFinite(tensor.ReadOnlySpan);
            if (at >= 0)
                throw new InvalidDataException(bad($"tensor '{name}' holds {tensor.ReadOnlySpan[at]} at index {at}: the weights are not finite numbers (the run that saved them diverged); retrain with a lower learning rate"));
        }
    }

    /// <summary>Returns <paramref name="probabilities"/> when every one is finite; else throws <see cref="InvalidDataException"/>: no answer carries NaN.</summary>
    public static float[] Probabilities(float[] probabilities)
    {
        int at = FirstNonFinite(probabilities);
        if (at >= 0)
            throw new InvalidDataException($"The model gave probability {probabilities[at]} for digit {at}: its weights overflow on this image, so it has no answer. Retrain it (with a lower learning rate) or use another model.");
        return probabilities;
    }
}
