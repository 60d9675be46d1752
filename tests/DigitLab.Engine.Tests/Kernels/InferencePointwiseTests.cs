// InferencePointwise (the prepared model's sigmoid and average pooling) against TensorPrimitives' sigmoid and the
// training kernel's / reference's average pooling, at 1–3 threads.
using DigitLab.Kernels;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class InferencePointwiseTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(1000)]
    [InlineData(70_001)] // split across threads, with a tail
    public void SigmoidMatchesTensorPrimitivesWithinFourUlp(int length)
    {
        var rng = new Rng((ulong)length);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = rng.Uniform(-30f, 30f);
        float[] special = [0f, -0f, 1e-30f, -1e-30f, 88f, 100f, -87f, -100f, float.PositiveInfinity, float.NegativeInfinity, 0.5f, -0.5f];
        for (int i = 0; i < Math.Min(length, special.Length); i++) x[i * 7 % length] = special[i];
        var expected = new float[length];
        Activations.SigmoidForward(x, expected);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var compute = new ComputeContext(threads);
            var y = new float[length];
            InferencePointwise.Sigmoid(compute, x, y, length);
            for (int i = 0; i < length; i++)
                Assert.True(Math.Abs(y[i] - expected[i]) <= 5e-7 * Math.Max(Math.Abs(expected[i]), 1e-6),
                    $"sigmoid({x[i]:R}) = {y[i]:R}, TensorPrimitives gives {expected[i]:R} (threads {threads}).");
        }
    }

    [Fact]
    public void SigmoidKeepsNaN()
    {
        var y = new float[3];
        using var compute = new ComputeContext(1);
        InferencePointwise.Sigmoid(compute, [float.NaN, 0f, float.NaN], y, 3);
        Assert.True(float.IsNaN(y[0]) && float.IsNaN(y[2]));
        Assert.Equal(0.5f, y[1]);
    }

    [Theory]
    [InlineData(2, 6, 28, 28, 2, 2)]  // lenet5's first pool
    [InlineData(3, 16, 10, 10, 2, 2)] // its second
    [InlineData(1, 2, 7, 9, 2, 2)]    // odd sizes: the last row and column dropped
    [InlineData(2, 3, 8, 7, 3, 2)]    // 3×3 windows, stride 2
    [InlineData(1, 2, 5, 6, 3, 1)]    // overlapping windows
    [InlineData(300, 20, 6, 6, 2, 2)] // enough planes to split across threads
    public void AvgPoolMatchesTheTrainingKernelBitForBit(int n, int c, int h, int w, int k, int s)
    {
        var g = new ConvGeometry(n, c, h, w, c, k, s, 0);
        var x = TestUtil.RandomArray(new Rng((ulong)(n * 100 + h + k)), g.InputLength);
        var training = new float[g.OutputLength];
        using (var one = new ComputeContext(1)) AvgPool.Forward(one, g, x, training);
        var reference = new float[g.OutputLength];
        AvgPoolReference.Forward(g, x, reference);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            using var compute = new ComputeContext(threads);
            var y = new float[g.OutputLength];
            Array.Fill(y, 7f);
            InferencePointwise.AvgPool(compute, g, x, y);
            Assert.Equal(training, y);
            TestUtil.AssertClose(reference, y, 1e-6, 1e-6, $"{g} threads={threads}");
        }
    }
}
