// ShallowConvolution (the prepared model's first-layer convolution: outputs in the lanes, bias and ReLU on store)
// against the direct reference loops, at 1, 2 and 3 threads.
using DigitLab.Kernels;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class ShallowConvolutionTests
{
    // (batch, in, H, W, out, kernel, padding), stride 1: the zoo's first layers and odd sizes around them.
    public static IEnumerable<object[]> Geometries() =>
    [
        [1, 1, 28, 28, 32, 3, 1],   // cnn / best conv1: rows of 28 = a block and an overlapping block
        [3, 1, 28, 28, 12, 3, 1],   // fast conv1: 12 channels = a group of 8 and a partial group
        [2, 1, 28, 28, 32, 5, 0],   // net3 conv1: 5×5, rows of 24
        [1, 1, 28, 28, 6, 5, 2],    // lenet5 conv1: six channels, padding 2
        [5, 2, 18, 17, 9, 3, 1],    // two input channels (18 taps), rows of 17
        [1, 3, 18, 18, 5, 3, 0],    // 27 taps, rows of exactly 16
    ];

    [Theory, MemberData(nameof(Geometries))]
    public void MatchesTheReference(int n, int c, int h, int w, int o, int k, int p)
    {
        var g = new ConvGeometry(n, c, h, w, o, k, 1, p);
        Assert.True(ShallowConvolution.Supports(g), $"{g} should be supported");
        var rng = new Rng((ulong)(n * 100 + o * 10 + k));
        var x = TestUtil.RandomArray(rng, g.InputLength);
        var weight = TestUtil.RandomArray(rng, g.WeightLength);
        var bias = TestUtil.RandomArray(rng, o);
        var conv = new float[g.OutputLength];
        ConvolutionReference.Forward(g, x, weight, bias, conv);
        foreach (bool relu in new[] { false, true })
        {
            var expected = conv.Select(v => relu ? Math.Max(v, 0f) : v).ToArray();
            float[]? first = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                using var compute = new ComputeContext(threads);
                var ws = new float[ShallowConvolution.WorkspaceLength(compute, g)];
                Array.Fill(ws, float.NaN); // nothing may depend on what the workspace held
                var y = new float[g.OutputLength];
                ShallowConvolution.Forward(compute, g, x, weight, bias, y, relu, ws);
                TestUtil.AssertClose(expected, y, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, $"{g} relu={relu} threads={threads}");
                first ??= y;
                Assert.Equal(first, y); // each output summed by one thread in tap order: the same bits at any thread count
            }
        }
    }

    [Fact]
    public void RefusesWhatItDoesNotHandle()
    {
        Assert.False(ShallowConvolution.Supports(new ConvGeometry(1, 1, 28, 28, 32, 3, 2, 1)));  // stride 2
        Assert.False(ShallowConvolution.Supports(new ConvGeometry(1, 4, 28, 28, 32, 3, 1, 1)));  // 36 taps
        Assert.False(ShallowConvolution.Supports(new ConvGeometry(1, 1, 14, 14, 32, 3, 1, 0))); // rows of 12
        using var compute = new ComputeContext(1);
        var g = new ConvGeometry(1, 1, 14, 14, 32, 3, 1, 0);
        var error = Assert.Throws<ArgumentException>(() => ShallowConvolution.Forward(compute, g, new float[196], new float[288], new float[32], new float[32 * 144], false, new float[1000]));
        Assert.Contains("stride 1", error.Message);
    }
}
