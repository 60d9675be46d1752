// Perturber: seeded training-time perturbations of pixel values (noise, speckles, blur, uneven lighting, clutter strokes,
// stroke width) — the "robust" augmentation, which teaches a model that these leave the digit as it was.
using DigitLab.Tensors;

namespace DigitLab.Data;

/// <summary>
/// What the <see cref="Perturber"/> may do to an image whose pixels are in [0, 1] (0 = background). A perturbed image
/// gets one family, drawn uniformly; each family's strength is drawn uniformly up to its maximum.
/// </summary>
/// <remarks>
/// The families are generic image degradations (Rusak et al. 2020 found plain additive noise the strongest single
/// augmentation for corruption robustness, MNIST-C included); none of them is one of the MNIST-C corruption functions of
/// <c>Evaluation/Robustness</c>, whose seeded test images stay unseen. Half of the images stay clean by default, so
/// that clean accuracy does not pay for the robustness.
/// </remarks>
public sealed record PerturbationOptions
{
    /// <summary>Share of the images perturbed (the rest pass through unchanged).</summary>
    public float Probability { get; init; } = 0.5f;
    /// <summary>Additive Gaussian noise: σ uniform in [0, this].</summary>
    public float NoiseSigmaMax { get; init; } = 0.5f;
    /// <summary>Salt and pepper: the share of pixels set to 0 or 1, uniform in [0, this].</summary>
    public float SpeckleMax { get; init; } = 0.25f;
    /// <summary>Gaussian blur: σ uniform in [0.3, this] pixels.</summary>
    public float BlurSigmaMax { get; init; } = 1.6f;
    /// <summary>Uneven lighting: a smooth random field (bilinear from a 4×4 grid) of peak uniform in [0, this] added to the image.</summary>
    public float LightingMax { get; init; } = 0.7f;
    /// <summary>Clutter: 1 to this many random straight strokes (width 1–2 px, intensity 0.4–1).</summary>
    public int ClutterStrokesMax { get; init; } = 3;

    /// <summary>The defaults: half the images perturbed by one of the six families.</summary>
    public static PerturbationOptions Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the value out of range.</summary>
    public void Validate()
    {
        if (Probability is < 0 or > 1 || float.IsNaN(Probability)) throw new ArgumentException($"The perturbation probability must be in [0, 1], found {Probability}.");
        if (!(NoiseSigmaMax >= 0) || !(SpeckleMax is >= 0 and <= 1) || !(BlurSigmaMax >= 0.3f) || !(LightingMax >= 0) || ClutterStrokesMax < 1)
            throw new ArgumentException($"Perturbation strengths out of range: noise σ {NoiseSigmaMax} (≥ 0), speckles {SpeckleMax} (0–1), blur σ {BlurSigmaMax} (≥ 0.3), lighting {LightingMax} (≥ 0), clutter strokes {ClutterStrokesMax} (≥ 1).");
    }
}

/// <summary>The perturbation families, in the order <see cref="Perturber"/> draws them.</summary>
public enum PerturbationFamily { Noise, Speckle, Blur, Lighting, Clutter, StrokeWidth }

/// <summary>
/// Applies one random <see cref="PerturbationFamily"/> to a 28×28 float image in place, with the probability the options
/// give; results are clipped to [0, 1]. All randomness comes from the <see cref="Rng"/> passed in, so a seeded generator
/// reproduces the same images.
/// </summary>
/// <remarks>An instance keeps scratch buffers and allocates nothing per image; it is not thread-safe, use one per thread.</remarks>
public sealed class Perturber
{
    private const int N = MnistDataset.Rows;
    private const int Families = 6;
    private readonly float[] _tmp = new float[N * N], _tmp2 = new float[N * N];
    private readonly float[] _kernel = new float[2 * 5 + 1];

    public PerturbationOptions Options { get; }

    public Perturber(PerturbationOptions? options = null)
    {
        Options = options ?? PerturbationOptions.Default;
        Options.Validate();
    }

    /// <summary>
    /// Perturbs <paramref name="image"/> (784 floats in [0, 1]) in place. Draws, in order: whether to perturb, the family,
    /// then the family's own values. Returns the family applied, or null when the image was left as it was.
    /// </summary>
    public PerturbationFamily? Apply(Span<float> image, Rng rng)
    {
        if (image.Length != N * N) throw new ArgumentException($"Perturber works on {N}x{N} images: expected {N * N} pixels, found {image.Length}.");
        if (rng.NextFloat() >= Options.Probability) return null;
        var family = (PerturbationFamily)rng.NextInt(Families);
        Apply(family, image, rng);
        return family;
    }

    /// <summary>Applies <paramref name="family"/> (its strength drawn from <paramref name="rng"/>) to <paramref name="image"/> in place.</summary>
    public void Apply(PerturbationFamily family, Span<float> image, Rng rng)
    {
        var o = Options;
        switch (family)
        {
            case PerturbationFamily.Noise:
                float sigma = o.NoiseSigmaMax * rng.NextFloat();
                for (int i = 0; i < image.Length; i++) image[i] += sigma * rng.Normal();
                break;
            case PerturbationFamily.Speckle:
                float share = o.SpeckleMax * rng.NextFloat();
                for (int i = 0; i < image.Length; i++)
                {
                    float u = rng.NextFloat();
                    if (u < share) image[i] = u < share / 2 ? 0f : 1f;
                }
                break;
            case PerturbationFamily.Blur:
                Blur(image, rng.Uniform(0.3f, o.BlurSigmaMax));
                break;
            case PerturbationFamily.Lighting:
                Lighting(image, o.LightingMax * rng.NextFloat(), rng);
                break;
            case PerturbationFamily.Clutter:
                int strokes = 1 + rng.NextInt(o.ClutterStrokesMax);
                for (int s = 0; s < strokes; s++) Stroke(image, rng);
                break;
            case PerturbationFamily.StrokeWidth:
                // A full erosion erases MNIST's 2–3 px strokes (README's thickness sweep), so thinning is a partial blend.
                bool dilate = rng.NextFloat() < 0.5f;
                Morphology(image, dilate, dilate ? rng.Uniform(0.5f, 1f) : rng.Uniform(0.2f, 0.6f));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(family), family, "Unknown perturbation family.");
        }
        for (int i = 0; i < image.Length; i++) image[i] = Math.Clamp(image[i], 0f, 1f);
    }

    /// <summary>Separable Gaussian blur (radius ⌈3σ⌉ ≤ 5), the frame's outside counting as background.</summary>
    private void Blur(Span<float> image, float sigma)
    {
        int r = Math.Min(5, (int)MathF.Ceiling(3 * sigma));
        float sum = 0;
        for (int i = -r; i <= r; i++) sum += _kernel[i + r] = MathF.Exp(-i * i / (2 * sigma * sigma));
        for (int i = 0; i <= 2 * r; i++) _kernel[i] /= sum;
        Augmenter.SeparableBlur(image, _kernel.AsSpan(0, 2 * r + 1), _tmp);
    }

    /// <summary>Adds a smooth field: a 4×4 grid of uniform values in [0, <paramref name="peak"/>], bilinearly interpolated over the image.</summary>
    private static void Lighting(Span<float> image, float peak, Rng rng)
    {
        Span<float> grid = stackalloc float[16];
        for (int i = 0; i < 16; i++) grid[i] = peak * rng.NextFloat();
        for (int y = 0; y < N; y++)
        {
            float gy = y * 3f / (N - 1);
            int y0 = Math.Min(2, (int)gy);
            float fy = gy - y0;
            for (int x = 0; x < N; x++)
            {
                float gx = x * 3f / (N - 1);
                int x0 = Math.Min(2, (int)gx);
                float fx = gx - x0;
                float top = grid[y0 * 4 + x0] * (1 - fx) + grid[y0 * 4 + x0 + 1] * fx;
                float bottom = grid[(y0 + 1) * 4 + x0] * (1 - fx) + grid[(y0 + 1) * 4 + x0 + 1] * fx;
                image[y * N + x] += top * (1 - fy) + bottom * fy;
            }
        }
    }

    /// <summary>Draws one straight stroke between two random points of the frame, 1 or 2 px wide, at a random intensity (max with what is there).</summary>
    private static void Stroke(Span<float> image, Rng rng)
    {
        float x0 = rng.NextFloat() * (N - 1), y0 = rng.NextFloat() * (N - 1);
        float x1 = rng.NextFloat() * (N - 1), y1 = rng.NextFloat() * (N - 1);
        float intensity = rng.Uniform(0.4f, 1f);
        float half = rng.NextFloat() < 0.5f ? 0.5f : 1f;
        float dx = x1 - x0, dy = y1 - y0, length2 = dx * dx + dy * dy;
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
            {
                // Distance from the pixel centre to the segment.
                float t = length2 > 0 ? Math.Clamp(((x - x0) * dx + (y - y0) * dy) / length2, 0f, 1f) : 0f;
                float ex = x - (x0 + t * dx), ey = y - (y0 + t * dy);
                float d = MathF.Sqrt(ex * ex + ey * ey);
                float cover = Math.Clamp(half + 0.5f - d, 0f, 1f); // one pixel of anti-aliased edge
                if (cover > 0) image[y * N + x] = MathF.Max(image[y * N + x], intensity * cover);
            }
    }

    /// <summary>Blends the image towards its grey-level dilation (max) or erosion (min) over each pixel's 4-neighbourhood and itself by <paramref name="weight"/>.</summary>
    private void Morphology(Span<float> image, bool dilate, float weight)
    {
        image.CopyTo(_tmp2);
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
            {
                float v = _tmp2[y * N + x];
                float l = x > 0 ? _tmp2[y * N + x - 1] : 0f, r = x < N - 1 ? _tmp2[y * N + x + 1] : 0f;
                float u = y > 0 ? _tmp2[(y - 1) * N + x] : 0f, d = y < N - 1 ? _tmp2[(y + 1) * N + x] : 0f;
                float m = dilate
                    ? MathF.Max(v, MathF.Max(MathF.Max(l, r), MathF.Max(u, d)))
                    : MathF.Min(v, MathF.Min(MathF.Min(l, r), MathF.Min(u, d)));
                image[y * N + x] = v + weight * (m - v);
            }
    }
}
