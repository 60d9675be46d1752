// Parity: tensor-by-tensor comparison against PyTorch golden values, reporting the largest difference.
using DigitLab.Tensors;
using Xunit.Abstractions;

namespace DigitLab.Tests.Golden;

/// <summary>
/// Pass when |actual - expected| &lt;= Scaled·max|expected| + Relative·|expected| for every element.
/// The scaled part is a fraction of the tensor's largest value: a sum's rounding error follows the
/// size of its terms, not of its result, so elements near zero get the same absolute room as the rest.
/// </summary>
internal readonly record struct Tolerance(double Scaled, double Relative)
{
    public override string ToString() => $"{Scaled:G2}·max|expected| + {Relative:G2}·|expected|";
}

/// <summary>
/// The golden-parity tolerances, in one place. float32 has a 6e-8 unit roundoff. Measured differences
/// on the AVX-512 dev machine are 10-100 times below these (see the test log: every comparison prints
/// its largest difference).
/// </summary>
internal static class GoldenTolerances
{
    /// <summary>Optimizer steps: we repeat PyTorch's op sequence and roundings, so at most an ulp or two
    /// where its kernels fuse differently.</summary>
    public static readonly Tolerance OptimizerStep = new(Scaled: 1e-8, Relative: 1e-6);

    /// <summary>An optimizer's update (after - before), O(lr): a one-ulp difference in a parameter of
    /// size 3 is 2.4e-5 of a 0.01 update, so the scaled part allows 1e-4 of the largest update.</summary>
    public static readonly Tolerance OptimizerUpdate = new(Scaled: 1e-4, Relative: 1e-6);

    /// <summary>Elementwise ops (activations, pooling, flatten, clipping): a few roundings each.</summary>
    public static readonly Tolerance Elementwise = new(Scaled: 1e-6, Relative: 1e-5);

    /// <summary>Sums of up to a few hundred products (linear, conv, batch norm, loss), in another order
    /// than PyTorch's BLAS.</summary>
    public static readonly Tolerance Accumulated = new(Scaled: 1e-5, Relative: 1e-4);

    /// <summary>A whole model, forward then backward through several layers.</summary>
    public static readonly Tolerance Model = new(Scaled: 1e-5, Relative: 1e-4);

    /// <summary>A model's parameters after one optimizer step from our own gradients, whose
    /// <see cref="Model"/>-sized error the learning rate scales down.</summary>
    public static readonly Tolerance ModelStep = new(Scaled: 1e-5, Relative: 1e-5);

    /// <summary>Learning-rate schedules in double: PyTorch's recursive (chainable) formulas vs our closed forms.</summary>
    public static readonly Tolerance Schedule = new(Scaled: 1e-12, Relative: 1e-10);
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
        foreach (double e in expected) maxExpected = Math.Max(maxExpected, Math.Abs(e));
        int worst = -1, failures = 0;
        double worstExcess = double.NegativeInfinity;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double diff = Math.Abs(a - e);
            if (double.IsNaN(a) || double.IsNaN(e)) diff = double.PositiveInfinity;
            maxAbs = Math.Max(maxAbs, diff);
            if (e != 0) maxRel = Math.Max(maxRel, diff / Math.Abs(e));
            double allowed = tolerance.Scaled * maxExpected + tolerance.Relative * Math.Abs(e);
            if (diff - allowed > worstExcess) { worstExcess = diff - allowed; worst = i; }
            if (!(diff <= allowed)) failures++;
        }
        string summary = $"{what}: {expected.Length} values (max |expected| {maxExpected:G3}), largest difference abs {maxAbs:G3} ({maxAbs / Math.Max(maxExpected, double.Epsilon):G2} of max), rel {maxRel:G3}";
        log?.WriteLine(summary);
        if (failures > 0)
            Assert.Fail($"{summary}; {failures} values outside {tolerance}; worst at index {worst}: ours {actual[worst]:G9}, PyTorch {expected[worst]:G9}.");
        return maxAbs;
    }
}
