// NumberReader: reads a number written in one image: connected components, merged when they are pieces of one digit, split where digits touch (cuts scored by the classifier), ordered left to right, each recognised after MNIST preprocessing.
using DigitLab.Data;

namespace DigitLab.Evaluation;

/// <summary>One recognised digit: its value, the classifier's probability for it, its box in the input and all ten probabilities.</summary>
public sealed record ReadDigit(int Digit, float Confidence, DigitBox Box, float[] Probabilities);

/// <summary>The number read: its text, each digit, and the overall confidence (the product of the digits').</summary>
public sealed record ReadResult(string Text, IReadOnlyList<ReadDigit> Digits, double Confidence);

/// <summary>Class probabilities for a batch of 784-byte MNIST-style images (ink 255 on 0).</summary>
public delegate float[][] DigitClassifier(IReadOnlyList<byte[]> images);

/// <summary>
/// Segmentation and recognition of a handwritten number. Steps: (1) polarity and background as <see cref="Preprocess"/>
/// does; (2) ink above <see cref="InkThreshold"/> of the strongest, in 8-connected components; (3) pieces of one digit
/// are merged: components whose column ranges overlap by at least <see cref="MergeOverlap"/> of the narrower one (a 5's
/// detached bar, a broken 4), and specks smaller than <see cref="SpeckFraction"/> of the median component joined to
/// the nearest one (or dropped when nothing is within <see cref="SpeckReach"/> pixels); (4) a segment wider than
/// <see cref="SplitAspect"/> × the typical digit height may hold touching digits: cuts at the low-ink columns into 2..4
/// parts are scored by the classifier (mean log of each part's top probability) and the best reading wins, the unsplit
/// one included unless the segment is wider than <see cref="MustSplitAspect"/> × the height; (5) each part is cropped,
/// padded and preprocessed as MNIST was, and classified.
/// </summary>
public static class NumberReader
{
    public const double InkThreshold = 0.3, MergeOverlap = 0.5, SpeckFraction = 0.1, SplitAspect = 0.85, MustSplitAspect = 1.5;
    public const int SpeckReach = 3;

    /// <summary>A component shorter than this fraction of the median height is a piece of the digit next to it.</summary>
    public const double ShortPiece = 0.5;

    /// <summary>Low-ink columns tried as cuts in one segment (the lowest first); up to 3 cuts among them are scored.</summary>
    public const int MaxCutCandidates = 10;

    /// <summary>Segments up to <see cref="FreeSplitAspect"/> × the height are split only when the whole reads below this probability.</summary>
    public const double KeepWholeConfidence = 0.6, FreeSplitAspect = 1.0;

    /// <summary>Narrowest part a cut may leave, as a fraction of the typical digit height ("1" is about 0.15–0.3).</summary>
    public const double MinPartWidth = 0.18;

    private sealed class Segment
    {
        public List<int> Pixels { get; } = [];
        public int Id;
        public int X0 = int.MaxValue, Y0 = int.MaxValue, X1 = -1, Y1 = -1;
        public int Width => X1 - X0 + 1;
        public int Height => Y1 - Y0 + 1;
        public void Add(int i, int width) { Pixels.Add(i); int x = i % width, y = i / width; X0 = Math.Min(X0, x); X1 = Math.Max(X1, x); Y0 = Math.Min(Y0, y); Y1 = Math.Max(Y1, y); }
        public void Absorb(Segment other, int width) { foreach (int i in other.Pixels) Add(i, width); }
    }

    /// <summary>Reads the number in a grey image (<paramref name="height"/> × <paramref name="width"/> bytes, either polarity).</summary>
    /// <exception cref="EmptyImageException">No ink in the image.</exception>
    public static ReadResult Read(ReadOnlySpan<byte> grey, int width, int height, DigitClassifier classify)
    {
        var ink = Ink(grey, width, height);
        var segments = Segments(ink, width, height);
        if (segments.Count == 0) throw new EmptyImageException($"The {width}x{height} image holds no ink: write a number and try again.");
        double typical = Median(segments.Select(s => (double)s.Height));
        // Which segment owns each above-threshold pixel: a crop keeps its own ink and the faint edges around it, not a neighbour's strokes.
        var owner = new int[ink.Length];
        for (int k = 0; k < segments.Count; k++) { segments[k].Id = k + 1; foreach (int i in segments[k].Pixels) owner[i] = k + 1; }
        var digits = new List<ReadDigit>();
        foreach (var segment in segments.OrderBy(s => s.X0))
            digits.AddRange(ReadSegment(segment, ink, owner, width, Math.Max(typical, segment.Height), classify));
        double confidence = digits.Aggregate(1.0, (p, d) => p * d.Confidence);
        return new ReadResult(string.Concat(digits.Select(d => (char)('0' + d.Digit))), digits, confidence);
    }

    /// <summary>The digit boxes found before recognition (components after the merge rules), left to right.</summary>
    public static IReadOnlyList<DigitBox> FindDigitBoxes(ReadOnlySpan<byte> grey, int width, int height) =>
        Segments(Ink(grey, width, height), width, height).OrderBy(s => s.X0).Select(s => new DigitBox(s.X0, s.Y0, s.Width, s.Height)).ToList();

    /// <summary>Ink in [0, 255] with the background removed, light ink on dark whatever the input's polarity.</summary>
    private static float[] Ink(ReadOnlySpan<byte> grey, int width, int height)
    {
        if (width < 1 || height < 1 || grey.Length != (long)width * height)
            throw new ArgumentException($"A {width}x{height} grey image needs {(long)width * height} bytes, found {grey.Length}.");
        var border = new List<int>();
        for (int x = 0; x < width; x++) { border.Add(grey[x]); border.Add(grey[(height - 1) * width + x]); }
        for (int y = 1; y < height - 1; y++) { border.Add(grey[y * width]); border.Add(grey[y * width + width - 1]); }
        bool invert = border.Average() > 127.5;
        var sorted = border.Select(b => invert ? 255 - b : b).OrderBy(v => v).ToArray();
        float background = sorted[sorted.Length / 2];
        float stretch = background < 255 ? 255f / (255f - background) : 1f;
        var ink = new float[grey.Length];
        for (int i = 0; i < ink.Length; i++) ink[i] = Math.Max(0, (invert ? 255 - grey[i] : grey[i]) - background) * stretch;
        return ink;
    }

    private static List<Segment> Segments(float[] ink, int width, int height)
    {
        float max = ink.Max();
        if (max < Preprocess.MinInk) return [];
        float threshold = (float)(max * InkThreshold);
        // (2) 8-connected components of the thresholded ink.
        var label = new int[ink.Length];
        var components = new List<Segment>();
        var stack = new Stack<int>();
        for (int start = 0; start < ink.Length; start++)
        {
            if (ink[start] <= threshold || label[start] != 0) continue;
            var s = new Segment();
            components.Add(s);
            label[start] = components.Count;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                s.Add(i, width);
                int x = i % width, y = i / width;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int xx = x + dx, yy = y + dy;
                        if ((uint)xx >= width || (uint)yy >= height) continue;
                        int j = yy * width + xx;
                        if (ink[j] > threshold && label[j] == 0) { label[j] = components.Count; stack.Push(j); }
                    }
            }
        }
        // (3a) Specks: joined to the nearest component in column distance, or dropped as noise.
        double medianArea = Median(components.Select(c => (double)c.Pixels.Count));
        var specks = components.Where(c => c.Pixels.Count < SpeckFraction * medianArea).ToList();
        var parts = components.Except(specks).ToList();
        foreach (var speck in specks)
        {
            var nearest = parts.OrderBy(p => ColumnGap(p, speck)).FirstOrDefault();
            if (nearest is not null && ColumnGap(nearest, speck) <= SpeckReach) nearest.Absorb(speck, width);
        }
        // (3b) Pieces stacked in the same columns belong to one digit; so does a short piece (a 5's bar) beside or over a taller one.
        parts = parts.OrderBy(p => p.X0).ToList();
        double typical = Median(parts.Select(p => (double)p.Height));
        foreach (var piece in parts.Where(p => p.Height < ShortPiece * typical).ToList())
        {
            var host = parts.Where(p => p != piece && p.Height >= ShortPiece * typical).OrderBy(p => ColumnGap(p, piece)).FirstOrDefault();
            if (host is not null && ColumnGap(host, piece) <= SpeckReach) { host.Absorb(piece, width); parts.Remove(piece); }
        }
        for (bool merged = true; merged;)
        {
            merged = false;
            for (int a = 0; a < parts.Count && !merged; a++)
                for (int b = a + 1; b < parts.Count && !merged; b++)
                {
                    int overlap = Math.Min(parts[a].X1, parts[b].X1) - Math.Max(parts[a].X0, parts[b].X0) + 1;
                    if (overlap >= MergeOverlap * Math.Min(parts[a].Width, parts[b].Width))
                    {
                        parts[a].Absorb(parts[b], width);
                        parts.RemoveAt(b);
                        merged = true;
                    }
                }
        }
        return parts;
    }

    /// <summary>(4)–(5): reads one segment as one or several digits.</summary>
    private static IEnumerable<ReadDigit> ReadSegment(Segment s, float[] ink, int[] owner, int width, double typicalHeight, DigitClassifier classify)
    {
        double aspect = s.Width / typicalHeight;
        var readings = new List<List<(int From, int To)>>();             // column ranges [From, To) relative to the image
        if (aspect <= MustSplitAspect) readings.Add([(s.X0, s.X1 + 1)]);
        if (aspect > SplitAspect)
        {
            var cuts = CutCandidates(s, ink, width, typicalHeight);
            int minWidth = (int)Math.Ceiling(MinPartWidth * typicalHeight);
            int maxParts = Math.Min(4, Math.Max(2, (int)(aspect / 0.45)));
            foreach (var chosen in Combinations(cuts, maxParts - 1))
            {
                var bounds = new List<int> { s.X0 };
                bounds.AddRange(chosen);
                bounds.Add(s.X1 + 1);
                if (bounds.Zip(bounds.Skip(1)).All(p => p.Second - p.First >= minWidth))
                    readings.Add(bounds.Zip(bounds.Skip(1)).Select(p => (p.First, p.Second)).ToList());
            }
            if (readings.Count == 0) readings.Add([(s.X0, s.X1 + 1)]);
        }
        // All candidate parts in one classifier call.
        var crops = new List<(byte[] Image, DigitBox Box)?>();
        var index = new Dictionary<(int, int), int>();
        foreach (var reading in readings)
            foreach (var range in reading)
                if (!index.ContainsKey(range)) { index[range] = crops.Count; crops.Add(Crop(s, ink, owner, width, range.From, range.To)); }
        var valid = crops.Where(c => c is not null).Select(c => c!.Value.Image).ToList();
        var probabilities = classify(valid);
        var byCrop = new float[crops.Count][];
        for (int i = 0, v = 0; i < crops.Count; i++) if (crops[i] is not null) byCrop[i] = probabilities[v++];
        List<(int, int)>? best = null;
        double bestScore = double.NegativeInfinity;
        // A segment of about one digit's width that reads confidently as one digit stays whole: a wide 0, 2 or 6 would
        // otherwise often read as two confident halves.
        if (aspect <= FreeSplitAspect && crops[index[readings[0][0]]] is not null && readings[0].Count == 1
            && byCrop[index[readings[0][0]]].Max() >= KeepWholeConfidence)
            readings = [readings[0]];
        foreach (var reading in readings)
        {
            if (reading.Any(r => crops[index[r]] is null)) continue;
            double score = reading.Average(r => Math.Log(Math.Max(1e-9, byCrop[index[r]].Max())));
            if (score > bestScore) { bestScore = score; best = reading; }
        }
        if (best is null) yield break;
        foreach (var range in best)
        {
            var p = byCrop[index[range]];
            int digit = Metrics.ArgMax(p);
            yield return new ReadDigit(digit, p[digit], crops[index[range]]!.Value.Box, p);
        }
    }

    /// <summary>Columns where a cut crosses little ink: local minima of the segment's column sums, away from its ends.</summary>
    private static List<int> CutCandidates(Segment s, float[] ink, int width, double typicalHeight)
    {
        var sums = new double[s.Width];
        foreach (int i in s.Pixels) sums[i % width - s.X0] += ink[i];
        int margin = (int)Math.Ceiling(MinPartWidth * typicalHeight);
        var candidates = new List<(int Column, double Sum)>();
        for (int c = margin; c <= s.Width - margin; c++)
        {
            double left = sums[Math.Max(0, c - 1)], here = sums[Math.Min(s.Width - 1, c)], right = sums[Math.Min(s.Width - 1, c + 1)];
            if (here <= left && here <= right) candidates.Add((s.X0 + c, here));
        }
        // The lowest few keep the search small.
        return candidates.OrderBy(c => c.Sum).Take(MaxCutCandidates).Select(c => c.Column).OrderBy(c => c).ToList();
    }

    private static IEnumerable<List<int>> Combinations(List<int> items, int maxCount)
    {
        for (int k = 1; k <= Math.Min(maxCount, items.Count); k++)
            foreach (var c in Choose(items, k, 0)) yield return c;
    }

    private static IEnumerable<List<int>> Choose(List<int> items, int k, int start)
    {
        if (k == 0) { yield return []; yield break; }
        for (int i = start; i <= items.Count - k; i++)
            foreach (var rest in Choose(items, k - 1, i + 1)) yield return [items[i], .. rest];
    }

    /// <summary>
    /// The segment's ink in columns [from, to) (its own pixels, plus unowned faint pixels within one pixel of its box),
    /// padded by 4 background pixels and preprocessed as MNIST; null if empty.
    /// </summary>
    private static (byte[] Image, DigitBox Box)? Crop(Segment s, float[] ink, int[] owner, int width, int from, int to)
    {
        var pixels = s.Pixels.Where(i => i % width >= from && i % width < to).ToList();
        if (pixels.Count == 0) return null;
        int height = ink.Length / width;
        int x0 = pixels.Min(i => i % width), x1 = pixels.Max(i => i % width), y0 = pixels.Min(i => i / width), y1 = pixels.Max(i => i / width);
        const int pad = 4;
        int w = x1 - x0 + 1 + 2 * pad, h = y1 - y0 + 1 + 2 * pad;
        var grey = new byte[w * h];
        for (int y = Math.Max(0, y0 - 1); y <= Math.Min(height - 1, y1 + 1); y++)
            for (int x = Math.Max(from, x0 - 1); x <= Math.Min(to - 1, x1 + 1); x++)
            {
                int i = y * width + x;
                if (owner[i] == s.Id || owner[i] == 0) grey[(y - y0 + pad) * w + x - x0 + pad] = (byte)Math.Clamp(MathF.Round(ink[i]), 0, 255);
            }
        if (!Preprocess.TryRun(grey, w, h, out var result, out _)) return null;
        return (result!.Pixels, new DigitBox(x0, y0, x1 - x0 + 1, y1 - y0 + 1));
    }

    private static int ColumnGap(Segment a, Segment b) => Math.Max(0, Math.Max(a.X0, b.X0) - Math.Min(a.X1, b.X1) - 1);

    private static double Median(IEnumerable<double> values)
    {
        var v = values.OrderBy(x => x).ToArray();
        return v.Length == 0 ? 0 : v[v.Length / 2];
    }
}
