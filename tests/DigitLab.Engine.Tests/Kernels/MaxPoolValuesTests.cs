// MaxPoolValues (inference max pooling, no argmax) against the window-by-window reference, NaN and ties included.
using DigitLab.Kernels;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class MaxPoolValuesTests
{
    [Theory]
    [InlineData(2, 3, 28, 28, 2, 2, 0)]
    [InlineData(1, 2, 7, 9, 2, 2, 0)]    // odd sizes: the last row/column is dropped
    [InlineData(3, 5, 14, 14, 2, 2, 0)]  // cnn's second pool: rows narrower than a vector, the last plane's on the scalar path
    [InlineData(2, 64, 14, 14, 3, 2, 1)] // resnet18's stem pool
    [InlineData(1, 4, 6, 6, 3, 3, 0)]
    [InlineData(3, 2, 5, 7, 2, 1, 1)]    // stride 1, padding on both sides
    [InlineData(2, 2, 4, 5, 4, 2, 2)]    // padding half the kernel: corner windows hold one value
    [InlineData(400, 20, 6, 6, 2, 2, 0)] // enough planes to split across threads
    [InlineData(1, 1, 3, 1100, 2, 2, 0)] // a row wider than the stack buffer
    public void MatchesReference(int n, int c, int h, int w, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, c, k, s, p);
        var rng = new Rng((ulong)(n * 1000 + h * 10 + k));
        var x = TestUtil.RandomArray(rng, g.InputLength);
        for (int i = 0; i < x.Length; i += 5) x[i] = x[Math.Max(0, i - 1)]; // some ties
        x[x.Length / 2] = float.NaN;                                         // NaN propagates like the reference's
        float[] expected = new float[g.OutputLength];
        MaxPoolReference.Forward(g, x, expected, new int[g.OutputLength]);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var compute = new ComputeContext(threads);
            var y = new float[g.OutputLength];
            Array.Fill(y, 7f);
            MaxPoolValues.Forward(compute, g, x, y);
            Assert.Equal(expected, y);
        }
    }

    [Fact]
    public void PaddingBeyondHalfTheKernelIsRefused()
    {
        using var compute = new ComputeContext(1);
        var error = Assert.Throws<ArgumentException>(() => MaxPoolValues.Forward(compute, new ConvGeometry(1, 1, 4, 4, 1, 2, 2, 2), new float[16], new float[9]));
        Assert.Contains("exceeds half the kernel", error.Message);
    }
}
