// NumberReaderTests: generated numbers with known answers, read back with a template classifier over ten synthetic glyphs (so the tests check segmentation, merging, splitting and ordering, not a trained model).
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Tensors;

namespace DigitLab.Tests.Evaluation;

public class NumberReaderTests
{
    private static readonly (double X0, double Y0, double X1, double Y1)[][] Strokes =
    [
        [],                                                                              // 0: a ring, drawn below
        [(14, 5, 14, 23)],
        [(8, 6, 20, 6), (20, 6, 8, 22), (8, 22, 20, 22)],
        [(8, 6, 20, 6), (20, 6, 20, 22), (20, 22, 8, 22), (11, 14, 20, 14)],
        [(14, 6, 14, 22), (7, 14, 21, 14)],
        [(20, 6, 8, 6), (8, 6, 8, 14), (8, 14, 20, 14), (20, 14, 20, 22), (20, 22, 8, 22)],
        [(14, 5, 7, 22), (7, 22, 21, 22), (21, 22, 14, 5)],
        [(8, 6, 20, 6), (20, 6, 12, 22)],
        [(8, 6, 20, 22), (20, 6, 8, 22)],
        [(8, 6, 20, 6), (20, 6, 20, 22), (20, 22, 8, 22), (8, 22, 8, 6)],
    ];

    /// <summary>Glyph d: anti-aliased strokes about 3 pixels wide on 28×28.</summary>
    private static byte[] Glyph(int digit)
    {
        var image = new byte[784];
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
            {
                double d = digit == 0 ? Math.Abs(Math.Sqrt((x - 14.0) * (x - 14) + (y - 14.0) * (y - 14)) - 7) : Strokes[digit].Min(s => Distance(x, y, s));
                image[y * 28 + x] = (byte)Math.Clamp(255 * (2 - d), 0, 255);
            }
        return image;
    }

    private static double Distance(double px, double py, (double X0, double Y0, double X1, double Y1) s)
    {
        double dx = s.X1 - s.X0, dy = s.Y1 - s.Y0;
        double t = Math.Clamp(((px - s.X0) * dx + (py - s.Y0) * dy) / (dx * dx + dy * dy), 0, 1);
        return Math.Sqrt(Math.Pow(px - s.X0 - t * dx, 2) + Math.Pow(py - s.Y0 - t * dy, 2));
    }

    /// <summary>Each glyph 5 times (so a generator has a choice), labelled with its digit.</summary>
    private static MnistDataset Glyphs(params int[] digits)
    {
        digits = digits.Length == 0 ? Enumerable.Range(0, 10).ToArray() : digits;
        var chosen = Enumerable.Range(0, 5).SelectMany(_ => digits).ToArray();
        return new MnistDataset(chosen.SelectMany(Glyph).ToArray(), chosen.Select(d => (byte)d).ToArray(), "glyphs");
    }

    /// <summary>
    /// Nearest template after MNIST preprocessing; probabilities from the squared distances, with the mass of an
    /// eleventh "no digit" option at distance <see cref="RejectDistance"/>, so that a crop unlike every glyph (half a
    /// ring, two glyphs at once) gets a low probability, as a trained model's would.
    /// </summary>
    private static float[][] Templates(IReadOnlyList<byte[]> crops)
    {
        var templates = TemplateImages.Value;
        return crops.Select(c =>
        {
            var distances = templates.Select(t => t.Zip(c, (a, b) => Math.Pow((a - b) / 255.0, 2)).Sum()).ToArray();
            var e = distances.Select(d => Math.Exp(-d / Temperature)).ToArray();
            double total = e.Sum() + Math.Exp(-RejectDistance / Temperature);
            return e.Select(v => (float)(v / total)).ToArray();
        }).ToArray();
    }

    private const double Temperature = 3, RejectDistance = 15;

    private static readonly Lazy<byte[][]> TemplateImages = new(() => Enumerable.Range(0, 10).Select(d => Preprocess.ToMnist(Glyph(d), 28, 28)).ToArray());

    [Fact]
    public void GeneratorIsSeededAndPlacesDigitsAsAsked()
    {
        var glyphs = Glyphs();
        var a = NumberGenerator.Generate(glyphs, 6, DigitSpacing.Gap, new Rng(4));
        var b = NumberGenerator.Generate(glyphs, 6, DigitSpacing.Gap, new Rng(4));
        Assert.Equal(a.Pixels, b.Pixels);
        Assert.Equal(a.Text, b.Text);
        Assert.Equal(6, a.Text.Length);
        Assert.NotEqual(a.Pixels, NumberGenerator.Generate(glyphs, 6, DigitSpacing.Gap, new Rng(5)).Pixels);
        for (int i = 1; i < 6; i++) Assert.InRange(a.Boxes[i].X - a.Boxes[i - 1].Right, 2, 8);
        var touching = NumberGenerator.Generate(glyphs, 6, DigitSpacing.Touching, new Rng(4));
        for (int i = 1; i < 6; i++) Assert.InRange(touching.Boxes[i].X - touching.Boxes[i - 1].Right, -1, 0);
        var overlap = NumberGenerator.Generate(glyphs, 6, DigitSpacing.Overlap, new Rng(4));
        for (int i = 1; i < 6; i++) Assert.InRange(overlap.Boxes[i].X - overlap.Boxes[i - 1].Right, -4, -2);
    }

    [Fact]
    public void GeneratorNamesEachDigitsSourceImage()
    {
        // Each glyph drawn in its own size (digit d at 10 + d columns wide), so the box's width tells which image was used.
        var images = Enumerable.Range(0, 10).SelectMany(d => Bar(10 + d)).ToArray();
        var bars = new MnistDataset(images, Enumerable.Range(0, 10).Select(d => (byte)((d * 3) % 10)).ToArray(), "bars");
        var rng = new Rng(6);
        for (int n = 0; n < 10; n++)
        {
            var number = NumberGenerator.Generate(bars, 4, DigitSpacing.Gap, rng);
            Assert.Equal(4, number.Sources.Count);
            for (int d = 0; d < 4; d++)
            {
                int source = number.Sources[d];
                Assert.Equal(bars.Labels[source], number.Text[d] - '0');
                // Width 10 + source, scaled by 0.85..1.15.
                Assert.InRange(number.Boxes[d].Width, (int)Math.Round((10 + source) * NumberGenerator.MinScale), (int)Math.Round((10 + source) * NumberGenerator.MaxScale));
            }
        }

        static byte[] Bar(int width)
        {
            var image = new byte[784];
            for (int y = 4; y < 24; y++) for (int x = 2; x < 2 + width; x++) image[y * 28 + x] = 255;
            return image;
        }
    }

    [Fact]
    public void BenchmarkSeparatesCropErrorsFromTheClassifiersOwn()
    {
        var glyphs = Glyphs();
        // A classifier right on the dataset's own images (byte for byte) and wrong on everything else: every crop is misread, no source image is.
        var own = Enumerable.Range(0, glyphs.Count).DistinctBy(i => Convert.ToBase64String(glyphs.Image(i))).ToDictionary(i => Convert.ToBase64String(glyphs.Image(i)), i => (int)glyphs.Labels[i]);
        DigitClassifier sourcesOnly = images => images.Select(image =>
        {
            var p = new float[10];
            p[own.TryGetValue(Convert.ToBase64String(image), out int label) ? label : Metrics.ArgMax(Templates([image])[0]) is int t ? (t + 1) % 10 : 0] = 0.9f;
            return p;
        }).ToArray();
        var gap = NumberBenchmark.Run(glyphs, sourcesOnly, 6, 3).Where(r => r.Spacing == DigitSpacing.Gap).ToList();
        Assert.Equal(2, gap.Count);
        foreach (var r in gap)
        {
            Assert.Equal(0, r.SequenceAccuracy);
            Assert.Equal(1, r.SegmentedRight);
            Assert.Equal(1, r.CropError);
            Assert.Equal(0, r.SourceError);
        }
        // The mirror image: the template classifier on crops, and every dataset image misread.
        DigitClassifier cropsOnly = images => images.Select(image =>
        {
            if (!own.TryGetValue(Convert.ToBase64String(image), out int label)) return Templates([image])[0];
            var p = new float[10];
            p[(label + 1) % 10] = 0.9f;
            return p;
        }).ToArray();
        foreach (var r in NumberBenchmark.Run(glyphs, cropsOnly, 6, 3).Where(r => r.Spacing == DigitSpacing.Gap))
        {
            Assert.Equal(1, r.SequenceAccuracy);
            Assert.Equal(1, r.SegmentedRight);
            Assert.Equal(0, r.CropError);
            Assert.Equal(1, r.SourceError);
        }
    }

    [Fact]
    public void NumbersWithGapsAreReadExactlyInOrder()
    {
        var glyphs = Glyphs();
        var rng = new Rng(11);
        for (int n = 0; n < 25; n++)
        {
            var number = NumberGenerator.Generate(glyphs, 3 + rng.NextInt(8), DigitSpacing.Gap, rng);
            var read = NumberReader.Read(number.Pixels, number.Width, number.Height, Templates);
            Assert.Equal(number.Text, read.Text);
            for (int i = 0; i < read.Digits.Count; i++)
                Assert.InRange(read.Digits[i].Box.X, number.Boxes[i].X - 1, number.Boxes[i].X + 2);
            Assert.Equal(read.Digits.Aggregate(1.0, (p, d) => p * d.Confidence), read.Confidence, 12);
        }
    }

    [Fact]
    public void DarkInkOnLightPaperReadsTheSame()
    {
        var number = NumberGenerator.Generate(Glyphs(), 5, DigitSpacing.Gap, new Rng(2));
        var inverted = number.Pixels.Select(p => (byte)(255 - p)).ToArray();
        Assert.Equal(number.Text, NumberReader.Read(inverted, number.Width, number.Height, Templates).Text);
    }

    [Fact]
    public void TouchingDigitsAreSplitByTheClassifiersScore()
    {
        // Rings touching side by side form one component twice as wide as it is tall: it must be cut, and the cut with the
        // best-read halves is between the rings.
        var rings = Glyphs(0);
        var rng = new Rng(3);
        for (int n = 0; n < 10; n++)
        {
            var number = NumberGenerator.Generate(rings, 2 + rng.NextInt(2), DigitSpacing.Touching, rng);
            Assert.True(NumberReader.FindDigitBoxes(number.Pixels, number.Width, number.Height).Count < number.Text.Length, "the digits did not touch");
            Assert.Equal(number.Text, NumberReader.Read(number.Pixels, number.Width, number.Height, Templates).Text);
        }
    }

    [Fact]
    public void ABrokenStrokeStaysWithItsDigit()
    {
        // A "7" whose bar is detached from its stem, and a separate short piece above a "1": each is one digit.
        var image = new byte[40 * 60];
        void Bar(int x0, int x1, int y0, int y1) { for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) image[y * 60 + x] = 255; }
        Bar(8, 22, 8, 11);      // the 7's bar
        Bar(18, 21, 13, 32);    // its stem, 2 rows below the bar
        Bar(38, 41, 12, 32);    // a 1
        Bar(36, 39, 6, 9);      // a flick above it, not touching
        var boxes = NumberReader.FindDigitBoxes(image, 60, 40);
        Assert.Equal(2, boxes.Count);
        Assert.Equal(new DigitBox(8, 8, 14, 24), boxes[0]);
        Assert.Equal(new DigitBox(36, 6, 5, 26), boxes[1]);
    }

    [Fact]
    public void AnEmptyImageIsRefusedWithAMessage()
    {
        var e = Assert.Throws<EmptyImageException>(() => NumberReader.Read(new byte[30 * 50], 50, 30, Templates));
        Assert.Contains("no ink", e.Message);
    }

    [Theory]
    [InlineData("12345", "12345", 0), InlineData("12345", "1245", 1), InlineData("12345", "123456", 1), InlineData("12345", "12945", 1), InlineData("", "12", 2)]
    public void EditDistanceCountsInsertionsDeletionsAndSubstitutions(string a, string b, int expected) =>
        Assert.Equal(expected, NumberBenchmark.EditDistance(a, b));
}
