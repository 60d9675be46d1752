using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Tests.Data;

public class AugmenterTests
{
    private static float[] Augment(AugmentationOptions options, byte[] image, ulong seed)
    {
        var output = new float[784];
        new Augmenter(options).Apply(image, output, new Rng(seed));
        return output;
    }

    [Fact]
    public void SameSeedSameImageOtherSeedOtherImage()
    {
        var ring = SyntheticData.Ring();
        foreach (var options in new[] { AugmentationOptions.Affine, AugmentationOptions.Elastic, AugmentationOptions.AffineElastic })
        {
            Assert.Equal(Augment(options, ring, 1), Augment(options, ring, 1));
            Assert.NotEqual(Augment(options, ring, 1), Augment(options, ring, 2));
        }
    }

    [Fact]
    public void IdentityOptionsReturnTheImage()
    {
        var ring = SyntheticData.Ring();
        var identity = new AugmentationOptions { RotationDegrees = 0, TranslatePixels = 0, ScaleMin = 1, ScaleMax = 1 };
        var output = Augment(identity, ring, 3);
        for (int i = 0; i < 784; i++) Assert.Equal(ring[i] / 255f, output[i], 5);
    }

    [Fact]
    public void PureTranslationMovesTheCentreOfMassByTheShift()
    {
        var ring = SyntheticData.Ring();
        // With no rotation or scaling, the shift is TranslatePixels * (2u - 1); pin the draw by reusing the Rng sequence.
        var options = new AugmentationOptions { RotationDegrees = 0, ScaleMin = 1, ScaleMax = 1, TranslatePixels = 3 };
        var rng = new Rng(21);
        var probe = new Rng(21);
        probe.NextFloat(); probe.NextFloat(); // angle, scale
        float tx = 3 * (2 * probe.NextFloat() - 1), ty = 3 * (2 * probe.NextFloat() - 1);
        var output = new float[784];
        new Augmenter(options).Apply(ring, output, rng);
        var (cx0, cy0, _) = CentreOfMass(ring.Select(b => b / 255f).ToArray());
        var (cx1, cy1, _) = CentreOfMass(output);
        const double Tolerance = 1e-3; // bilinear interpolation keeps the first moment while no ink leaves the frame
        Assert.Equal(cx0 + tx, cx1, Tolerance);
        Assert.Equal(cy0 + ty, cy1, Tolerance);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DigitMassStaysInsideTheFrame(bool elastic)
    {
        // A digit-sized ring (MNIST digits fit a 20x20 box centred in the 28x28 frame). For each random
        // draw the outermost pixel ring must stay almost dark and the centre of mass near the centre;
        // for the affine transform alone the mass must also be the original times scale² (no ink lost
        // outside the frame). Elastic distortion stretches and compresses strokes locally, so it
        // changes the mass by design and only the border and centre are checked for it.
        const double AffineMassTolerance = 0.03; // bilinear resampling of a smooth ring
        var ring = SyntheticData.Ring(radius: 7, thickness: 2.5);
        double mass0 = ring.Sum(b => b / 255.0);
        var options = elastic ? AugmentationOptions.AffineElastic : AugmentationOptions.Affine;
        var augmenter = new Augmenter(options);
        var output = new float[784];
        double worstBorder = 0, meanBorder = 0;
        const int Trials = 200;
        for (ulong trial = 0; trial < Trials; trial++)
        {
            var probe = new Rng(trial);
            probe.NextFloat(); // angle
            float scale = options.ScaleMin + (options.ScaleMax - options.ScaleMin) * probe.NextFloat();
            augmenter.Apply(ring, output, new Rng(trial));
            var (cx, cy, mass) = CentreOfMass(output);
            double expected = mass0 * scale * scale;
            if (!elastic)
                Assert.True(Math.Abs(mass - expected) <= AffineMassTolerance * expected, $"trial {trial}: mass {mass:F1}, expected {expected:F1} (scale {scale:F3})");
            double border = 0;
            for (int i = 0; i < 28; i++) border += output[i] + output[27 * 28 + i] + output[i * 28] + output[i * 28 + 27];
            worstBorder = Math.Max(worstBorder, border / mass);
            meanBorder += border / mass / Trials;
            if (!elastic)
            {
                // The ring is centred, so rotation and scaling keep its centre; only the shift moves it.
                double shiftBound = options.TranslatePixels + 0.05;
                Assert.InRange(cx, 13.5 - shiftBound, 13.5 + shiftBound);
                Assert.InRange(cy, 13.5 - shiftBound, 13.5 + shiftBound);
            }
            foreach (float v in output) Assert.InRange(v, 0f, 1f);
        }
        // Share of the ink on the outermost pixels: a rare strong draw may graze the border, a typical one must not.
        const double WorstBorderShare = 0.025, MeanBorderShare = 0.001;
        Assert.True(worstBorder < WorstBorderShare, $"up to {worstBorder:P2} of the mass on the frame's border");
        Assert.True(meanBorder < MeanBorderShare, $"on average {meanBorder:P3} of the mass on the frame's border");
    }

    [Fact]
    public void ParsesNames()
    {
        Assert.Null(AugmentationOptions.Parse("none"));
        Assert.Same(AugmentationOptions.Affine, AugmentationOptions.Parse("affine"));
        Assert.Same(AugmentationOptions.AffineElastic, AugmentationOptions.Parse("affine+elastic"));
        Assert.Throws<ArgumentException>(() => AugmentationOptions.Parse("blur"));
    }

    internal static (double X, double Y, double Mass) CentreOfMass(ReadOnlySpan<float> image, int size = 28)
    {
        double m = 0, x = 0, y = 0;
        for (int i = 0; i < image.Length; i++) { m += image[i]; x += image[i] * (i % size); y += image[i] * (i / size); }
        return (x / m, y / m, m);
    }
}
