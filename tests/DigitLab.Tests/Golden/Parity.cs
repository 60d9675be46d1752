// Parity: tensor-by-tensor comparison against PyTorch golden values, reporting the largest difference.
using DigitLab.Tensors;
using Xunit.Abstractions;

namespace DigitLab.Tests.Golden;

/// <summary>Pass when |actual - expected| &lt;= Absolute + Relative·|expected| for every element.</summary>
internal readonly record struct Tolerance(double Absolute, double Relative)
{
    public override string ToString() => $"abs {Absolute:G2} + rel {Relative:G2}";
}

/// <summary>
/// The golden-parity tolerances, in one place. float32 has a 6e-8 unit roundoff; values in the golden
/// files are of order 0.01..10.
/// </summary>
internal static class GoldenTolerances
{
    /// <summary>Optimizer steps: we repeat PyTorch's op sequence and roundings; only the scalar
    /// tails of its vector loops may round differently (a few ulp).</summary>
    public static readonly Tolerance OptimizerStep = new(Absolute: 1e-9, Relative: 1e-6);

    /// <summary>An optimizer's update (after - before), O(lr): the absolute part is 2 ulp of a parameter
    /// of size 3, which the subtraction carries over; still 0.005% of a 0.01 update.</summary>
    public static readonly Tolerance OptimizerUpdate = new(Absolute: 5e-7, Relative: 1e-6);

    /// <summary>Elementwise ops (activations, pooling, flatten): one or two roundings each.</summary>
    public static readonly Tolerance Elementwise = new(Absolute: 1e-7, Relative: 1e-5);

    /// <summary>Sums of a few to a few hundred products (linear, conv, batch norm, loss) in another order
    /// than PyTorch's BLAS: error grows with the terms' magnitude, not the result's, so an absolute part.</summary>
    public static readonly Tolerance Accumulated = new(Absolute: 2e-5, Relative: 1e-4);

    /// <summary>A whole model: the accumulated error of several layers, forward then backward.</summary>
    public static readonly Tolerance Model = new(Absolute: 5e-5, Relative: 1e-4);

    /// <summary>Learning-rate schedules in double: PyTorch's recursive (chainable) formulas vs our closed forms.</summary>
    public static readonly Tolerance Schedule = new(Absolute: 1e-15, Relative: 1e-10);
}

internal static class Parity
{
    /// <summary>
    /// Asserts <paramref name="actual"/> matches <paramref name="expected"/> in shape and values, naming the
    /// tensor, the worst element, the largest absolute and relative differences; logs them on success too.
    /// Returns the largest absolute difference.
    /// </summary>
    public static double AssertClose(Tensor expected, Tensor actual, Tolerance tolerance, string what, ITestOutputHelper? log = null)
    {
        if (!Tensor.SameShape(expected.Shape, actual.Shape))
            Assert.Fail($"{what}: shape {Tensor.Format(actual.Shape)}, PyTorch's is {Tensor.Format(expected.Shape)}.");
        return AssertClose(expected.ReadOnlySpan.ToArray().Select(v => (double)v).ToArray(),
            actual.ReadOnlySpan.ToArray().Select(v => (double)v).ToArray(), tolerance, what, log);
    }

    public static double AssertClose(double[] expected, double[] actual, Tolerance tolerance, string what, ITestOutputHelper? log = null)
    {
        if (expected.Length != actual.Length)
            Assert.Fail($"{what}: {actual.Length} values, PyTorch has {expected.Length}.");
        double maxAbs = 0, maxRel = 0, maxExpected = 0;
        int worst = -1, failures = 0;
        double worstExcess = double.NegativeInfinity;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double diff = Math.Abs(a - e);
            if (double.IsNaN(a) != double.IsNaN(e)) diff = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, diff);
            maxExpected = Math.Max(maxExpected, Math.Abs(e));
            if (e != 0) maxRel = Math.Max(maxRel, diff / Math.Abs(e));
            double allowed = tolerance.Absolute + tolerance.Relative * Math.Abs(e);
            if (diff - allowed > worstExcess) { worstExcess = diff - allowed; worst = i; }
            if (!(diff <= allowed)) failures++;
        }
        string summary = $"{what}: {expected.Length} values (max |expected| {maxExpected:G3}), largest difference abs {maxAbs:G3}, rel {maxRel:G3}";
        log?.WriteLine(summary);
        if (failures > 0)
            Assert.Fail($"{summary}; {failures} values outside {tolerance}; worst at index {worst}: ours {actual[worst]:G9}, PyTorch {expected[worst]:G9}.");
        return maxAbs;
    }
}
