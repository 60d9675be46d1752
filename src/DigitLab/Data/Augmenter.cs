// Augmenter: seeded random affine (rotation, translation, scale) and elastic distortion of 28×28 images.
using DigitLab.Tensors;

namespace DigitLab.Data;

/// <summary>
/// What the <see cref="Augmenter"/> does. Angles in degrees, translation in pixels, scale as a factor.
/// Elastic distortion follows Simard et al. (2003): a random displacement field, uniform in [−1, 1],
/// smoothed by a Gaussian of <see cref="ElasticSigma"/> pixels and multiplied by <see cref="ElasticAlpha"/>.
/// </summary>
public sealed record AugmentationOptions
{
    public float RotationDegrees { get; init; } = 10f;
    public float TranslatePixels { get; init; } = 2f;
    public float ScaleMin { get; init; } = 0.9f;
    public float ScaleMax { get; init; } = 1.1f;
    /// <summary>Displacement strength; 0 turns elastic distortion off.</summary>
    public float ElasticAlpha { get; init; } = 0f;
    /// <summary>
    /// Smoothness of the displacement field in pixels. Simard used α = 34, σ = 4; on 28×28 that bends some
    /// strokes past recognition (seen in `digitlab data --augment elastic --out`), σ = 5 keeps digits legible.
    /// </summary>
    public float ElasticSigma { get; init; } = 5f;
    /// <summary>Pixel-value perturbations applied after the geometric transform (see <see cref="Perturber"/>); null for none.</summary>
    public PerturbationOptions? Perturbation { get; init; }

    /// <summary>Rotation ±10°, translation ±2 px, scale 0.9–1.1, no elastic distortion.</summary>
    public static AugmentationOptions Affine { get; } = new();

    /// <summary><see cref="Affine"/> plus elastic distortion (α = 34, σ = 5).</summary>
    public static AugmentationOptions AffineElastic { get; } = new() { ElasticAlpha = 34f };

    /// <summary>
    /// <see cref="Affine"/> plus, on half of the images, one of <see cref="Perturber"/>'s families (noise, speckles, blur,
    /// uneven lighting, clutter strokes, stroke width): the recipe for models that must hold up under corruptions.
    /// </summary>
    public static AugmentationOptions Robust { get; } = new() { Perturbation = PerturbationOptions.Default };

    /// <summary>Elastic distortion only.</summary>
    public static AugmentationOptions Elastic { get; } = new() { RotationDegrees = 0, TranslatePixels = 0, ScaleMin = 1, ScaleMax = 1, ElasticAlpha = 34f };

    /// <summary>"none" (null), "affine", "elastic", "affine+elastic" or "robust".</summary>
    public static AugmentationOptions? Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "none" or "off" or "" => null,
        "affine" => Affine,
        "elastic" => Elastic,
        "affine+elastic" or "elastic+affine" or "all" => AffineElastic,
        "robust" => Robust,
        _ => throw new ArgumentException($"Unknown augmentation \"{name}\": expected none, affine, elastic, affine+elastic or robust."),
    };
}

/// <summary>
/// Applies random affine and elastic transforms to 28×28 byte images, writing unit-scaled floats
/// ([0, 1]) with bilinear sampling; pixels mapped from outside the frame are background (0).
/// </summary>
/// <remarks>
/// All randomness comes from the <see cref="Rng"/> passed in, so a seeded generator (whose state a
/// checkpoint stores) reproduces the same augmented images. An instance keeps scratch buffers and
/// allocates nothing per image; it is not thread-safe, use one per thread.
/// </remarks>
public sealed class Augmenter
{
    private const int N = MnistDataset.Rows; // images are N × N
    private const float Centre = (N - 1) / 2f;

    public AugmentationOptions Options { get; }

    private readonly float[] _dx = new float[N * N], _dy = new float[N * N], _tmp = new float[N * N];
    private readonly float[] _kernel; // Gaussian for smoothing the elastic field, length 2r+1
    private readonly Perturber? _perturber;

    public Augmenter(AugmentationOptions? options = null)
    {
        Options = options ?? AugmentationOptions.Affine;
        if (Options.ScaleMin <= 0 || Options.ScaleMax < Options.ScaleMin)
            throw new ArgumentException($"Augmentation scale range must satisfy 0 < min <= max, found {Options.ScaleMin}..{Options.ScaleMax}.");
        if (Options.ElasticAlpha > 0 && Options.ElasticSigma <= 0)
            throw new ArgumentException($"Elastic sigma must be positive, found {Options.ElasticSigma}.");
        _kernel = Options.ElasticAlpha > 0 ? GaussianKernel(Options.ElasticSigma) : [];
        _perturber = Options.Perturbation is null ? null : new Perturber(Options.Perturbation);
    }

    /// <summary>
    /// Augments one image. <paramref name="image"/>: 784 bytes (28×28); <paramref name="destination"/>: 784 floats in [0, 1].
    /// Draws, in order: angle, scale, shift x, shift y, then (if elastic) 2 × 784 field values, then (with a perturbation)
    /// the <see cref="Perturber"/>'s draws. Without elastic distortion and perturbation the draws are the original four,
    /// so the recipes that existed before keep their exact images.
    /// </summary>
    public void Apply(ReadOnlySpan<byte> image, Span<float> destination, Rng rng)
    {
        if (image.Length != N * N || destination.Length != N * N)
            throw new ArgumentException($"Augmenter works on {N}x{N} images: expected {N * N} pixels, found {image.Length} in and {destination.Length} out.");
        var o = Options;
        float angle = o.RotationDegrees * (2 * rng.NextFloat() - 1) * MathF.PI / 180f;
        float scale = o.ScaleMin + (o.ScaleMax - o.ScaleMin) * rng.NextFloat();
        float tx = o.TranslatePixels * (2 * rng.NextFloat() - 1);
        float ty = o.TranslatePixels * (2 * rng.NextFloat() - 1);
        bool elastic = o.ElasticAlpha > 0;
        if (elastic) ElasticField(rng);

        // Inverse mapping: for each output pixel find where it came from. Forward is
        // out = R(angle)·scale·(in − c) + c + t, so in = R(−angle)·(out − c − t)/scale + c.
        float cos = MathF.Cos(angle) / scale, sin = MathF.Sin(angle) / scale;
        for (int y = 0; y < N; y++)
        {
            float v = y - Centre - ty;
            for (int x = 0; x < N; x++)
            {
                float u = x - Centre - tx;
                float sx = cos * u + sin * v + Centre;
                float sy = -sin * u + cos * v + Centre;
                if (elastic) { sx += _dx[y * N + x]; sy += _dy[y * N + x]; }
                destination[y * N + x] = Bilinear(image, sx, sy) * (1f / 255f);
            }
        }
        _perturber?.Apply(destination, rng);
    }

    /// <summary>Bilinear sample at (x, y) in pixel coordinates; outside the frame reads as 0.</summary>
    internal static float Bilinear(ReadOnlySpan<byte> image, float x, float y)
    {
        if (x <= -1 || y <= -1 || x >= N || y >= N) return 0;
        int x0 = (int)MathF.Floor(x), y0 = (int)MathF.Floor(y);
        float fx = x - x0, fy = y - y0;
        float p00 = Pixel(image, x0, y0), p10 = Pixel(image, x0 + 1, y0);
        float p01 = Pixel(image, x0, y0 + 1), p11 = Pixel(image, x0 + 1, y0 + 1);
        return (p00 * (1 - fx) + p10 * fx) * (1 - fy) + (p01 * (1 - fx) + p11 * fx) * fy;
    }

    private static float Pixel(ReadOnlySpan<byte> image, int x, int y) =>
        (uint)x < N && (uint)y < N ? image[y * N + x] : 0f;

    private void ElasticField(Rng rng)
    {
        for (int i = 0; i < N * N; i++) _dx[i] = 2 * rng.NextFloat() - 1;
        for (int i = 0; i < N * N; i++) _dy[i] = 2 * rng.NextFloat() - 1;
        Smooth(_dx); Smooth(_dy);
        float alpha = Options.ElasticAlpha;
        for (int i = 0; i < N * N; i++) { _dx[i] *= alpha; _dy[i] *= alpha; }
    }

    /// <summary>Separable Gaussian blur in place; outside the frame counts as 0 (as scipy's mode="constant" in the usual implementation), which keeps displacements small at the border.</summary>
    private void Smooth(float[] field) => SeparableBlur(field, _kernel, _tmp);

    /// <summary>
    /// Convolves the N×N <paramref name="image"/> in place with the odd-length <paramref name="kernel"/> along rows, then
    /// columns (<paramref name="scratch"/>: N×N); outside the frame counts as 0. Shared by the elastic field and the perturber's blur.
    /// </summary>
    internal static void SeparableBlur(Span<float> image, ReadOnlySpan<float> kernel, Span<float> scratch)
    {
        int r = kernel.Length / 2;
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
            {
                float s = 0;
                for (int k = Math.Max(-r, -x); k <= Math.Min(r, N - 1 - x); k++) s += kernel[k + r] * image[y * N + x + k];
                scratch[y * N + x] = s;
            }
        for (int y = 0; y < N; y++)
            for (int x = 0; x < N; x++)
            {
                float s = 0;
                for (int k = Math.Max(-r, -y); k <= Math.Min(r, N - 1 - y); k++) s += kernel[k + r] * scratch[(y + k) * N + x];
                image[y * N + x] = s;
            }
    }

    private static float[] GaussianKernel(float sigma)
    {
        int r = (int)MathF.Ceiling(3 * sigma);
        var k = new float[2 * r + 1];
        float sum = 0;
        for (int i = -r; i <= r; i++) sum += k[i + r] = MathF.Exp(-i * i / (2 * sigma * sigma));
        for (int i = 0; i < k.Length; i++) k[i] /= sum;
        return k;
    }
}
