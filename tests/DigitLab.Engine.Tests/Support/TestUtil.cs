// TestUtil: random tensors and a comparison that reports the largest difference.
using DigitLab.Tensors;

namespace DigitLab.Tests;

internal static class TestUtil
{
    public static Tensor Random(Rng rng, params int[] shape) => Random(rng, -1f, 1f, shape);

    public static Tensor Random(Rng rng, float low, float high, params int[] shape)
    {
        var t = new Tensor(shape);
        for (int i = 0; i < t.Length; i++) t.Data[i] = rng.Uniform(low, high);
        return t;
    }

    public static float[] RandomArray(Rng rng, int length)
    {
        var a = new float[length];
        for (int i = 0; i < length; i++) a[i] = rng.Uniform(-1f, 1f);
        return a;
    }

    /// <summary>Asserts |actual − expected| ≤ abs + rel·|expected| everywhere, naming the worst element.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double abs, double rel, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        int worst = -1;
        double worstExcess = 0, worstDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            double excess = diff - (abs + rel * Math.Abs(expected[i]));
            if (double.IsNaN(diff) || excess > worstExcess) { worst = i; worstExcess = double.IsNaN(diff) ? double.PositiveInfinity : excess; worstDiff = diff; }
        }
        Assert.True(worst < 0, worst < 0 ? "" :
            $"{what}: element {worst} is {actual[worst]}, expected {expected[worst]} (difference {worstDiff:G3}, allowed {abs} + {rel}·|expected|)");
    }

    public static double MaxAbs(ReadOnlySpan<float> values)
    {
        double m = 0;
        foreach (float v in values) m = Math.Max(m, Math.Abs(v));
        return m;
    }
}
