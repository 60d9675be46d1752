// WinogradConvolution (the prepared model's F(2×2, 3×3) route for 3×3 stride-1 batches) against the direct reference
// loops, over odd plane sizes, paddings 0–2 and channel counts, at 1, 2 and 3 threads.
using DigitLab.Kernels;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class WinogradConvolutionTests
{
    // (batch, in, H, W, out, kernel, padding): the zoo's shapes and odd ones around them: odd output sizes (a last tile row or
    // column half outside), tile rows longer than one 15-tile (3×3) or 14-tile (5×5) vector, partial last blocks of six
    // tiles, 1–5 output vectors.
    public static IEnumerable<object[]> Geometries() =>
    [
        [2, 32, 14, 14, 64, 3, 1],  // cnn's second convolution
        [3, 16, 28, 28, 32, 3, 1],  // best-like 28×28 plane: 14 tiles per row
        [2, 5, 7, 9, 20, 3, 1],     // odd output 7×9, 20 channels (a 2-vector chunk, the second partial)
        [1, 3, 10, 11, 70, 3, 0],   // no padding: 8×9 output; 70 channels = a 4-vector and a 1-vector chunk
        [2, 4, 6, 5, 17, 3, 2],     // padding 2: 8×7 output
        [1, 2, 40, 36, 16, 3, 1],   // 20 × 18 tiles: a tile row spans two input-transform vectors
        [3, 1, 3, 3, 1, 3, 1],      // one input and one output channel, 2×2 tiles on a 3×3 output
        [2, 32, 24, 24, 32, 5, 0],  // net3's second convolution: 20×20 output, 10 × 10 tiles
        [2, 32, 12, 12, 64, 5, 0],  // net3's third: 8×8 output
        [1, 3, 11, 10, 70, 5, 0],   // odd output 7×6; 70 channels = a 4-vector and a 1-vector chunk
        [2, 4, 7, 6, 17, 5, 4],     // padding 4: 11×10 output
        [1, 2, 34, 33, 16, 5, 2],   // 17 × 17 tiles: a tile row spans two 14-tile vectors
        [3, 1, 5, 5, 1, 5, 2],      // one input and one output channel, 5×5 output
        [1, 32, 24, 24, 32, 5, 0],  // net3's layer for a single image: split between threads at tile 48 of 100 (inside tile row 4)
        [1, 32, 28, 28, 32, 3, 1],  // a single 28×28 image: split at tile 96 of 196 (inside tile row 6)
        [1, 64, 14, 14, 64, 3, 1],  // best's 64 → 64 layer, a single image: split at tile 24 of 49 (inside tile row 3)
    ];

    [Theory, MemberData(nameof(Geometries))]
    public void MatchesTheReference(int n, int c, int h, int w, int o, int k, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, 1, p);
        var rng = new Rng((ulong)(n * 1000 + c * 100 + o + p));
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var bias = TestUtil.RandomArray(rng, o);
        var conv = new float[g.OutputLength];
        ConvolutionReference.Forward(g, x, weight, bias, conv);
        var plan = new WinogradConvolution.Plan(weight, bias, c, o, k, p, h, w);
        // F(2×2, 5×5) scales the products by up to 5 (Bᵀ) and 1/24 … 2/3 (G) before they cancel back, so its rounding grows
        // with the outputs' size: on these O(1) random values with 800-term sums (outputs up to ~20), up to 1.04e-4 was
        // measured; its bound is 1e-5 of the largest output where that exceeds the engine's sum tolerance.
        double absolute = k == 5 ? Math.Max(EngineTolerances.SumAbsolute, 1e-5 * conv.Max(v => Math.Abs(v))) : EngineTolerances.SumAbsolute;
        float[]? first = null;
        foreach (bool relu in new[] { false, true })
            foreach (int threads in new[] { 1, 2, 3 })
            {
                var expected = relu ? conv.Select(v => Math.Max(v, 0f)).ToArray() : conv;
                using var compute = new ComputeContext(threads);
                float[] Run()
                {
                    var ws = new float[plan.WorkspaceLength(compute)];
                    Array.Fill(ws, float.NaN); // nothing may depend on what the workspace held
                    var y = new float[g.OutputLength];
                    Array.Fill(y, 7f);
                    WinogradConvolution.Forward(compute, plan, n, x, y, relu, ws);
                    return y;
                }
                var y = Run();
                TestUtil.AssertClose(expected, y, absolute, EngineTolerances.SumRelative, $"{g} relu={relu} threads={threads}");
                Assert.Equal(y, Run()); // the same bits again
                if (!relu)
                {
                    // Each image is one thread's, in a fixed order: the same bits at every thread count.
                    first ??= y;
                    Assert.Equal(first, y);
                }
            }
    }

    /// <summary>
    /// A single image of a layer below the default split threshold (cnn's and best's 32 → 64 layer, 1.6 M products), split
    /// when the caller asks (<see cref="WinogradConvolution.MinSplitWorkBeforeConvolution"/>): the same bits as one thread.
    /// </summary>
    [Fact]
    public void ASingleImageSplitBelowTheDefaultThresholdGivesTheSameBits()
    {
        var g = new ConvGeometry(1, 32, 14, 14, 64, 3, 1, 1);
        var rng = new Rng(5);
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var plan = new WinogradConvolution.Plan(TestUtil.RandomArray(rng, g.WeightLength), TestUtil.RandomArray(rng, 64), 32, 64, 3, 1, 14, 14);
        Assert.InRange(plan.Products, WinogradConvolution.MinSplitWorkBeforeConvolution, WinogradConvolution.MinSplitWork - 1);
        float[] Run(int threads, long minSplitWork)
        {
            using var compute = new ComputeContext(threads);
            var ws = new float[plan.WorkspaceLength(compute)];
            Array.Fill(ws, float.NaN);
            var y = new float[g.OutputLength];
            Array.Fill(y, 7f);
            WinogradConvolution.Forward(compute, plan, 1, x, y, relu: true, ws, minSplitWork);
            return y;
        }
        var expected = Run(1, WinogradConvolution.MinSplitWork);
        Assert.Equal(expected, Run(2, WinogradConvolution.MinSplitWorkBeforeConvolution));
        Assert.Equal(expected, Run(3, 0));
    }

    [Fact]
    public void OtherGeometriesAreRefusedWithAMessage()
    {
        var error = Assert.Throws<ArgumentException>(() => new WinogradConvolution.Plan(new float[2 * 3 * 9], new float[2], 3, 2, 3, 3, 8, 8));
        Assert.Contains("3×3 or 5×5", error.Message);
        error = Assert.Throws<ArgumentException>(() => new WinogradConvolution.Plan(new float[2 * 3 * 49], new float[2], 3, 2, 7, 1, 8, 8));
        Assert.Contains("3×3 or 5×5", error.Message);
        var plan = new WinogradConvolution.Plan(new float[2 * 3 * 9], new float[2], 3, 2, 3, 1, 4, 4);
        using var compute = new ComputeContext(1);
        error = Assert.Throws<ArgumentException>(() => WinogradConvolution.Forward(compute, plan, 2, new float[3 * 16], new float[2 * 2 * 16], false, new float[plan.WorkspaceLength(compute)]));
        Assert.Contains("Input has 48 floats", error.Message);
    }
}
