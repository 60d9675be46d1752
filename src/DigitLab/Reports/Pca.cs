// Pca: principal components by subspace iteration on the covariance matrix (t-SNE reduces pixels to 50 dims first).
using System.Numerics.Tensors;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Reports;

/// <summary>
/// Principal component analysis for n×d row-major float data. The covariance (d×d) is formed once;
/// the top k eigenvectors come from orthogonal (subspace) iteration followed by a Rayleigh-Ritz step,
/// which for d = 784, k = 50 costs well under a second beyond forming the covariance.
/// </summary>
public static class Pca
{
    /// <summary>
    /// Projects centred <paramref name="data"/> (n×d) onto its top <paramref name="k"/> principal components.
    /// Returns n×k, components ordered by decreasing variance, each with its largest entry positive.
    /// </summary>
    public static float[] Project(ComputeContext compute, ReadOnlySpan<float> data, int n, int d, int k, ulong seed, int iterations = 40)
    {
        if (n < 1 || d < 1) throw new ArgumentException($"PCA needs at least one row and one column; found n = {n}, d = {d}.");
        if (data.Length < (long)n * d) throw new ArgumentException($"PCA data has {data.Length} values; expected n×d = {n}×{d} = {(long)n * d}.");
        if (k < 1 || k > d) throw new ArgumentOutOfRangeException(nameof(k), k, $"must be in 1..{d}");

        float[] centred = Centre(data, n, d);
        double[] cov = Covariance(compute, centred, n, d); // (d, d)
        double[] basis = TopEigenvectors(compute, cov, d, k, seed, iterations, out _); // (d, k) columns
        var projected = new float[(long)n * k];
        var basisT = new float[k * d]; // (k, d): row c is component c
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++) basisT[c * d + j] = (float)basis[j * k + c];
        compute.For(n, 64, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                var row = centred.AsSpan(i * d, d);
                for (int c = 0; c < k; c++) projected[(long)i * k + c] = TensorPrimitives.Dot(row, basisT.AsSpan(c * d, d));
            }
        });
        return projected;
    }

    /// <summary>Subtracts each column's mean; returns a new n×d array.</summary>
    public static float[] Centre(ReadOnlySpan<float> data, int n, int d)
    {
        var mean = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) mean[j] += data[i * d + j];
        var result = new float[(long)n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) result[(long)i * d + j] = (float)(data[i * d + j] - mean[j] / n);
        return result;
    }

    /// <summary>Sample covariance of centred data: X^T X / (n - 1), (d, d). Each thread owns whole rows of the result.</summary>
    public static double[] Covariance(ComputeContext compute, float[] centred, int n, int d)
    {
        var cov = new double[d * d];
        float scale = 1f / Math.Max(1, n - 1);
        compute.For(d, 8, (start, end) =>
        {
            var acc = new float[d];
            for (int p = start; p < end; p++)
            {
                Array.Clear(acc);
                for (int i = 0; i < n; i++)
                {
                    float v = centred[(long)i * d + p];
                    if (v != 0) TensorPrimitives.MultiplyAdd(centred.AsSpan(i * d, d), v, acc, acc);
                }
                for (int q = 0; q < d; q++) cov[p * d + q] = acc[q] * scale;
            }
        });
        return cov;
    }

    /// <summary>The top k eigenvectors of symmetric <paramref name="matrix"/> (d×d) as the columns of a d×k array.</summary>
    public static double[] TopEigenvectors(ComputeContext compute, double[] matrix, int d, int k, ulong seed, int iterations, out double[] eigenvalues)
    {
        var rng = Rng.Derive(seed, "pca");
        var q = new double[d * k];
        for (int i = 0; i < q.Length; i++) q[i] = rng.Normal();
        Orthonormalise(q, d, k);
        var z = new double[d * k];
        for (int it = 0; it < iterations; it++)
        {
            MultiplyInto(compute, matrix, q, z, d, k);
            (q, z) = (z, q);
            Orthonormalise(q, d, k);
        }
        // Rayleigh-Ritz: diagonalise T = Qᵀ A Q (k×k) and rotate Q by its eigenvectors.
        MultiplyInto(compute, matrix, q, z, d, k);
        var t = new double[k * k];
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
            {
                double s = 0;
                for (int j = 0; j < d; j++) s += q[j * k + a] * z[j * k + b];
                t[a * k + b] = s;
            }
        var (values, vectors) = JacobiEigen(t, k);
        int[] order = Enumerable.Range(0, k).OrderByDescending(i => values[i]).ToArray();
        var result = new double[d * k];
        eigenvalues = new double[k];
        for (int c = 0; c < k; c++)
        {
            int src = order[c];
            eigenvalues[c] = values[src];
            double largest = 0;
            for (int j = 0; j < d; j++)
            {
                double s = 0;
                for (int b = 0; b < k; b++) s += q[j * k + b] * vectors[b * k + src];
                result[j * k + c] = s;
                if (Math.Abs(s) > Math.Abs(largest)) largest = s;
            }
            if (largest < 0) for (int j = 0; j < d; j++) result[j * k + c] = -result[j * k + c];
        }
        return result;
    }

    private static void MultiplyInto(ComputeContext compute, double[] a, double[] q, double[] z, int d, int k)
    {
        compute.For(d, 16, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                var row = z.AsSpan(i * k, k);
                row.Clear();
                for (int j = 0; j < d; j++)
                {
                    double v = a[i * d + j];
                    if (v == 0) continue;
                    for (int c = 0; c < k; c++) row[c] += v * q[j * k + c];
                }
            }
        });
    }

    /// <summary>Modified Gram-Schmidt on the k columns of a d×k array.</summary>
    private static void Orthonormalise(double[] q, int d, int k)
    {
        for (int c = 0; c < k; c++)
        {
            for (int p = 0; p < c; p++)
            {
                double dot = 0;
                for (int j = 0; j < d; j++) dot += q[j * k + c] * q[j * k + p];
                for (int j = 0; j < d; j++) q[j * k + c] -= dot * q[j * k + p];
            }
            double norm = 0;
            for (int j = 0; j < d; j++) norm += q[j * k + c] * q[j * k + c];
            norm = Math.Sqrt(norm);
            if (norm < 1e-300) { q[(c % d) * k + c] = 1; continue; } // degenerate: any unit vector will do
            for (int j = 0; j < d; j++) q[j * k + c] /= norm;
        }
    }

    /// <summary>Cyclic Jacobi eigen decomposition of a small symmetric k×k matrix; eigenvectors are columns.</summary>
    public static (double[] Values, double[] Vectors) JacobiEigen(double[] symmetric, int k)
    {
        var a = (double[])symmetric.Clone();
        var v = new double[k * k];
        for (int i = 0; i < k; i++) v[i * k + i] = 1;
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (int p = 0; p < k; p++) for (int q = p + 1; q < k; q++) off += a[p * k + q] * a[p * k + q];
            if (off < 1e-24) break;
            for (int p = 0; p < k; p++)
                for (int q = p + 1; q < k; q++)
                {
                    double apq = a[p * k + q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    double theta = (a[q * k + q] - a[p * k + p]) / (2 * apq);
                    double t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int r = 0; r < k; r++)
                    {
                        double arp = a[r * k + p], arq = a[r * k + q];
                        a[r * k + p] = c * arp - s * arq;
                        a[r * k + q] = s * arp + c * arq;
                    }
                    for (int r = 0; r < k; r++)
                    {
                        double apr = a[p * k + r], aqr = a[q * k + r];
                        a[p * k + r] = c * apr - s * aqr;
                        a[q * k + r] = s * apr + c * aqr;
                    }
                    for (int r = 0; r < k; r++)
                    {
                        double vrp = v[r * k + p], vrq = v[r * k + q];
                        v[r * k + p] = c * vrp - s * vrq;
                        v[r * k + q] = s * vrp + c * vrq;
                    }
                }
        }
        var values = new double[k];
        for (int i = 0; i < k; i++) values[i] = a[i * k + i];
        return (values, v);
    }
}
