// ReLU, Sigmoid and Tanh layers: gradient checks and shape handling.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class ActivationLayerTests
{
    public static IEnumerable<object[]> Layers() => [[new ReLU()], [new Sigmoid()], [new Tanh()]];

    [Theory, MemberData(nameof(Layers))]
    public void GradientsMatchFiniteDifferences(Module layer)
    {
        var x = TestUtil.Random(new Rng(11), -2f, 2f, 3, 2, 5, 7);
        GradCheck.Module(layer, x, seed: 12, hasKinks: layer is ReLU);
    }

    [Theory, MemberData(nameof(Layers))]
    public void KeepsAnyShapeAndUsesAllThreadsOnLargeInputs(Module layer)
    {
        // Large enough that ComputeContext.For splits it; each chunk must line up with the right elements.
        var x = TestUtil.Random(new Rng(13), 4, 70001);
        var y = layer.Forward(x);
        Assert.Equal(x.Shape, y.Shape);
        Assert.Equal(x.Shape, layer.OutputShape(x.Shape));
        for (int i = 0; i < x.Length; i += 997)
        {
            float expected = layer switch { ReLU => Math.Max(x.Data[i], 0f), Sigmoid => 1f / (1f + MathF.Exp(-x.Data[i])), _ => MathF.Tanh(x.Data[i]) };
            Assert.True(Math.Abs(expected - y.Data[i]) <= EngineTolerances.ElementwiseRelative, $"element {i}: {y.Data[i]} vs {expected}");
        }
    }

    [Fact]
    public void BackwardWithWrongGradientShapeNamesBothShapes()
    {
        var relu = new ReLU();
        relu.Forward(new Tensor(2, 3));
        var ex = Assert.Throws<ArgumentException>(() => relu.Backward(new Tensor(3, 2)));
        Assert.Contains("(2, 3)", ex.Message);
        Assert.Contains("(3, 2)", ex.Message);
    }

    [Fact]
    public void BackwardBeforeForwardSaysWhatToDo()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new Tanh().Backward(new Tensor(1)));
        Assert.Contains("Forward", ex.Message);
    }
}
