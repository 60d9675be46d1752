// SoftmaxCrossEntropy: finite-difference gradients with and without label smoothing, and PyTorch's definition.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class SoftmaxCrossEntropyTests
{
    [Theory]
    [InlineData(0f)]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    public void GradientMatchesFiniteDifferences(float smoothing)
    {
        var rng = new Rng(31);
        var logits = TestUtil.Random(rng, -3f, 3f, 5, 10);
        byte[] labels = [0, 9, 3, 3, 7];
        var loss = new SoftmaxCrossEntropy(smoothing);
        loss.Forward(logits, labels);
        var analytic = loss.Backward().Clone();
        GradCheck.Values($"{loss} d/dlogits", logits, analytic, () => loss.Forward(logits, labels), rng,
            hasKinks: false, maxPerTensor: 50, EngineTolerances.LossGradAbsolute);
    }

    [Fact]
    public void SmoothedLossIsTheMixtureOfNllAndUniformCrossEntropy()
    {
        // PyTorch: (1 − ε)·nll + ε·mean_c(−log p_c), averaged over the batch.
        var logits = new Tensor([2f, 1f, 0.5f, -1f, 0f, 3f], 2, 3);
        byte[] labels = [0, 2];
        const float eps = 0.2f;
        double expected = 0;
        for (int r = 0; r < 2; r++)
        {
            double lse = Math.Log(Enumerable.Range(0, 3).Sum(c => Math.Exp(logits[r, c])));
            double nll = lse - logits[r, labels[r]];
            double uniform = Enumerable.Range(0, 3).Average(c => lse - logits[r, c]);
            expected += ((1 - eps) * nll + eps * uniform) / 2;
        }
        Assert.Equal(expected, new SoftmaxCrossEntropy(eps).Forward(logits, labels), 5);
    }

    [Fact]
    public void WrongLabelCountIsNamed()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SoftmaxCrossEntropy().Forward(new Tensor(4, 10), new byte[3]));
        Assert.Contains("(4, 10)", ex.Message);
        Assert.Contains("3 labels", ex.Message);
    }
}
