// Steady state: every layer returns the same output and gradient storage step after step.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class BufferReuseTests
{
    public static IEnumerable<object[]> Layers() =>
    [
        [new Conv2d(2, 3, 3, padding: 1), new[] { 4, 2, 6, 6 }],
        [new MaxPool2d(2), new[] { 4, 2, 6, 6 }],
        [new AvgPool2d(2), new[] { 4, 2, 6, 6 }],
        [new AdaptiveAvgPool2d(), new[] { 4, 2, 6, 6 }],
        [new BatchNorm2d(2), new[] { 4, 2, 6, 6 }],
        [new BatchNorm1d(5), new[] { 4, 5 }],
        [new Dropout(0.3f), new[] { 4, 5 }],
        [new ReLU(), new[] { 4, 5 }],
        [new Sigmoid(), new[] { 4, 5 }],
        [new Tanh(), new[] { 4, 5 }],
        [new Flatten(), new[] { 4, 2, 3 }],
        [new Linear(5, 3), new[] { 4, 5 }],
        [new Residual(new Sequential(new Linear(5, 5), new Tanh())), new[] { 4, 5 }],
    ];

    [Theory, MemberData(nameof(Layers))]
    public void OutputAndGradientStorageIsReused(Module layer, int[] shape)
    {
        layer.ResetAllParameters(new Rng(1));
        var x = TestUtil.Random(new Rng(2), shape);
        // The gradient arrives in the same tensor each step, as it does from the next layer's reused buffer.
        var g = TestUtil.Random(new Rng(3), layer.OutputShape(shape));
        (float[] Output, float[] Grad) Step()
        {
            var y = layer.Forward(x);
            var dx = layer.Backward(g);
            return (y.Data, dx.Data);
        }
        var first = Step();
        var second = Step();
        Assert.Same(first.Output, second.Output);
        Assert.Same(first.Grad, second.Grad);
    }
}
