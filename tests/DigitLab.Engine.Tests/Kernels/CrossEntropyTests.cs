// The fused softmax + cross-entropy kernel against its term-by-term reference, with and without label smoothing.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class CrossEntropyTests
{
    [Theory]
    [InlineData(1, 10, 0f)]
    [InlineData(7, 10, 0f)]
    [InlineData(7, 10, 0.1f)]
    [InlineData(33, 3, 0.25f)]
    [InlineData(5, 17, 1f)]
    [InlineData(64, 10, 0.1f)]
    public void MatchesReference(int rows, int classes, float smoothing)
    {
        var rng = new Rng((ulong)(rows * 100 + classes));
        var logits = new float[rows * classes];
        for (int i = 0; i < logits.Length; i++) logits[i] = rng.Uniform(-8f, 8f);
        var labels = new byte[rows];
        for (int r = 0; r < rows; r++) labels[r] = (byte)rng.NextInt(classes);
        float[] p1 = new float[logits.Length], p2 = new float[logits.Length];
        double fast = CrossEntropy.Forward(logits, labels, classes, smoothing, p1);
        double reference = CrossEntropyReference.Forward(logits, labels, classes, smoothing, p2);
        Assert.True(Math.Abs(fast - reference) <= EngineTolerances.ElementwiseRelative * Math.Abs(reference),
            $"loss {fast} vs reference {reference}");
        TestUtil.AssertClose(p2, p1, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, "probabilities");
        float[] g1 = new float[logits.Length], g2 = new float[logits.Length];
        CrossEntropy.Backward(p2, labels, classes, smoothing, 1f / rows, g1);
        CrossEntropyReference.Backward(p2, labels, classes, smoothing, 1f / rows, g2);
        TestUtil.AssertClose(g2, g1, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, "logit gradients");
    }

    [Fact]
    public void LargeLogitsDoNotOverflow()
    {
        float[] logits = [1000f, 0f, -1000f];
        var p = new float[3];
        double loss = CrossEntropy.Forward(logits, [1], 3, 0f, p);
        Assert.Equal(1000.0, loss, 3);
        Assert.Equal(1f, p[0]);
    }

    [Fact]
    public void KnownValueForUniformLogits()
    {
        // Equal logits: p = 1/C, loss = log C whatever the smoothing.
        var p = new float[10];
        Assert.Equal(Math.Log(10), CrossEntropy.Forward(new float[10], [3], 10, 0.1f, p), 6);
    }

    [Fact]
    public void LabelOutOfRangeIsNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => CrossEntropy.Forward(new float[10], [10], 10, 0f, new float[10]));
        Assert.Contains("Label 10", ex.Message);
    }
}
