// Average pooling against its window-by-window reference, with and without padding.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class AvgPoolTests
{
    [Theory]
    [InlineData(2, 3, 28, 28, 2, 2, 0)]
    [InlineData(1, 6, 10, 10, 2, 2, 0)]  // LeNet-5's subsampling
    [InlineData(1, 2, 7, 9, 3, 2, 1)]
    [InlineData(2, 1, 5, 5, 5, 1, 0)]
    [InlineData(3, 2, 6, 5, 2, 1, 1)]
    [InlineData(40, 20, 5, 7, 2, 2, 0)]  // enough planes to split across threads
    public void MatchesReference(int n, int c, int h, int w, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, c, k, s, p);
        var rng = new Rng((ulong)(n * 1000 + h * 10 + k + p));
        var x = TestUtil.RandomArray(rng, g.InputLength);
        float[] y = new float[g.OutputLength], yRef = new float[g.OutputLength];
        AvgPool.Forward(ModuleCalls.Compute, g, x, y);
        AvgPoolReference.Forward(g, x, yRef);
        TestUtil.AssertClose(yRef, y, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, "avg-pool output");

        var dy = TestUtil.RandomArray(rng, g.OutputLength);
        float[] dx = new float[g.InputLength], dxRef = new float[g.InputLength];
        Array.Fill(dx, 3f);
        AvgPool.Backward(ModuleCalls.Compute, g, dy, dx);
        AvgPoolReference.Backward(g, dy, dxRef);
        TestUtil.AssertClose(dxRef, dx, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, "avg-pool input gradient");
    }
}
