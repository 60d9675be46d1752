// Batch norm kernels against the reference, training and inference, features and images; and the global average pool.
using DigitLab.Kernels;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Tests.Kernels;

public class BatchNormTests
{
    [Theory]
    [InlineData(4, 3, 1)]      // BatchNorm1d on (N, C)
    [InlineData(2, 5, 7)]      // (N, C, L) with an odd length
    [InlineData(8, 4, 36)]     // images 6×6
    [InlineData(3, 2, 197)]    // past the vector width with a tail
    [InlineData(64, 16, 49)]   // a model-sized batch
    [InlineData(64, 300, 1)]   // narrow path (S < 8), channels in two blocks of columns (256 + 44)
    [InlineData(16, 70, 4)]    // narrow path, 2×2 maps: blocks of 64 channels
    [InlineData(5, 9, 3)]      // narrow path, widths that leave scalar tails
    public void MatchesReference(int n, int c, int s)
    {
        var rng = new Rng((ulong)(n * 100 + c * 10 + s));
        // An offset mean (3) checks the two-pass variance.
        var x = TestUtil.Random(rng, 2f, 4f, n * c * s).Data;
        var gamma = TestUtil.Random(rng, 0.5f, 1.5f, c).Data;
        var beta = TestUtil.RandomArray(rng, c);
        float[] rm = TestUtil.RandomArray(rng, c), rv = TestUtil.Random(rng, 0.5f, 2f, c).Data;
        float[] rmRef = (float[])rm.Clone(), rvRef = (float[])rv.Clone();
        float[] mean = new float[c], invStd = new float[c];
        float[] y = new float[x.Length], yRef = new float[x.Length];
        const float eps = 1e-5f, momentum = 0.1f;

        BatchNorm.ForwardTraining(ModuleCalls.Compute, n, c, s, x, gamma, beta, eps, momentum, rm, rv, mean, invStd, y);
        BatchNormReference.Forward(n, c, s, x, gamma, beta, eps, momentum, training: true, rmRef, rvRef, yRef);
        TestUtil.AssertClose(yRef, y, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, "training output");
        TestUtil.AssertClose(rmRef, rm, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, "running mean");
        TestUtil.AssertClose(rvRef, rv, EngineTolerances.ElementwiseAbsolute, EngineTolerances.ElementwiseRelative, "running var");

        var dy = TestUtil.RandomArray(rng, x.Length);
        float[] dx = new float[x.Length], dxRef = new float[x.Length];
        float[] dg = TestUtil.RandomArray(new Rng(1), c), db = TestUtil.RandomArray(new Rng(2), c);
        float[] dgRef = (float[])dg.Clone(), dbRef = (float[])db.Clone();
        BatchNorm.Backward(ModuleCalls.Compute, n, c, s, x, dy, gamma, mean, invStd, batchStatistics: true, dx, dg, db);
        BatchNormReference.BackwardTraining(n, c, s, x, dy, gamma, eps, dxRef, dgRef, dbRef);
        TestUtil.AssertClose(dxRef, dx, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, "input gradient");
        TestUtil.AssertClose(dgRef, dg, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, "gamma gradient");
        TestUtil.AssertClose(dbRef, db, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, "beta gradient");

        BatchNorm.ForwardInference(ModuleCalls.Compute, n, c, s, x, gamma, beta, eps, rm, rv, mean, invStd, y);
        BatchNormReference.Forward(n, c, s, x, gamma, beta, eps, momentum, training: false, rm, rv, yRef);
        TestUtil.AssertClose(yRef, y, EngineTolerances.SumAbsolute, EngineTolerances.SumRelative, "inference output");
    }

    [Fact]
    public void TrainingWithOneValuePerChannelIsRefused()
    {
        float[] ones = [1f, 1f];
        var ex = Assert.Throws<ArgumentException>(() =>
            BatchNorm.ForwardTraining(ModuleCalls.Compute, 1, 2, 1, ones, ones, ones, 1e-5f, 0.1f, ones, ones, ones, ones, ones));
        Assert.Contains("more than one value per channel", ex.Message);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(6, 49)]
    [InlineData(5, 17)]
    public void GlobalAveragePoolIsThePlaneMean(int planes, int size)
    {
        var x = TestUtil.RandomArray(new Rng(3), planes * size);
        var y = new float[planes];
        GlobalAvgPool.Forward(x, size, y);
        for (int p = 0; p < planes; p++)
        {
            double mean = x.Skip(p * size).Take(size).Average(v => (double)v);
            Assert.True(Math.Abs(mean - y[p]) <= EngineTolerances.ElementwiseAbsolute * size, $"plane {p}: {y[p]} vs {mean}");
        }
        var dx = new float[x.Length];
        GlobalAvgPool.Backward(y, size, dx);
        for (int i = 0; i < dx.Length; i++) Assert.Equal(y[i / size] / size, dx[i]);
    }
}

/// <summary>Batch norm at several thread counts (the channels split differently); runs its kernels on contexts of those thread counts.</summary>
[Collection(GemmThreadsCollection.Name)]
public class BatchNormThreadsTests
{
    [Theory]
    [InlineData(1)]  // narrow path
    [InlineData(4)]
    [InlineData(49)]
    public void ResultsDoNotDependOnTheThreadCount(int s)
    {
        const int n = 6, c = 37;
        var rng = new Rng(9);
        var x = TestUtil.RandomArray(rng, n * c * s);
        var dy = TestUtil.RandomArray(rng, n * c * s);
        var gamma = TestUtil.Random(rng, 0.5f, 1.5f, c).Data;
        var beta = TestUtil.RandomArray(rng, c);
        float[] Run(int threads)
        {
            using var threads_ = ModuleCalls.UseThreads(threads);
            float[] rm = new float[c], rv = new float[c], mean = new float[c], invStd = new float[c], dg = new float[c], db = new float[c];
            float[] y = new float[x.Length], dx = new float[x.Length];
            BatchNorm.ForwardTraining(ModuleCalls.Compute, n, c, s, x, gamma, beta, 1e-5f, 0.1f, rm, rv, mean, invStd, y);
            BatchNorm.Backward(ModuleCalls.Compute, n, c, s, x, dy, gamma, mean, invStd, batchStatistics: true, dx, dg, db);
            return [.. y, .. dx, .. dg, .. db, .. rm, .. rv];
        }
        var one = Run(1);
        Assert.Equal(one, Run(2));
        Assert.Equal(one, Run(3));
    }
}
