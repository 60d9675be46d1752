// Gemm: the fast matrix multiply every dense and convolution layer runs on. Reference: GemmReference.
namespace DigitLab.Kernels;

/// <summary>
/// C = op(A) · op(B) (+ C when <paramref name="accumulate"/>), row-major, with leading dimensions.
/// op(A) is m×k (A is k×m with lda ≥ m when transposed), op(B) is k×n, C is m×n with ldc ≥ n.
/// </summary>
public static class Gemm
{
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        // Placeholder until the packed SIMD kernel lands: a cache-friendly i-p-j loop, float accumulation.
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * ldc, n);
            if (!accumulate) row.Clear();
            for (int p = 0; p < k; p++)
            {
                float av = transA ? a[p * lda + i] : a[i * lda + p];
                if (av == 0f) continue;
                if (!transB)
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(b.Slice(p * ldb, n), av, row, row);
                else
                    for (int j = 0; j < n; j++) row[j] += av * b[j * ldb + p];
            }
        }
    }
}
