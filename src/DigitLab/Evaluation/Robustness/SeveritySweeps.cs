// SeveritySweeps: corruptions with a natural knob (noise level, rotation angle, blur, stroke thickness, resolution, inversion), each at a row of severities.
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

/// <summary>A corruption family swept over <see cref="Levels"/> of its knob; one level (0, or 28 for resolution) is the clean image.</summary>
/// <param name="Name">Identifier ("rotation").</param>
/// <param name="Knob">What the level measures, with its unit ("angle (degrees)").</param>
/// <param name="Levels">The knob's values, mildest first.</param>
/// <param name="At">The corruption at one level.</param>
public sealed record SeveritySweep(string Name, string Knob, IReadOnlyList<double> Levels, Func<double, Corruption> At);

/// <summary>The sweeps of <c>digitlab robustness</c>.</summary>
public static class SeveritySweeps
{
    private const int P = ImageOps.Pixels;

    public static IReadOnlyList<SeveritySweep> All { get; } =
    [
        new("gaussian_noise", "noise standard deviation (fraction of full scale)", [0, 0.1, 0.2, 0.3, 0.4, 0.6],
            s => new($"gaussian_noise_{s:0.##}", $"Gaussian noise σ {s:0.##}", (x, y, rng) => GaussianNoise(x, y, rng, s))),
        new("rotation", "angle (degrees, random sign)", [0, 15, 30, 45, 60, 90],
            deg => new($"rotation_{deg:0}", $"rotated {deg:0}° either way", (x, y, rng) => ImageOps.Rotate(x, y, (rng.NextInt(2) == 0 ? -1 : 1) * deg * Math.PI / 180))),
        new("blur", "Gaussian blur σ (pixels)", [0, 0.5, 1, 1.5, 2, 3],
            s => new($"blur_{s:0.#}", $"Gaussian blur σ {s:0.#}", (x, y, _) => ImageOps.GaussianBlur(x, y, s))),
        new("thickness", "stroke thickness (3×3 erosions < 0, dilations > 0)", [-2, -1, 0, 1, 2, 3],
            k => new($"thickness_{k:+0;-0;0}", k < 0 ? $"{-k}× eroded" : $"{k}× dilated", (x, y, _) => ImageOps.Morphology(x, y, (int)k))),
        new("resolution", "side after down-sampling (pixels; back up to 28)", [28, 21, 14, 10, 7],
            n => new($"resolution_{n:0}", $"down to {n:0}×{n:0} and back", (x, y, _) => ImageOps.DownUp(x, y, (int)n))),
        new("inversion", "blend towards the negative (0 = clean, 1 = 1 − x)", [0, 0.25, 0.5, 0.75, 1],
            a => new($"inversion_{a:0.##}", $"{a:P0} towards the negative", (x, y, _) => Invert(x, y, a))),
    ];

    /// <summary>Adds N(0, σ²) noise to every pixel and clips (MNIST-C's gaussian_noise, any σ).</summary>
    public static void GaussianNoise(ReadOnlySpan<float> x, Span<float> y, Rng rng, double sigma)
    {
        for (int i = 0; i < P; i++) y[i] = Math.Clamp(x[i] + (float)sigma * rng.Normal(), 0f, 1f);
    }

    /// <summary>(1 − a)·x + a·(1 − x): a = 1 is the negative (255 − p in bytes), a = 0.5 flat grey.</summary>
    public static void Invert(ReadOnlySpan<float> x, Span<float> y, double amount)
    {
        for (int i = 0; i < P; i++) y[i] = (float)((1 - amount) * x[i] + amount * (1 - x[i]));
    }
}
