// ImageOps: the image primitives the corruptions are built from (Gaussian blur, affine warp, grey erosion/dilation, resampling), pure functions over 28×28 float images in [0, 1].
namespace DigitLab.Evaluation;

/// <summary>
/// Pure functions over square single-channel float images, row-major, side <see cref="Side"/> (28: MNIST), values in [0, 1].
/// Each reads <c>x</c> and writes <c>y</c> (which must not alias <c>x</c> unless stated); none keeps state.
/// </summary>
public static class ImageOps
{
    public const int Side = 28, Pixels = Side * Side;

    /// <summary>Centre of the pixel grid ((28 − 1) / 2), the fixed point of MNIST-C's affine corruptions.</summary>
    public const double Centre = (Side - 1) / 2.0;

    /// <summary>
    /// Gaussian blur with standard deviation <paramref name="sigma"/>, separable, kernel truncated at 4σ, borders
    /// replicated (scikit-image's <c>gaussian</c> defaults: truncate 4, mode 'nearest'). σ ≤ 0 copies.
    /// </summary>
    public static void GaussianBlur(ReadOnlySpan<float> x, Span<float> y, double sigma)
    {
        if (sigma <= 0) { x.CopyTo(y); return; }
        int radius = (int)(4 * sigma + 0.5);
        var kernel = new double[2 * radius + 1];
        double sum = 0;
        for (int i = -radius; i <= radius; i++) sum += kernel[i + radius] = Math.Exp(-0.5 * i * i / (sigma * sigma));
        for (int i = 0; i < kernel.Length; i++) kernel[i] /= sum;
        Span<float> tmp = stackalloc float[Pixels];
        for (int r = 0; r < Side; r++)                                      // along rows
            for (int c = 0; c < Side; c++)
            {
                double acc = 0;
                for (int k = -radius; k <= radius; k++) acc += kernel[k + radius] * x[r * Side + Math.Clamp(c + k, 0, Side - 1)];
                tmp[r * Side + c] = (float)acc;
            }
        for (int r = 0; r < Side; r++)                                      // along columns
            for (int c = 0; c < Side; c++)
            {
                double acc = 0;
                for (int k = -radius; k <= radius; k++) acc += kernel[k + radius] * tmp[Math.Clamp(r + k, 0, Side - 1) * Side + c];
                y[r * Side + c] = (float)acc;
            }
    }

    /// <summary>Bilinear sample at (row, column) with zeros outside the image (scikit-image <c>warp</c>: order 1, mode 'constant').</summary>
    public static float Sample(ReadOnlySpan<float> x, double row, double col)
    {
        int r0 = (int)Math.Floor(row), c0 = (int)Math.Floor(col);
        double fr = row - r0, fc = col - c0;
        double v = 0;
        for (int dr = 0; dr <= 1; dr++)
            for (int dc = 0; dc <= 1; dc++)
            {
                int r = r0 + dr, c = c0 + dc;
                if ((uint)r >= Side || (uint)c >= Side) continue;
                v += (dr == 0 ? 1 - fr : fr) * (dc == 0 ? 1 - fc : fc) * x[r * Side + c];
            }
        return (float)v;
    }

    /// <summary>
    /// Inverse-mapped affine warp about <see cref="Centre"/>: output pixel (col, row) reads the input at
    /// centre + M·((col, row) − centre) + (tx, ty), bilinear, zeros outside. M = [[a, b], [c, d]] acts on (col, row), as
    /// scikit-image's <c>AffineTransform</c> passed as <c>inverse_map</c> with the translation that keeps the centre fixed.
    /// </summary>
    public static void Warp(ReadOnlySpan<float> x, Span<float> y, double a, double b, double c, double d, double tx = 0, double ty = 0)
    {
        for (int r = 0; r < Side; r++)
            for (int col = 0; col < Side; col++)
            {
                double u = col - Centre, v = r - Centre;
                double sc = Centre + a * u + b * v + tx, sr = Centre + c * u + d * v + ty;
                y[r * Side + col] = Sample(x, sr, sc);
            }
    }

    /// <summary>Rotation by <paramref name="radians"/> about the centre (inverse map, as MNIST-C's rotate).</summary>
    public static void Rotate(ReadOnlySpan<float> x, Span<float> y, double radians) =>
        Warp(x, y, Math.Cos(radians), -Math.Sin(radians), Math.Sin(radians), Math.Cos(radians));

    /// <summary>3×3 grey erosion (<paramref name="steps"/> &lt; 0: minimum filter |steps| times) or dilation (&gt; 0: maximum filter); 0 copies. Thins or thickens strokes by about a pixel per step.</summary>
    public static void Morphology(ReadOnlySpan<float> x, Span<float> y, int steps)
    {
        Span<float> a = stackalloc float[Pixels], b = stackalloc float[Pixels];
        x.CopyTo(a);
        bool dilate = steps > 0;
        for (int s = 0; s < Math.Abs(steps); s++)
        {
            for (int r = 0; r < Side; r++)
                for (int c = 0; c < Side; c++)
                {
                    float v = a[r * Side + c];
                    for (int dr = -1; dr <= 1; dr++)
                        for (int dc = -1; dc <= 1; dc++)
                        {
                            int rr = r + dr, cc = c + dc;
                            // Outside the image counts as background for dilation and is ignored for erosion (the frame does not eat strokes).
                            if ((uint)rr >= Side || (uint)cc >= Side) continue;
                            float n = a[rr * Side + cc];
                            v = dilate ? Math.Max(v, n) : Math.Min(v, n);
                        }
                    b[r * Side + c] = v;
                }
            b.CopyTo(a);
        }
        a.CopyTo(y);
    }

    /// <summary>
    /// Down-samples to <paramref name="size"/>×<paramref name="size"/> by area averaging and back to 28×28 bilinearly (pixel
    /// centres aligned): what a low-resolution camera or a thumbnail leaves of the digit. 28 copies.
    /// </summary>
    public static void DownUp(ReadOnlySpan<float> x, Span<float> y, int size)
    {
        if (size >= Side) { x.CopyTo(y); return; }
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "Down-sampling needs a size of at least 1 pixel.");
        var small = new double[size * size];
        double scale = (double)Side / size;
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                // Area average over the source rectangle [r·scale, (r+1)·scale) with fractional pixel weights.
                double r0 = r * scale, r1 = r0 + scale, c0 = c * scale, c1 = c0 + scale, acc = 0;
                for (int sr = (int)r0; sr < Math.Min(Side, (int)Math.Ceiling(r1)); sr++)
                {
                    double wr = Math.Min(r1, sr + 1) - Math.Max(r0, sr);
                    for (int sc = (int)c0; sc < Math.Min(Side, (int)Math.Ceiling(c1)); sc++)
                        acc += wr * (Math.Min(c1, sc + 1) - Math.Max(c0, sc)) * x[sr * Side + sc];
                }
                small[r * size + c] = acc / (scale * scale);
            }
        for (int r = 0; r < Side; r++)
            for (int c = 0; c < Side; c++)
            {
                double sr = Math.Clamp((r + 0.5) / scale - 0.5, 0, size - 1), sc = Math.Clamp((c + 0.5) / scale - 0.5, 0, size - 1);
                int r0 = (int)sr, c0 = (int)sc, r1 = Math.Min(r0 + 1, size - 1), c1 = Math.Min(c0 + 1, size - 1);
                double fr = sr - r0, fc = sc - c0;
                y[r * Side + c] = (float)((1 - fr) * ((1 - fc) * small[r0 * size + c0] + fc * small[r0 * size + c1])
                                          + fr * ((1 - fc) * small[r1 * size + c0] + fc * small[r1 * size + c1]));
            }
    }

    /// <summary>Clamps every value into [0, 1].</summary>
    public static void Clip(Span<float> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = Math.Clamp(y[i], 0f, 1f);
    }
}
