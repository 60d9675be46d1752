// GemmPacking: copies blocks of op(A) and op(B) into the contiguous, zero-padded panels the micro-kernels read.
using System.Runtime.CompilerServices;

namespace DigitLab.Kernels;

/// <summary>
/// Packing for <see cref="Gemm"/>. All four transpose combinations are resolved here, so the
/// micro-kernels only ever see one layout:
/// A block (mc×kc of op(A)) → ⌈mc/MR⌉ panels, each kc steps of MR values (rows past mc are zero);
/// B block (kc×nc of op(B)) → ⌈nc/NR⌉ panels, each kc steps of NR values (columns past nc are zero).
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs op(A)[i0..i0+mc, p0..p0+kc] into <paramref name="dst"/> (⌈mc/MR⌉·MR·kc floats).</summary>
    public static void PackA(bool transA, float* a, int lda, int i0, int p0, int mc, int kc, int mr, float* dst)
    {
        for (int ir = 0; ir < mc; ir += mr)
        {
            int rows = Math.Min(mr, mc - ir);
            float* panel = dst + (long)ir * kc;
            if (transA)
            {
                // op(A)(i, p) = a[p*lda + i]: the MR values of one k step are contiguous in memory.
                float* src = a + (long)p0 * lda + i0 + ir;
                for (int p = 0; p < kc; p++, src += lda, panel += mr)
                {
                    int r = 0;
                    for (; r < rows; r++) panel[r] = src[r];
                    for (; r < mr; r++) panel[r] = 0f;
                }
            }
            else
            {
                // op(A)(i, p) = a[i*lda + p]: each row is contiguous; it is written with stride MR.
                for (int r = 0; r < rows; r++)
                {
                    float* src = a + (long)(i0 + ir + r) * lda + p0;
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++, d += mr) *d = src[p];
                }
                for (int r = rows; r < mr; r++)
                {
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++, d += mr) *d = 0f;
                }
            }
        }
    }

    /// <summary>Packs op(B)[p0..p0+kc, j0..j0+nc] into <paramref name="dst"/> (⌈nc/NR⌉·NR·kc floats).</summary>
    public static void PackB(bool transB, float* b, int ldb, int p0, int j0, int kc, int nc, int nr, float* dst)
    {
        for (int jr = 0; jr < nc; jr += nr)
        {
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (long)jr * kc;
            if (!transB)
            {
                // op(B)(p, j) = b[p*ldb + j]: the NR values of one k step are one contiguous run.
                float* src = b + (long)p0 * ldb + j0 + jr;
                if (cols == nr)
                {
                    for (int p = 0; p < kc; p++, src += ldb, panel += nr)
                        Unsafe.CopyBlockUnaligned(panel, src, (uint)(nr * sizeof(float)));
                }
                else
                {
                    for (int p = 0; p < kc; p++, src += ldb, panel += nr)
                    {
                        int j = 0;
                        for (; j < cols; j++) panel[j] = src[j];
                        for (; j < nr; j++) panel[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)(p, j) = b[j*ldb + p]: each column of op(B) is a contiguous row of b, written with stride NR.
                for (int j = 0; j < cols; j++)
                {
                    float* src = b + (long)(j0 + jr + j) * ldb + p0;
                    float* d = panel + j;
                    for (int p = 0; p < kc; p++, d += nr) *d = src[p];
                }
                for (int j = cols; j < nr; j++)
                {
                    float* d = panel + j;
                    for (int p = 0; p < kc; p++, d += nr) *d = 0f;
                }
            }
        }
    }
}
