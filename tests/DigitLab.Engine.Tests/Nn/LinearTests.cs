// Linear: gradient check, forward against a hand computation, initialisation bounds, shape errors.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class LinearTests
{
    [Theory]
    [InlineData(1, 1, 1, true)]
    [InlineData(3, 5, 4, true)]
    [InlineData(6, 17, 9, false)]
    public void GradientsMatchFiniteDifferences(int batch, int inFeatures, int outFeatures, bool bias)
    {
        var layer = new Linear(inFeatures, outFeatures, bias);
        layer.ResetParameters(new Rng(1));
        GradCheck.Module(layer, TestUtil.Random(new Rng(2), batch, inFeatures), seed: 3);
    }

    [Fact]
    public void ForwardComputesXWTransposedPlusBias()
    {
        var layer = new Linear(2, 3);
        layer.Weight.Value.Data.AsSpan().SetValues(1, 2, 3, 4, 5, 6); // rows (1,2) (3,4) (5,6)
        layer.Bias!.Value.Data.AsSpan().SetValues(0.5f, -1, 0);
        var y = layer.Forward(new Tensor([1f, -1f, 2f, 0.5f], 2, 2));
        Assert.Equal([-0.5f, -2f, -1f, 3.5f, 7f, 13f], y.ReadOnlySpan.ToArray());
    }

    [Fact]
    public void BackwardAccumulatesParameterGradsButOverwritesInputGrad()
    {
        var layer = new Linear(4, 3);
        layer.ResetParameters(new Rng(5));
        var x = TestUtil.Random(new Rng(6), 2, 4);
        var g = TestUtil.Random(new Rng(7), 2, 3);
        layer.ZeroGrad();
        layer.Forward(x);
        var dx1 = layer.Backward(g).Clone();
        var w1 = layer.Weight.Grad.Clone();
        layer.Forward(x);
        var dx2 = layer.Backward(g);
        Assert.Equal(dx1.ReadOnlySpan.ToArray(), dx2.ReadOnlySpan.ToArray());
        for (int i = 0; i < w1.Length; i++) Assert.Equal(2 * w1.Data[i], layer.Weight.Grad.Data[i], 5);
    }

    [Fact]
    public void InitialisationUsesPyTorchBounds()
    {
        var layer = new Linear(100, 50);
        layer.ResetParameters(new Rng(9));
        float bound = 1f / MathF.Sqrt(100);
        Assert.All(layer.Weight.Value.Data, v => Assert.InRange(v, -bound, bound));
        Assert.All(layer.Bias!.Value.Data, v => Assert.InRange(v, -bound, bound));
        // Spread over the whole interval, not a constant: the largest |w| is near the bound.
        Assert.True(TestUtil.MaxAbs(layer.Weight.Value.Span) > 0.95 * bound);
    }

    [Fact]
    public void WrongInputShapeNamesBothShapes()
    {
        var layer = new Linear(784, 128);
        var ex = Assert.Throws<ArgumentException>(() => layer.Forward(new Tensor(2, 1, 28, 28)));
        Assert.Contains("(N, 784)", ex.Message);
        Assert.Contains("(2, 1, 28, 28)", ex.Message);
        Assert.Contains("Flatten", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => layer.OutputShape([2, 100]));
        Assert.Contains("(2, 100)", ex.Message);
    }

    [Fact]
    public void ToStringAndNames()
    {
        Assert.Equal("Linear(784 -> 128)", new Linear(784, 128).ToString());
        Assert.Equal("Linear(4 -> 2, bias=false)", new Linear(4, 2, bias: false).ToString());
        Assert.Equal(["weight", "bias"], new Linear(3, 2).NamedParameters().Select(p => p.Name));
        Assert.Equal(3 * 2 + 2, new Linear(3, 2).ParameterCount());
    }
}

internal static class SpanExtensions
{
    public static void SetValues(this Span<float> span, params float[] values) => values.CopyTo(span);
}
