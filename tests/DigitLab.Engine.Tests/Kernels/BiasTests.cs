// Bias.AccumulateChannelSums on threads against the single-thread sums (bit for bit) and a double-precision sum.
using DigitLab.Kernels;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class BiasTests
{
    [Theory]
    [InlineData(1, 64, 3, 576)]   // net3 conv1's shape at batch 1
    [InlineData(2, 7, 5, 17)]     // odd sizes, a tail after the vectors
    [InlineData(3, 64, 32, 400)]  // net3 conv2 at a training batch: enough values for the threads to split
    [InlineData(3, 5, 513, 1)]    // one value per plane, more channels than a thread's minimum
    public void ChannelSumsOnThreadsMatchTheSingleThreadSumsBitForBit(int threads, int batch, int channels, int plane)
    {
        var rng = new Rng((ulong)(batch * channels + plane));
        var data = new float[batch * channels * plane + 11]; // longer than the tensor: the tail must be ignored
        for (int i = 0; i < data.Length; i++) data[i] = rng.Uniform(-1f, 1f);
        var start = new float[channels];
        for (int c = 0; c < channels; c++) start[c] = rng.Uniform(-1f, 1f); // sums accumulate into what is there
        var expected = (float[])start.Clone();
        Bias.AccumulateChannelSums(data.AsSpan(0, batch * channels * plane), expected, plane);
        var actual = (float[])start.Clone();
        using var compute = new ComputeContext(threads);
        Bias.AccumulateChannelSums(compute, data, batch, channels, plane, actual);
        for (int c = 0; c < channels; c++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[c]) == BitConverter.SingleToInt32Bits(actual[c]),
                $"channel {c} on {threads} threads: {actual[c]:R}, one thread gives {expected[c]:R}.");
            double exact = start[c];
            for (int n = 0; n < batch; n++)
                for (int i = 0; i < plane; i++) exact += data[(n * channels + c) * plane + i];
            Assert.True(Math.Abs(actual[c] - exact) <= 1e-5 * (1 + batch * plane), $"channel {c}: {actual[c]} against {exact}.");
        }
    }
}
