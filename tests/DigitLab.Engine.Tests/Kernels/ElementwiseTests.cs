// Elementwise against TensorPrimitives (bit for bit) and its Sum against SumReference (bit for bit), at every length around the vector widths.
using System.Numerics.Tensors;
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Tests.Kernels;

public class ElementwiseTests
{
    public static IEnumerable<object[]> Lengths() =>
        Enumerable.Range(0, 70).Append(255).Append(576).Append(4099).Select(n => new object[] { n });

    /// <summary>Random values with the awkward ones planted: ±0, ±∞, NaN, a denormal, values that cancel.</summary>
    private static float[] Values(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rng.Uniform(-3f, 3f);
        float[] special = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 1e-40f, -1e-40f, 1e30f];
        for (int i = 0; i < Math.Min(n, special.Length); i++) x[(i * 7 + (int)seed) % n] = special[i];
        return x;
    }

    private static void AssertBits(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}: element {i} of {expected.Length} is {actual[i]:R}, TensorPrimitives gives {expected[i]:R}.");
    }

    [Theory, MemberData(nameof(Lengths))]
    public void BinaryOperationsMatchTensorPrimitivesBitForBit(int n)
    {
        float[] x = Values(n, 1), y = Values(n, 2), expected = new float[n], actual = new float[n];
        TensorPrimitives.Add(x, y, expected);
        Elementwise.Add(x, y, actual);
        AssertBits(expected, actual, $"Add n={n}");
        TensorPrimitives.Multiply(x, y, expected);
        Elementwise.Multiply(x, y, actual);
        AssertBits(expected, actual, $"Multiply n={n}");
        TensorPrimitives.Add(x, y, expected);
        TensorPrimitives.Max(expected, 0f, expected);
        Elementwise.AddRelu(x, y, actual);
        AssertBits(expected, actual, $"AddRelu n={n}");
    }

    [Theory, MemberData(nameof(Lengths))]
    public void ScalarOperationsMatchTensorPrimitivesBitForBit(int n)
    {
        float[] x = Values(n, 3), expected = new float[n], actual = new float[n];
        foreach (float s in new[] { 0f, -0f, 0.75f })
        {
            TensorPrimitives.Max(x, s, expected);
            Elementwise.Max(x, s, actual);
            AssertBits(expected, actual, $"Max(x, {s}) n={n}");
            TensorPrimitives.Add(x, s, expected);
            Elementwise.Add(x, s, actual);
            AssertBits(expected, actual, $"Add(x, {s}) n={n}");
        }
        float[] a = Values(n, 4), b = Values(n, 5);
        TensorPrimitives.FusedMultiplyAdd(x, a, b, expected);
        Elementwise.FusedMultiplyAdd(x, a, b, actual);
        AssertBits(expected, actual, $"FusedMultiplyAdd(x, a[], b[]) n={n}");
    }

    [Theory, MemberData(nameof(Lengths))]
    public void InPlaceGivesTheSameBits(int n)
    {
        float[] x = Values(n, 6), y = Values(n, 7), expected = new float[n];
        Elementwise.AddRelu(x, y, expected);
        Elementwise.AddRelu(x, y, x);
        AssertBits(expected, x, $"AddRelu in place n={n}");
    }

    [Theory, MemberData(nameof(Lengths))]
    public void SumFollowsItsReferenceOrderBitForBit(int n)
    {
        // Values of mixed magnitude, so that a different order of additions rounds differently.
        var rng = new Rng((ulong)n + 11);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rng.Uniform(-1f, 1f) * (i % 5 == 0 ? 1000f : 0.001f);
        float expected = Elementwise.SumReference(x, Elementwise.SumLanes), actual = Elementwise.Sum(x);
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
            $"Sum n={n}: {actual:R}, its reference order gives {expected:R}.");
        Assert.Equal(actual, Elementwise.Sum(x)); // the same bits on a second call
        double exact = 0;
        foreach (float v in x) exact += v;
        Assert.True(Math.Abs(actual - exact) <= 1e-5 * Math.Max(1, x.Sum(v => Math.Abs((double)v))), $"Sum n={n}: {actual} is far from {exact}.");
    }

    [Fact]
    public void DifferentLengthsAreRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => Elementwise.Add(new float[3], new float[4], new float[3]));
        Assert.Contains("different lengths", e.Message);
    }
}
