// Tsne: t-distributed stochastic neighbour embedding to 2-D, exact for small N and Barnes-Hut for large N.
using System.Numerics.Tensors;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Reports;

public enum TsneMethod { Auto, Exact, BarnesHut }

/// <summary>
/// t-SNE settings. Defaults follow van der Maaten's bhtsne: perplexity 30, 1,000 iterations, learning rate 200,
/// early exaggeration 12 for the first 250 iterations, momentum 0.5 then 0.8 from iteration 250, θ = 0.5.
/// </summary>
public sealed record TsneOptions
{
    public double Perplexity { get; init; } = 30;
    public int Iterations { get; init; } = 1000;
    public double LearningRate { get; init; } = 200;
    public double Exaggeration { get; init; } = 12;
    public int ExaggerationIterations { get; init; } = 250;
    public double InitialMomentum { get; init; } = 0.5;
    public double FinalMomentum { get; init; } = 0.8;
    public int MomentumSwitchIteration { get; init; } = 250;
    /// <summary>Barnes-Hut accuracy: a cell is summarised when its width / distance &lt; θ. 0 means exact sums over the tree.</summary>
    public double Theta { get; init; } = 0.5;
    /// <summary>Inputs wider than this are first reduced by PCA (784 pixels → 50).</summary>
    public int PcaDimensions { get; init; } = 50;
    public TsneMethod Method { get; init; } = TsneMethod.Auto;
    /// <summary>With <see cref="TsneMethod.Auto"/>, the exact O(N²) method is used up to this many points.</summary>
    public int ExactMaxPoints { get; init; } = 500;
    public ulong Seed { get; init; } = 0;
}

/// <summary>A finished embedding: Y is N×2 row-major; KL is the final Kullback-Leibler divergence (BH: from the sparse P).</summary>
public sealed record TsneResult(double[] Y, int Count, double KlDivergence, TsneMethod Method);

/// <summary>Symmetric sparse matrix in compressed-row form (the input affinities P for Barnes-Hut).</summary>
public sealed record SparseMatrix(int[] RowStart, int[] Columns, double[] Values)
{
    public int Rows => RowStart.Length - 1;
}

/// <summary>
/// t-SNE (van der Maaten and Hinton 2008; Barnes-Hut variant: van der Maaten 2014). Input affinities use
/// Gaussian kernels calibrated per point to the perplexity: over all points (exact) or the 3·perplexity
/// nearest neighbours (Barnes-Hut, found by brute force with SIMD distances). Seeded and deterministic for
/// a given thread count.
/// </summary>
public static class Tsne
{
    /// <summary>Embeds <paramref name="data"/> (n×d row-major) into 2-D.</summary>
    /// <param name="progress">Receives the iteration number every 50 iterations.</param>
    public static TsneResult Run(ComputeContext compute, ReadOnlySpan<float> data, int n, int d, TsneOptions? options = null,
        IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new TsneOptions();
        if (n < 2) throw new ArgumentException($"t-SNE needs at least 2 points; found {n}.");
        if (data.Length < (long)n * d) throw new ArgumentException($"t-SNE data has {data.Length} values; expected n×d = {n}×{d}.");
        if (options.Perplexity <= 0 || 3 * options.Perplexity > n - 1)
            throw new ArgumentException($"Perplexity {options.Perplexity} is too large for {n} points: it needs n - 1 ≥ 3·perplexity. Use perplexity ≤ {(n - 1) / 3}.");

        float[] x;
        int dims = d;
        if (d > options.PcaDimensions)
        {
            x = Pca.Project(compute, data, n, d, options.PcaDimensions, options.Seed);
            dims = options.PcaDimensions;
        }
        else x = Pca.Centre(data, n, d);
        // Scale into [-1, 1] as bhtsne does, so the bandwidth search starts near its answer whatever the units.
        float maxAbs = TensorPrimitives.MaxMagnitude(x);
        if (maxAbs > 0) TensorPrimitives.Multiply(x, 1f / maxAbs, x);

        var method = options.Method == TsneMethod.Auto
            ? (n <= options.ExactMaxPoints ? TsneMethod.Exact : TsneMethod.BarnesHut)
            : options.Method;
        double[]? denseP = null;
        SparseMatrix? sparseP = null;
        if (method == TsneMethod.Exact) denseP = DenseAffinities(compute, x, n, dims, options.Perplexity);
        else sparseP = SparseAffinities(compute, x, n, dims, options.Perplexity);

        var rng = Rng.Derive(options.Seed, "tsne-init");
        var y = new double[n * 2];
        for (int i = 0; i < y.Length; i++) y[i] = rng.Normal() * 1e-4;
        var update = new double[n * 2];
        var gains = new double[n * 2];
        Array.Fill(gains, 1.0);
        var grad = new double[n * 2];

        for (int iter = 0; iter < options.Iterations; iter++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double exaggeration = iter < options.ExaggerationIterations ? options.Exaggeration : 1;
            double momentum = iter < options.MomentumSwitchIteration ? options.InitialMomentum : options.FinalMomentum;
            if (denseP is not null) ExactGradient(compute, denseP, y, n, exaggeration, grad);
            else BarnesHutGradient(compute, sparseP!, y, n, options.Theta, exaggeration, grad);

            for (int i = 0; i < y.Length; i++)
            {
                // Delta-bar-delta gains: grow where the gradient keeps pointing against the last step.
                gains[i] = Math.Sign(grad[i]) != Math.Sign(update[i]) ? gains[i] + 0.2 : gains[i] * 0.8;
                if (gains[i] < 0.01) gains[i] = 0.01;
                update[i] = momentum * update[i] - options.LearningRate * gains[i] * grad[i];
                y[i] += update[i];
            }
            ZeroMean(y, n);
            if ((iter + 1) % 50 == 0) progress?.Report(iter + 1);
        }
        double kl = denseP is not null ? ExactKl(denseP, y, n) : SparseKl(sparseP!, y, n, options.Theta);
        return new TsneResult(y, n, kl, method);
    }

    private static void ZeroMean(double[] y, int n)
    {
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) { mx += y[2 * i]; my += y[2 * i + 1]; }
        mx /= n; my /= n;
        for (int i = 0; i < n; i++) { y[2 * i] -= mx; y[2 * i + 1] -= my; }
    }

    // ---- Input affinities ----

    /// <summary>
    /// Conditional probabilities p(j|i) ∝ exp(-β_i d²_ij) over <paramref name="sqDistances"/> with β_i found by
    /// bisection so the entropy equals log(perplexity). Writes into <paramref name="p"/>.
    /// </summary>
    public static void CalibrateRow(ReadOnlySpan<double> sqDistances, double perplexity, Span<double> p)
    {
        double target = Math.Log(perplexity);
        double dMin = double.MaxValue;
        foreach (double v in sqDistances) dMin = Math.Min(dMin, v);
        double beta = 1, lo = double.NaN, hi = double.NaN;
        for (int step = 0; step < 200; step++)
        {
            double sum = 0, weighted = 0;
            for (int j = 0; j < sqDistances.Length; j++)
            {
                // Shifting by the smallest distance changes no probability but keeps exp from underflowing.
                double e = Math.Exp(-beta * (sqDistances[j] - dMin));
                p[j] = e;
                sum += e;
                weighted += e * (sqDistances[j] - dMin);
            }
            double entropy = Math.Log(sum) + beta * weighted / sum;
            for (int j = 0; j < p.Length; j++) p[j] /= sum;
            double diff = entropy - target;
            if (Math.Abs(diff) < 1e-5) break;
            if (diff > 0) { lo = beta; beta = double.IsNaN(hi) ? beta * 2 : (beta + hi) / 2; }
            else { hi = beta; beta = double.IsNaN(lo) ? beta / 2 : (beta + lo) / 2; }
        }
    }

    /// <summary>Dense symmetric P (n×n, sums to 1) for the exact method.</summary>
    public static double[] DenseAffinities(ComputeContext compute, float[] x, int n, int d, double perplexity)
    {
        var p = new double[(long)n * n];
        compute.For(n, 16, (start, end) =>
        {
            var dist = new double[n - 1];
            var row = new double[n - 1];
            for (int i = start; i < end; i++)
            {
                var xi = x.AsSpan(i * d, d);
                for (int j = 0, k = 0; j < n; j++)
                {
                    if (j == i) continue;
                    float e = TensorPrimitives.Distance(xi, x.AsSpan(j * d, d));
                    dist[k++] = (double)e * e;
                }
                CalibrateRow(dist, perplexity, row);
                for (int j = 0, k = 0; j < n; j++) if (j != i) p[(long)i * n + j] = row[k++];
            }
        });
        double total = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double s = p[(long)i * n + j] + p[(long)j * n + i];
                p[(long)i * n + j] = p[(long)j * n + i] = s;
                total += 2 * s;
            }
        for (long i = 0; i < p.LongLength; i++) p[i] = Math.Max(p[i] / total, 1e-12);
        for (int i = 0; i < n; i++) p[(long)i * n + i] = 0;
        return p;
    }

    /// <summary>The k nearest neighbours of every row (brute force, SIMD distances), as indices and squared distances.</summary>
    public static (int[] Indices, double[] SqDistances) NearestNeighbours(ComputeContext compute, float[] x, int n, int d, int k)
    {
        if (k < 1 || k > n - 1) throw new ArgumentOutOfRangeException(nameof(k), k, $"must be in 1..{n - 1}");
        var indices = new int[n * k];
        var dists = new double[n * k];
        compute.For(n, 32, (start, end) =>
        {
            var heapD = new float[k];
            var heapI = new int[k];
            for (int i = start; i < end; i++)
            {
                var xi = x.AsSpan(i * d, d);
                int size = 0;
                for (int j = 0; j < n; j++)
                {
                    if (j == i) continue;
                    float dj = TensorPrimitives.Distance(xi, x.AsSpan(j * d, d));
                    if (size < k) { HeapPush(heapD, heapI, ref size, dj, j); }
                    else if (dj < heapD[0] || (dj == heapD[0] && j < heapI[0])) { heapD[0] = dj; heapI[0] = j; SiftDown(heapD, heapI, size, 0); }
                }
                // Pop the max-heap from the back so neighbours come out nearest first.
                for (int r = k - 1; r >= 0; r--)
                {
                    indices[i * k + r] = heapI[0];
                    dists[i * k + r] = (double)heapD[0] * heapD[0];
                    size--;
                    heapD[0] = heapD[size]; heapI[0] = heapI[size];
                    SiftDown(heapD, heapI, size, 0);
                }
            }
        });
        return (indices, dists);
    }

    private static bool Greater(float da, int ia, float db, int ib) => da > db || (da == db && ia > ib);

    private static void HeapPush(float[] d, int[] idx, ref int size, float v, int j)
    {
        int c = size++;
        d[c] = v; idx[c] = j;
        while (c > 0)
        {
            int parent = (c - 1) / 2;
            if (!Greater(d[c], idx[c], d[parent], idx[parent])) break;
            (d[c], d[parent]) = (d[parent], d[c]);
            (idx[c], idx[parent]) = (idx[parent], idx[c]);
            c = parent;
        }
    }

    private static void SiftDown(float[] d, int[] idx, int size, int c)
    {
        while (true)
        {
            int l = 2 * c + 1, r = l + 1, m = c;
            if (l < size && Greater(d[l], idx[l], d[m], idx[m])) m = l;
            if (r < size && Greater(d[r], idx[r], d[m], idx[m])) m = r;
            if (m == c) return;
            (d[c], d[m]) = (d[m], d[c]);
            (idx[c], idx[m]) = (idx[m], idx[c]);
            c = m;
        }
    }

    /// <summary>Sparse symmetric P over the ⌊3·perplexity⌋ nearest neighbours, (p(j|i) + p(i|j)) normalised to sum 1.</summary>
    public static SparseMatrix SparseAffinities(ComputeContext compute, float[] x, int n, int d, double perplexity)
    {
        int k = Math.Min(n - 1, (int)(3 * perplexity));
        var (nn, sq) = NearestNeighbours(compute, x, n, d, k);
        var conditional = new double[n * k];
        compute.For(n, 64, (start, end) =>
        {
            for (int i = start; i < end; i++)
                CalibrateRow(sq.AsSpan(i * k, k), perplexity, conditional.AsSpan(i * k, k));
        });
        return Symmetrise(nn, conditional, n, k);
    }

    /// <summary>P = (P_cond + P_condᵀ) / sum, as CSR with sorted columns.</summary>
    public static SparseMatrix Symmetrise(int[] neighbours, double[] conditional, int n, int k)
    {
        var entries = new (int Row, int Col, double Value)[2 * n * k];
        int e = 0;
        for (int i = 0; i < n; i++)
            for (int r = 0; r < k; r++)
            {
                int j = neighbours[i * k + r];
                double v = conditional[i * k + r];
                entries[e++] = (i, j, v);
                entries[e++] = (j, i, v);
            }
        Array.Sort(entries, (a, b) => a.Row != b.Row ? a.Row.CompareTo(b.Row) : a.Col.CompareTo(b.Col));
        var rowStart = new int[n + 1];
        var cols = new List<int>(entries.Length);
        var vals = new List<double>(entries.Length);
        double total = 0;
        for (int s = 0; s < entries.Length;)
        {
            var (row, col, sum) = entries[s++];
            while (s < entries.Length && entries[s].Row == row && entries[s].Col == col) sum += entries[s++].Value;
            cols.Add(col); vals.Add(sum); total += sum;
            rowStart[row + 1] = cols.Count;
        }
        for (int i = 1; i <= n; i++) rowStart[i] = Math.Max(rowStart[i], rowStart[i - 1]);
        var values = vals.ToArray();
        for (int i = 0; i < values.Length; i++) values[i] /= total;
        return new SparseMatrix(rowStart, cols.ToArray(), values);
    }

    // ---- Gradients ----

    /// <summary>
    /// Exact gradient dC/dy_i = 4 Σ_j (α p_ij − q_ij)(y_i − y_j)(1 + |y_i − y_j|²)⁻¹ with q_ij = w_ij / Σ w,
    /// w_ij = (1 + |y_i − y_j|²)⁻¹. P is n×n dense, Y and <paramref name="grad"/> are n×2.
    /// </summary>
    public static void ExactGradient(ComputeContext compute, double[] p, double[] y, int n, double exaggeration, double[] grad)
    {
        var rowZ = new double[n];
        compute.For(n, 32, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                double z = 0, yx = y[2 * i], yy = y[2 * i + 1];
                for (int j = 0; j < n; j++)
                {
                    if (j == i) continue;
                    double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
                    z += 1 / (1 + dx * dx + dy * dy);
                }
                rowZ[i] = z;
            }
        });
        double zSum = 0;
        for (int i = 0; i < n; i++) zSum += rowZ[i];
        compute.For(n, 32, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                double gx = 0, gy = 0, yx = y[2 * i], yy = y[2 * i + 1];
                for (int j = 0; j < n; j++)
                {
                    if (j == i) continue;
                    double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
                    double w = 1 / (1 + dx * dx + dy * dy);
                    double m = (exaggeration * p[(long)i * n + j] - w / zSum) * w;
                    gx += m * dx; gy += m * dy;
                }
                grad[2 * i] = 4 * gx;
                grad[2 * i + 1] = 4 * gy;
            }
        });
    }

    /// <summary>
    /// Barnes-Hut gradient: attractive forces over the sparse P exactly, repulsive forces through a quadtree
    /// where a cell with width / distance &lt; <paramref name="theta"/> acts as one point at its centre of mass.
    /// </summary>
    public static void BarnesHutGradient(ComputeContext compute, SparseMatrix p, double[] y, int n, double theta, double exaggeration, double[] grad)
    {
        var tree = new QuadTree(y, n);
        var rowZ = new double[n];
        var repulsive = new double[2 * n];
        compute.For(n, 64, (start, end) =>
        {
            var stack = new Stack<int>();
            for (int i = start; i < end; i++)
            {
                var (fx, fy, z) = tree.Repulsion(i, theta, stack);
                repulsive[2 * i] = fx; repulsive[2 * i + 1] = fy; rowZ[i] = z;
            }
        });
        double zSum = 0;
        for (int i = 0; i < n; i++) zSum += rowZ[i];
        compute.For(n, 64, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                double ax = 0, ay = 0, yx = y[2 * i], yy = y[2 * i + 1];
                for (int e = p.RowStart[i]; e < p.RowStart[i + 1]; e++)
                {
                    int j = p.Columns[e];
                    double dx = yx - y[2 * j], dy = yy - y[2 * j + 1];
                    double m = exaggeration * p.Values[e] / (1 + dx * dx + dy * dy);
                    ax += m * dx; ay += m * dy;
                }
                grad[2 * i] = 4 * (ax - repulsive[2 * i] / zSum);
                grad[2 * i + 1] = 4 * (ay - repulsive[2 * i + 1] / zSum);
            }
        });
    }

    /// <summary>KL(P || Q) with dense P.</summary>
    public static double ExactKl(double[] p, double[] y, int n)
    {
        double z = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (i != j) z += 1 / (1 + Sq(y, i, j));
        double kl = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (i == j) continue;
                double pij = p[(long)i * n + j];
                if (pij > 1e-12) kl += pij * Math.Log(pij / (1 / (1 + Sq(y, i, j)) / z));
            }
        return kl;
    }

    /// <summary>KL(P || Q) over P's non-zeros, with the normaliser Z estimated through the quadtree.</summary>
    public static double SparseKl(SparseMatrix p, double[] y, int n, double theta)
    {
        var tree = new QuadTree(y, n);
        var stack = new Stack<int>();
        double z = 0;
        for (int i = 0; i < n; i++) z += tree.Repulsion(i, theta, stack).Z;
        double kl = 0;
        for (int i = 0; i < n; i++)
            for (int e = p.RowStart[i]; e < p.RowStart[i + 1]; e++)
            {
                double pij = p.Values[e];
                if (pij > 1e-12) kl += pij * Math.Log(pij / (1 / (1 + Sq(y, i, p.Columns[e])) / z));
            }
        return kl;
    }

    private static double Sq(double[] y, int i, int j)
    {
        double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        return dx * dx + dy * dy;
    }
}

/// <summary>
/// A point-region quadtree over 2-D points stored as flat arrays. Each node keeps its points' centre of mass
/// and count; points are permuted so each node's points are one contiguous range of <c>_order</c>.
/// </summary>
internal sealed class QuadTree
{
    private const int MaxDepth = 48; // beyond this, coincident points share a leaf instead of splitting forever

    private readonly double[] _y;
    private readonly int[] _order;
    private readonly List<Node> _nodes = [];

    private struct Node
    {
        public double MassX, MassY, Width;
        public int Start, Count, FirstChild, ChildCount;
    }

    public QuadTree(double[] y, int n)
    {
        _y = y;
        _order = Enumerable.Range(0, n).ToArray();
        double minX = double.MaxValue, minY = double.MaxValue, maxX = double.MinValue, maxY = double.MinValue;
        for (int i = 0; i < n; i++)
        {
            minX = Math.Min(minX, y[2 * i]); maxX = Math.Max(maxX, y[2 * i]);
            minY = Math.Min(minY, y[2 * i + 1]); maxY = Math.Max(maxY, y[2 * i + 1]);
        }
        double half = Math.Max(maxX - minX, maxY - minY) / 2 * (1 + 1e-9) + 1e-12;
        _nodes.Add(default);
        Build(0, 0, n, (minX + maxX) / 2, (minY + maxY) / 2, half, 0, new int[n]);
    }

    private void Build(int index, int start, int count, double cx, double cy, double half, int depth, int[] scratch)
    {
        double mx = 0, my = 0;
        for (int r = start; r < start + count; r++) { mx += _y[2 * _order[r]]; my += _y[2 * _order[r] + 1]; }
        var node = new Node { MassX = mx / count, MassY = my / count, Width = 2 * half, Start = start, Count = count, FirstChild = -1 };
        if (count > 1 && depth < MaxDepth)
        {
            // Partition the range into the four quadrants (stable, through the scratch buffer).
            Span<int> sizes = stackalloc int[4];
            for (int r = start; r < start + count; r++) sizes[Quadrant(_order[r], cx, cy)]++;
            Span<int> offsets = stackalloc int[4];
            for (int q = 1; q < 4; q++) offsets[q] = offsets[q - 1] + sizes[q - 1];
            Span<int> fill = stackalloc int[4];
            offsets.CopyTo(fill);
            for (int r = start; r < start + count; r++) scratch[start + fill[Quadrant(_order[r], cx, cy)]++] = _order[r];
            Array.Copy(scratch, start, _order, start, count);

            node.FirstChild = _nodes.Count;
            for (int q = 0; q < 4; q++) if (sizes[q] > 0) { _nodes.Add(default); node.ChildCount++; }
            _nodes[index] = node;
            int child = node.FirstChild;
            double h = half / 2;
            for (int q = 0; q < 4; q++)
            {
                if (sizes[q] == 0) continue;
                double qx = cx + ((q & 1) != 0 ? h : -h), qy = cy + ((q & 2) != 0 ? h : -h);
                Build(child++, start + offsets[q], sizes[q], qx, qy, h, depth + 1, scratch);
            }
            return;
        }
        _nodes[index] = node;
    }

    private int Quadrant(int point, double cx, double cy) =>
        (_y[2 * point] >= cx ? 1 : 0) | (_y[2 * point + 1] >= cy ? 2 : 0);

    /// <summary>
    /// For point <paramref name="i"/>: F = Σ_j w_ij² (y_i − y_j) and Z_i = Σ_j w_ij over all j ≠ i, w = (1 + d²)⁻¹,
    /// with far cells (width / distance &lt; θ) summarised by their centre of mass.
    /// </summary>
    public (double Fx, double Fy, double Z) Repulsion(int i, double theta, Stack<int> stack)
    {
        double yx = _y[2 * i], yy = _y[2 * i + 1], fx = 0, fy = 0, z = 0, theta2 = theta * theta;
        stack.Clear();
        stack.Push(0);
        while (stack.Count > 0)
        {
            var node = _nodes[stack.Pop()];
            if (node.FirstChild < 0)
            {
                for (int r = node.Start; r < node.Start + node.Count; r++)
                {
                    int j = _order[r];
                    if (j == i) continue;
                    double dx = yx - _y[2 * j], dy = yy - _y[2 * j + 1];
                    double w = 1 / (1 + dx * dx + dy * dy);
                    z += w; fx += w * w * dx; fy += w * w * dy;
                }
                continue;
            }
            double mx = yx - node.MassX, my = yy - node.MassY, d2 = mx * mx + my * my;
            if (node.Width * node.Width < theta2 * d2)
            {
                double w = 1 / (1 + d2);
                z += node.Count * w;
                fx += node.Count * w * w * mx; fy += node.Count * w * w * my;
                continue;
            }
            for (int c = node.FirstChild + node.ChildCount - 1; c >= node.FirstChild; c--) stack.Push(c);
        }
        return (fx, fy, z);
    }
}
