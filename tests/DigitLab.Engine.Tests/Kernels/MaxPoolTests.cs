// Max pooling against its window-by-window reference: values, argmax indices, gradients, ties.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class MaxPoolTests
{
    [Theory]
    [InlineData(2, 3, 28, 28, 2, 2, 0)]
    [InlineData(1, 2, 7, 9, 2, 2, 0)]   // odd sizes: the last row/column is dropped
    [InlineData(2, 1, 9, 8, 3, 2, 1)]
    [InlineData(1, 4, 6, 6, 3, 3, 0)]
    [InlineData(3, 2, 5, 7, 2, 1, 1)]
    [InlineData(2, 2, 4, 5, 4, 2, 2)]
    [InlineData(40, 20, 6, 6, 2, 2, 0)] // enough planes to split across threads
    [InlineData(2, 3, 6, 40, 2, 2, 0)]  // rows of 20 outputs: two 8-wide vector steps and a tail
    [InlineData(1, 1, 4, 33, 2, 2, 0)]  // odd width: the last column is dropped
    [InlineData(2, 2, 14, 14, 2, 2, 0)] // rows of 7: one 4-wide step and a scalar tail
    public void MatchesReference(int n, int c, int h, int w, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, c, k, s, p);
        var rng = new Rng((ulong)(n * 1000 + h * 10 + k));
        var x = TestUtil.RandomArray(rng, g.InputLength);
        for (int i = 0; i < x.Length; i += 5) x[i] = x[Math.Max(0, i - 1)]; // some ties
        float[] y = new float[g.OutputLength], yRef = new float[g.OutputLength];
        int[] idx = new int[g.OutputLength], idxRef = new int[g.OutputLength];
        MaxPool.Forward(ModuleCalls.Compute, g, x, y, idx);
        MaxPoolReference.Forward(g, x, yRef, idxRef);
        Assert.Equal(yRef, y);
        Assert.Equal(idxRef, idx);

        var dy = TestUtil.RandomArray(rng, g.OutputLength);
        float[] dx = new float[g.InputLength], dxRef = new float[g.InputLength];
        Array.Fill(dx, 3f);
        MaxPool.Backward(ModuleCalls.Compute, g, dy, idx, dx);
        MaxPoolReference.Backward(g, dy, idxRef, dxRef);
        TestUtil.AssertClose(dxRef, dx, 0, EngineTolerances.ElementwiseRelative, "max-pool input gradient");
    }

    [Theory]
    [InlineData(2, 3, 14, 14, 3, 2, 1)]  // resnet18's stem pool: 49 outputs, six gathers of 8 and a partial one
    [InlineData(1, 2, 13, 11, 3, 2, 1)]  // odd sizes
    [InlineData(2, 1, 20, 37, 3, 2, 1)]
    [InlineData(1, 2, 9, 10, 3, 1, 1)]
    [InlineData(1, 2, 10, 9, 5, 3, 2)]
    [InlineData(2, 1, 7, 8, 4, 3, 2)]
    [InlineData(1, 1, 3, 3, 3, 2, 1)]
    [InlineData(1, 1, 1, 1, 1, 1, 0)]
    [InlineData(1, 1, 5, 1, 3, 1, 1)]    // one column: every window is clipped on both sides
    [InlineData(1, 2, 30, 30, 3, 1, 1)]  // tap table too large for the stack: the separable path, rows of 30 (8-, 4-wide and scalar merges)
    [InlineData(1, 1, 102, 101, 3, 1, 1)] // too large for the separable scratch as well: the general path
    public void ManyTiesNaNsAndInfinitiesMatchReference(int n, int c, int h, int w, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, c, k, s, p);
        var rng = new Rng((ulong)(h * 100 + w * 10 + k));
        var x = new float[g.InputLength];
        for (int i = 0; i < x.Length; i++)
            x[i] = rng.NextInt(10) switch
            {
                0 => float.NaN,
                1 => float.NegativeInfinity,  // ties with the padding, which must still never win
                2 => -0f,
                3 => 0f,                      // equal to −0: the first of the two must win, sign included
                _ => rng.NextInt(3),          // many ties
            };
        float[] y = new float[g.OutputLength], yRef = new float[g.OutputLength];
        int[] idx = new int[g.OutputLength], idxRef = new int[g.OutputLength];
        MaxPool.Forward(ModuleCalls.Compute, g, x, y, idx);
        MaxPoolReference.Forward(g, x, yRef, idxRef);
        Assert.Equal(idxRef, idx);
        // Bit patterns, so that −0 against 0 counts as a difference.
        Assert.Equal(yRef.Select(BitConverter.SingleToInt32Bits), y.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void FirstMaximumWinsATie()
    {
        var g = new ConvGeometry(1, 1, 2, 2, 1, 2, 2, 0);
        float[] y = new float[1];
        int[] idx = new int[1];
        MaxPool.Forward(ModuleCalls.Compute, g, [1f, 3f, 3f, 2f], y, idx);
        Assert.Equal(3f, y[0]);
        Assert.Equal(1, idx[0]);
    }

    [Theory]
    [InlineData(2, 2, 0)] // the branch-free 2×2 path
    [InlineData(2, 1, 0)] // the gathered path
    [InlineData(3, 2, 1)] // the gathered path, with padding
    public void NaNPropagatesAndItsFirstPositionIsRecorded(int k, int s, int p)
    {
        var g = new ConvGeometry(1, 1, 2, 2, 1, k, s, p);
        float[] x = [1f, float.NaN, 5f, float.NaN];
        float[] y = new float[g.OutputLength], yRef = new float[g.OutputLength];
        int[] idx = new int[g.OutputLength], idxRef = new int[g.OutputLength];
        MaxPool.Forward(ModuleCalls.Compute, g, x, y, idx);
        MaxPoolReference.Forward(g, x, yRef, idxRef);
        Assert.True(float.IsNaN(y[0]));
        Assert.Equal(1, idx[0]);
        Assert.Equal(idxRef, idx);
    }

    [Fact]
    public void VectorPathHandlesNaNAndTiesLikeTheReference()
    {
        var g = new ConvGeometry(1, 1, 2, 40, 1, 2, 2, 0); // 20 outputs: two 8-wide steps and one 4-wide
        var x = new float[80];
        var rng = new Rng(12);
        for (int i = 0; i < 80; i++) x[i] = rng.NextInt(3); // many ties
        x[1] = float.NaN; x[41] = float.NaN;                 // window 0: NaN at the top right and bottom right
        x[44] = float.NaN;                                   // window 2: NaN at the bottom left only
        x[75] = float.NaN;                                   // window 17 (4-wide step): bottom right
        float[] y = new float[20], yRef = new float[20];
        int[] idx = new int[20], idxRef = new int[20];
        MaxPool.Forward(ModuleCalls.Compute, g, x, y, idx);
        MaxPoolReference.Forward(g, x, yRef, idxRef);
        Assert.Equal(idxRef, idx);
        Assert.Equal(yRef, y);
        Assert.Equal(1, idx[0]);
        Assert.Equal(44, idx[2]);
        Assert.Equal(75, idx[17]);
    }
}
