// Corruptions: the 15 corruptions of MNIST-C (Mu & Gilmer, 2019) at the severities its released set uses, as pure seeded functions over 28×28 float images in [0, 1].
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

/// <summary>A named image corruption: reads a 28×28 image in [0, 1], writes its corrupted copy in [0, 1], drawing only from <c>rng</c>.</summary>
/// <param name="Name">Short identifier, also the folder name of <c>robustness --out</c> ("shot_noise").</param>
/// <param name="Description">What it does and its parameters, for tables and the report.</param>
public sealed record Corruption(string Name, string Description, CorruptionFunction Apply)
{
    public override string ToString() => Name;
}

/// <summary>Writes the corruption of <paramref name="x"/> (784 values in [0, 1]) into <paramref name="y"/>; must not keep state.</summary>
public delegate void CorruptionFunction(ReadOnlySpan<float> x, Span<float> y, Rng rng);

/// <summary>
/// The MNIST-C corruptions, written from the paper's descriptions and the parameters of its generating code
/// (google-research/mnist-c, corruptions.py: each function's default severity is the one the released dataset uses).
/// </summary>
/// <remarks>
/// Differences from the original, all in the helpers rather than the parameters: random numbers come from our seeded
/// <see cref="Rng"/> (one stream per image, so any image is reproducible alone); ImageMagick's motion blur and
/// scikit-image's Canny detector are re-implemented (Canny's non-maximum suppression uses the four quantised directions
/// instead of interpolation). The corrupted images are therefore statistically alike, not bit-identical, to MNIST-C's files.
/// </remarks>
public static class Corruptions
{
    private const int S = ImageOps.Side, P = ImageOps.Pixels;

    /// <summary>The 15 corruptions in the paper's order.</summary>
    public static IReadOnlyList<Corruption> All { get; } =
    [
        new("shot_noise", "Poisson noise, λ = 3·pixel (severity 5 of 5)", ShotNoise),
        new("impulse_noise", "salt and pepper on 17% of pixels (severity 4)", ImpulseNoise),
        new("glass_blur", "Gaussian σ 0.7, two passes of local pixel swaps by up to 1, Gaussian again (severity 1)", GlassBlur),
        new("motion_blur", "one-sided Gaussian streak, radius 10, σ 3, angle in ±45° (severity 1)", MotionBlur),
        new("shear", "horizontal shear 0.4 rad, either direction, about the centre (severity 2)", Shear),
        new("scale", "shrunk to 70% about the centre (severity 3)", Scale),
        new("rotate", "rotated 0.4 rad (23°), either direction (severity 2)", Rotate),
        new("brightness", "HSV value +0.5: every pixel +0.5, clipped (severity 5)", Brightness),
        new("translate", "shifted by 3 pixels in x and in y, random signs (severity 3)", Translate),
        new("stripe", "columns 0–6 and 21–27 inverted", Stripe),
        new("fog", "plasma fractal (diamond-square, decay 1.4) ×3 added, rescaled (severity 5)", Fog),
        new("spatter", "blurred Gaussian blobs thresholded into grey (63) mud spots (severity 4)", Spatter),
        new("dotted_line", "a dashed anti-aliased line across the image", DottedLine),
        new("zigzag", "an anti-aliased zigzag line across the image", Zigzag),
        new("canny_edges", "Canny edge map (σ 1, thresholds 0.1 / 0.2)", CannyEdges),
    ];

    /// <summary>The corruption called <paramref name="name"/> (of <see cref="All"/>).</summary>
    public static Corruption Get(string name) =>
        All.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"Unknown corruption '{name}'. Known: {string.Join(", ", All.Select(c => c.Name))}.");

    /// <summary>Poisson noise: each pixel becomes Poisson(3·x) / 3 (severity 5: few photons, heavy grain).</summary>
    public static void ShotNoise(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const double photons = 3;
        for (int i = 0; i < P; i++) y[i] = Math.Min(1f, (float)(Poisson(x[i] * photons, rng) / photons));
    }

    /// <summary>Salt and pepper: each pixel with probability 0.17 becomes 0 or 1 (half each), as scikit-image's 's&amp;p'.</summary>
    public static void ImpulseNoise(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const double amount = 0.17;
        for (int i = 0; i < P; i++)
        {
            bool hit = rng.NextDouble() < amount;
            bool salt = rng.NextDouble() < 0.5;                 // drawn for every pixel, so the stream does not depend on x
            y[i] = hit ? (salt ? 1f : 0f) : x[i];
        }
    }

    /// <summary>Glass blur (severity 1): Gaussian σ 0.7, quantised to bytes, two sweeps of random swaps with a neighbour up to 1 away, Gaussian again.</summary>
    public static void GlassBlur(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const double sigma = 0.7;
        const int delta = 1, iterations = 2;
        Span<float> a = stackalloc float[P];
        ImageOps.GaussianBlur(x, a, sigma);
        for (int i = 0; i < P; i++) a[i] = MathF.Floor(Math.Clamp(a[i], 0f, 1f) * 255f) / 255f;   // the original goes through uint8 here
        for (int it = 0; it < iterations; it++)
            for (int h = S - delta; h > delta; h--)
                for (int w = S - delta; w > delta; w--)
                {
                    if (rng.NextInt(2) == 0) continue;
                    // randint(-delta, delta) excludes the upper bound: offsets in [-delta, delta - 1].
                    int dx = rng.NextInt(2 * delta) - delta, dy = rng.NextInt(2 * delta) - delta;
                    int hp = h + dy, wp = w + dx;
                    (a[h * S + w], a[hp * S + wp]) = (a[hp * S + wp], a[h * S + w]);
                }
        ImageOps.GaussianBlur(a, y, sigma);
        ImageOps.Clip(y);
    }

    /// <summary>
    /// Motion blur as ImageMagick's MotionBlurImage (radius 10, σ 3): each pixel averages the 21 pixels behind it along
    /// a random direction in ±45°, weighted by a half Gaussian, image edges replicated.
    /// </summary>
    public static void MotionBlur(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const int radius = 10;
        const double sigma = 3;
        double angle = (rng.NextDouble() * 90 - 45) * Math.PI / 180;
        int width = 2 * radius + 1;
        Span<double> kernel = stackalloc double[width];
        Span<int> ox = stackalloc int[width], oy = stackalloc int[width];
        double sum = 0;
        for (int i = 0; i < width; i++)
        {
            sum += kernel[i] = Math.Exp(-(double)i * i / (2 * sigma * sigma));
            ox[i] = (int)Math.Ceiling(i * Math.Cos(angle) - 0.5);
            oy[i] = (int)Math.Ceiling(i * Math.Sin(angle) - 0.5);
        }
        for (int r = 0; r < S; r++)
            for (int c = 0; c < S; c++)
            {
                double acc = 0;
                for (int i = 0; i < width; i++)
                    acc += kernel[i] * x[Math.Clamp(r + oy[i], 0, S - 1) * S + Math.Clamp(c + ox[i], 0, S - 1)];
                y[r * S + c] = (float)(acc / sum);
            }
    }

    /// <summary>Shear 0.4 rad in a random direction about the centre (scikit-image AffineTransform(shear) as inverse map).</summary>
    public static void Shear(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        double s = 0.4 * RandomSign(rng);
        ImageOps.Warp(x, y, 1, -Math.Sin(s), 0, Math.Cos(s));
    }

    /// <summary>Scale to 70% about the centre (the inverse map scales by 1/0.7).</summary>
    public static void Scale(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const double inverse = 1 / 0.7;
        ImageOps.Warp(x, y, inverse, 0, 0, inverse);
    }

    /// <summary>Rotation by 0.4 rad (about 23°) in a random direction about the centre.</summary>
    public static void Rotate(ReadOnlySpan<float> x, Span<float> y, Rng rng) => ImageOps.Rotate(x, y, 0.4 * RandomSign(rng));

    /// <summary>Brightness +0.5 in HSV value; for a grey image this is every pixel + 0.5, clipped to 1.</summary>
    public static void Brightness(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        for (int i = 0; i < P; i++) y[i] = Math.Min(1f, x[i] + 0.5f);
    }

    /// <summary>Translation by 3 pixels in x and 3 in y with random signs; what leaves the frame is lost, zeros come in.</summary>
    public static void Translate(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        int dx = 3 * RandomSign(rng), dy = 3 * RandomSign(rng);
        Shift(x, y, dx, dy);
    }

    /// <summary>Integer shift: output (r, c) = input (r + dy, c + dx) (the content moves by (−dx, −dy), as the inverse-mapped warp), zeros outside.</summary>
    public static void Shift(ReadOnlySpan<float> x, Span<float> y, int dx, int dy)
    {
        for (int r = 0; r < S; r++)
            for (int c = 0; c < S; c++)
            {
                int sr = r + dy, sc = c + dx;
                y[r * S + c] = (uint)sr < S && (uint)sc < S ? x[sr * S + sc] : 0f;
            }
    }

    /// <summary>Columns 0–6 and 21–27 inverted (1 − x).</summary>
    public static void Stripe(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        for (int r = 0; r < S; r++)
            for (int c = 0; c < S; c++)
                y[r * S + c] = c < 7 || c >= 21 ? 1f - x[r * S + c] : x[r * S + c];
    }

    /// <summary>Fog (severity 5): x + 3·plasma, rescaled by max/(max + 3) and clipped, with a 256×256 diamond-square plasma (decay 1.4) cropped to 28×28.</summary>
    public static void Fog(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const double strength = 3, decay = 1.4;
        var plasma = PlasmaFractal(256, decay, rng);
        float max = 0;
        for (int i = 0; i < P; i++) max = Math.Max(max, x[i]);
        for (int r = 0; r < S; r++)
            for (int c = 0; c < S; c++)
            {
                double v = x[r * S + c] + strength * plasma[r * 256 + c];
                y[r * S + c] = (float)Math.Clamp(v * max / (max + strength), 0, 1);
            }
    }

    /// <summary>Spatter (severity 4): Gaussian noise (0.65, 0.3) blurred σ 1, kept above 0.65, its mask blurred σ 1.5 and kept above 0.8, painted as grey mud (63/255).</summary>
    public static void Spatter(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        Span<float> liquid = stackalloc float[P], blurred = stackalloc float[P], mask = stackalloc float[P];
        for (int i = 0; i < P; i++) liquid[i] = 0.65f + 0.3f * rng.Normal();
        ImageOps.GaussianBlur(liquid, blurred, 1);
        for (int i = 0; i < P; i++) liquid[i] = blurred[i] > 0.65f ? 1f : 0f;
        ImageOps.GaussianBlur(liquid, mask, 1.5);
        for (int i = 0; i < P; i++)
        {
            float m = mask[i] < 0.8f ? 0f : mask[i];
            y[i] = Math.Clamp(x[i] * (1 - m) + 63f / 255f * m, 0f, 1f);
        }
    }

    /// <summary>A dashed line from (column 0, random row) to (column 27, random row): columns in 2-wide bands, every other band blank.</summary>
    public static void DottedLine(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        int r0 = rng.NextInt(27), r1 = rng.NextInt(27);
        Span<float> line = stackalloc float[P];
        LineFromPoints(line, 0, r0, 27, r1);
        for (int r = 0; r < S; r++)
            for (int c = 0; c < S; c++)
            {
                float l = (c / 2) % 2 == 0 ? 0f : line[r * S + c];
                y[r * S + c] = Math.Min(1f, x[r * S + c] + l);
            }
    }

    /// <summary>A zigzag (segments 2 long, amplitude 2) from column 2 to 25 around a random row, with a slight random slope.</summary>
    public static void Zigzag(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const double a = 2, b = 2, c0 = 2, c1 = 25;
        double r0 = rng.NextInt(27), r1 = r0 + rng.NextInt(10) - 5;
        double theta = Math.Atan((r1 - r0) / (c1 - c0));
        double d = (c1 - c0) / Math.Cos(theta);
        var points = new List<(double C, double R)> { (0, 0) };
        double ri = 0;
        int n = (int)Math.Floor((d - a) / (2 * a)) + 1;
        for (int i = 0; i < n; i++) { ri = (i % 2 == 0 ? 1 : -1) * b; points.Add(((2 * i + 1) * a, ri)); }
        double maxC = 2 * a * Math.Floor(d / (2 * a));
        if (d != maxC) points.Add((d, ri / (2 * (d - maxC))));
        x.CopyTo(y);
        Span<float> line = stackalloc float[P];
        double cos = Math.Cos(theta), sin = Math.Sin(theta);
        for (int i = 1; i < points.Count; i++)
        {
            var (pc, pr) = points[i - 1];
            var (qc, qr) = points[i];
            LineFromPoints(line, cos * pc - sin * pr + c0, sin * pc + cos * pr + r0, cos * qc - sin * qr + c0, sin * qc + cos * qr + r0);
            for (int k = 0; k < P; k++) y[k] = Math.Min(1f, y[k] + line[k]);
        }
    }

    /// <summary>Canny edges (σ 1, hysteresis thresholds 0.1 and 0.2 of the gradient magnitude, as scikit-image's defaults for float images): 1 on edges, 0 elsewhere.</summary>
    public static void CannyEdges(ReadOnlySpan<float> x, Span<float> y, Rng rng)
    {
        const double low = 0.1, high = 0.2;
        var s = new float[P];
        ImageOps.GaussianBlur(x, s, 1);
        var mag = new double[P];
        var dir = new int[P];
        for (int r = 1; r < S - 1; r++)
            for (int c = 1; c < S - 1; c++)
            {
                float At(int dr, int dc) => s[(r + dr) * S + c + dc];
                // Sobel: derivative along one axis, [1, 2, 1] smoothing across it.
                double gx = At(-1, 1) + 2 * At(0, 1) + At(1, 1) - At(-1, -1) - 2 * At(0, -1) - At(1, -1);
                double gy = At(1, -1) + 2 * At(1, 0) + At(1, 1) - At(-1, -1) - 2 * At(-1, 0) - At(-1, 1);
                mag[r * S + c] = Math.Sqrt(gx * gx + gy * gy);
                double deg = Math.Atan2(gy, gx) * 180 / Math.PI;
                if (deg < 0) deg += 180;
                dir[r * S + c] = deg < 22.5 || deg >= 157.5 ? 0 : deg < 67.5 ? 1 : deg < 112.5 ? 2 : 3;
            }
        var strong = new bool[P];
        var weak = new bool[P];
        for (int r = 1; r < S - 1; r++)
            for (int c = 1; c < S - 1; c++)
            {
                int i = r * S + c;
                // Neighbours across the edge: along the gradient direction (0: horizontal, 1: 45°, 2: vertical, 3: 135°).
                (int dr, int dc) = dir[i] switch { 0 => (0, 1), 1 => (1, 1), 2 => (1, 0), _ => (1, -1) };
                double m = mag[i];
                if (m < mag[(r + dr) * S + c + dc] || m < mag[(r - dr) * S + c - dc]) continue;
                weak[i] = m >= low;
                strong[i] = m >= high;
            }
        // Hysteresis: keep 8-connected weak regions that touch a strong pixel.
        y.Clear();
        var stack = new Stack<int>();
        for (int i = 0; i < P; i++)
            if (strong[i] && y[i] == 0) { y[i] = 1; stack.Push(i); }
        while (stack.Count > 0)
        {
            int i = stack.Pop(), r = i / S, c = i % S;
            for (int dr = -1; dr <= 1; dr++)
                for (int dc = -1; dc <= 1; dc++)
                {
                    int rr = r + dr, cc = c + dc;
                    if ((uint)rr >= S || (uint)cc >= S) continue;
                    int j = rr * S + cc;
                    if (weak[j] && y[j] == 0) { y[j] = 1; stack.Push(j); }
                }
        }
    }

    /// <summary>
    /// MNIST-C's anti-aliased line through (c0, r0) and (c1, r1): intensity log(1 − d/2.3) + 1 at vertical distance d from
    /// the line, clipped to [0, 1], zero outside columns [floor(c0), ceil(c1)).
    /// </summary>
    public static void LineFromPoints(Span<float> y, double c0, double r0, double c1, double r1)
    {
        y.Clear();
        if (c1 == c0) return;
        double m = (r1 - r0) / (c1 - c0);
        int left = Math.Max(0, (int)Math.Floor(c0)), right = Math.Min(S, (int)Math.Ceiling(c1));
        for (int c = left; c < right; c++)
        {
            double f = m * (c - c0) + r0;
            for (int r = 0; r < S; r++)
            {
                double d = Math.Min(Math.Abs(r - f), 2.3 - 1e-10);
                y[r * S + c] = (float)Math.Clamp(Math.Log(1 - d / 2.3) + 1, 0, 1);
            }
        }
    }

    /// <summary>
    /// Diamond-square plasma, <paramref name="size"/>² (a power of two), values in [0, 1], wrapping at the edges: the
    /// construction of MNIST-C's fog (its "wibble" starts at 100 and is divided by <paramref name="decay"/> per level).
    /// </summary>
    public static double[] PlasmaFractal(int size, double decay, Rng rng)
    {
        if (size < 2 || (size & (size - 1)) != 0) throw new ArgumentException($"The plasma's size must be a power of two, found {size}.", nameof(size));
        var map = new double[size * size];
        double wibble = 100;
        double Wibbled(double sum) => sum / 4 + wibble * (rng.NextDouble() * 2 * wibble - wibble);
        int M(int v) => (v % size + size) % size;
        for (int step = size; step >= 2; step /= 2, wibble /= decay)
        {
            int half = step / 2;
            // Squares: each cell centre from its four corners.
            for (int r = 0; r < size; r += step)
                for (int c = 0; c < size; c += step)
                    map[(r + half) * size + c + half] = Wibbled(map[r * size + c] + map[M(r + step) * size + c]
                                                                + map[r * size + M(c + step)] + map[M(r + step) * size + M(c + step)]);
            // Diamonds: each edge midpoint from the two centres and the two corners beside it.
            for (int r = 0; r < size; r += step)
                for (int c = 0; c < size; c += step)
                {
                    // top edge midpoint (r, c + half)
                    map[r * size + c + half] = Wibbled(map[M(r + half) * size + c + half] + map[M(r - half) * size + c + half]
                                                       + map[r * size + c] + map[r * size + M(c + step)]);
                    // left edge midpoint (r + half, c)
                    map[(r + half) * size + c] = Wibbled(map[(r + half) * size + M(c + half)] + map[(r + half) * size + M(c - half)]
                                                         + map[r * size + c] + map[M(r + step) * size + c]);
                }
        }
        double min = map.Min(), max = map.Max();
        double range = max - min;
        for (int i = 0; i < map.Length; i++) map[i] = range > 0 ? (map[i] - min) / range : 0;
        return map;
    }

    private static int RandomSign(Rng rng) => rng.NextInt(2) == 0 ? -1 : 1;

    /// <summary>Knuth's Poisson sampler (fine for the small λ ≤ 3 used here).</summary>
    private static int Poisson(double lambda, Rng rng)
    {
        if (lambda <= 0) return 0;
        double limit = Math.Exp(-lambda), p = 1;
        int k = 0;
        do { k++; p *= rng.NextDouble(); } while (p > limit);
        return k - 1;
    }
}
