// SaliencyOverlay: draws a saliency map over its 28×28 input as an enlarged RGB image (red = for the class, blue = against).
namespace DigitLab.Evaluation;

public static class SaliencyOverlay
{
    /// <summary>
    /// RGB bytes of a (28·zoom)² image: the digit in grey (ink dark on white, as on paper), tinted red where the map is
    /// positive and blue where negative, the tint's strength |value| / max |value|.
    /// </summary>
    public static (byte[] Rgb, int Width, int Height) Render(ReadOnlySpan<float> pixels, ReadOnlySpan<float> map, int zoom = 10)
    {
        const int side = ImageOps.Side;
        if (pixels.Length != ImageOps.Pixels || map.Length != ImageOps.Pixels)
            throw new ArgumentException($"An overlay needs a 28x28 image and a 28x28 map, found {pixels.Length} and {map.Length} values.");
        if (zoom < 1) throw new ArgumentException($"zoom must be at least 1, found {zoom}.");
        float max = 0;
        foreach (float v in map) max = Math.Max(max, Math.Abs(v));
        int w = side * zoom;
        var rgb = new byte[w * w * 3];
        for (int y = 0; y < w; y++)
            for (int x = 0; x < w; x++)
            {
                int i = (y / zoom) * side + x / zoom;
                double grey = 255 - 0.6 * 255 * Math.Clamp(pixels[i], 0, 1);   // ink at 40% so the colour stays readable
                double t = max > 0 ? Math.Abs(map[i]) / max : 0;
                (double r, double g, double b) tint = map[i] >= 0 ? (220, 30, 30) : (30, 80, 220);
                int o = (y * w + x) * 3;
                rgb[o] = (byte)Math.Round(grey * (1 - t) + tint.r * t);
                rgb[o + 1] = (byte)Math.Round(grey * (1 - t) + tint.g * t);
                rgb[o + 2] = (byte)Math.Round(grey * (1 - t) + tint.b * t);
            }
        return (rgb, w, w);
    }
}
