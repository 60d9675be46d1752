// NumberGenerator: seeded test numbers written in one image, composed from single-digit images (MNIST test digits) with gaps, touching or overlapping digits and baseline and scale jitter.
using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

/// <summary>How far apart neighbouring digits are placed (between their ink bounding boxes).</summary>
public enum DigitSpacing
{
    /// <summary>2–8 pixels of background between the boxes.</summary>
    Gap,
    /// <summary>Boxes abut or share one column, so strokes usually touch.</summary>
    Touching,
    /// <summary>Boxes overlap by 2–4 pixels.</summary>
    Overlap,
}

/// <summary>A generated number: the grey image (ink 255 on 0, MNIST polarity), its digits, and each digit's ink box.</summary>
/// <param name="Sources">For each digit, the index of the source image it was drawn from (so a benchmark can compare the reader's crop with it).</param>
public sealed record GeneratedNumber(byte[] Pixels, int Width, int Height, string Text, IReadOnlyList<DigitBox> Boxes, DigitSpacing Spacing, IReadOnlyList<int> Sources);

/// <summary>A rectangle in image pixels.</summary>
public readonly record struct DigitBox(int X, int Y, int Width, int Height)
{
    public int Right => X + Width;
    public int Bottom => Y + Height;
}

/// <summary>
/// Writes numbers from single-digit images: each digit's ink box is cut out, scaled by a random factor in
/// [<see cref="MinScale"/>, <see cref="MaxScale"/>], moved up or down by up to <see cref="BaselineJitter"/> pixels, and
/// placed to the right of the previous one at the spacing asked for; overlapping ink is combined by maximum.
/// </summary>
public static class NumberGenerator
{
    public const double MinScale = 0.85, MaxScale = 1.15;
    public const int BaselineJitter = 3, Margin = 6;

    /// <summary>A number of <paramref name="digits"/> digits drawn (digit and image) from <paramref name="source"/> with <paramref name="rng"/>.</summary>
    public static GeneratedNumber Generate(MnistDataset source, int digits, DigitSpacing spacing, Rng rng)
    {
        if (digits < 1) throw new ArgumentException($"A number needs at least one digit, found {digits}.");
        var glyphs = new List<(float[] Ink, int W, int H, int Label)>();
        var sources = new int[digits];
        for (int d = 0; d < digits; d++)
        {
            int index = sources[d] = rng.NextInt(source.Count);
            glyphs.Add(Cut(source.Image(index).ToArray(), rng.Uniform((float)MinScale, (float)MaxScale), source.Labels[index]));
        }
        int maxH = glyphs.Max(g => g.H);
        int height = maxH + 2 * (Margin + BaselineJitter);
        var placements = new List<(int X, int Y)>();
        int x = Margin;
        for (int d = 0; d < digits; d++)
        {
            if (d > 0)
            {
                int step = spacing switch
                {
                    DigitSpacing.Gap => 2 + rng.NextInt(7),
                    DigitSpacing.Touching => -rng.NextInt(2),
                    _ => -(2 + rng.NextInt(3)),
                };
                x += step;
            }
            // Bottom-aligned on a common baseline, then jittered.
            int y = Margin + BaselineJitter + (maxH - glyphs[d].H) + rng.NextInt(2 * BaselineJitter + 1) - BaselineJitter;
            placements.Add((x, y));
            x += glyphs[d].W;
        }
        int width = x + Margin;
        var canvas = new float[width * height];
        var boxes = new List<DigitBox>();
        for (int d = 0; d < digits; d++)
        {
            var (ink, w, h, _) = glyphs[d];
            var (px, py) = placements[d];
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++)
                {
                    int i = (py + r) * width + px + c;
                    canvas[i] = Math.Max(canvas[i], ink[r * w + c]);
                }
            boxes.Add(new DigitBox(px, py, w, h));
        }
        var pixels = canvas.Select(v => (byte)Math.Clamp(MathF.Round(v), 0, 255)).ToArray();
        return new GeneratedNumber(pixels, width, height, string.Concat(glyphs.Select(g => (char)('0' + g.Label))), boxes, spacing, sources);
    }

    /// <summary>The ink bounding box of a 28×28 digit, scaled bilinearly by <paramref name="scale"/>.</summary>
    private static (float[] Ink, int W, int H, int Label) Cut(byte[] image, float scale, int label)
    {
        int x0 = 28, y0 = 28, x1 = -1, y1 = -1;
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                if (image[r * 28 + c] > 0) { x0 = Math.Min(x0, c); x1 = Math.Max(x1, c); y0 = Math.Min(y0, r); y1 = Math.Max(y1, r); }
        if (x1 < 0) { x0 = y0 = 0; x1 = y1 = 0; }
        int bw = x1 - x0 + 1, bh = y1 - y0 + 1;
        int w = Math.Max(1, (int)Math.Round(bw * scale)), h = Math.Max(1, (int)Math.Round(bh * scale));
        var ink = new float[w * h];
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                double sr = Math.Clamp((r + 0.5) * bh / h - 0.5, 0, bh - 1), sc = Math.Clamp((c + 0.5) * bw / w - 0.5, 0, bw - 1);
                int r0 = (int)sr, c0 = (int)sc, r1 = Math.Min(r0 + 1, bh - 1), c1 = Math.Min(c0 + 1, bw - 1);
                double fr = sr - r0, fc = sc - c0;
                double At(int rr, int cc) => image[(y0 + rr) * 28 + x0 + cc];
                ink[r * w + c] = (float)((1 - fr) * ((1 - fc) * At(r0, c0) + fc * At(r0, c1)) + fr * ((1 - fc) * At(r1, c0) + fc * At(r1, c1)));
            }
        return (ink, w, h, label);
    }
}
