// Init: the random fills behind PyTorch's default initialisations, drawn in a fixed order from an Rng.
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>Initialisation helpers; each module's ResetParameters says which rule it applies.</summary>
public static class Init
{
    /// <summary>Fills with U(−bound, bound), element by element in row-major order.</summary>
    public static void Uniform(Span<float> values, float bound, Rng rng)
    {
        for (int i = 0; i < values.Length; i++) values[i] = rng.Uniform(-bound, bound);
    }

    /// <summary>
    /// The bound PyTorch's <c>kaiming_uniform_(a=√5)</c> gives a Linear/Conv2d weight, and also the bias
    /// bound: gain·√(3/fan_in) with gain = √(2/(1+a²)) = √(1/3), i.e. 1/√fan_in.
    /// </summary>
    public static float DefaultBound(int fanIn) => fanIn > 0 ? 1f / MathF.Sqrt(fanIn) : 0f;
}
