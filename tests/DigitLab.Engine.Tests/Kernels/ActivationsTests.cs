// Fast activation kernels against their double-precision references, at every length around the vector widths.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class ActivationsTests
{
    public static IEnumerable<object[]> Lengths() =>
        Enumerable.Range(0, 70).Append(255).Append(1000).Append(4099).Select(n => new object[] { n });

    private delegate void Unary(ReadOnlySpan<float> x, Span<float> y);
    private delegate void BackwardOp(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx);

    private static void Compare(int n, Unary fast, Unary reference, BackwardOp fastBack, BackwardOp referenceBack, string name)
    {
        var rng = new Rng((ulong)n + 7);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rng.Uniform(-6f, 6f);
        if (n > 3) { x[0] = 0f; x[1] = -0f; x[2] = 20f; x[3] = -20f; } // zero and saturation
        var dy = TestUtil.RandomArray(rng, n);
        float[] y1 = new float[n], y2 = new float[n], dx1 = new float[n], dx2 = new float[n];
        fast(x, y1);
        reference(x, y2);
        TestUtil.AssertClose(y2, y1, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, $"{name} forward n={n}");
        fastBack(y2, dy, dx1);
        referenceBack(y2, dy, dx2);
        TestUtil.AssertClose(dx2, dx1, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, $"{name} backward n={n}");
    }

    [Theory, MemberData(nameof(Lengths))]
    public void ReluMatchesReference(int n) => Compare(n, Activations.ReluForward, ActivationsReference.ReluForward,
        Activations.ReluBackward, ActivationsReference.ReluBackward, "ReLU");

    [Theory, MemberData(nameof(Lengths))]
    public void SigmoidMatchesReference(int n) => Compare(n, Activations.SigmoidForward, ActivationsReference.SigmoidForward,
        Activations.SigmoidBackward, ActivationsReference.SigmoidBackward, "Sigmoid");

    [Theory, MemberData(nameof(Lengths))]
    public void TanhMatchesReference(int n) => Compare(n, Activations.TanhForward, ActivationsReference.TanhForward,
        Activations.TanhBackward, ActivationsReference.TanhBackward, "Tanh");

    [Fact]
    public void ReluGradientIsZeroAtZeroAndNegative()
    {
        float[] y = [0f, 0f, 2f], dy = [5f, -5f, 3f], dx = new float[3];
        Activations.ReluBackward(y, dy, dx);
        Assert.Equal([0f, 0f, 3f], dx);
    }

    [Fact]
    public void MismatchedLengthsAreRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => Activations.ReluForward(new float[3], new float[4]));
        Assert.Contains("expected 3, found 4", ex.Message);
    }
}
