// DropoutMask.Fill against its reference (one NextFloat per element): the same mask bits and the same generator state after.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class DropoutMaskTests
{
    [Theory]
    [InlineData(0f, 100)]
    [InlineData(0.25f, 1)]
    [InlineData(0.25f, 4099)]
    [InlineData(0.5f, 20000)]
    [InlineData(0.3f, 20000)]
    [InlineData(1e-7f, 5000)]        // ⌈p·2²⁴⌉ = 2: only draws 0 and 1 drop
    [InlineData(0.99999994f, 5000)]  // the largest float below 1
    [InlineData(1f, 33)]
    public void FillMatchesReferenceBitForBit(float p, int n)
    {
        var fast = new Rng(42);
        var reference = new Rng(42);
        float[] a = new float[n], b = new float[n];
        DropoutMask.Fill(a, p, fast);
        DropoutMask.FillReference(b, p, reference);
        for (int i = 0; i < n; i++)
            Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]),
                $"p={p}: mask element {i} is {a[i]}, the reference gives {b[i]}.");
        Assert.Equal(reference.NextUInt64(), fast.NextUInt64()); // the generator moved on by the same draws
    }

    [Fact]
    public void ThresholdIsExactAtTheBoundary()
    {
        // With p equal to a draw u = k·2⁻²⁴, that element is kept (u < p is false); with p half a step above (p·2²⁴ not
        // a whole number, so the integer threshold must round up), it is dropped.
        var draws = new float[64];
        new Rng(3).NextFloats(draws);
        int at = Array.FindIndex(draws, u => u >= 0.0625f && u < 0.5f); // there u + 2⁻²⁵ is a float
        float u = draws[at];
        var mask = new float[64];
        DropoutMask.Fill(mask, u, new Rng(3));
        Assert.Equal(1f / (1f - u), mask[at]);
        float above = u + 1f / (1 << 25);
        Assert.True(above > u);
        DropoutMask.Fill(mask, above, new Rng(3));
        Assert.Equal(0f, mask[at]);
    }
}
