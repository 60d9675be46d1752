// Preprocess: turns an arbitrary grey image of a digit (photo, scan, web canvas) into an MNIST-style 28×28 image.
using DigitLab.IO;

namespace DigitLab.Data;

/// <summary>The image holds no digit (blank, or ink too faint to find).</summary>
public sealed class EmptyImageException(string message) : ArgumentException(message);

/// <summary>What <see cref="Preprocess.Run(ReadOnlySpan{byte}, int, int)"/> did: the 28×28 result and the steps' figures, for display.</summary>
/// <param name="Pixels">784 bytes, row-major 28×28, white ink (255) on black (0), like MNIST.</param>
/// <param name="Inverted">True when the input was dark ink on a light background and was inverted.</param>
/// <param name="BoxX">Bounding box of the ink in the input (after inversion), in input pixels.</param>
/// <param name="ScaledWidth">Size of the box after scaling into 20×20 (aspect kept).</param>
/// <param name="OffsetX">Where the scaled box was placed in the 28×28 frame (top-left), chosen by centre of mass.</param>
public sealed record PreprocessResult(byte[] Pixels, bool Inverted, int BoxX, int BoxY, int BoxWidth, int BoxHeight,
    int ScaledWidth, int ScaledHeight, int OffsetX, int OffsetY);

/// <summary>
/// MNIST's own normalisation (LeCun et al.): the digit's bounding box is scaled to fit 20×20 keeping its
/// aspect ratio, with anti-aliasing, then placed in a 28×28 frame so that its centre of mass is at the centre.
/// </summary>
/// <remarks>
/// Steps: (1) polarity — dark ink on light paper is inverted, so ink is bright as in MNIST; (2) background removal,
/// noise floor, contrast and stray-mark removal for photos of paper (<see cref="PhotoCleanup"/>, which leaves a clean
/// drawing as it is); (3) the bounding box of pixels above 10 % of the brightest ink; (4) area-averaging when shrinking,
/// bilinear when enlarging, into at most 20×20; (5) integer shift putting the centre of mass at (14, 14) within half a pixel, as in MNIST,
/// clamped so the box stays in the frame. An image without ink throws <see cref="EmptyImageException"/>
/// (or <see cref="Preprocess.TryRun"/> returns false).
/// </remarks>
public static class Preprocess
{
    public const int Size = 28, Box = 20;
    /// <summary>Weakest ink (after background removal, 0..255) that counts as a drawn digit.</summary>
    public const int MinInk = 32;
    /// <summary>Fraction of the brightest ink above which a pixel belongs to the bounding box.</summary>
    public const double BoxThreshold = 0.1;

    /// <summary>Preprocesses a grey image (height × width bytes) to 784 MNIST-style bytes.</summary>
    /// <exception cref="EmptyImageException">Nothing drawn.</exception>
    public static byte[] ToMnist(ReadOnlySpan<byte> grey, int width, int height) => Run(grey, width, height).Pixels;

    /// <summary>Preprocesses any 8-bit image through <see cref="FromImage"/> (28×28 images are taken as they are).</summary>
    /// <exception cref="EmptyImageException">Nothing drawn.</exception>
    public static byte[] ToMnist(RasterImage image) => FromImage(image).Pixels;

    /// <summary>Reads an image file (any format <see cref="ImageDecoder"/> reads) and preprocesses it with <see cref="FromImage"/>.</summary>
    public static byte[] ToMnist(string path) => ToMnist(ImageFile.Read(path));

    /// <summary>
    /// The one entry point for a decoded image, used by predict, the web's uploads and image folders alike: grey
    /// conversion (<see cref="RasterImage.ToGrey"/>: colour to luma, transparent canvas pixels composited), then either
    /// the MNIST rule or the full pipeline (<see cref="TryRun"/>: photo cleanup, 20×20 box, centre of mass).
    /// </summary>
    /// <remarks>
    /// MNIST rule: an image of exactly 28×28 pixels is already in MNIST's form and is taken as it is, inverted when it is
    /// dark ink on light paper (<see cref="PhotoCleanup"/>'s polarity rule), so a folder of MNIST PNGs gives exactly
    /// MNIST's bytes. It must still hold ink of at least <see cref="MinInk"/> above its border's level.
    /// </remarks>
    /// <exception cref="EmptyImageException">Nothing drawn.</exception>
    public static PreprocessResult FromImage(RasterImage image) =>
        TryFromImage(image, out var result, out var problem) ? result! : throw new EmptyImageException(problem!);

    /// <summary><see cref="FromImage"/>; false with a readable <paramref name="problem"/> when the image holds no digit.</summary>
    public static bool TryFromImage(RasterImage image, out PreprocessResult? result, out string? problem)
    {
        var grey = image.ToGrey();
        if (image.Width != Size || image.Height != Size) return TryRun(grey, image.Width, image.Height, out result, out problem);
        result = null;
        problem = null;
        bool invert = PhotoCleanup.DarkInk(grey, Size, Size);
        if (invert)
            for (int i = 0; i < grey.Length; i++) grey[i] = (byte)(255 - grey[i]);
        var border = new List<byte>(4 * Size);
        for (int k = 0; k < Size; k++) { border.Add(grey[k]); border.Add(grey[(Size - 1) * Size + k]); border.Add(grey[k * Size]); border.Add(grey[k * Size + Size - 1]); }
        border.Sort();
        int background = border[border.Count / 2], strongest = grey.Max() - background;
        if (strongest < MinInk)
        {
            problem = strongest <= 0
                ? $"The {Size}x{Size} image is empty: no ink found. Draw a digit and try again."
                : $"The {Size}x{Size} image has no clear digit: the strongest ink is {strongest} of 255 above the background (at least {MinInk} needed). Draw darker or thicker.";
            return false;
        }
        result = new PreprocessResult(grey, invert, 0, 0, Size, Size, Size, Size, 0, 0);
        return true;
    }

    /// <summary>Preprocesses and reports what was done; throws <see cref="EmptyImageException"/> when nothing is drawn.</summary>
    public static PreprocessResult Run(ReadOnlySpan<byte> grey, int width, int height) =>
        TryRun(grey, width, height, out var result, out var problem) ? result! : throw new EmptyImageException(problem!);

    /// <summary>
    /// The one rule for "empty" (no ink of at least <see cref="MinInk"/> above the border's background), for every caller:
    /// the CLI's predict, the web's drawings and uploads, 28×28 ones included. False with a readable <paramref name="problem"/>.
    /// </summary>
    public static bool HasDigit(ReadOnlySpan<byte> grey, int width, int height, out string? problem) =>
        TryRun(grey, width, height, out _, out problem);

    /// <summary>Preprocesses; false with a readable <paramref name="problem"/> when the image holds no digit.</summary>
    public static bool TryRun(ReadOnlySpan<byte> grey, int width, int height, out PreprocessResult? result, out string? problem)
    {
        result = null;
        problem = null;
        if (width < 1 || height < 1 || grey.Length != (long)width * height)
            throw new ArgumentException($"Preprocess: a {width}x{height} grey image needs {(long)width * height} bytes, found {grey.Length}.");

        // (1)-(2) Polarity, background, noise, contrast and stray marks: PhotoCleanup (a no-op beyond inversion on a clean drawing).
        var ink = PhotoCleanup.InkMap(grey, width, height, out bool invert);
        float max = 0;
        foreach (float v in ink) max = Math.Max(max, v);
        if (max < MinInk)
        {
            problem = max == 0
                ? $"The {width}x{height} image is empty: no ink found. Draw a digit and try again."
                : $"The {width}x{height} image has no clear digit: the strongest ink is {max:0} of 255 above the background (at least {MinInk} needed). Draw darker or thicker.";
            return false;
        }

        // (3) Bounding box of the ink.
        float threshold = (float)(max * BoxThreshold);
        int x0 = width, y0 = height, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (ink[y * width + x] > threshold) { x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y); }
        int bw = x1 - x0 + 1, bh = y1 - y0 + 1;

        // (4) Scale the box into 20×20, keeping the aspect ratio.
        double scale = (double)Box / Math.Max(bw, bh);
        int tw = Math.Clamp((int)Math.Round(bw * scale), 1, Box), th = Math.Clamp((int)Math.Round(bh * scale), 1, Box);
        var wx = ResampleWeights(bw, tw);
        var wy = ResampleWeights(bh, th);
        var rows = new float[bh * tw]; // horizontal pass: (bh, tw)
        for (int y = 0; y < bh; y++)
            for (int i = 0; i < tw; i++)
            {
                float s = 0;
                for (int x = 0; x < bw; x++) s += wx[i * bw + x] * ink[(y0 + y) * width + x0 + x];
                rows[y * tw + i] = s;
            }
        var scaled = new float[th * tw]; // vertical pass: (th, tw)
        for (int j = 0; j < th; j++)
            for (int i = 0; i < tw; i++)
            {
                float s = 0;
                for (int y = 0; y < bh; y++) s += wy[j * bh + y] * rows[y * tw + i];
                scaled[j * tw + i] = s;
            }

        // (5) Centre of mass to the frame's centre.
        double mass = 0, mx = 0, my = 0;
        for (int j = 0; j < th; j++)
            for (int i = 0; i < tw; i++) { double v = scaled[j * tw + i]; mass += v; mx += v * i; my += v * j; }
        double cx = mass > 0 ? mx / mass : (tw - 1) / 2.0, cy = mass > 0 ? my / mass : (th - 1) / 2.0;
        // MNIST's own images have their centre of mass in [13.5, 14.5) (pixel-index coordinates), i.e. at 14.
        const double centre = Size / 2.0;
        int ox = Math.Clamp((int)Math.Floor(centre - cx + 0.5), 0, Size - tw);
        int oy = Math.Clamp((int)Math.Floor(centre - cy + 0.5), 0, Size - th);
        var pixels = new byte[Size * Size];
        for (int j = 0; j < th; j++)
            for (int i = 0; i < tw; i++)
                pixels[(oy + j) * Size + ox + i] = (byte)Math.Clamp((int)MathF.Round(scaled[j * tw + i]), 0, 255);

        result = new PreprocessResult(pixels, invert, x0, y0, bw, bh, tw, th, ox, oy);
        return true;
    }

    /// <summary>
    /// Weights (dst × src) mapping a line of <paramref name="source"/> pixels to <paramref name="target"/> pixels:
    /// exact area coverage when shrinking (anti-aliasing), bilinear between pixel centres when enlarging.
    /// Each row sums to 1.
    /// </summary>
    internal static float[] ResampleWeights(int source, int target)
    {
        var w = new float[target * source];
        double ratio = (double)source / target; // source pixels per target pixel
        for (int i = 0; i < target; i++)
        {
            if (ratio >= 1)
            {
                double start = i * ratio, end = (i + 1) * ratio;
                for (int x = (int)Math.Floor(start); x < Math.Min(source, (int)Math.Ceiling(end)); x++)
                {
                    double overlap = Math.Min(end, x + 1) - Math.Max(start, x);
                    if (overlap > 0) w[i * source + x] = (float)(overlap / ratio);
                }
            }
            else
            {
                double u = Math.Clamp((i + 0.5) * ratio - 0.5, 0, source - 1);
                int x = Math.Min((int)Math.Floor(u), source - 1);
                double f = u - x;
                w[i * source + x] += (float)(1 - f);
                if (x + 1 < source) w[i * source + x + 1] += (float)f;
            }
        }
        return w;
    }
}
