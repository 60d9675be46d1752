// SaliencyTests: explain-path gradients against central finite differences, integrated gradients' completeness, occlusion on a model that reads one region, Grad-CAM where the answer is known.
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Evaluation;

public class SaliencyTests
{
    /// <summary>Central-difference step on pixel values in [0, 1].</summary>
    private const float FiniteDifferenceStep = 1e-2f;

    /// <summary>
    /// Largest allowed |analytic − numeric| gradient, relative to the largest |gradient| of the image: float32 logits
    /// differenced over 2·1e-2 carry about 1e-5 of rounding, and the smooth test models' curvature adds O(step²).
    /// </summary>
    private const double GradientTolerance = 2e-3;

    /// <summary>
    /// Integrated gradients' completeness: |Σ attributions − (logit(x) − logit(baseline))| must be below this fraction
    /// of |logit(x) − logit(baseline)|, with <see cref="CompletenessSteps"/> midpoint steps on smooth models.
    /// </summary>
    private const double CompletenessTolerance = 1e-3;
    private const int CompletenessSteps = 128;

    private static Sequential Mlp(ulong seed)
    {
        var m = new Sequential(new Flatten(), new Linear(784, 16), new Tanh(), new Linear(16, 10));
        m.ResetAllParameters(new Rng(seed));
        return m;
    }

    private static Sequential Cnn(ulong seed)
    {
        var bn = new BatchNorm2d(3);
        var m = new Sequential(new Conv2d(1, 3, 3, padding: 1), bn, new Tanh(), new AvgPool2d(2), new Flatten(), new Linear(3 * 14 * 14, 10));
        m.ResetAllParameters(new Rng(seed));
        // Non-trivial running statistics, so evaluation-mode batch norm is not the identity.
        bn.RunningMean.Span.Fill(0.3f);
        bn.RunningVar.Span.Fill(2.5f);
        return m;
    }

    private static float[] Image(ulong seed)
    {
        var ring = Data.SyntheticData.Ring(cx: 13, cy: 14);
        var rng = new Rng(seed);
        return ring.Select(b => Math.Clamp(b / 255f + 0.05f * rng.NextFloat(), 0f, 1f)).ToArray();
    }

    public static TheoryData<string> Models() => ["mlp", "cnn"];

    private static ModelRunner Runner(string name) => new(name == "mlp" ? Mlp(5) : Cnn(5), Normalization.Mnist, ModuleCalls.Compute);

    [Theory]
    [MemberData(nameof(Models))]
    public void PixelGradientMatchesCentralDifferences(string name)
    {
        var runner = Runner(name);
        var x = Image(1);
        const int k = 3;
        var grad = Saliency.PixelGradient(runner, [x], k, out _);
        double scale = grad.Max(Math.Abs);
        Assert.True(scale > 1e-3, "the test model's gradient is too small to check anything");
        var rng = new Rng(9);
        for (int t = 0; t < 40; t++)
        {
            int i = rng.NextInt(784);
            var plus = (float[])x.Clone(); plus[i] += FiniteDifferenceStep;
            var minus = (float[])x.Clone(); minus[i] -= FiniteDifferenceStep;
            var logits = Saliency.Logits(runner, [plus, minus]);
            double numeric = (logits[k] - logits[10 + k]) / (2.0 * FiniteDifferenceStep);
            Assert.True(Math.Abs(numeric - grad[i]) <= GradientTolerance * scale, $"pixel {i}: analytic {grad[i]}, numeric {numeric}, allowed {GradientTolerance * scale}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void IntegratedGradientsAddUpToTheScoreDifference(string name)
    {
        var runner = Runner(name);
        var x = Image(2);
        var baseline = new float[784];
        const int k = 7;
        var map = Saliency.IntegratedGradients(runner, x, baseline, k, CompletenessSteps);
        var logits = Saliency.Logits(runner, [x, baseline]);
        double difference = logits[k] - logits[10 + k];
        Assert.True(Math.Abs(difference) > 0.05, "the test model barely separates image and baseline");
        double sum = map.Sum(v => (double)v);
        Assert.True(Math.Abs(sum - difference) <= CompletenessTolerance * Math.Abs(difference), $"Σ attributions {sum}, logit difference {difference}");
    }

    /// <summary>A linear model whose class-2 logit reads only rows 4–9, columns 16–21.</summary>
    private static ModelRunner OneRegionModel()
    {
        var linear = new Linear(784, 10);
        linear.Weight.Value.Zero();
        linear.Bias!.Value.Zero();
        for (int r = 4; r < 10; r++)
            for (int c = 16; c < 22; c++) linear.Weight.Value.Span[2 * 784 + r * 28 + c] = 0.5f;
        return new ModelRunner(new Sequential(new Flatten(), linear), new Normalization(0, 1), ModuleCalls.Compute);
    }

    private static bool InRegion(int i) => i / 28 is >= 4 and < 10 && i % 28 is >= 16 and < 22;

    [Fact]
    public void OcclusionLightsUpOnlyTheRegionTheModelReads()
    {
        var runner = OneRegionModel();
        var x = Enumerable.Repeat(0.8f, 784).ToArray();
        var single = Saliency.Occlusion(runner, x, 2, patch: 1, stride: 1);
        for (int i = 0; i < 784; i++)
            if (InRegion(i)) Assert.True(single[i] > 0, $"pixel {i} in the region shows no drop");
            else Assert.Equal(0f, single[i]);
        // A 4×4 patch also covers pixels up to 3 away from the region; beyond that the map is exactly 0, and its peak is inside.
        var patched = Saliency.Occlusion(runner, x, 2, patch: 4, stride: 1);
        for (int i = 0; i < 784; i++)
        {
            int r = i / 28, c = i % 28;
            bool near = r >= 4 - 3 && r < 10 + 3 && c >= 16 - 3 && c < 22 + 3;
            if (!near) Assert.Equal(0f, patched[i]);
        }
        Assert.True(InRegion(Array.IndexOf(patched, patched.Max())));
    }

    [Fact]
    public void GradCamOfAnIdentityConvolutionIsTheWeightedActivation()
    {
        // Conv 1→1 with a centre tap of 1 (the identity), ReLU, then class 4 = 0.25 × the sum of the activations:
        // ∂logit/∂A = 0.25 everywhere, so α = 0.25 and Grad-CAM = ReLU(0.25 · A) = 0.25 · max(0, x).
        var conv = new Conv2d(1, 1, 3, padding: 1);
        conv.Weight.Value.Zero();
        conv.Weight.Value.Span[4] = 1;
        conv.Bias!.Value.Zero();
        var fc = new Linear(784, 10);
        fc.Weight.Value.Zero();
        fc.Bias!.Value.Zero();
        for (int i = 0; i < 784; i++) fc.Weight.Value.Span[4 * 784 + i] = 0.25f;
        var model = new Sequential(conv, new ReLU(), new Flatten(), fc);
        var norm = new Normalization(0.2f, 0.5f);
        var runner = new ModelRunner(model, norm, ModuleCalls.Compute);
        var x = Image(3);
        var cam = Saliency.GradCam(runner, x, 4, out string layer);
        Assert.Equal("1", layer);
        for (int i = 0; i < 784; i++) Assert.Equal(0.25f * Math.Max(0f, norm.Apply(x[i])), cam[i], 1e-6f);
    }

    [Fact]
    public void GradCamRefusesAModelWithoutConvolutions()
    {
        var e = Assert.Throws<ArgumentException>(() => Saliency.GradCam(Runner("mlp"), Image(1), 0, out _));
        Assert.Contains("Conv2d", e.Message);
    }

    [Fact]
    public void ExplainDefaultsToThePredictedClassAndRejectsAMissingOne()
    {
        var runner = Runner("cnn");
        var x = Image(4);
        var map = Saliency.Explain(runner, x, SaliencyMethod.GradientTimesInput);
        Assert.Equal(Metrics.ArgMax(map.Probabilities), map.ClassIndex);
        Assert.Throws<ArgumentException>(() => Saliency.Explain(runner, x, SaliencyMethod.GradientTimesInput, classIndex: 10));
    }
}
