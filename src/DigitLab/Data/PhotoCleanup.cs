// PhotoCleanup: the first half of preprocessing: any grey image (photo of paper, scan, canvas) to a clean bright-ink-on-black map.
namespace DigitLab.Data;

/// <summary>
/// Turns a grey image of one digit into an ink map: bright ink (up to 255) on a black (0) background, with uneven
/// light, grey paper, noise and stray marks removed. <see cref="Preprocess"/> then boxes and centres the map.
/// </summary>
/// <remarks>
/// Steps, each a no-op on a clean drawing (flat background, noise-free), so canvases and scans come out as before:
/// <list type="number">
/// <item>Polarity: the ink is whichever extreme (0.5th or 99.5th percentile) lies further from the border's median;
/// a tie (a blank image) falls back to "a light border means dark ink".</item>
/// <item>Background: a grey-level opening (minimum, then maximum filter, over a window of a fifth of the short side)
/// of the ink-bright image, on a copy reduced to at most 128 pixels a side and interpolated back: strokes narrower than
/// the window vanish from it, the paper's shading and a shadow's edge stay. Ink = (value − background) / (255 − background) × 255: the
/// paper's local brightness divides out, so a shadow or a light gradient leaves no trace.</item>
/// <item>Noise floor: median + 4 robust standard deviations (1.4826 × MAD) of the ink map is subtracted; on a clean
/// image both are 0.</item>
/// <item>Contrast: the core of the strokes (95th percentile of the pixels above half the strongest) is stretched
/// to 255 (gain between 1 and 4), so a grey pencil line reaches MNIST's full white.</item>
/// <item>Components: 8-connected components of the pixels above 20 % of the strongest; the largest by ink mass
/// (one touching the image border counts a quarter, as paper edges and shadows do) is kept, and with it every component
/// of at least 3 % of its mass lying near the kept ones' box (a gap under 35 % of the box's longer side), so a '5'
/// whose bar is broken off keeps its bar. Everything else is erased; the kept strokes keep a 2-pixel margin of their
/// anti-aliased edge.</item>
/// </list>
/// </remarks>
public static class PhotoCleanup
{
    /// <summary>Mask threshold for components, as a fraction of the strongest ink.</summary>
    public const double ComponentThreshold = 0.2;

    /// <summary>A component is kept beside the largest when its mass is at least this fraction of the largest's.</summary>
    public const double CompanionMass = 0.03;

    /// <summary>... and its box is within this fraction of the kept box's longer side.</summary>
    public const double CompanionGap = 0.35;

    /// <summary>
    /// The ink map of a grey image (height × width bytes): (height, width) floats, 0 = background, up to 255 = ink.
    /// <paramref name="inverted"/> tells whether the input was dark ink on light paper.
    /// </summary>
    public static float[] InkMap(ReadOnlySpan<byte> grey, int width, int height, out bool inverted)
    {
        int n = width * height;
        inverted = DarkInk(grey, width, height);
        var ink = new float[n];
        for (int i = 0; i < n; i++) ink[i] = inverted ? 255 - grey[i] : grey[i];

        // (2) Background, divided out.
        var background = Background(ink, width, height);
        for (int i = 0; i < n; i++)
        {
            float bg = background[i];
            ink[i] = bg < 255 ? Math.Max(0, ink[i] - bg) * 255f / (255f - bg) : 0;
        }

        // (3) Noise floor.
        var histogram = Histogram(ink);
        float median = Percentile(histogram, n, 0.5);
        var deviations = new int[256];
        foreach (float v in ink) deviations[Math.Min(255, (int)MathF.Round(Math.Abs(v - median)))]++;
        float floor = median + 4 * 1.4826f * Percentile(deviations, n, 0.5);
        float max = 0;
        if (floor > 0)
            for (int i = 0; i < n; i++) ink[i] = ink[i] > floor ? ink[i] - floor / 2 : 0;
        foreach (float v in ink) max = Math.Max(max, v);
        if (max < Preprocess.MinInk) return ink; // the caller reports it as empty or faint, with the figure

        // (4) Contrast of the stroke cores to 255.
        var core = new int[256];
        int coreCount = 0;
        foreach (float v in ink) if (v >= max / 2) { core[Math.Min(255, (int)MathF.Round(v))]++; coreCount++; }
        float high = Math.Max(1, Percentile(core, coreCount, 0.95));
        float gain = Math.Clamp(255f / high, 1f, 4f);
        if (gain > 1)
            for (int i = 0; i < n; i++) ink[i] = Math.Min(255, ink[i] * gain);

        // (5) Keep the digit's components.
        KeepDigitComponents(ink, width, height);
        return ink;
    }

    /// <summary>True when the ink is darker than the paper (see the remarks' polarity rule).</summary>
    internal static bool DarkInk(ReadOnlySpan<byte> grey, int width, int height)
    {
        var border = new int[256];
        int count = 0;
        for (int x = 0; x < width; x++) { border[grey[x]]++; border[grey[(height - 1) * width + x]]++; count += 2; }
        for (int y = 1; y < height - 1; y++) { border[grey[y * width]]++; border[grey[y * width + width - 1]]++; count += 2; }
        var all = new int[256];
        foreach (byte b in grey) all[b]++;
        float borderMedian = Percentile(border, count, 0.5);
        float low = Percentile(all, grey.Length, 0.005), high = Percentile(all, grey.Length, 0.995);
        float dark = borderMedian - low, light = high - borderMedian;
        if (dark != light) return dark > light;
        double mean = 0;
        for (int v = 0; v < 256; v++) mean += (double)v * border[v];
        return mean / count > 127.5;
    }

    /// <summary>Longest side of the reduced copy the background is estimated on (light varies slowly; this bounds the cost).</summary>
    private const int BackgroundSide = 128;

    /// <summary>The background level at each pixel of an ink-bright image (see remarks, step 2).</summary>
    private static float[] Background(float[] ink, int width, int height)
    {
        // A reduced copy (k×k block means) keeps a 512-pixel photo's filters as cheap as a 128-pixel one's.
        int k = Math.Max(1, (Math.Min(width, height) + BackgroundSide - 1) / BackgroundSide);
        int w = (width + k - 1) / k, h = (height + k - 1) / k;
        var small = new float[w * h];
        var counts = new int[w * h];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) { small[y / k * w + x / k] += ink[y * width + x]; counts[y / k * w + x / k]++; }
        for (int i = 0; i < small.Length; i++) small[i] /= counts[i];

        // Opening (minimum then maximum filter) removes bright features narrower than the window, ink strokes, and keeps
        // the paper's shading, shadow edges included. The window is a fifth of the short side (an MNIST stroke is
        // about a tenth of the digit), and at least 15 pixels so small clean images keep their flat background.
        int window = Math.Min(Math.Min(w, h), Math.Max(15, Math.Min(w, h) / 5));
        var opened = Filter(Filter(small, w, h, window, Math.Min), w, h, window, Math.Max);

        var background = new float[width * height];
        for (int y = 0; y < height; y++)
        {
            // Reduced pixel centres sit at (i + 0.5) × k; interpolate between the nearest two in each direction.
            double gy = Math.Clamp((y + 0.5) / k - 0.5, 0, h - 1);
            int y0 = (int)gy, y1 = Math.Min(h - 1, y0 + 1);
            float fy = (float)(gy - y0);
            for (int x = 0; x < width; x++)
            {
                double gx = Math.Clamp((x + 0.5) / k - 0.5, 0, w - 1);
                int x0 = (int)gx, x1 = Math.Min(w - 1, x0 + 1);
                float fx = (float)(gx - x0);
                float top = opened[y0 * w + x0] * (1 - fx) + opened[y0 * w + x1] * fx;
                float bottom = opened[y1 * w + x0] * (1 - fx) + opened[y1 * w + x1] * fx;
                background[y * width + x] = top * (1 - fy) + bottom * fy;
            }
        }
        return background;
    }

    /// <summary>A separable window×window filter (min or max) of a (h, w) image; the window is clipped at the edges.</summary>
    private static float[] Filter(float[] image, int w, int h, int window, Func<float, float, float> combine)
    {
        int before = (window - 1) / 2, after = window - 1 - before;
        var rows = new float[image.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float acc = image[y * w + x];
                for (int xx = Math.Max(0, x - before); xx <= Math.Min(w - 1, x + after); xx++) acc = combine(acc, image[y * w + xx]);
                rows[y * w + x] = acc;
            }
        var result = new float[image.Length];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                float acc = rows[y * w + x];
                for (int yy = Math.Max(0, y - before); yy <= Math.Min(h - 1, y + after); yy++) acc = combine(acc, rows[yy * w + x]);
                result[y * w + x] = acc;
            }
        return result;
    }

    /// <summary>Erases everything but the digit's components (remarks, step 5).</summary>
    private static void KeepDigitComponents(float[] ink, int width, int height)
    {
        float max = 0;
        foreach (float v in ink) max = Math.Max(max, v);
        float threshold = (float)(max * ComponentThreshold);
        var label = new int[ink.Length]; // 0 = none, k = component k (1-based)
        var parts = new List<(double Mass, int X0, int Y0, int X1, int Y1, bool Border)>();
        var stack = new Stack<int>();
        for (int start = 0; start < ink.Length; start++)
        {
            if (label[start] != 0 || ink[start] <= threshold) continue;
            int id = parts.Count + 1;
            double mass = 0;
            int x0 = width, y0 = height, x1 = -1, y1 = -1;
            label[start] = id;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                int px = p % width, py = p / width;
                mass += ink[p];
                x0 = Math.Min(x0, px); x1 = Math.Max(x1, px); y0 = Math.Min(y0, py); y1 = Math.Max(y1, py);
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int qx = px + dx, qy = py + dy;
                        if (qx < 0 || qx >= width || qy < 0 || qy >= height) continue;
                        int q = qy * width + qx;
                        if (label[q] == 0 && ink[q] > threshold) { label[q] = id; stack.Push(q); }
                    }
            }
            parts.Add((mass, x0, y0, x1, y1, x0 == 0 || y0 == 0 || x1 == width - 1 || y1 == height - 1));
        }
        if (parts.Count <= 1) return;

        int primary = 0;
        double Score(int k) => parts[k].Mass * (parts[k].Border ? 0.25 : 1);
        for (int k = 1; k < parts.Count; k++) if (Score(k) > Score(primary)) primary = k;
        var keep = new bool[parts.Count];
        keep[primary] = true;
        var (bx0, by0, bx1, by1) = (parts[primary].X0, parts[primary].Y0, parts[primary].X1, parts[primary].Y1);
        for (bool grew = true; grew;)
        {
            grew = false;
            double reach = CompanionGap * Math.Max(bx1 - bx0 + 1, by1 - by0 + 1);
            for (int k = 0; k < parts.Count; k++)
            {
                var c = parts[k];
                if (keep[k] || c.Mass < CompanionMass * parts[primary].Mass) continue;
                int gapX = Math.Max(0, Math.Max(c.X0 - bx1, bx0 - c.X1)), gapY = Math.Max(0, Math.Max(c.Y0 - by1, by0 - c.Y1));
                if (Math.Max(gapX, gapY) > reach) continue;
                keep[k] = true;
                grew = true;
                (bx0, by0, bx1, by1) = (Math.Min(bx0, c.X0), Math.Min(by0, c.Y0), Math.Max(bx1, c.X1), Math.Max(by1, c.Y1));
            }
        }

        // The kept strokes plus a 2-pixel margin (their anti-aliased edges lie below the mask threshold).
        const int Margin = 2;
        var near = new bool[ink.Length];
        var rows = new bool[ink.Length];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int id = label[y * width + x];
                if (id == 0 || !keep[id - 1]) continue;
                for (int xx = Math.Max(0, x - Margin); xx <= Math.Min(width - 1, x + Margin); xx++) rows[y * width + xx] = true;
            }
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                if (!rows[y * width + x]) continue;
                for (int yy = Math.Max(0, y - Margin); yy <= Math.Min(height - 1, y + Margin); yy++) near[yy * width + x] = true;
            }
        for (int i = 0; i < ink.Length; i++) if (!near[i]) ink[i] = 0;
    }

    private static int[] Histogram(float[] values)
    {
        var histogram = new int[256];
        foreach (float v in values) histogram[Math.Clamp((int)MathF.Round(v), 0, 255)]++;
        return histogram;
    }

    /// <summary>The value below which <paramref name="fraction"/> of <paramref name="count"/> histogrammed values lie.</summary>
    private static float Percentile(int[] histogram, int count, double fraction)
    {
        if (count == 0) return 0;
        long target = (long)Math.Floor(fraction * (count - 1));
        long seen = 0;
        for (int v = 0; v < histogram.Length; v++)
        {
            seen += histogram[v];
            if (seen > target) return v;
        }
        return histogram.Length - 1;
    }
}
