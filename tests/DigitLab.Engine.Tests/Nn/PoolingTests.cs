// Pooling layers: finite-difference gradients and output shapes.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class PoolingTests
{
    /// <summary>Distinct values at least 0.1 apart (shuffled), so no finite-difference step of 0.01 changes a window's maximum.</summary>
    private static Tensor DistinctInput(ulong seed, params int[] shape)
    {
        var t = new Tensor(shape);
        var order = Enumerable.Range(0, t.Length).ToArray();
        new Rng(seed).Shuffle(order.AsSpan());
        for (int i = 0; i < t.Length; i++) t.Data[i] = 0.1f * (order[i] - t.Length / 2);
        return t;
    }

    [Theory]
    [InlineData(2, 2, 6, 6, 2, null, 0)]
    [InlineData(1, 3, 7, 5, 3, 2, 1)]
    [InlineData(2, 1, 5, 5, 2, 1, 0)]
    public void MaxPoolGradientsMatchFiniteDifferences(int n, int c, int h, int w, int k, int? s, int p)
    {
        var pool = new MaxPool2d(k, s, p);
        GradCheck.Module(pool, DistinctInput(1, n, c, h, w), seed: 2, hasKinks: true);
    }

    [Fact]
    public void MaxPoolShapesAndErrors()
    {
        Assert.Equal([4, 32, 14, 14], new MaxPool2d(2).OutputShape([4, 32, 28, 28]));
        Assert.Equal([4, 8, 3, 3], new MaxPool2d(2).OutputShape([4, 8, 7, 7]));
        Assert.Equal([1, 1, 4, 4], new MaxPool2d(3, 2, 1).OutputShape([1, 1, 7, 7]));
        var ex = Assert.Throws<ArgumentException>(() => new MaxPool2d(2).Forward(new Tensor(4, 10)));
        Assert.Contains("(4, 10)", ex.Message);
        Assert.Contains("(N, C, H, W)", ex.Message);
        Assert.Equal("MaxPool2d(k=2, s=2)", new MaxPool2d(2).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => new MaxPool2d(2, padding: 2));
    }

    [Theory]
    [InlineData(2, 2, 6, 6, 2, null)]
    [InlineData(1, 3, 7, 5, 3, 2)]
    [InlineData(2, 1, 5, 5, 2, 1)]
    public void AvgPoolGradientsMatchFiniteDifferences(int n, int c, int h, int w, int k, int? s)
    {
        GradCheck.Module(new AvgPool2d(k, s), TestUtil.Random(new Rng(3), n, c, h, w), seed: 4);
    }

    [Fact]
    public void AvgPoolAveragesEachWindow()
    {
        var pool = new AvgPool2d(2);
        var y = pool.Forward(new Tensor([1f, 2f, 5f, 6f, 3f, 4f, 7f, 8f], 1, 1, 2, 4));
        Assert.Equal([1, 1, 1, 2], y.Shape);
        Assert.Equal([2.5f, 6.5f], y.ReadOnlySpan.ToArray());
        Assert.Equal("AvgPool2d(k=2, s=2)", pool.ToString());
        var ex = Assert.Throws<ArgumentException>(() => pool.OutputShape([1, 1, 1, 5]));
        Assert.Contains("(1, 1, 1, 5)", ex.Message);
    }
}
