// The zoo's architectures: parameter counts the studies print, output shapes, state-dict names, seeding, summary.
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Models;

public class ModelZooTests
{
    [Theory]
    [InlineData("mlp", 101_770)]
    [InlineData("cnn", 421_642)]
    [InlineData("cnn-dropout", 421_642)]
    [InlineData("lenet5", 61_706)]
    [InlineData("lenet5-relu", 61_706)]
    [InlineData("net3", 228_010)]
    [InlineData("resnet18", 11_175_370)]
    // The 3x3 stem has 64·9 weights instead of 64·49: 11,175,370 − 64·40.
    [InlineData("resnet18-small", 11_172_810)]
    // DigitLab's record model: convs 288 + 18,432 + 36,864 + 73,728, batch norms 2·(32+64+64+128), Linear 11,530.
    [InlineData("best", 141_418)]
    public void ParameterCountsMatchTheStudies(string name, long expected)
    {
        var model = ModelZoo.Create(name, seed: 1);
        Assert.Equal(expected, model.ParameterCount());
        Assert.Equal(expected, ModelSummary.Build(model, [1, 1, 28, 28]).TotalParameters);
    }

    [Fact]
    public void EveryModelMapsADigitBatchToTenLogits()
    {
        foreach (var name in ModelZoo.Names)
            Assert.Equal([3, 10], ModelZoo.Create(name, 1).OutputShape([3, 1, 28, 28]));
    }

    [Theory]
    [InlineData("mlp")]
    [InlineData("cnn")]
    [InlineData("cnn-dropout")]
    [InlineData("lenet5")]
    [InlineData("lenet5-relu")]
    [InlineData("net3")]
    [InlineData("fast")]
    [InlineData("best")]
    [InlineData("resnet18")]
    [InlineData("resnet18-small")]
    public void ForwardAndBackwardRunWithTheDeclaredShapes(string name)
    {
        var model = ModelZoo.Create(name, 1);
        var input = TestUtil.Random(new Rng(2), 2, 1, 28, 28);
        var output = model.Forward(input);
        Assert.Equal([2, 10], output.Shape);
        Assert.All(output.Span.ToArray(), v => Assert.True(float.IsFinite(v)));
        var inputGrad = model.Backward(TestUtil.Random(new Rng(3), 2, 10));
        Assert.Equal(input.Shape, inputGrad.Shape);
        Assert.Contains(model.Parameters(), p => TestUtil.MaxAbs(p.Grad.Span) > 0);
    }

    [Fact]
    public void ResNetUsesTorchvisionStateDictNames()
    {
        var model = ModelZoo.Create("resnet18", 1);
        var shapes = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Shape);
        Assert.Equal([64, 1, 7, 7], shapes["conv1.weight"]);
        Assert.Equal([128, 64, 3, 3], shapes["layer2.0.conv1.weight"]);
        Assert.Equal([128, 64, 1, 1], shapes["layer2.0.downsample.0.weight"]);
        Assert.Equal([128], shapes["layer2.0.downsample.1.weight"]);
        Assert.Equal([10, 512], shapes["fc.weight"]);
        Assert.DoesNotContain("layer1.0.downsample.0.weight", shapes.Keys); // same width and stride: identity shortcut
        Assert.DoesNotContain("conv1.bias", shapes.Keys);
        var buffers = model.NamedBuffers().Select(b => b.Name).ToHashSet();
        Assert.Contains("layer4.1.bn2.running_var", buffers);
        Assert.Contains("bn1.running_mean", buffers);
    }

    [Fact]
    public void SameSeedSameWeightsOtherSeedOtherWeights()
    {
        float[] Weights(ulong seed) => ModelZoo.Create("cnn", seed).Parameters().SelectMany(p => p.Value.Span.ToArray()).ToArray();
        Assert.Equal(Weights(5), Weights(5));
        Assert.NotEqual(Weights(5), Weights(6));
    }

    [Fact]
    public void UnknownNameListsTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => ModelZoo.Create("vgg16", 1));
        Assert.Contains("vgg16", e.Message);
        Assert.Contains("resnet18", e.Message);
    }

    [Fact]
    public void DropoutOffKeepsTheSameParameterNames()
    {
        var on = ModelZoo.Create("net3", 1).NamedParameters().Select(p => p.Name);
        var off = ModelZoo.Create("net3", 1, new ModelOptions { Dropout = false }).NamedParameters().Select(p => p.Name);
        Assert.Equal(on, off);
    }

    [Fact]
    public void SummaryListsLayersWithTorchsummaryTotals()
    {
        var s = ModelSummary.Build(ModelZoo.Create("cnn", 1), [1, 1, 28, 28]);
        Assert.Equal(["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2"], s.Rows.Select(r => r.Name));
        Assert.Equal([1, 32, 28, 28], s.Rows[0].OutputShape);
        Assert.Equal(320, s.Rows[0].Parameters);
        Assert.Equal([1, 64, 7, 7], s.Rows[5].OutputShape);
        Assert.Equal(401_536, s.Rows[7].Parameters);
        // Outputs per image: 2·25088 + 6272 + 2·12544 + 2·3136 + 2·128 + 10 = 88,074 floats, twice (value and gradient).
        Assert.Equal(2.0 * 88_074 * 4 / (1 << 20), s.ForwardBackwardMegabytes, 1e-12);
        Assert.Equal(421_642 * 4.0 / (1 << 20), s.ParameterMegabytes, 1e-12);
        Assert.Equal(784 * 4.0 / (1 << 20), s.InputMegabytes, 1e-12);
        Assert.Equal(0, s.BufferValues);
        string text = s.ToText();
        Assert.Contains("Total params: 421,642", text);
        Assert.Contains("Trainable params: 421,642", text);
        Assert.Contains("Forward/backward pass size (MB): 0.67", text);
    }

    [Fact]
    public void SummaryOfResNetListsBlocksAndShortcuts()
    {
        var s = ModelSummary.Build(ModelZoo.Create("resnet18", 1), [1, 1, 28, 28]);
        var byName = s.Rows.ToDictionary(r => r.Name);
        Assert.Equal([1, 64, 7, 7], byName["maxpool"].OutputShape);
        Assert.Equal([1, 128, 4, 4], byName["layer2.0"].OutputShape);
        Assert.Equal("BasicBlock", byName["layer2.0"].Type);
        Assert.Equal([1, 128, 4, 4], byName["layer2.0.downsample.0"].OutputShape);
        Assert.Equal([1, 512, 1, 1], byName["layer4.1"].OutputShape);
        Assert.Equal(s.TotalParameters, s.Rows.Sum(r => r.Parameters));
        // Running mean and variance of every batch-norm channel count as buffers, not parameters.
        Assert.Equal(ModelZoo.Create("resnet18", 1).NamedBuffers().Sum(b => (long)b.Tensor.Length), s.BufferValues);
        Assert.True(s.BufferValues > 0);
    }

    [Fact]
    public void BasicBlockGradientsMatchFiniteDifferences()
    {
        // What BasicBlock adds to the engine's (separately checked) layers is the residual sum, the final ReLU and the
        // gradient split between body and shortcut. Checked in eval mode, where batch norm is affine: with batch
        // statistics over 18 values per channel the loss curves too much for a float32 finite-difference step.
        // Batch-norm shifts of +2.5 keep almost every pre-ReLU value away from 0: a step on a convolution weight
        // moves every position at once, and with centred activations some ReLU would always flip.
        static BasicBlock Block(int inChannels, int outChannels, int stride, ulong seed)
        {
            var block = new BasicBlock(inChannels, outChannels, stride);
            block.ResetAllParameters(new Rng(seed));
            foreach (var (name, p) in block.NamedParameters())
                if (name.EndsWith("bias", StringComparison.Ordinal)) p.Value.Span.Fill(2.5f);
            block.Eval();
            return block;
        }
        GradCheck.Module(Block(2, 3, 2, 7), TestUtil.Random(new Rng(8), 2, 2, 6, 6), seed: 9, hasKinks: true);
        GradCheck.Module(Block(3, 3, 1, 10), TestUtil.Random(new Rng(11), 2, 3, 5, 5), seed: 12, hasKinks: true);
    }

    [Theory]
    [InlineData(3, 8, 2)] // a projection shortcut (downsample)
    [InlineData(8, 8, 1)] // the identity shortcut
    public void BasicBlockBackwardIsItsChildrenComposedBitForBit(int inChannels, int outChannels, int stride)
    {
        // Training mode (batch statistics): the block's input gradient must be exactly relu'(out)·dY through the body
        // plus the same through the shortcut, and its parameter gradients those of its children; the children's own
        // calls, made here by hand in a second workspace, define those bits.
        var block = new BasicBlock(inChannels, outChannels, stride);
        block.ResetAllParameters(new Rng(21));
        var x = TestUtil.Random(new Rng(22), 4, inChannels, 6, 6);
        using var compute = new DigitLab.Runtime.ComputeContext(1);
        var ws = new Workspace(compute, training: true);
        var y = block.Forward(x, ws);
        var dy = TestUtil.Random(new Rng(23), y.Shape);
        block.ZeroGrad();
        var dx = block.Backward(dy, ws).Span.ToArray();
        var grads = block.NamedParameters().Select(p => p.Parameter.Grad.Span.ToArray()).ToList();

        var manual = new Workspace(compute, training: true);
        block.ZeroGrad();
        var body = block.Bn2.Forward(block.Conv2.Forward(block.Relu.Forward(block.Bn1.Forward(block.Conv1.Forward(x, manual), manual), manual), manual), manual);
        var shortcut = block.Downsample?.Forward(x, manual) ?? x;
        var sum = body.Span.ToArray();
        for (int i = 0; i < sum.Length; i++) sum[i] = MathF.Max(sum[i] + shortcut.Span[i], 0f);
        Assert.Equal(sum, y.Span.ToArray());
        var sumGrad = new Tensor(y.Shape);
        for (int i = 0; i < sum.Length; i++) sumGrad.Span[i] = sum[i] > 0 ? dy.Span[i] : 0f;
        var bodyGrad = block.Conv1.Backward(block.Bn1.Backward(block.Relu.Backward(block.Conv2.Backward(block.Bn2.Backward(sumGrad, manual), manual), manual), manual), manual);
        var shortcutGrad = block.Downsample?.Backward(sumGrad, manual) ?? sumGrad;
        var expected = new float[dx.Length];
        for (int i = 0; i < expected.Length; i++) expected[i] = bodyGrad.Span[i] + shortcutGrad.Span[i];
        Assert.Equal(expected, dx);
        Assert.Equal(grads, block.NamedParameters().Select(p => p.Parameter.Grad.Span.ToArray()).ToList());
    }
}
