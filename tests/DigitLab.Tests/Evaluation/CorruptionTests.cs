// CorruptionTests: the MNIST-C corruptions and severity sweeps are seeded, keep shape and range, change the image, and the simple ones do exactly what they say.
using DigitLab.Evaluation;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Tests.Data;

namespace DigitLab.Tests.Evaluation;

public class CorruptionTests
{
    /// <summary>A ring off the centre (so shifts and rotations move ink), as floats in [0, 1].</summary>
    private static float[] Ring() => SyntheticData.Ring(cx: 12, cy: 15).Select(b => b / 255f).ToArray();

    private static float[] Run(Corruption c, float[] x, ulong seed)
    {
        var y = new float[ImageOps.Pixels];
        c.Apply(x, y, CorruptedSet.StreamFor(seed, c.Name, 0));
        return y;
    }

    public static TheoryData<string> Names() => [.. Corruptions.All.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void EachCorruptionIsSeededKeepsRangeAndChangesTheImage(string name)
    {
        var c = Corruptions.Get(name);
        var x = Ring();
        var a = Run(c, x, 7);
        Assert.Equal(a, Run(c, x, 7));
        Assert.Equal(ImageOps.Pixels, a.Length);
        Assert.All(a, v => Assert.InRange(v, 0f, 1f));
        Assert.NotEqual(x, a);
    }

    [Theory]
    [InlineData("shot_noise"), InlineData("impulse_noise"), InlineData("glass_blur"), InlineData("motion_blur"), InlineData("shear"), InlineData("rotate"),
     InlineData("translate"), InlineData("fog"), InlineData("spatter"), InlineData("dotted_line"), InlineData("zigzag")]
    public void RandomCorruptionsDependOnTheSeed(string name)
    {
        var c = Corruptions.Get(name);
        var x = Ring();
        var first = Run(c, x, 1);
        // Shear, rotate and translate only draw signs, so look for a difference among a few seeds.
        Assert.Contains(Enumerable.Range(2, 8), s => !Run(c, x, (ulong)s).SequenceEqual(first));
    }

    [Fact]
    public void TranslateMovesEveryPixelByThreeInEachAxis()
    {
        var x = Ring();
        var y = Run(Corruptions.Get("translate"), x, 3);
        bool matched = false;
        foreach (int dx in new[] { -3, 3 })
            foreach (int dy in new[] { -3, 3 })
            {
                bool all = true;
                for (int r = 0; r < 28 && all; r++)
                    for (int c = 0; c < 28 && all; c++)
                    {
                        int sr = r + dy, sc = c + dx;
                        float expected = sr is >= 0 and < 28 && sc is >= 0 and < 28 ? x[sr * 28 + sc] : 0f;
                        all = y[r * 28 + c] == expected;
                    }
                matched |= all;
            }
        Assert.True(matched, "translate is not a shift by (±3, ±3)");
    }

    [Fact]
    public void FullInversionIs255MinusThePixel()
    {
        var bytes = SyntheticData.Ring();
        var inversion = SeveritySweeps.All.Single(s => s.Name == "inversion").At(1);
        var y = CorruptedSet.Apply(inversion, bytes, new Rng(1));
        Assert.Equal(bytes.Select(b => (byte)(255 - b)), y);
    }

    [Fact]
    public void BrightnessAddsHalfAndRaisesTheMean()
    {
        var x = Ring();
        var y = Run(Corruptions.Get("brightness"), x, 1);
        for (int i = 0; i < x.Length; i++) Assert.Equal(Math.Min(1f, x[i] + 0.5f), y[i]);
        Assert.True(y.Average() > x.Average() + 0.4);
    }

    [Fact]
    public void StripeInvertsTheOuterColumnsOnly()
    {
        var x = Ring();
        var y = Run(Corruptions.Get("stripe"), x, 1);
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                Assert.Equal(c < 7 || c >= 21 ? 1 - x[r * 28 + c] : x[r * 28 + c], y[r * 28 + c]);
    }

    [Fact]
    public void ScaleShrinksTheInkAboutTheCentre()
    {
        var x = SyntheticData.Ring().Select(b => b / 255f).ToArray();            // centred ring
        var y = Run(Corruptions.Get("scale"), x, 1);
        // Ink shrinks to 70% in each direction: about half the area, so about half the total ink.
        double ratio = y.Sum() / x.Sum();
        Assert.InRange(ratio, 0.7 * 0.7 * 0.85, 0.7 * 0.7 * 1.15);
    }

    [Fact]
    public void RotationByNinetyDegreesMovesPixelsExactly()
    {
        var x = Ring();
        var y = new float[784];
        ImageOps.Rotate(x, y, Math.PI / 2);
        // Inverse map at 90°: output (col, row) reads the input at (centre − v, centre + u), u = col − centre, v = row − centre.
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
                Assert.Equal(x[c * 28 + (27 - r)], y[r * 28 + c], 1e-5f);
    }

    [Fact]
    public void DilationGrowsAPointToASquareAndErosionShrinksItBack()
    {
        var x = new float[784];
        x[14 * 28 + 14] = 1;
        var grown = new float[784];
        ImageOps.Morphology(x, grown, 1);
        Assert.Equal(9, grown.Count(v => v == 1));
        for (int r = 13; r <= 15; r++) for (int c = 13; c <= 15; c++) Assert.Equal(1f, grown[r * 28 + c]);
        var back = new float[784];
        ImageOps.Morphology(grown, back, -1);
        Assert.Equal(x, back);
    }

    [Fact]
    public void DownSamplingKeepsAConstantImageAndLosesDetail()
    {
        var flat = Enumerable.Repeat(0.4f, 784).ToArray();
        var y = new float[784];
        ImageOps.DownUp(flat, y, 7);
        Assert.All(y, v => Assert.Equal(0.4f, v, 1e-5f));
        var x = Ring();
        ImageOps.DownUp(x, y, 7);
        Assert.True(x.Zip(y).Sum(p => Math.Abs(p.First - p.Second)) > 20);
    }

    [Fact]
    public void CannyFindsTheOutlineOfASquare()
    {
        var x = new float[784];
        for (int r = 8; r < 20; r++) for (int c = 8; c < 20; c++) x[r * 28 + c] = 1;
        var y = Run(Corruptions.Get("canny_edges"), x, 1);
        Assert.All(y, v => Assert.True(v == 0 || v == 1));
        Assert.Equal(0f, y[14 * 28 + 14]);                 // inside
        Assert.Equal(0f, y[2 * 28 + 2]);                   // far outside
        Assert.True(y[14 * 28 + 7] + y[14 * 28 + 8] > 0);   // left edge
        Assert.True(y[7 * 28 + 14] + y[8 * 28 + 14] > 0);   // top edge
    }

    [Fact]
    public void CorruptedSetIsTheSameImageByImageAsApplyingOneAtATime()
    {
        var data = SyntheticData.Dataset(40);
        var c = Corruptions.Get("spatter");
        var set = CorruptedSet.Apply(c, data, 5);
        Assert.Equal(data.Labels, set.Labels);
        for (int i = 0; i < data.Count; i++)
            Assert.Equal(CorruptedSet.Apply(c, data.Image(i), CorruptedSet.StreamFor(5, c.Name, i)), set.Image(i).ToArray());
    }

    [Fact]
    public void EveryImageHasItsOwnRandomStream()
    {
        var ring = SyntheticData.Ring();
        var data = new DigitLab.Data.MnistDataset(Enumerable.Range(0, 6).SelectMany(_ => ring).ToArray(), new byte[6], "six equal rings");
        var set = CorruptedSet.Apply(Corruptions.Get("shot_noise"), data, 1);
        for (int i = 0; i < 6; i++)
            for (int j = i + 1; j < 6; j++)
                Assert.False(set.Image(i).SequenceEqual(set.Image(j)), $"images {i} and {j} were corrupted with the same noise");
    }

    [Fact]
    public void BenchmarkMeanIsTheMeanOfTheFifteenAndRelativeDividesByClean()
    {
        var model = new Sequential(new Flatten(), new Linear(784, 10));
        model.ResetAllParameters(new Rng(3));
        var bench = new RobustnessBenchmark(SyntheticData.Dataset(30), seed: 2, includeSweeps: false);
        var result = bench.Measure(new ModelRunner(model, DigitLab.Data.Normalization.Mnist, ModuleCalls.Compute), "linear", "none");
        Assert.Equal(15, result.Corruptions.Count);
        Assert.Equal(result.Corruptions.Average(c => c.Error), result.MeanCorruptionError, 12);
        Assert.Equal(RobustnessBenchmark.Relative(result.MeanCorruptionError, result.CleanError), result.RelativeMeanError);
        Assert.Equal(6.0, RobustnessBenchmark.Relative(0.06, 0.01), 12);
        Assert.Equal(15 * RobustnessBenchmark.ExamplesPerCorruption, result.Examples.Count);
    }
}
