// BatchNorm1d/2d: gradients in both modes, running statistics as PyTorch updates them, buffers, shapes.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class BatchNormTests
{
    private static T Randomised<T>(T bn) where T : BatchNorm
    {
        // Non-trivial γ, β and running statistics so every term of the gradient matters.
        var rng = new Rng(7);
        for (int i = 0; i < bn.Features; i++)
        {
            bn.Weight.Value.Data[i] = rng.Uniform(0.5f, 1.5f);
            bn.Bias.Value.Data[i] = rng.Uniform(-0.5f, 0.5f);
            bn.RunningMean.Data[i] = rng.Uniform(-0.5f, 0.5f);
            bn.RunningVar.Data[i] = rng.Uniform(0.5f, 1.5f);
        }
        return bn;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BatchNorm2dGradientsMatchFiniteDifferences(bool training)
    {
        var bn = Randomised(new BatchNorm2d(3));
        bn.SetTraining(training);
        GradCheck.Module(bn, TestUtil.Random(new Rng(1), 4, 3, 2, 3), seed: 2);
    }

    [Theory]
    [InlineData(true, 2)]
    [InlineData(true, 3)]
    [InlineData(false, 2)]
    public void BatchNorm1dGradientsMatchFiniteDifferences(bool training, int rank)
    {
        var bn = Randomised(new BatchNorm1d(5));
        bn.SetTraining(training);
        var x = rank == 2 ? TestUtil.Random(new Rng(3), 6, 5) : TestUtil.Random(new Rng(3), 3, 5, 4);
        GradCheck.Module(bn, x, seed: 4);
    }

    [Fact]
    public void RunningStatisticsFollowPyTorch()
    {
        var bn = new BatchNorm2d(2, momentum: 0.2f);
        var rng = new Rng(5);
        var x1 = TestUtil.Random(rng, 1f, 3f, 3, 2, 2, 2);
        var x2 = TestUtil.Random(rng, -1f, 0f, 3, 2, 2, 2);
        double[] mean = [0, 0], variance = [1, 1];
        foreach (var x in new[] { x1, x2 })
        {
            bn.Forward(x);
            for (int c = 0; c < 2; c++)
            {
                var values = Enumerable.Range(0, 3).SelectMany(n => Enumerable.Range(0, 4).Select(i => (double)x.Data[(n * 2 + c) * 4 + i])).ToArray();
                double m = values.Average();
                double unbiased = values.Sum(v => (v - m) * (v - m)) / (values.Length - 1);
                mean[c] = 0.8 * mean[c] + 0.2 * m;
                variance[c] = 0.8 * variance[c] + 0.2 * unbiased;
            }
        }
        for (int c = 0; c < 2; c++)
        {
            Assert.Equal(mean[c], bn.RunningMean.Data[c], 5);
            Assert.Equal(variance[c], bn.RunningVar.Data[c], 5);
        }
        Assert.Equal(2f, bn.NumBatchesTracked.Data[0]);

        // Evaluation leaves them alone and normalises with them.
        bn.Eval();
        var y = bn.Forward(x1);
        Assert.Equal(2f, bn.NumBatchesTracked.Data[0]);
        Assert.Equal((x1.Data[0] - mean[0]) / Math.Sqrt(variance[0] + 1e-5), y.Data[0], 5);
    }

    [Fact]
    public void TrainingOutputHasZeroMeanAndUnitVariancePerChannel()
    {
        var bn = new BatchNorm2d(3);
        var y = bn.Forward(TestUtil.Random(new Rng(6), 5f, 9f, 4, 3, 5, 5));
        for (int c = 0; c < 3; c++)
        {
            var values = Enumerable.Range(0, 4).SelectMany(n => y.Data.Skip((n * 3 + c) * 25).Take(25)).Select(v => (double)v).ToArray();
            Assert.Equal(0, values.Average(), 4);
            Assert.Equal(1, values.Average(v => v * v), 3); // biased variance = 1 − eps·(…)
        }
    }

    [Fact]
    public void BuffersParametersAndNames()
    {
        var bn = new BatchNorm2d(4);
        Assert.Equal(["weight", "bias"], bn.NamedParameters().Select(p => p.Name));
        Assert.Equal(["running_mean", "running_var", "num_batches_tracked"], bn.NamedBuffers().Select(b => b.Name));
        Assert.All(bn.Weight.Value.Data, v => Assert.Equal(1f, v));
        Assert.All(bn.RunningVar.Data, v => Assert.Equal(1f, v));
        Assert.Equal("BatchNorm2d(4)", bn.ToString());
        Assert.Equal("BatchNorm1d(8, eps=0.001, momentum=0.5)", new BatchNorm1d(8, 1e-3f, 0.5f).ToString());
    }

    [Fact]
    public void ShapeErrorsNameBothShapes()
    {
        var ex = Assert.Throws<ArgumentException>(() => new BatchNorm2d(8).Forward(new Tensor(2, 4, 3, 3)));
        Assert.Contains("(N, 8, H, W)", ex.Message);
        Assert.Contains("(2, 4, 3, 3)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => new BatchNorm1d(8).OutputShape([2, 8, 3, 3]));
        Assert.Contains("BatchNorm2d", ex.Message);
    }
}
