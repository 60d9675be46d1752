// Flatten and Sequential: views without copies, names, shapes, gradients through a stack, and a toy training run.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class SequentialTests
{
    [Fact]
    public void FlattenIsAViewBothWays()
    {
        var flatten = new Flatten();
        var x = TestUtil.Random(new Rng(1), 2, 3, 4, 5);
        var y = flatten.Forward(x);
        Assert.Equal([2, 60], y.Shape);
        Assert.Same(x.Data, y.Data);
        Assert.Same(y, flatten.Forward(x)); // steady state: the same view object
        var g = TestUtil.Random(new Rng(2), 2, 60);
        var dx = flatten.Backward(g);
        Assert.Equal(x.Shape, dx.Shape);
        Assert.Equal(g.ReadOnlySpan.ToArray(), dx.ReadOnlySpan.ToArray());
        Assert.Equal([7, 12], flatten.OutputShape([7, 3, 2, 2]));
    }

    [Fact]
    public void MlpGradientsMatchFiniteDifferences()
    {
        var mlp = new Sequential(new Flatten(), new Linear(12, 7), new Tanh(), new Linear(7, 5), new Sigmoid(), new Linear(5, 3));
        mlp.ResetAllParameters(new Rng(3));
        GradCheck.Module(mlp, TestUtil.Random(new Rng(4), 4, 3, 2, 2), seed: 5, maxPerTensor: 30);
    }

    [Fact]
    public void NamesFollowPyTorch()
    {
        var model = new Sequential(("features", new Sequential(new Linear(4, 3), new ReLU())), ("classifier", new Linear(3, 2)));
        Assert.Equal(["features.0.weight", "features.0.bias", "classifier.weight", "classifier.bias"],
            model.NamedParameters().Select(p => p.Name));
        Assert.Equal("Sequential(\n  (features): Sequential(\n    (0): Linear(4 -> 3)\n    (1): ReLU()\n  )\n  (classifier): Linear(3 -> 2)\n)",
            model.ToString());
        Assert.Equal([5, 2], model.OutputShape([5, 4]));
    }

    [Fact]
    public void ShapeErrorInsideAStackNamesTheLayer()
    {
        var model = new Sequential(new Flatten(), new Linear(10, 3), new Linear(4, 2));
        var ex = Assert.Throws<ArgumentException>(() => model.OutputShape([8, 10]));
        Assert.Contains("Linear(4 -> 2)", ex.Message);
        Assert.Contains("(8, 3)", ex.Message);
    }

    [Fact]
    public void EmptySequentialIsTheIdentity()
    {
        var empty = new Sequential();
        var x = TestUtil.Random(new Rng(8), 2, 3);
        Assert.Same(x, empty.Forward(x));
        Assert.Equal("Sequential()", empty.ToString());
        Assert.Equal([2, 3], empty.OutputShape([2, 3]));
    }

    [Fact]
    public void DuplicateNamesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new Sequential(("a", new ReLU()), ("a", new Tanh())));
    }

    [Fact]
    public void MlpLossDecreasesUnderPlainSgd()
    {
        // Three Gaussian blobs in 4-D; a 4-16-3 MLP trained by hand-written SGD on the whole set.
        var rng = new Rng(21);
        const int n = 60, classes = 3;
        var x = new Tensor(n, 4);
        var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % classes);
            for (int j = 0; j < 4; j++) x[i, j] = (j == labels[i] ? 2f : 0f) + 0.5f * rng.Normal();
        }
        var model = new Sequential(new Linear(4, 16), new ReLU(), new Linear(16, classes));
        model.ResetAllParameters(new Rng(22));
        var loss = new SoftmaxCrossEntropy();
        float first = 0, last = 0;
        for (int step = 0; step < 40; step++)
        {
            model.ZeroGrad();
            last = loss.Forward(model.Forward(x), labels);
            if (step == 0) first = last;
            model.Backward(loss.Backward());
            foreach (var p in model.Parameters())
                for (int i = 0; i < p.Length; i++) p.Value.Data[i] -= 0.5f * p.Grad.Data[i];
        }
        Assert.True(last < 0.25f * first, $"loss went from {first} to {last}");
        int correct = 0;
        var probabilities = loss.Probabilities;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (probabilities[i, c] > probabilities[i, best]) best = c;
            if (best == labels[i]) correct++;
        }
        Assert.True(correct >= 0.9 * n, $"{correct} of {n} correct");
    }
}
