// Im2Col/Col2Im and the batched im2col + Gemm convolution against direct reference loops, over many geometries.
using DigitLab.Kernels;
using DigitLab.Tensors;
using DigitLab.Runtime;

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

        // The gathered unfold (small maps), where the CPU and table size allow.
        if (!Im2ColGather.Supports(g)) return;
        var table = new int[Im2ColGather.TableLength(g)];
        Im2ColGather.BuildTable(g, table);
        float[] gathered = new float[length];
        Array.Fill(gathered, 9f);
        Im2ColGather.Unfold(image, g, table, gathered.AsSpan(plane), ld);
        Assert.Equal(reference, gathered);

        // The shifted fold ("same" stride-1 small maps).
        if (!Im2ColGather.SupportsFold(g)) return;
        var foldTable = new int[table.Length];
        Im2ColGather.BuildFoldTable(g, table, foldTable);
        float[] shiftedBack = new float[c * h * w];
        Array.Fill(shiftedBack, 5f);
        var columnsBefore = (float[])columns.Clone();
        Im2ColGather.Fold(columns, plane, ld, g, foldTable, shiftedBack);
        Assert.Equal(columnsBefore, columns); // only read
        TestUtil.AssertClose(backReference, shiftedBack, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, "shifted fold");
    }

    [Theory]
    [InlineData(3, 7, 7, 3, 1, 1)]  // resnet18's layer1: 49 positions, six full vectors and a masked one
    [InlineData(2, 4, 4, 3, 1, 1)]  // layer2: 16, two full vectors
    [InlineData(2, 2, 2, 3, 1, 1)]  // layer3: 4, one masked vector
    [InlineData(2, 7, 7, 3, 2, 1)]  // stride 2
    [InlineData(2, 5, 3, 1, 2, 0)]  // 1×1 kernel, stride 2: 3×2 positions
    [InlineData(2, 2, 2, 3, 2, 1)]  // 1 position: an overrun would reach past the next image, so the store stays masked
    [InlineData(2, 3, 3, 3, 1, 1)]  // 9 positions: the overrun writes 7 floats into the next image
    public void GatheredUnfoldIsUsedOnSmallMaps(int c, int h, int w, int k, int s, int p)
    {
        var g = new ConvGeometry(2, c, h, w, 3, k, s, p);
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx2.IsSupported, Im2ColGather.Supports(g));
        UnfoldAndFoldMatchReference(2, c, h, w, 3, k, s, p);
        CompareWithReference(g, bias: true);
        if (!Im2ColGather.Supports(g)) return;

        // Two images side by side, the first unfolded with row overrun, then the second over its spill.
        int plane = g.OutPlane, ld = 2 * plane, length = g.ColumnRows * ld, inLength = c * h * w;
        var images = TestUtil.RandomArray(new Rng(3), 2 * inLength);
        float[] fast = new float[length], reference = new float[length];
        var unfoldTable = new int[Im2ColGather.TableLength(g)];
        Im2ColGather.BuildTable(g, unfoldTable);
        Array.Fill(fast, 9f);
        Im2ColGather.Unfold(images.AsSpan(0, inLength), g, unfoldTable, fast, ld, overrunRows: true);
        Im2ColGather.Unfold(images.AsSpan(inLength, inLength), g, unfoldTable, fast.AsSpan(plane), ld);
        Im2ColReference.Unfold(images.AsSpan(0, inLength), g, reference, ld);
        Im2ColReference.Unfold(images.AsSpan(inLength, inLength), g, reference.AsSpan(plane), ld);
        Assert.Equal(reference, fast);
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

    [Fact]
    public void BatchedRouteInSeveralGroupsMatchesReference()
    {
        // 200 images of 64·9 rows × 49 columns exceed the one-group budget: equal groups of 34 (the last 30),
        // each unfolded again by Backward.
        var g = new ConvGeometry(200, 64, 7, 7, 3, 3, 1, 1);
        Assert.False(Convolution.ByImage(g));
        Assert.InRange(Convolution.GroupSize(g), 2, g.Batch - 1);
        Assert.NotEqual(0, g.Batch % Convolution.GroupSize(g));
        CompareWithReference(g, bias: true, EngineTolerances.LongSumAbsolute);
    }

    internal static void CompareWithReference(ConvGeometry g, bool bias, double absolute = EngineTolerances.SumAbsolute)
    {
        var rng = new Rng((ulong)g.GetHashCode());
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var b = bias ? TestUtil.RandomArray(rng, g.OutChannels) : null;
        var workspace = new float[Convolution.WorkspaceLength(ModuleCalls.Compute, g)];

        float[] y = new float[g.OutputLength], yRef = new float[g.OutputLength];
        bool ready = Convolution.Forward(ModuleCalls.Compute, g, x, weight, b, y, workspace);
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
        Convolution.Backward(ModuleCalls.Compute, g, x, weight, dy, dx, dw, db, workspace, ready);
        ConvolutionReference.Backward(g, x, weight, dy, dxRef, dwRef, dbRef);
        TestUtil.AssertClose(dxRef, dx, absolute, EngineTolerances.SumRelative, $"input grad {g}");
        TestUtil.AssertClose(dwRef, dw, absolute, EngineTolerances.SumRelative, $"weight grad {g}");
        if (db is not null) TestUtil.AssertClose(dbRef, db, absolute, EngineTolerances.SumRelative, $"bias grad {g}");

        // Without what the forward left (columnsReady: false: columns or packed weights) both gradients are the same.
        var dw2 = TestUtil.RandomArray(new Rng(5), g.WeightLength);
        var dx2 = new float[g.InputLength];
        Convolution.Backward(ModuleCalls.Compute, g, x, weight, dy, dx2, dw2, null, new float[workspace.Length], columnsReady: false);
        Assert.Equal(dw, dw2);
        Assert.Equal(dx, dx2);

        // Without the input gradient (a first layer) the weight gradient still matches; the route may differ
        // (the direct route's input gradient needs input channels in eights, its weight gradient does not).
        var dw3 = TestUtil.RandomArray(new Rng(5), g.WeightLength);
        Convolution.Backward(ModuleCalls.Compute, g, x, weight, dy, null, dw3, null, workspace, columnsReady: false);
        TestUtil.AssertClose(dwRef, dw3, absolute, EngineTolerances.SumRelative, $"weight grad without input grad {g}");
    }

    // Tap reduction: (batch, in, H, W, out, kernel, stride, padding, live (position, tap) pairs, position classes).
    [Theory]
    [InlineData(3, 5, 1, 1, 4, 3, 1, 1, 1, 1)]  // resnet18's layer4: 3×3 pad 1 on 1×1 maps, only the centre tap is live
    [InlineData(2, 3, 2, 2, 5, 3, 2, 1, 4, 1)]  // layer4's first convolution: 2×2 → 1×1 with stride 2, taps (1..2, 1..2)
    // Several classes need class GEMMs of 256 columns or more: 256 images of one position per class.
    [InlineData(256, 3, 2, 2, 4, 3, 1, 1, 16, 4)] // layer3 on a large batch: 2×2 maps, each position its own four taps
    [InlineData(256, 2, 1, 3, 3, 5, 1, 2, 9, 3)]  // one row, kernel taller than the image: three column classes of 3 taps
    [InlineData(256, 3, 3, 1, 2, 3, 2, 1, 4, 2)]  // one column, stride 2: outputs 2×1, two row classes
    [InlineData(2, 2, 1, 1, 3, 5, 2, 2, 1, 1)]  // stride past the image: output 1×1 from the centre of a 5×5 kernel
    public void TapReductionMatchesReference(int n, int c, int h, int w, int o, int k, int s, int p, int live, int classes)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        Assert.True(ConvolutionTaps.Applies(g));
        Assert.Equal(live, ConvolutionTaps.LiveEntries(g));
        Assert.Equal(classes, ConvolutionTaps.ClassCount(g));
        CompareWithReference(g, bias: true);
        var one = g with { Batch = 1 };
        Assert.Equal(classes == 1, ConvolutionTaps.Applies(one)); // several classes of one image are too narrow
        CompareWithReference(one, bias: false);
    }

    // 1×1 output maps with dead taps take the tap GEMM even where the channel-lane tiles could: (batch, in, H, W, out, k, s, p).
    [Theory]
    [InlineData(64, 512, 1, 1, 512, 3, 1, 1, true)]   // resnet18's layer4 3×3 on 1×1 maps: the centre tap
    [InlineData(64, 256, 2, 2, 512, 3, 2, 1, true)]   // layer4.0's first convolution, 2×2 → 1×1
    [InlineData(64, 256, 2, 2, 512, 1, 2, 0, false)]  // its 1×1 shortcut: no dead tap, channel lanes
    [InlineData(64, 256, 2, 2, 256, 3, 1, 1, false)]  // layer3's 2×2 maps: four positions, channel lanes
    public void SinglePositionMapsWithDeadTapsLeaveTheChannelLanes(int n, int c, int h, int w, int o, int k, int s, int p, bool taps)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        Assert.True(ChannelLaneConvolution.SupportsForward(g));
        Assert.Equal(taps, Convolution.SinglePositionTaps(g));
        // The same routes on small channel counts, 1 to 3 threads, against the reference loops.
        DirectConvolutionTests.CompareWithReferenceAtOneTwoAndThreeThreads(g with { Batch = 7, InChannels = 32, OutChannels = 64 }, bias: true);
    }

    [Fact]
    public void TapReductionOverSeveralGroupsMatchesReference()
    {
        // 1024 live rows + 2 result rows per image: 4200 images exceed the one-group budget (4M floats), so groups
        // within 1M floats, five of 840 (and Backward unfolds again). Weight gradients sum over 4200 products: LongSumAbsolute.
        var g = new ConvGeometry(4200, 1024, 1, 1, 2, 3, 1, 1);
        Assert.True(ConvolutionTaps.Applies(g));
        Assert.Equal(840, ConvolutionTaps.GroupSize(g));
        CompareWithReference(g, bias: true, EngineTolerances.LongSumAbsolute);
    }

    [Theory]
    [InlineData(2, 3, 3, 3, 4, 3, 1, 1)] // 3×3 maps: 49 of 81 entries live, more than half
    [InlineData(64, 3, 2, 2, 4, 3, 1, 1)] // 2×2 maps on a training batch: four classes of 64 columns, too narrow
    [InlineData(2, 3, 4, 4, 4, 3, 2, 1)] // layer3's first convolution, 4×4 → 2×2: 25 of 36
    [InlineData(2, 3, 1, 1, 4, 1, 1, 0)] // a 1×1 kernel has one tap, always live
    [InlineData(2, 3, 1, 1, 4, 1, 2, 1)] // all taps dead (output is the bias): the full route handles it
    public void NoTapReductionWhereMostEntriesAreLive(int n, int c, int h, int w, int o, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        Assert.False(ConvolutionTaps.Applies(g));
        CompareWithReference(g, bias: true);
    }

    [Theory]
    [InlineData(8, 3, 12, 12, 4, 3, 1, 1)]
    [InlineData(8, 6, 1, 1, 5, 3, 1, 1)] // tap reduction
    [InlineData(256, 3, 2, 2, 5, 3, 1, 1)] // tap reduction, four position classes
    public void ResultsAreIdenticalForTheSameThreadCount(int n, int c, int h, int w, int o, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        var rng = new Rng(3);
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var dy = TestUtil.RandomArray(rng, g.OutputLength);
        float[] Run()
        {
            var ws = new float[Convolution.WorkspaceLength(ModuleCalls.Compute, g)];
            var y = new float[g.OutputLength];
            var dw = new float[g.WeightLength];
            var dx = new float[g.InputLength];
            bool ready = Convolution.Forward(ModuleCalls.Compute, g, x, weight, null, y, ws);
            Convolution.Backward(ModuleCalls.Compute, g, x, weight, dy, dx, dw, null, ws, ready);
            return [.. y, .. dw, .. dx];
        }
        Assert.Equal(Run(), Run());
    }
}

/// <summary>The by-image route at several thread counts; runs its kernels on contexts of those thread counts.</summary>
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
        using var threads_ = ModuleCalls.UseThreads(threads);
        Assert.True(Convolution.ByImage(g));
        Assert.True(Convolution.GroupSize(g) > 1);
        ConvolutionTests.CompareWithReference(g, bias: true);
        ConvolutionTests.CompareWithReference(g with { Batch = 1 }, bias: false);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    public void TapReductionMatchesReference(int threads, int stride)
    {
        // 40 output channels: W' compaction and the weight-gradient scatter split over the threads; stride 1 gives
        // four classes, which need 256 images for wide enough class GEMMs.
        var g = new ConvGeometry(stride == 1 ? 256 : 7, 6, 2, 2, 40, 3, stride, 1);
        using var threads_ = ModuleCalls.UseThreads(threads);
        Assert.True(ConvolutionTaps.Applies(g));
        ConvolutionTests.CompareWithReference(g, bias: true);
    }
}
