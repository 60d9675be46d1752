// LayerParityTests: every layer type against PyTorch 1.13 golden files (forward, input and weight gradients).
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
}
