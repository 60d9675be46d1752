// Conv2d: finite-difference gradients for input, weight and bias; initialisation; shape errors; buffer reuse.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class Conv2dTests
{
    [Theory]
    [InlineData(2, 1, 6, 6, 3, 3, 1, 1, true)]
    [InlineData(1, 2, 7, 5, 2, 3, 2, 0, true)]
    [InlineData(2, 3, 5, 5, 2, 1, 1, 0, false)]
    [InlineData(1, 2, 6, 7, 3, 5, 1, 2, true)]
    [InlineData(3, 2, 4, 4, 2, 2, 2, 1, false)]
    public void GradientsMatchFiniteDifferences(int n, int c, int h, int w, int o, int k, int s, int p, bool bias)
    {
        var conv = new Conv2d(c, o, k, s, p, bias);
        conv.ResetParameters(new Rng(1));
        GradCheck.Module(conv, TestUtil.Random(new Rng(2), n, c, h, w), seed: 3);
    }

    [Theory]
    [InlineData(Conv2d.MinWinogradBatch, 5, 1)]     // net3's second layer's kind: 5×5, F(2×2, 5×5)
    [InlineData(Conv2d.MinWinogradBatch + 1, 3, 1)] // cnn's and best's: 3×3, F(2×2, 3×3)
    [InlineData(Conv2d.MinWinogradBatch, 5, 0)]     // no padding: the input gradient's dY padded by 4
    public void WinogradRoutesFollowTheWeightsAsTheyChange(int n, int k, int p)
    {
        // 16 → 16 channels on a 9×9 (3×3) or 16×16 (5×5) output: the forward pass and the input gradient (dY convolved with
        // the flipped kernels) take the Winograd route, whose transformed weights the layer keeps per workspace; after an optimizer-like change
        // of the weights the next passes must use the new ones. The gradient check then runs both routes many times. (A batch
        // below MinWinogradBatch stays on the direct routes: the transform would cost more than it saves.)
        var conv = new Conv2d(16, 16, k, padding: p);
        conv.ResetParameters(new Rng(8));
        int outSize = k == 3 ? 9 : 16, size = outSize + k - 1 - 2 * p;
        var x = TestUtil.Random(new Rng(9), n, 16, size, size);
        var g = new DigitLab.Kernels.ConvGeometry(n, 16, size, size, 16, k, 1, p);
        var transposed = new DigitLab.Kernels.ConvGeometry(n, 16, outSize, outSize, 16, k, 1, k - 1 - p);
        if (DigitLab.Kernels.WinogradConvolution.Fast)
            Assert.True(DigitLab.Kernels.Convolution.Winograd(ModuleCalls.Compute, g) && DigitLab.Kernels.Convolution.Winograd(ModuleCalls.Compute, transposed));
        var dy = TestUtil.Random(new Rng(10), n, 16, outSize, outSize);
        for (int step = 0; step < 2; step++)
        {
            var expected = new float[g.OutputLength];
            DigitLab.Kernels.ConvolutionReference.Forward(g, x.Data, conv.Weight.Value.Data, conv.Bias!.Value.Data, expected);
            TestUtil.AssertClose(expected, conv.Forward(x).Data, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, $"k={k} output, step {step}");
            var expectedDx = new float[g.InputLength];
            DigitLab.Kernels.ConvolutionReference.Backward(g, x.Data, conv.Weight.Value.Data, dy.Data, expectedDx, new float[g.WeightLength], new float[16]);
            TestUtil.AssertClose(expectedDx, conv.Backward(dy).Data, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, $"k={k} input gradient, step {step}");
            for (int i = 0; i < conv.Weight.Value.Length; i++) conv.Weight.Value.Data[i] *= -0.5f;
            conv.Bias.Value.Data[3] += 1f;
        }
        GradCheck.Module(conv, x, seed: 11);
    }

    [Fact]
    public void WinogradIsTakenWhereItSavesWork()
    {
        var compute = ModuleCalls.Compute;
        if (!DigitLab.Kernels.WinogradConvolution.Fast) return;
        // net3's 32 → 32 layer both ways; a 32 → 64 layer on 12×12 maps forward (2.8× fewer products), but not the input
        // gradient of net3's 32 → 64 layer: dY of 6×6 padded by 4 to 14×14, where the direct route's taps mostly skip the
        // padding (as many products either way).
        Assert.True(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 32, 24, 24, 32, 5, 1, 0)));
        Assert.True(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 32, 20, 20, 32, 5, 1, 4)));
        Assert.True(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 32, 12, 12, 64, 5, 1, 0)));
        Assert.False(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 64, 6, 6, 32, 5, 1, 4)));
        Assert.False(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 64, 8, 8, 32, 5, 1, 4)));
        // Strided, 7×7 and small planes, and few channels stay on the direct routes.
        Assert.False(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 64, 14, 14, 64, 3, 2, 1)));
        Assert.False(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 64, 7, 7, 64, 3, 1, 1)));
        Assert.False(DigitLab.Kernels.Convolution.Winograd(compute, new(64, 6, 14, 14, 16, 5, 1, 0)));
    }

    [Fact]
    public void OutputShapeFollowsPyTorch()
    {
        Assert.Equal([8, 32, 28, 28], new Conv2d(1, 32, 3, padding: 1).OutputShape([8, 1, 28, 28]));
        Assert.Equal([8, 6, 24, 24], new Conv2d(1, 6, 5).OutputShape([8, 1, 28, 28]));
        Assert.Equal([2, 64, 14, 14], new Conv2d(64, 64, 3, stride: 2, padding: 1).OutputShape([2, 64, 28, 28]));
        Assert.Equal([2, 4, 4, 3], new Conv2d(3, 4, 3, stride: 2).OutputShape([2, 3, 9, 8]));
    }

    [Fact]
    public void WrongChannelsNameBothShapes()
    {
        var conv = new Conv2d(3, 8, 3);
        var ex = Assert.Throws<ArgumentException>(() => conv.Forward(new Tensor(2, 1, 28, 28)));
        Assert.Contains("(N, 3, H, W)", ex.Message);
        Assert.Contains("(2, 1, 28, 28)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => conv.OutputShape([2, 784]));
        Assert.Contains("(2, 784)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new Conv2d(1, 2, 5).OutputShape([1, 1, 3, 3]));
        Assert.Contains("smaller than the kernel", ex.Message);
    }

    [Fact]
    public void InitialisationUsesFanIn()
    {
        var conv = new Conv2d(4, 6, 3);
        conv.ResetParameters(new Rng(4));
        float bound = 1f / MathF.Sqrt(4 * 3 * 3);
        Assert.All(conv.Weight.Value.Data, v => Assert.InRange(v, -bound, bound));
        Assert.All(conv.Bias!.Value.Data, v => Assert.InRange(v, -bound, bound));
        Assert.True(TestUtil.MaxAbs(conv.Weight.Value.Span) > 0.9 * bound);
    }

    [Fact]
    public void ReusesItsBuffersAcrossSteps()
    {
        var conv = new Conv2d(2, 3, 3, padding: 1);
        conv.ResetParameters(new Rng(5));
        var x = TestUtil.Random(new Rng(6), 4, 2, 8, 8);
        var y1 = conv.Forward(x);
        var first = y1.Clone();
        var dx1 = conv.Backward(y1);
        var y2 = conv.Forward(x);
        Assert.Same(y1, y2);
        Assert.Equal(first.ReadOnlySpan.ToArray(), y2.ReadOnlySpan.ToArray());
        Assert.Same(dx1, conv.Backward(y2));
        // A smaller batch reuses the same storage.
        var data = y2.Data;
        conv.Forward(TestUtil.Random(new Rng(7), 2, 2, 8, 8));
        Assert.Same(data, conv.Forward(TestUtil.Random(new Rng(7), 2, 2, 8, 8)).Data);
    }

    [Fact]
    public void SkippingTheInputGradientKeepsParameterGradients()
    {
        var full = new Conv2d(1, 3, 3, padding: 1);
        var first = new Conv2d(1, 3, 3, padding: 1) { ComputeInputGradient = false };
        full.ResetParameters(new Rng(8));
        first.ResetParameters(new Rng(8));
        var x = TestUtil.Random(new Rng(9), 2, 1, 5, 5);
        var g = TestUtil.Random(new Rng(10), 2, 3, 5, 5);
        full.Forward(x);
        full.Backward(g);
        first.Forward(x);
        var dx = first.Backward(g);
        Assert.Equal(full.Weight.Grad.ReadOnlySpan.ToArray(), first.Weight.Grad.ReadOnlySpan.ToArray());
        Assert.Equal(full.Bias!.Grad.ReadOnlySpan.ToArray(), first.Bias!.Grad.ReadOnlySpan.ToArray());
        Assert.All(dx.ReadOnlySpan.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void AnInputWithoutGradientOnTheWorkspaceSkipsOnlyThatInput()
    {
        // net3's first layer (1 channel, 5×5 on 28×28: the direct route once the input gradient is not wanted) and a small one.
        foreach (var (layer, shape) in new (Conv2d, int[])[] { (new Conv2d(1, 32, 5), [6, 1, 28, 28]), (new Conv2d(2, 3, 3, padding: 1), [2, 2, 5, 5]) })
        {
            layer.ResetParameters(new Rng(8));
            var x = TestUtil.Random(new Rng(9), shape);
            var other = x.Clone();
            var compute = ModuleCalls.Compute;
            var plain = new Workspace(compute, training: true);
            var y = layer.Forward(x, plain);
            var g = TestUtil.Random(new Rng(10), y.Shape);
            var dxFull = layer.Backward(g, plain).ReadOnlySpan.ToArray();
            var dwFull = layer.Weight.Grad.ReadOnlySpan.ToArray();
            var dbFull = layer.Bias!.Grad.ReadOnlySpan.ToArray();
            Assert.Contains(dxFull, v => v != 0f);

            layer.Weight.Grad.Zero();
            layer.Bias.Grad.Zero();
            var skipping = new Workspace(compute, training: true) { InputWithoutGradient = x };
            layer.Forward(x, skipping);
            var dx = layer.Backward(g, skipping).ReadOnlySpan.ToArray();
            Assert.All(dx, v => Assert.Equal(0f, v));
            // The parameter gradients are the same sums, possibly on another route (another order of additions).
            TestUtil.AssertClose(dwFull, layer.Weight.Grad.ReadOnlySpan.ToArray(), EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, $"weight grad {layer}");
            TestUtil.AssertClose(dbFull, layer.Bias.Grad.ReadOnlySpan.ToArray(), EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, $"bias grad {layer}");

            // Another tensor named there (even with equal values) leaves this input's gradient computed.
            var elsewhere = new Workspace(compute, training: true) { InputWithoutGradient = other };
            layer.Forward(x, elsewhere);
            Assert.Equal(dxFull, layer.Backward(g, elsewhere).ReadOnlySpan.ToArray());
        }
    }

    [Fact]
    public void ToStringAndNames()
    {
        Assert.Equal("Conv2d(1 -> 32, k=3, s=1, p=1)", new Conv2d(1, 32, 3, padding: 1).ToString());
        Assert.Equal(["weight", "bias"], new Conv2d(1, 2, 3).NamedParameters().Select(p => p.Name));
        Assert.Equal([2, 1, 3, 3], new Conv2d(1, 2, 3).Weight.Shape);
    }
}
