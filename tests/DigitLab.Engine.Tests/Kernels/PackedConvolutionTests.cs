// PackedConvolution (the prepared model's convolution: weights packed once, bias/residual/ReLU in the epilogue) against
// the direct reference loops, over odd channel counts, strides, paddings and plane sizes, at 1, 2 and 3 threads.
using DigitLab.Kernels;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

[Collection(GemmThreadsCollection.Name)]
public class PackedConvolutionTests
{
    // (batch, in, H, W, out, kernel, stride, padding): the zoo's shapes and odd ones around them. Output channel counts
    // cover one to four vectors per chunk and a short last chunk; planes cover partial tiles, tiles spanning images,
    // 1×1 maps (centre tap only) and dead border taps.
    public static IEnumerable<object[]> Geometries() =>
    [
        [1, 3, 7, 7, 64, 3, 1, 1],    // resnet layer1-like 7×7, one 64-channel chunk
        [2, 5, 7, 6, 70, 3, 2, 1],    // rectangular, stride 2, 70 channels = a 4-vector and a 1-vector chunk
        [3, 17, 4, 4, 130, 3, 1, 1],  // 130 channels: chunks of 4, 4 and 1 vectors
        [1, 9, 2, 2, 48, 3, 1, 1],    // 2×2 map, 3-vector chunk
        [5, 8, 1, 1, 33, 3, 1, 1],    // 1×1 maps: only the centre tap is live; tiles span images
        [1, 16, 2, 2, 32, 3, 2, 1],   // 2×2 -> 1×1 stride 2: 4 of 9 taps live
        [7, 6, 9, 9, 16, 5, 1, 0],    // lenet5-like, no padding
        [2, 1, 12, 12, 6, 7, 2, 3],   // resnet stem-like: one input channel, 6 outputs (a partial vector)
        [1, 4, 5, 5, 17, 1, 2, 0],    // 1×1 kernel, stride 2
        [4, 2, 10, 8, 1, 2, 1, 0],    // one output channel, even kernel
        [13, 3, 3, 3, 20, 3, 1, 2],   // padding 2 on a 3×3 map: a 5×5 output whose corners read one tap
        [2, 16, 9, 8, 32, 3, 1, 1],   // tap-major with interior tiles walked in one go, border tiles per kernel tap
        [3, 20, 6, 10, 48, 5, 1, 0],  // no padding: every tile walked in one go; rows of 6 stored transposed
        [2, 32, 14, 14, 64, 3, 1, 1], // cnn's second convolution
    ];

    [Theory, MemberData(nameof(Geometries))]
    public void MatchesTheReferenceWithEveryEpilogue(int n, int c, int h, int w, int o, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        var rng = new Rng((ulong)(n * 1000 + c * 100 + o));
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var bias = TestUtil.RandomArray(rng, o);
        var residual = TestUtil.RandomArray(rng, g.OutputLength);
        var conv = new float[g.OutputLength];
        ConvolutionReference.Forward(g, x, weight, bias, conv);
        var plan = new PackedConvolution.Plan(weight, bias, c, o, k, s, p, h, w);
        foreach (bool withResidual in new[] { false, true })
            foreach (bool relu in new[] { false, true })
            {
                var expected = new float[g.OutputLength];
                for (int i = 0; i < expected.Length; i++)
                {
                    double v = (double)conv[i] + (withResidual ? residual[i] : 0);
                    expected[i] = (float)(relu ? Math.Max(v, 0) : v);
                }
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    using var compute = new ComputeContext(threads);
                    float[] Run()
                    {
                        var ws = new float[plan.WorkspaceLength(compute, n)];
                        Array.Fill(ws, float.NaN); // nothing may depend on what the workspace held
                        var y = new float[g.OutputLength];
                        PackedConvolution.Forward(compute, plan, n, x, y, withResidual ? residual : null, relu, ws);
                        return y;
                    }
                    var y = Run();
                    TestUtil.AssertClose(expected, y, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative,
                        $"{g} residual={withResidual} relu={relu} threads={threads}");
                    Assert.Equal(y, Run()); // the same bits again at the same thread count
                }
            }
    }

    /// <summary>
    /// A plan cut into narrower chunks (what a single image gets when a layer has fewer chunks than threads, so each
    /// thread writes only its own channels) computes every output value with the same sum: the same bits as the default
    /// chunks, for a single image and a batch, at 1, 2 and 3 threads, with and without the residual epilogue.
    /// </summary>
    [Theory]
    [InlineData(1, 16, 7, 7, 64, 3, 1, 1)]   // resnet layer1-like: one 4-vector chunk by default
    [InlineData(1, 8, 4, 4, 70, 3, 2, 1)]    // stride 2, a short last chunk
    [InlineData(2, 20, 5, 6, 48, 5, 1, 0)]   // a batch, shallow walk (20 channels, 5×5)
    [InlineData(1, 32, 14, 14, 64, 3, 1, 1)] // interior tiles walked in one go
    public void NarrowChunksGiveTheSameBits(int n, int c, int h, int w, int o, int k, int s, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, s, p);
        var rng = new Rng((ulong)(c * 100 + o));
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var bias = TestUtil.RandomArray(rng, o);
        var residual = TestUtil.RandomArray(rng, g.OutputLength);
        var wide = new PackedConvolution.Plan(weight, bias, c, o, k, s, p, h, w);
        foreach (bool withResidual in new[] { false, true })
        {
            float[] Run(PackedConvolution.Plan plan, int threads)
            {
                using var compute = new ComputeContext(threads);
                var ws = new float[plan.WorkspaceLength(compute, n)];
                Array.Fill(ws, float.NaN);
                var y = new float[g.OutputLength];
                PackedConvolution.Forward(compute, plan, n, x, y, withResidual ? residual : null, relu: true, ws);
                return y;
            }
            var expected = Run(wide, 1);
            for (int vectors = 1; vectors <= 3; vectors++)
            {
                var narrow = new PackedConvolution.Plan(weight, bias, c, o, k, s, p, h, w, chunkVectors: vectors);
                Assert.Equal((wide.Vectors + vectors - 1) / vectors, narrow.ChunkCount);
                foreach (int threads in new[] { 1, 2, 3 })
                    Assert.True(expected.AsSpan().SequenceEqual(Run(narrow, threads)), $"{g} chunks of {vectors} vectors, {threads} threads, residual={withResidual}");
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => new PackedConvolution.Plan(weight, bias, c, o, k, s, p, h, w, chunkVectors: 5));
    }

    /// <summary>A single image's parts: whole chunks each when there are enough, else even runs of tiles; every item once.</summary>
    [Theory]
    [InlineData(2, 9, 2)]   // two chunks of nine tiles, two threads: a chunk each
    [InlineData(8, 8, 2)]   // resnet layer4: eight chunks of one tile
    [InlineData(3, 6, 2)]   // three chunks, two threads: one and two chunks
    [InlineData(1, 9, 2)]   // one chunk: tiles 0–3 and 4–8
    [InlineData(2, 4, 3)]   // fewer chunks than threads: runs of tiles
    public void SingleImageItemsCoverEveryItemOnce(int chunks, int tiles, int parts)
    {
        int items = chunks * tiles, next = 0;
        for (int part = 0; part < parts; part++)
        {
            var (start, end) = PackedConvolution.SingleImageItems(chunks, items, parts, part);
            Assert.Equal(next, start);
            if (chunks >= parts) Assert.True(start % tiles == 0 && end % tiles == 0, $"part {part}: items {start}..{end} split a chunk");
            next = end;
        }
        Assert.Equal(items, next);
    }

    [Theory]
    [InlineData(1, 1, 3, 1, 1, 1)]   // 1×1 map, pad 1: the centre tap
    [InlineData(2, 2, 3, 2, 1, 4)]   // 2×2 -> 1×1 stride 2: rows and columns 1..2
    [InlineData(2, 2, 3, 1, 1, 9)]   // 2×2 map, pad 1: every tap reaches inside for some position
    [InlineData(7, 7, 3, 1, 1, 9)]
    [InlineData(3, 3, 3, 1, 2, 9)]   // pad 2: the outer ring of positions still reads each tap somewhere
    public void OnlyLiveTapsArePacked(int h, int w, int k, int s, int p, int live)
    {
        var plan = new PackedConvolution.Plan(new float[2 * 3 * k * k], new float[2], 3, 2, k, s, p, h, w);
        Assert.Equal(live, plan.LiveTaps);
    }

    [Fact]
    public void WrongSizesAreRefusedWithAMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => new PackedConvolution.Plan(new float[10], new float[2], 3, 2, 3, 1, 1, 4, 4));
        Assert.Contains("O·C·K·K", error.Message);
        var plan = new PackedConvolution.Plan(new float[2 * 3 * 9], new float[2], 3, 2, 3, 1, 1, 4, 4);
        using var compute = new ComputeContext(1);
        var ws = new float[plan.WorkspaceLength(compute, 2)];
        error = Assert.Throws<ArgumentException>(() => PackedConvolution.Forward(compute, plan, 2, new float[3 * 16], new float[2 * 2 * 16], null, false, ws));
        Assert.Contains("Input has 48 floats", error.Message);
        var y = new float[2 * 16];
        error = Assert.Throws<ArgumentException>(() => PackedConvolution.Forward(compute, plan, 1, new float[3 * 16], y, y, false, ws));
        Assert.Contains("residual must not be the output", error.Message);
    }
}
