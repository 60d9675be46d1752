// Residual blocks and adaptive average pooling: gradients through both paths, names, shape errors.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class ResidualTests
{
    /// <summary>A ResNet basic block; <paramref name="smoothBody"/> puts Tanh where ReLU goes, so that weight
    /// perturbations in gradient checks cross no kinks inside the body (every output depends on every weight).</summary>
    private static Residual Block(int inChannels, int outChannels, int stride, bool reluAfter = true, bool smoothBody = false)
    {
        var body = new Sequential(
            new Conv2d(inChannels, outChannels, 3, stride, 1, bias: false), new BatchNorm2d(outChannels), smoothBody ? new Tanh() : new ReLU(),
            new Conv2d(outChannels, outChannels, 3, 1, 1, bias: false), new BatchNorm2d(outChannels));
        Module? shortcut = stride != 1 || inChannels != outChannels
            ? new Sequential(new Conv2d(inChannels, outChannels, 1, stride, bias: false), new BatchNorm2d(outChannels))
            : null;
        var block = new Residual(body, shortcut, reluAfter);
        block.ResetAllParameters(new Rng(1));
        return block;
    }

    [Theory]
    [InlineData(2, 2, 1, true)]   // identity shortcut
    [InlineData(2, 3, 2, true)]   // projection shortcut, downsampling
    [InlineData(2, 2, 1, false)]  // no ReLU after the sum
    public void GradientsMatchFiniteDifferences(int inChannels, int outChannels, int stride, bool reluAfter)
    {
        var block = Block(inChannels, outChannels, stride, reluAfter, smoothBody: true);
        GradCheck.Module(block, TestUtil.Random(new Rng(2), 2, inChannels, 4, 4), seed: 3, hasKinks: reluAfter, maxPerTensor: 30);
    }

    [Fact]
    public void NamesFollowPyTorchStyle()
    {
        var names = Block(2, 3, 2).NamedParameters().Select(p => p.Name).ToArray();
        Assert.Contains("body.0.weight", names);
        Assert.Contains("body.1.bias", names);
        Assert.Contains("shortcut.0.weight", names);
        Assert.DoesNotContain(Block(2, 2, 1).NamedParameters(), p => p.Name.StartsWith("shortcut"));
        Assert.Contains(Block(2, 2, 1).NamedBuffers(), b => b.Name == "body.4.running_var");
    }

    [Fact]
    public void MismatchedShortcutIsExplained()
    {
        var block = new Residual(new Conv2d(2, 4, 3, 1, 1));
        var ex = Assert.Throws<ArgumentException>(() => block.OutputShape([1, 2, 6, 6]));
        Assert.Contains("(1, 4, 6, 6)", ex.Message);
        Assert.Contains("(1, 2, 6, 6)", ex.Message);
        Assert.Contains("shortcut", ex.Message);
    }

    [Fact]
    public void AdaptiveAvgPoolGradientsAndShape()
    {
        var pool = new AdaptiveAvgPool2d();
        Assert.Equal([3, 5, 1, 1], pool.OutputShape([3, 5, 4, 4]));
        GradCheck.Module(pool, TestUtil.Random(new Rng(4), 2, 3, 3, 4), seed: 5);
        Assert.Equal("AdaptiveAvgPool2d(1)", pool.ToString());
    }

    [Fact]
    public void TinyResNetTrainsAndSwitchesModes()
    {
        var model = new Sequential(new Conv2d(1, 4, 3, padding: 1), new ReLU(), Block(4, 4, 1), Block(4, 8, 2),
            new AdaptiveAvgPool2d(), new Flatten(), new Linear(8, 2));
        model.ResetAllParameters(new Rng(6));
        // Two classes: a bright left half or a bright right half.
        var x = new Tensor(8, 1, 6, 6);
        var labels = new byte[8];
        var rng = new Rng(7);
        for (int n = 0; n < 8; n++)
        {
            labels[n] = (byte)(n % 2);
            for (int i = 0; i < 36; i++) x.Data[n * 36 + i] = ((i % 6 < 3) == (labels[n] == 0) ? 1f : 0f) + 0.1f * rng.Normal();
        }
        var loss = new SoftmaxCrossEntropy();
        float first = 0, last = 0;
        for (int step = 0; step < 30; step++)
        {
            model.ZeroGrad();
            last = loss.Forward(model.Forward(x), labels);
            if (step == 0) first = last;
            model.Backward(loss.Backward());
            foreach (var p in model.Parameters())
                for (int i = 0; i < p.Length; i++) p.Value.Data[i] -= 0.1f * p.Grad.Data[i];
        }
        Assert.True(last < 0.5f * first, $"loss went from {first} to {last}");
        model.Eval();
        Assert.False(model.IsTraining());
        Assert.Equal([8, 2], model.Forward(x).Shape);
    }
}
