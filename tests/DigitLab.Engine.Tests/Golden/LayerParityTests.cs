// LayerParityTests: every layer type against PyTorch 1.13 golden files (forward, input and weight gradients, buffers).
using DigitLab.Nn;
using DigitLab.Tensors;
using Xunit.Abstractions;

namespace DigitLab.Tests.Golden;

public class LayerParityTests(ITestOutputHelper log)
{
    [Theory]
    [InlineData("linear")]
    [InlineData("linear_nobias")]
    public void LinearMatchesPyTorch(string name)
    {
        var g = GoldenFile.Load(name);
        GoldenModule.Check(name, new Linear(g.MetaInt("in"), g.MetaInt("out"), g.MetaBool("bias")), GoldenTolerances.Accumulated, log);
    }

    [Fact] public void ReLUMatchesPyTorch() => GoldenModule.Check("relu", new ReLU(), GoldenTolerances.Elementwise, log);
    [Fact] public void SigmoidMatchesPyTorch() => GoldenModule.Check("sigmoid", new Sigmoid(), GoldenTolerances.Elementwise, log);
    [Fact] public void TanhMatchesPyTorch() => GoldenModule.Check("tanh", new Tanh(), GoldenTolerances.Elementwise, log);
    [Fact] public void FlattenMatchesPyTorch() => GoldenModule.Check("flatten", new Flatten(), GoldenTolerances.Elementwise, log);

    [Theory]
    [InlineData("cross_entropy")]
    [InlineData("cross_entropy_smoothing")]
    public void SoftmaxCrossEntropyMatchesPyTorch(string name)
    {
        var g = GoldenFile.Load(name);
        var loss = new SoftmaxCrossEntropy((float)g.MetaDouble("label_smoothing"));
        byte[] labels = g.Doubles("target").Select(t => (byte)t).ToArray();
        float value = loss.Forward(g.Tensor("input"), labels);
        Parity.AssertClose(g.Doubles("loss"), [value], GoldenTolerances.Accumulated, $"{name} loss", log);
        Parity.AssertClose(g.Tensor("probabilities"), loss.Probabilities, GoldenTolerances.Elementwise, $"{name} probabilities", log);
        Parity.AssertClose(g.Tensor("grad_input"), loss.Backward(), GoldenTolerances.Accumulated, $"{name} gradient of the logits", log);
    }

    [Theory]
    [InlineData("conv2d_1in_k5_p2")]
    [InlineData("conv2d_k3_s2_p1")]
    [InlineData("conv2d_k3_p0_nobias")]
    [InlineData("conv2d_k1_s2")]
    [InlineData("conv2d_k5_s1_p0")]
    [InlineData("conv2d_wide_k3_p1")]
    [InlineData("conv2d_wide_k5")]
    [InlineData("conv2d_lanes_k3_p1")]
    [InlineData("conv2d_lanes_k1_s2")]
    public void Conv2dMatchesPyTorch(string name)
    {
        var g = GoldenFile.Load(name);
        var conv = new Conv2d(g.MetaInt("in"), g.MetaInt("out"), g.MetaInt("kernel"), g.MetaInt("stride"), g.MetaInt("padding"), g.MetaBool("bias"));
        GoldenModule.Check(name, conv, GoldenTolerances.Accumulated, log);
    }

    [Theory]
    [InlineData("maxpool2d_k2")]
    [InlineData("maxpool2d_k3_s2_p1")]
    [InlineData("maxpool2d_k2_odd")]
    public void MaxPool2dMatchesPyTorch(string name)
    {
        var g = GoldenFile.Load(name);
        GoldenModule.Check(name, new MaxPool2d(g.MetaInt("kernel"), g.MetaInt("stride"), g.MetaInt("padding")), GoldenTolerances.Elementwise, log);
    }

    [Theory]
    [InlineData("avgpool2d_k2")]
    [InlineData("avgpool2d_k3_s2")]
    public void AvgPool2dMatchesPyTorch(string name)
    {
        var g = GoldenFile.Load(name);
        GoldenModule.Check(name, new AvgPool2d(g.MetaInt("kernel"), g.MetaInt("stride")), GoldenTolerances.Elementwise, log);
    }

    [Fact]
    public void AdaptiveAvgPool2dMatchesPyTorch() =>
        GoldenModule.Check("adaptiveavgpool2d", new AdaptiveAvgPool2d(), GoldenTolerances.Elementwise, log);

    [Theory]
    [InlineData("batchnorm1d_train")]
    [InlineData("batchnorm1d_eval")]
    public void BatchNorm1dMatchesPyTorch(string name)
    {
        var g = GoldenFile.Load(name);
        GoldenModule.Check(name, new BatchNorm1d(g.MetaInt("features"), (float)g.MetaDouble("eps"), (float)g.MetaDouble("momentum")),
            GoldenTolerances.Accumulated, log);
    }

    [Theory]
    [InlineData("batchnorm2d_train")]
    [InlineData("batchnorm2d_eval")]
    public void BatchNorm2dMatchesPyTorch(string name)
    {
        var g = GoldenFile.Load(name);
        GoldenModule.Check(name, new BatchNorm2d(g.MetaInt("features"), (float)g.MetaDouble("eps"), (float)g.MetaDouble("momentum")),
            GoldenTolerances.Accumulated, log);
    }

    [Theory]
    [InlineData("basicblock_identity")]
    [InlineData("basicblock_downsample")]
    public void ResidualBasicBlockMatchesTorchvision(string name)
    {
        var g = GoldenFile.Load(name);
        int cin = g.MetaInt("in"), cout = g.MetaInt("out"), stride = g.MetaInt("stride");
        // torchvision's BasicBlock: conv3x3(stride)-bn-relu-conv3x3-bn, plus a 1x1 conv + bn "downsample"
        // when the shape changes, then relu. Ours names the main path "body" and the downsample "shortcut".
        var body = new Sequential(
            ("conv1", new Conv2d(cin, cout, 3, stride, 1, bias: false)), ("bn1", new BatchNorm2d(cout)), ("relu", new ReLU()),
            ("conv2", new Conv2d(cout, cout, 3, 1, 1, bias: false)), ("bn2", new BatchNorm2d(cout)));
        Module? shortcut = stride != 1 || cin != cout
            ? new Sequential(new Conv2d(cin, cout, 1, stride, 0, bias: false), new BatchNorm2d(cout))
            : null;
        GoldenModule.Check(name, new Residual(body, shortcut), GoldenTolerances.Accumulated, log,
            n => n.StartsWith("downsample.", StringComparison.Ordinal) ? "shortcut." + n["downsample.".Length..] : "body." + n);
    }

    [Fact]
    public void DropoutIsTheIdentityWithPZeroAndInEvalMode()
    {
        // Dropout is random, so no PyTorch parity: only its two deterministic cases.
        var rng = new Rng(5);
        var x = TestUtil.Random(rng, 3, 17);
        var upstream = TestUtil.Random(rng, 3, 17);
        var none = new Dropout(0f);
        none.ResetAllParameters(new Rng(1));
        none.Train();
        Assert.Equal(x.ReadOnlySpan.ToArray(), none.Forward(x).ReadOnlySpan.ToArray());
        Assert.Equal(upstream.ReadOnlySpan.ToArray(), none.Backward(upstream).ReadOnlySpan.ToArray());
        var half = new Dropout(0.5f);
        half.ResetAllParameters(new Rng(1));
        half.Eval();
        Assert.Equal(x.ReadOnlySpan.ToArray(), half.Forward(x).ReadOnlySpan.ToArray());
        Assert.Equal(upstream.ReadOnlySpan.ToArray(), half.Backward(upstream).ReadOnlySpan.ToArray());
    }
}
