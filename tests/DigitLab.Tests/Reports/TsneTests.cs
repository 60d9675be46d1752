using DigitLab.Reports;
using DigitLab.Tensors;

namespace DigitLab.Tests.Reports;

public class TsneTests
{
    /// <summary>Fraction of points whose nearest embedded neighbour has the same cluster label.</summary>
    private static double NearestNeighbourAgreement(double[] y, int[] labels)
    {
        int n = labels.Length, agree = 0;
        for (int i = 0; i < n; i++)
        {
            int best = -1; double bestD = double.MaxValue;
            for (int j = 0; j < n; j++)
            {
                if (j == i) continue;
                double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1], d = dx * dx + dy * dy;
                if (d < bestD) { bestD = d; best = j; }
            }
            if (labels[best] == labels[i]) agree++;
        }
        return (double)agree / n;
    }

    /// <summary>Clusters of equal size around random centres in <paramref name="dims"/> dimensions (centres ~10 apart, spread 1).</summary>
    private static (float[] X, int[] Labels) Clusters(int clusters, int perCluster, int dims, ulong seed)
    {
        var rng = new Rng(seed);
        var centres = Enumerable.Range(0, clusters * dims).Select(_ => rng.Normal() * 10f).ToArray();
        var x = new float[clusters * perCluster * dims];
        var labels = new int[clusters * perCluster];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = i % clusters;
            for (int d = 0; d < dims; d++) x[i * dims + d] = centres[labels[i] * dims + d] + rng.Normal();
        }
        return (x, labels);
    }

    private const double MinAgreement = 0.97;

    [Theory]
    [InlineData(TsneMethod.Exact)]
    [InlineData(TsneMethod.BarnesHut)]
    public void SeparatesClusteredDataIntoClusters(TsneMethod method)
    {
        var (x, labels) = Clusters(5, 40, 20, 1);
        var result = Tsne.Run(ModuleCalls.Compute, x, labels.Length, 20, new TsneOptions { Perplexity = 15, Iterations = 400, Method = method, Seed = 3 });
        Assert.Equal(method, result.Method);
        Assert.All(result.Y, v => Assert.True(double.IsFinite(v)));
        Assert.True(NearestNeighbourAgreement(result.Y, labels) >= MinAgreement);

        // Each cluster is compact: mean distance to its own centroid well under the distance between centroids.
        var cx = new double[5]; var cy = new double[5];
        for (int i = 0; i < labels.Length; i++) { cx[labels[i]] += result.Y[2 * i] / 40; cy[labels[i]] += result.Y[2 * i + 1] / 40; }
        double within = 0;
        for (int i = 0; i < labels.Length; i++) within += Math.Sqrt(Math.Pow(result.Y[2 * i] - cx[labels[i]], 2) + Math.Pow(result.Y[2 * i + 1] - cy[labels[i]], 2)) / labels.Length;
        double closest = double.MaxValue;
        for (int a = 0; a < 5; a++) for (int b = a + 1; b < 5; b++) closest = Math.Min(closest, Math.Sqrt(Math.Pow(cx[a] - cx[b], 2) + Math.Pow(cy[a] - cy[b], 2)));
        Assert.True(within < closest / 2, $"mean within-cluster radius {within:F2} vs closest centroids {closest:F2}");
    }

    [Fact]
    public void SameSeedGivesTheSameMapAndAnotherSeedAnotherMap()
    {
        var (x, labels) = Clusters(3, 30, 8, 2);
        var options = new TsneOptions { Perplexity = 10, Iterations = 150, Method = TsneMethod.BarnesHut, Seed = 7 };
        var a = Tsne.Run(ModuleCalls.Compute, x, labels.Length, 8, options);
        var b = Tsne.Run(ModuleCalls.Compute, x, labels.Length, 8, options);
        var c = Tsne.Run(ModuleCalls.Compute, x, labels.Length, 8, options with { Seed = 8 });
        Assert.Equal(a.Y, b.Y);
        Assert.NotEqual(a.Y, c.Y);
    }

    private static double RelativeError(double[] a, double[] b)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++) { diff += (a[i] - b[i]) * (a[i] - b[i]); norm += b[i] * b[i]; }
        return Math.Sqrt(diff / norm);
    }

    private const double ThetaZeroTolerance = 1e-10; // the tree then sums every pair: only rounding differs
    private const double ThetaHalfTolerance = 0.05;  // θ = 0.5 approximates far cells; a few percent at most

    [Fact]
    public void BarnesHutGradientMatchesExactGradient()
    {
        var (x, _) = Clusters(4, 25, 6, 4);
        int n = 100;
        var p = Tsne.DenseAffinities(ModuleCalls.Compute, Pca.Centre(x, n, 6), n, 6, 10);
        var rowStart = new int[n + 1]; var cols = new List<int>(); var vals = new List<double>();
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) if (j != i) { cols.Add(j); vals.Add(p[i * n + j]); }
            rowStart[i + 1] = cols.Count;
        }
        var sparse = new SparseMatrix(rowStart, cols.ToArray(), vals.ToArray());
        var rng = new Rng(5);
        var y = Enumerable.Range(0, 2 * n).Select(_ => rng.Normal() * 5.0).ToArray();

        var exact = new double[2 * n]; var bh0 = new double[2 * n]; var bh5 = new double[2 * n];
        Tsne.ExactGradient(ModuleCalls.Compute, p, y, n, 1, exact);
        Tsne.BarnesHutGradient(ModuleCalls.Compute, sparse, y, n, 0, 1, bh0);
        Tsne.BarnesHutGradient(ModuleCalls.Compute, sparse, y, n, 0.5, 1, bh5);
        Assert.True(RelativeError(bh0, exact) < ThetaZeroTolerance, $"θ=0: {RelativeError(bh0, exact):E2}");
        double e5 = RelativeError(bh5, exact);
        Assert.True(e5 < ThetaHalfTolerance, $"θ=0.5: {e5:E2}");
        Assert.True(e5 > 0, "θ=0.5 should approximate, so it should differ from exact somewhere");
    }

    [Fact]
    public void CalibratedRowHasThePerplexityAsked()
    {
        var rng = new Rng(9);
        var d = Enumerable.Range(0, 90).Select(_ => (double)rng.NextFloat() * 1000).ToArray();
        var p = new double[90];
        Tsne.CalibrateRow(d, 30, p);
        double h = -p.Where(v => v > 0).Sum(v => v * Math.Log(v));
        Assert.Equal(1.0, p.Sum(), 9);
        Assert.Equal(30, Math.Exp(h), 2);
    }

    [Fact]
    public void NearestNeighboursMatchASortedSearch()
    {
        var (x, _) = Clusters(2, 20, 3, 6);
        var (idx, sq) = Tsne.NearestNeighbours(ModuleCalls.Compute, x, 40, 3, 5);
        for (int i = 0; i < 40; i++)
        {
            var expected = Enumerable.Range(0, 40).Where(j => j != i)
                .OrderBy(j => Enumerable.Range(0, 3).Sum(d => Math.Pow(x[i * 3 + d] - x[j * 3 + d], 2))).ThenBy(j => j).Take(5).ToArray();
            Assert.Equal(expected, idx.AsSpan(i * 5, 5).ToArray());
            for (int r = 1; r < 5; r++) Assert.True(sq[i * 5 + r] >= sq[i * 5 + r - 1]);
        }
    }

    [Fact]
    public void PcaFindsTheDirectionsOfLargestVariance()
    {
        // Data stretched along known orthogonal axes with standard deviations 10, 5, 1, 0.1, 0.1.
        var rng = new Rng(11);
        int n = 2000, d = 5;
        double[] sd = [10, 5, 1, 0.1, 0.1];
        var x = new float[n * d];
        for (int i = 0; i < n; i++)
        {
            double[] z = sd.Select(s => s * rng.Normal()).ToArray();
            // Rotate by a fixed orthogonal map: swap and mix axes 0 and 3.
            x[i * d + 0] = (float)((z[0] + z[3]) / Math.Sqrt(2)); x[i * d + 3] = (float)((z[0] - z[3]) / Math.Sqrt(2));
            x[i * d + 1] = (float)z[2]; x[i * d + 2] = (float)z[1]; x[i * d + 4] = (float)z[4];
        }
        var cov = Pca.Covariance(ModuleCalls.Compute, Pca.Centre(x, n, d), n, d);
        var v = Pca.TopEigenvectors(ModuleCalls.Compute, cov, d, 2, 1, 40, out var values);
        Assert.InRange(values[0], 90, 110);  // variance 100 ± sampling error
        Assert.InRange(values[1], 22, 28);   // variance 25
        Assert.Equal(1 / Math.Sqrt(2), Math.Abs(v[0 * 2 + 0]), 2);
        Assert.Equal(1 / Math.Sqrt(2), Math.Abs(v[3 * 2 + 0]), 2);
        Assert.Equal(1.0, Math.Abs(v[2 * 2 + 1]), 2);
    }
}
