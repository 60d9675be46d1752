// Im2Col/Col2Im and the batched im2col + Gemm convolution against direct reference loops, over many geometries.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class ConvolutionTests
{
    // (batch, in, H, W, out, kernel, stride, padding): odd sizes, every stride/padding mix, kernels 1..5.
    public static IEnumerable<object[]> Geometries() =>
    [
        [1, 1, 5, 5, 1, 3, 1, 0],
        [2, 1, 28, 28, 4, 3, 1, 1],
        [3, 2, 7, 9, 3, 3, 2, 1],
        [2, 3, 6, 5, 2, 1, 1, 0],
        [1, 2, 11, 8, 5, 5, 1, 2],
        [2, 4, 9, 9, 3, 2, 2, 0],
        [1, 3, 10, 7, 2, 4, 3, 2],
        [4, 5, 3, 3, 6, 3, 1, 1],
        [2, 2, 4, 4, 2, 5, 1, 2],   // kernel larger than the image, saved by padding
        [1, 1, 1, 1, 3, 1, 1, 0],
        [2, 6, 5, 6, 4, 3, 2, 0],
        [1, 2, 1, 3, 2, 5, 1, 2],   // one row, kernel taller than the image: rows above and below are all padding
        [2, 3, 14, 14, 4, 3, 1, 1], // the models' "same" 3×3 convolution
        [1, 2, 9, 6, 3, 7, 1, 3],   // a 7×7 "same" kernel wider than the image
    ];

    private static ConvGeometry Geo(object[] a) => new((int)a[0], (int)a[1], (int)a[2], (int)a[3], (int)a[4], (int)a[5], (int)a[6], (int)a[7]);

    [Theory, MemberData(nameof(Geometries))]
    public void UnfoldAndFoldMatchReference(int n, int c, int h, int w, int o, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        var image = TestUtil.RandomArray(new Rng(1), c * h * w);
        // Two images' worth of columns side by side: the image under test at column offset `plane`.
        int plane = g.OutPlane, ld = 2 * plane, length = g.ColumnRows * ld;
        float[] fast = new float[length], reference = new float[length];
        Array.Fill(fast, 9f);
        Array.Fill(reference, 9f); // the other image's columns must be left alone
        Im2Col.Unfold(image, g, fast.AsSpan(plane), ld);
        Im2ColReference.Unfold(image, g, reference.AsSpan(plane), ld);
        Assert.Equal(reference, fast);

        var columns = TestUtil.RandomArray(new Rng(2), length);
        float[] back = new float[c * h * w], backReference = new float[c * h * w];
        Array.Fill(back, 5f); // Fold overwrites
        Im2Col.Fold(((float[])columns.Clone()).AsSpan(plane), ld, g, back); // Fold may zero entries of its scratch columns
        Im2ColReference.Fold(columns.AsSpan(plane), ld, g, backReference);
        TestUtil.AssertClose(backReference, back, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, "fold");
    }

    [Theory, MemberData(nameof(Geometries))]
    public void ForwardAndBackwardMatchReference(int n, int c, int h, int w, int o, int k, int s, int p)
        => CompareWithReference(new ConvGeometry(n, c, h, w, o, k, s, p), bias: (n + k) % 2 == 0);

    [Fact]
    public void SeveralImageGroupsMatchReference()
    {
        // 16·5·5 = 400 column rows × 64·64 columns per image exceeds half the 4M-float budget: groups of 2.
        var g = new ConvGeometry(3, 16, 64, 64, 2, 5, 1, 2);
        Assert.True(Convolution.GroupSize(g) < g.Batch);
        CompareWithReference(g, bias: true, EngineTolerances.LongSumAbsolute);
    }

    internal static void CompareWithReference(ConvGeometry g, bool bias, double absolute = EngineTolerances.SumAbsolute)
    {
        var rng = new Rng((ulong)g.GetHashCode());
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var b = bias ? TestUtil.RandomArray(rng, g.OutChannels) : null;
        var workspace = new float[Convolution.WorkspaceLength(g)];

        float[] y = new float[g.OutputLength], yRef = new float[g.OutputLength];
        bool ready = Convolution.Forward(g, x, weight, b, y, workspace);
        ConvolutionReference.Forward(g, x, weight, b ?? [], yRef);
        TestUtil.AssertClose(yRef, y, absolute, EngineTolerances.SumRelative, $"forward {g}");

        var dy = TestUtil.RandomArray(rng, g.OutputLength);
        // Parameter gradients accumulate: start both from the same non-zero values.
        var dw = TestUtil.RandomArray(new Rng(5), g.WeightLength);
        var dwRef = (float[])dw.Clone();
        var db = bias ? TestUtil.RandomArray(new Rng(6), g.OutChannels) : null;
        var dbRef = db is null ? [] : (float[])db.Clone();
        float[] dx = new float[g.InputLength], dxRef = new float[g.InputLength];
        Array.Fill(dx, 7f); // overwritten, not accumulated
        Convolution.Backward(g, x, weight, dy, dx, dw, db, workspace, ready);
        ConvolutionReference.Backward(g, x, weight, dy, dxRef, dwRef, dbRef);
        TestUtil.AssertClose(dxRef, dx, absolute, EngineTolerances.SumRelative, $"input grad {g}");
        TestUtil.AssertClose(dwRef, dw, absolute, EngineTolerances.SumRelative, $"weight grad {g}");
        if (db is not null) TestUtil.AssertClose(dbRef, db, absolute, EngineTolerances.SumRelative, $"bias grad {g}");

        // Without the forward's columns (columnsReady: false) the weight gradient is the same.
        var dw2 = TestUtil.RandomArray(new Rng(5), g.WeightLength);
        Convolution.Backward(g, x, weight, dy, new float[g.InputLength], dw2, null, workspace, columnsReady: false);
        Assert.Equal(dw, dw2);

        // Without the input gradient (a first layer) the weight gradient still matches; the route may differ
        // (the direct route's input gradient needs input channels in eights, its weight gradient does not).
        var dw3 = TestUtil.RandomArray(new Rng(5), g.WeightLength);
        Convolution.Backward(g, x, weight, dy, null, dw3, null, workspace, columnsReady: false);
        TestUtil.AssertClose(dwRef, dw3, absolute, EngineTolerances.SumRelative, $"weight grad without input grad {g}");
    }

    [Fact]
    public void ResultsAreIdenticalForTheSameThreadCount()
    {
        var g = new ConvGeometry(8, 3, 12, 12, 4, 3, 1, 1);
        var rng = new Rng(3);
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var dy = TestUtil.RandomArray(rng, g.OutputLength);
        float[] Run()
        {
            var ws = new float[Convolution.WorkspaceLength(g)];
            var y = new float[g.OutputLength];
            var dw = new float[g.WeightLength];
            var dx = new float[g.InputLength];
            bool ready = Convolution.Forward(g, x, weight, null, y, ws);
            Convolution.Backward(g, x, weight, dy, dx, dw, null, ws, ready);
            return [.. y, .. dw, .. dx];
        }
        Assert.Equal(Run(), Run());
    }
}

/// <summary>The by-image route at several thread counts; changes <see cref="Threading.Threads"/>, so it runs alone.</summary>
[Collection(GemmThreadsCollection.Name)]
public class ConvolutionThreadsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ByImageGroupsMatchReference(int threads)
    {
        // 12·12 planes take the by-image route; 8 images over the threads, several per cache-sized group
        // (scattered and gathered), and with 3 threads runs of unequal length.
        var g = new ConvGeometry(8, 2, 12, 12, 3, 3, 1, 1);
        int saved = Threading.Threads;
        try
        {
            Threading.Threads = threads;
            Assert.True(Convolution.ByImage(g));
            Assert.True(Convolution.GroupSize(g) > 1);
            ConvolutionTests.CompareWithReference(g, bias: true);
            ConvolutionTests.CompareWithReference(g with { Batch = 1 }, bias: false);
        }
        finally { Threading.Threads = saved; }
    }
}
