// Normalization: how pixel bytes become network inputs, x = (p/255 - Mean) / Std.
using System.Numerics.Tensors;

namespace DigitLab.Data;

/// <summary>
/// Per-pixel normalisation x = (p / 255 − Mean) / Std. <see cref="Mnist"/> uses the MNIST training
/// set's own statistics (0.1307, 0.3081, as PyTorch's examples do); <see cref="Half"/> maps [0, 1] to [−1, 1].
/// </summary>
public readonly record struct Normalization(float Mean, float Std)
{
    public static Normalization Mnist { get; } = new(0.1307f, 0.3081f);
    public static Normalization Half { get; } = new(0.5f, 0.5f);

    /// <summary>Looks up a normalisation by name: "mnist" or "half" (case-insensitive).</summary>
    public static Normalization Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "mnist" => Mnist,
        "half" => Half,
        _ => throw new ArgumentException($"Unknown normalisation \"{name}\": expected \"mnist\" (0.1307/0.3081) or \"half\" (0.5/0.5)."),
    };

    /// <summary>Normalises one pixel byte.</summary>
    public float Apply(byte pixel) => (pixel * (1f / 255f) - Mean) / Std;

    /// <summary>Normalises one pixel already scaled to [0, 1].</summary>
    public float Apply(float unitPixel) => (unitPixel - Mean) / Std;

    /// <summary>Normalises bytes into <paramref name="destination"/> (same length).</summary>
    public void Apply(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        if (destination.Length != pixels.Length)
            throw new ArgumentException($"Normalization: destination has {destination.Length} values, expected {pixels.Length}.");
        // Vectorised: bytes to floats, scale, shift. Reference: p * scale + offset per pixel.
        TensorPrimitives.ConvertTruncating(pixels, destination);
        TensorPrimitives.Multiply(destination, 1f / (255f * Std), destination);
        TensorPrimitives.Add(destination, -Mean / Std, destination);
    }

    /// <summary>Normalises unit-scaled pixels ([0, 1]) in place.</summary>
    public void ApplyInPlace(Span<float> unitPixels)
    {
        TensorPrimitives.Multiply(unitPixels, 1f / Std, unitPixels);
        TensorPrimitives.Add(unitPixels, -Mean / Std, unitPixels);
    }

    public override string ToString() => $"mean {Mean}, std {Std}";
}
