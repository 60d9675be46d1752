// Rng: the bulk draw gives exactly the single draws' sequence, and leaves the same state behind.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Tensors;

public class RngTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1001)]
    public void NextFloatsEqualsNextFloatInOrder(int count)
    {
        var bulk = new Rng(42);
        var single = new Rng(42);
        bulk.NextUInt64(); single.NextUInt64(); // from a state that is not the seed's first
        var values = new float[count];
        bulk.NextFloats(values);
        for (int i = 0; i < count; i++) Assert.Equal(single.NextFloat(), values[i]);
        Assert.Equal(single.GetState(), bulk.GetState());
        Assert.Equal(single.NextUInt64(), bulk.NextUInt64());
    }

    [Fact]
    public void DropoutMaskKeepsTheDrawPerElementRule()
    {
        // Fill uses the bulk draws; each element must still be "draw < p → 0, else 1/(1 − p)" for the same draws.
        const float p = 0.3f;
        var mask = new float[5000];
        DropoutMask.Fill(mask, p, new Rng(7));
        var draws = new Rng(7);
        for (int i = 0; i < mask.Length; i++) Assert.Equal(draws.NextFloat() < p ? 0f : 1f / (1f - p), mask[i]);
    }
}
