// GemmTests: the fast Gemm (every micro-kernel this CPU runs) against GemmReference over many shapes and layouts.
using DigitLab.Kernels;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Tests.Kernels;

/// <summary>Tests at several thread counts run their kernels on contexts of those counts.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GemmThreadsCollection
{
    public const string Name = "Gemm threads";
}

[Collection(GemmThreadsCollection.Name)]
public class GemmTests
{
    /// <summary>
    /// Error bound per unit of Σ|a||b| (plus |C| when accumulating): float32 sums of k products with
    /// rounding u = 2⁻²⁴ per operation stay within (k + 2)·u·Σ|terms| (k block sums, the final add to C
    /// and the product), so the tolerance for one element is <c>(k + 2) · Unit · Σ|terms|</c>.
    /// </summary>
    private const double UnitRoundoff = 1.0 / (1 << 24);

    public static TheoryData<GemmKernel> Kernels()
    {
        var data = new TheoryData<GemmKernel>();
        foreach (var kernel in Enum.GetValues<GemmKernel>())
            if (Gemm.IsSupported(kernel)) data.Add(kernel);
        return data;
    }

    private sealed record Case(int M, int N, int K, bool TransA, bool TransB, bool Accumulate,
        int PadA = 0, int PadB = 0, int PadC = 0);

    /// <summary>Runs Gemm and GemmReference on the same random operands; asserts every element within its bound.</summary>
    private static float[] CheckAgainstReference(GemmKernel kernel, Case t, ulong seed = 7)
    {
        var rng = new Rng(seed);
        int lda = (t.TransA ? t.M : t.K) + t.PadA, ldb = (t.TransB ? t.K : t.N) + t.PadB, ldc = t.N + t.PadC;
        var a = RandomArray(rng, (t.TransA ? t.K : t.M) * lda);
        var b = RandomArray(rng, (t.TransB ? t.N : t.K) * ldb);
        var c = RandomArray(rng, t.M * ldc);
        var expected = (float[])c.Clone();
        var initial = (float[])c.Clone();

        Gemm.Multiply(ModuleCalls.Compute, kernel, t.TransA, t.TransB, t.M, t.N, t.K, a, lda, b, ldb, c, ldc, t.Accumulate);
        GemmReference.Multiply(t.TransA, t.TransB, t.M, t.N, t.K, a, lda, b, ldb, expected, ldc, t.Accumulate);

        double largestTolerance = 0, largestValue = 0;
        for (int i = 0; i < t.M; i++)
        {
            for (int j = 0; j < t.N; j++)
            {
                double magnitude = t.Accumulate ? Math.Abs(initial[i * ldc + j]) : 0;
                for (int p = 0; p < t.K; p++)
                {
                    float av = t.TransA ? a[p * lda + i] : a[i * lda + p];
                    float bv = t.TransB ? b[j * ldb + p] : b[p * ldb + j];
                    magnitude += Math.Abs((double)av * bv);
                }
                double tolerance = (t.K + 2) * UnitRoundoff * magnitude;
                double diff = Math.Abs((double)c[i * ldc + j] - expected[i * ldc + j]);
                largestTolerance = Math.Max(largestTolerance, tolerance);
                largestValue = Math.Max(largestValue, Math.Abs(expected[i * ldc + j]));
                if (diff > tolerance)
                    Assert.Fail($"{kernel} {t}: C[{i},{j}] = {c[i * ldc + j]}, reference {expected[i * ldc + j]}, " +
                                $"difference {diff:E3} > tolerance {tolerance:E3}");
            }
            // Padding past column n of C is not part of the result and must be left untouched.
            for (int j = t.N; j < ldc; j++)
                Assert.Equal(initial[i * ldc + j], c[i * ldc + j]);
        }
        // The bound must stay well below the results themselves, or the comparison would check nothing.
        Assert.True(largestTolerance < largestValue / 16, $"{t}: tolerance {largestTolerance:E3} vs values up to {largestValue:E3}");
        return c;
    }

    private static float[] RandomArray(Rng rng, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = rng.Uniform(-1f, 1f);
        return values;
    }

    private static IEnumerable<(bool TransA, bool TransB)> TransposeCombinations()
    {
        yield return (false, false);
        yield return (false, true);
        yield return (true, false);
        yield return (true, true);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void EveryRowCountAroundTheTileHeight(GemmKernel kernel)
    {
        foreach (var (ta, tb) in TransposeCombinations())
            for (int m = 1; m <= 40; m++)
                CheckAgainstReference(kernel, new Case(m, 19, 13, ta, tb, Accumulate: m % 2 == 0));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void EveryColumnCountAroundTheVectorWidth(GemmKernel kernel)
    {
        // Up to 100 columns: past two AVX-512 tiles (48 wide), six AVX2 tiles (16 wide).
        foreach (var (ta, tb) in TransposeCombinations())
            for (int n = 1; n <= 100; n++)
                CheckAgainstReference(kernel, new Case(11, n, 9, ta, tb, Accumulate: n % 3 == 0));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void EveryDepthAroundTheVectorWidth(GemmKernel kernel)
    {
        foreach (var (ta, tb) in TransposeCombinations())
            for (int k = 1; k <= 40; k++)
                CheckAgainstReference(kernel, new Case(10, 35, k, ta, tb, Accumulate: k % 2 == 1));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void DepthsAcrossTheKBlocks(GemmKernel kernel)
    {
        // The k blocks are 160 (AVX-512) or 256 deep: sums cross one or more block boundaries.
        foreach (int k in new[] { 159, 160, 161, 255, 256, 257, 321, 600 })
            foreach (var (ta, tb) in TransposeCombinations())
                CheckAgainstReference(kernel, new Case(9, 50, k, ta, tb, Accumulate: k % 2 == 0));
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void NarrowTransposedBAcrossDotChunks(GemmKernel kernel)
    {
        // A·Bᵀ with a C at most 16 wide runs as dot products in chunks of 2048 k values.
        foreach (int k in new[] { 16, 17, 31, 2047, 2048, 2049, 4100 })
        {
            CheckAgainstReference(kernel, new Case(13, 5, k, false, true, Accumulate: k % 2 == 0, PadA: 1, PadB: 3, PadC: 2));
            CheckAgainstReference(kernel, new Case(1, 21, k, false, true, Accumulate: k % 2 == 1, PadB: 1));
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void RandomShapesAndLeadingDimensions(GemmKernel kernel)
    {
        var rng = new Rng(2024);
        for (int trial = 0; trial < 60; trial++)
        {
            var t = new Case(1 + rng.NextInt(70), 1 + rng.NextInt(120), 1 + rng.NextInt(90),
                rng.NextInt(2) == 1, rng.NextInt(2) == 1, rng.NextInt(2) == 1,
                PadA: rng.NextInt(5), PadB: rng.NextInt(5), PadC: rng.NextInt(5));
            CheckAgainstReference(kernel, t, seed: (ulong)trial);
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void LargeShapesOnOneAndTwoThreads(GemmKernel kernel)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            using var threads_ = ModuleCalls.UseThreads(threads);
            foreach (var (ta, tb) in TransposeCombinations())
            {
                CheckAgainstReference(kernel, new Case(257, 129, 300, ta, tb, Accumulate: false, PadA: 3, PadB: 1, PadC: 2));
                // Tall and narrow: the threads split rows instead of columns.
                CheckAgainstReference(kernel, new Case(700, 20, 100, ta, tb, Accumulate: true, PadC: 5));
            }
            // Narrow A·Bᵀ (dot-product path), split over the long side of C.
            CheckAgainstReference(kernel, new Case(32, 9, 5000, false, true, Accumulate: false));
            CheckAgainstReference(kernel, new Case(5, 300, 2100, false, true, Accumulate: true, PadA: 1));
            // Wider than one column block (NC) and taller than one row block (MC).
            CheckAgainstReference(kernel, new Case(250, 3200, 7, false, false, Accumulate: true, PadB: 2));
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void ResultsAreIdenticalRunToRunAndForOneOrTwoThreads(GemmKernel kernel)
    {
        foreach (var (ta, tb) in TransposeCombinations())
        {
            var shapes = new[]
            {
                new Case(257, 129, 300, ta, tb, false), new Case(700, 20, 100, ta, tb, true),
                new Case(32, 9, 5000, ta, tb, false),
            };
            foreach (var shape in shapes)
            {
                using var threads_ = ModuleCalls.UseThreads(1);
                var one = CheckAgainstReference(kernel, shape);
                var oneAgain = CheckAgainstReference(kernel, shape);
                using var threads2_ = ModuleCalls.UseThreads(2);
                var two = CheckAgainstReference(kernel, shape);
                var twoAgain = CheckAgainstReference(kernel, shape);
                Assert.Equal(one, oneAgain);
                Assert.Equal(two, twoAgain);
                // Each element is summed in the same k order whatever the split, so even 1 vs 2 threads agree.
                Assert.Equal(one, two);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void EmptyDepthClearsOrKeepsC(GemmKernel kernel)
    {
        var c = new[] { 1f, 2f, 3f, 4f, 5f, 6f };
        Gemm.Multiply(ModuleCalls.Compute, kernel, false, false, 2, 3, 0, [], 0, [], 3, c, 3, accumulate: true);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, c);
        Gemm.Multiply(ModuleCalls.Compute, kernel, false, false, 2, 3, 0, [], 0, [], 3, c, 3, accumulate: false);
        Assert.Equal(new float[6], c);
    }

    [Theory]
    [MemberData(nameof(Kernels))]
    public void EmptyOutputTouchesNothing(GemmKernel kernel)
    {
        var c = new[] { 7f };
        Gemm.Multiply(ModuleCalls.Compute, kernel, false, false, 0, 1, 5, [], 5, new float[5], 1, c, 1, accumulate: false);
        Gemm.Multiply(ModuleCalls.Compute, kernel, false, false, 1, 0, 5, new float[5], 5, [], 0, c, 0, accumulate: false);
        Assert.Equal(7f, c[0]);
    }

    [Fact]
    public void OneByOneByOne()
    {
        var c = new[] { 10f };
        Gemm.Multiply(ModuleCalls.Compute, false, false, 1, 1, 1, [3f], 1, [4f], 1, c, 1, accumulate: true);
        Assert.Equal(22f, c[0]);
    }

    [Fact]
    public void ShortSpanNamesOperandSizesAndLength()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(ModuleCalls.Compute, false, true, 4, 5, 6, new float[24], 6, new float[29], 6, new float[20], 5, false));
        Assert.Contains("B", ex.Message);
        Assert.Contains("5×6", ex.Message);
        Assert.Contains("30", ex.Message);
        Assert.Contains("29", ex.Message);
    }

    [Fact]
    public void LeadingDimensionSmallerThanRowIsRejected()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(ModuleCalls.Compute, false, false, 4, 5, 6, new float[24], 5, new float[30], 5, new float[20], 5, false));
        Assert.Contains("at least 6", ex.Message);
    }

    [Fact]
    public void SteadyStateCallsOnTwoThreadsReuseThePackBuffers()
    {
        using var threads_ = ModuleCalls.UseThreads(2);
        const int M = 257, N = 1024, K = 300;
        var a = new float[M * K];
        var b = new float[K * N];
        var c = new float[M * N];
        for (int i = 0; i < 3; i++) Gemm.Multiply(ModuleCalls.Compute, false, false, M, N, K, a, K, b, N, c, N, false);
        // The count covers every thread of the test host (which also reports results meanwhile), so
        // take the quietest of several trials: a pack buffer allocated per call would show in all.
        long perCall = long.MaxValue;
        for (int trial = 0; trial < 5; trial++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            const int Calls = 10;
            for (int i = 0; i < Calls; i++) Gemm.Multiply(ModuleCalls.Compute, false, false, M, N, K, a, K, b, N, c, N, false);
            perCall = Math.Min(perCall, (GC.GetTotalAllocatedBytes(precise: true) - before) / Calls);
        }
        // One thread's B pack buffer for this problem is 160 × 528 floats (338 KB); the parallel loop's
        // own bookkeeping is about 2 KB a call. Anything near the buffer size means buffers were not reused.
        const long PackBufferBytes = 160 * 528 * sizeof(float);
        Assert.True(perCall < PackBufferBytes / 8, $"{perCall} bytes allocated per call");
    }

    [Fact]
    public void SteadyStateCallsAllocateNothingOnOneThread()
    {
        using var threads_ = ModuleCalls.UseThreads(1);
        var a = new float[64 * 784];
        var b = new float[128 * 784];
        var c = new float[64 * 128];
        Gemm.Multiply(ModuleCalls.Compute, false, true, 64, 128, 784, a, 784, b, 784, c, 128, false); // grows the pack buffers
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) Gemm.Multiply(ModuleCalls.Compute, false, true, 64, 128, 784, a, 784, b, 784, c, 128, false);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
