// DrawingPreprocessor: a drawing (grey bytes, white ink on black) → the 28×28 image a model expects,
// prepared as MNIST was: bounding box scaled into 20×20 keeping aspect, centre of mass at the centre.
namespace DigitLab.Web.Services;

public static class DrawingPreprocessor
{
    /// <summary>Pixels at or below this grey level count as background (anti-aliasing fringe, JPEG-like noise).</summary>
    public const byte InkThreshold = 16;

    /// <summary>784 values in [0, 1], or null when the drawing has no ink.</summary>
    /// <param name="grey">Row-major <paramref name="width"/>×<paramref name="height"/> bytes, 0 = background, 255 = ink.</param>
    public static float[]? ToMnist(ReadOnlySpan<byte> grey, int width, int height)
    {
        if (grey.Length != width * height)
            throw new ArgumentException($"Expected {width}×{height} = {width * height} grey bytes, found {grey.Length}.", nameof(grey));
        int left = width, right = -1, top = height, bottom = -1;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                if (grey[y * width + x] > InkThreshold)
                {
                    if (x < left) left = x;
                    if (x > right) right = x;
                    if (y < top) top = y;
                    if (y > bottom) bottom = y;
                }
        if (right < 0) return null;

        // Scale the bounding box so its longer side is 20 pixels, averaging the area each target pixel covers (anti-aliasing).
        int boxW = right - left + 1, boxH = bottom - top + 1;
        double scale = 20.0 / Math.Max(boxW, boxH);
        int targetW = Math.Clamp((int)Math.Round(boxW * scale), 1, 20);
        int targetH = Math.Clamp((int)Math.Round(boxH * scale), 1, 20);
        var small = new float[targetW * targetH]; // (targetH, targetW), values in [0, 1]
        for (int ty = 0; ty < targetH; ty++)
        {
            double y0 = ty / scale, y1 = Math.Min(boxH, (ty + 1) / scale);
            for (int tx = 0; tx < targetW; tx++)
            {
                double x0 = tx / scale, x1 = Math.Min(boxW, (tx + 1) / scale);
                double sum = 0, weight = 0;
                for (int sy = (int)y0; sy < Math.Ceiling(y1); sy++)
                {
                    double wy = Math.Min(y1, sy + 1) - Math.Max(y0, sy);
                    if (wy <= 0) continue;
                    for (int sx = (int)x0; sx < Math.Ceiling(x1); sx++)
                    {
                        double wx = Math.Min(x1, sx + 1) - Math.Max(x0, sx);
                        if (wx <= 0) continue;
                        sum += wx * wy * grey[(top + sy) * width + left + sx];
                        weight += wx * wy;
                    }
                }
                small[ty * targetW + tx] = weight > 0 ? (float)(sum / weight / 255.0) : 0f;
            }
        }

        // Place it in 28×28 so that its centre of mass lands on the image centre (14, 14), as MNIST did.
        double mass = 0, mx = 0, my = 0;
        for (int y = 0; y < targetH; y++)
            for (int x = 0; x < targetW; x++)
            {
                float v = small[y * targetW + x];
                mass += v; mx += (x + 0.5) * v; my += (y + 0.5) * v;
            }
        int offsetX = (int)Math.Round(14 - mx / mass), offsetY = (int)Math.Round(14 - my / mass);
        var image = new float[784];
        for (int y = 0; y < targetH; y++)
        {
            int iy = y + offsetY;
            if ((uint)iy >= 28) continue;
            for (int x = 0; x < targetW; x++)
            {
                int ix = x + offsetX;
                if ((uint)ix < 28) image[iy * 28 + ix] = small[y * targetW + x];
            }
        }
        return image;
    }

    /// <summary>Turns dark ink on light paper into light ink on dark, judged by the mean of the border pixels.</summary>
    public static void InvertIfLightBackground(Span<byte> grey, int width, int height)
    {
        long sum = 0; int count = 0;
        for (int x = 0; x < width; x++) { sum += grey[x] + grey[(height - 1) * width + x]; count += 2; }
        for (int y = 0; y < height; y++) { sum += grey[y * width] + grey[y * width + width - 1]; count += 2; }
        if (sum / (double)count <= 127) return;
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)(255 - grey[i]);
    }
}
