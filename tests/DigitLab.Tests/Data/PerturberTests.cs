// PerturberTests: each perturbation family does what it says, draws are reproducible, the share perturbed is as asked,
// and the robust augmentation leaves the affine draws that precede it unchanged.
using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Tests.Data;

public class PerturberTests
{
    private static float[] Ring() => SyntheticData.Ring().Select(b => b / 255f).ToArray();

    private static float[] Perturbed(PerturbationFamily family, float[] image, ulong seed, PerturbationOptions? options = null)
    {
        var copy = (float[])image.Clone();
        new Perturber(options).Apply(family, copy, new Rng(seed));
        return copy;
    }

    [Fact]
    public void EveryFamilyIsReproducibleChangesTheImageAndStaysInRange()
    {
        var ring = Ring();
        foreach (var family in Enum.GetValues<PerturbationFamily>())
        {
            var a = Perturbed(family, ring, 5);
            Assert.Equal(a, Perturbed(family, ring, 5));
            Assert.NotEqual(ring, a);
            Assert.All(a, v => Assert.InRange(v, 0f, 1f));
        }
    }

    [Fact]
    public void LightingAddsASmoothNonNegativeFieldNoHigherThanItsPeak()
    {
        var options = new PerturbationOptions { LightingMax = 0.6f };
        var lit = Perturbed(PerturbationFamily.Lighting, new float[784], 7, options);
        Assert.All(lit, v => Assert.InRange(v, 0f, 0.6f));
        Assert.True(lit.Max() > 0.05f, $"the field should light the image, brightest pixel {lit.Max()}");
        // Bilinear over a 4×4 grid: neighbouring pixels differ by at most peak · (3/27) per step in each direction.
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 27; x++)
                Assert.True(MathF.Abs(lit[y * 28 + x + 1] - lit[y * 28 + x]) <= 0.6f * 3 / 27 + 1e-6f);
    }

    [Fact]
    public void StrokeWidthDilationGrowsAPixelIntoAPlus()
    {
        var dot = new float[784];
        dot[14 * 28 + 14] = 1f;
        // Find a seed whose draw dilates (the first draw < 0.5) — the family draws dilate-or-erode first.
        for (ulong seed = 1; seed < 100; seed++)
        {
            var replay = new Rng(seed);
            if (replay.NextFloat() >= 0.5f) continue;
            float w = replay.Uniform(0.5f, 1f); // the blend weight towards the dilated image, drawn second
            var grown = Perturbed(PerturbationFamily.StrokeWidth, dot, seed);
            Assert.True(w < 0.999f, "pick a seed whose weight is visibly partial");
            foreach (int i in new[] { 13 * 28 + 14, 15 * 28 + 14, 14 * 28 + 13, 14 * 28 + 15 }) Assert.Equal(w, grown[i]);
            Assert.Equal(1f, grown[14 * 28 + 14]);
            Assert.Equal(0f, grown[13 * 28 + 13]); // diagonal: not in the 4-neighbourhood
            Assert.Equal(5, grown.Count(v => v > 0));
            return;
        }
        Assert.Fail("no seed below 100 draws a dilation");
    }

    [Fact]
    public void ClutterOnlyAddsInk()
    {
        var ring = Ring();
        var cluttered = Perturbed(PerturbationFamily.Clutter, ring, 11);
        for (int i = 0; i < 784; i++) Assert.True(cluttered[i] >= ring[i]);
        Assert.True(cluttered.Sum() > ring.Sum() + 3, "a stroke across the frame adds several pixels of ink");
    }

    [Fact]
    public void BlurKeepsTheInkOfACentredImageAndSpreadsIt()
    {
        var ring = Ring();
        var blurred = Perturbed(PerturbationFamily.Blur, ring, 13);
        Assert.Equal(ring.Sum(), blurred.Sum(), 0.01f * ring.Sum()); // the ring is far from the border: nothing leaks out
        Assert.True(blurred.Count(v => v > 0.01f) > ring.Count(v => v > 0.01f));
    }

    [Fact]
    public void NoiseHasTheDrawnSpreadAndNoBias()
    {
        var grey = Enumerable.Repeat(0.5f, 784).ToArray();
        var options = new PerturbationOptions { NoiseSigmaMax = 0.2f }; // σ ≤ 0.2 keeps 0.5 ± noise away from the clip at 2.5σ
        var rng = new Rng(17);
        float sigma = 0.2f * new Rng(17).NextFloat(); // the first draw is σ
        var noisy = (float[])grey.Clone();
        new Perturber(options).Apply(PerturbationFamily.Noise, noisy, rng);
        double mean = noisy.Average(), sd = Math.Sqrt(noisy.Select(v => (v - mean) * (v - mean)).Average());
        Assert.InRange(mean, 0.5 - 4 * sigma / 28, 0.5 + 4 * sigma / 28); // 4 standard errors of the mean of 784 draws
        Assert.InRange(sd, 0.85 * sigma, 1.15 * sigma);
    }

    [Fact]
    public void TheShareOfImagesPerturbedIsTheProbability()
    {
        var perturber = new Perturber(new PerturbationOptions { Probability = 0.3f });
        var rng = new Rng(19);
        var image = new float[784];
        int perturbed = 0, n = 4000;
        for (int i = 0; i < n; i++) if (perturber.Apply(image, rng) is not null) perturbed++;
        // Binomial(4000, 0.3): sd ≈ 29, so ± 120 is about 4 sd.
        Assert.InRange(perturbed, 1200 - 120, 1200 + 120);
        Assert.Null(new Perturber(new PerturbationOptions { Probability = 0 }).Apply(image, rng));
    }

    [Fact]
    public void RobustAugmentationStartsWithTheAffineDrawsAndThenPerturbs()
    {
        var ring = SyntheticData.Ring();
        int changed = 0;
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var affine = new float[784];
            new Augmenter(AugmentationOptions.Affine).Apply(ring, affine, new Rng(seed));
            var robust = new float[784];
            new Augmenter(AugmentationOptions.Robust).Apply(ring, robust, new Rng(seed));
            // The perturbation, if any, follows from the same generator after the four affine draws.
            var rng = new Rng(seed);
            for (int i = 0; i < 4; i++) rng.NextFloat();
            var expected = (float[])affine.Clone();
            new Perturber(PerturbationOptions.Default).Apply(expected, rng);
            Assert.Equal(expected, robust);
            if (!robust.SequenceEqual(affine)) changed++;
        }
        Assert.InRange(changed, 3, 17); // about half of 20 perturbed
    }

    [Fact]
    public void OutOfRangeOptionsAreRefusedWithTheirValues()
    {
        var e = Assert.Throws<ArgumentException>(() => new Perturber(new PerturbationOptions { Probability = 1.5f }));
        Assert.Contains("1.5", e.Message);
        e = Assert.Throws<ArgumentException>(() => new Perturber(new PerturbationOptions { BlurSigmaMax = 0.1f }));
        Assert.Contains("blur σ 0.1", e.Message);
        Assert.Throws<ArgumentException>(() => new Perturber().Apply(new float[10], new Rng(1)));
    }
}
