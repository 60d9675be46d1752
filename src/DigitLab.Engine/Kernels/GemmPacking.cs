// GemmPacking: copies blocks of op(A) and op(B) into the contiguous, zero-padded panels the micro-kernels read.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                // op(A)(i, p) = a[i*lda + p]: each row is contiguous; transposed into the panel.
                TransposeRows(a + (long)(i0 + ir) * lda + p0, lda, rows, kc, panel, mr);
                for (int r = rows; r < mr; r++)
                {
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++, d += mr) *d = 0f;
                }
            }
        }
    }

    /// <summary>Packs op(B)[p0..p0+kc, j0..j0+nc] into <paramref name="dst"/> (⌈nc/NR⌉·NR·kc floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transB, float* b, int ldb, int p0, int j0, int kc, int nc, int nr, float* dst)
    {
        if (!transB)
        {
            // op(B)(p, j) = b[p*ldb + j]: read each row of the block once, front to back (one long
            // sequential stream the hardware prefetcher follows), dealing its NR-wide pieces to the panels.
            int fullPanels = nc / nr, cols = nc - fullPanels * nr;
            long panelStride = (long)nr * kc;
            float* src = b + (long)p0 * ldb + j0;
            for (int p = 0; p < kc; p++, src += ldb)
            {
                float* d = dst + (long)p * nr;
                float* s = src;
                for (int jp = 0; jp < fullPanels; jp++, d += panelStride, s += nr)
                    Unsafe.CopyBlockUnaligned(d, s, (uint)(nr * sizeof(float)));
                if (cols > 0)
                {
                    int j = 0;
                    for (; j < cols; j++) d[j] = s[j];
                    for (; j < nr; j++) d[j] = 0f;
                }
            }
            return;
        }
        for (int jr = 0; jr < nc; jr += nr)
        {
            // op(B)(p, j) = b[j*ldb + p]: each column of op(B) is a contiguous row of b; transposed into the panel.
            int cols = Math.Min(nr, nc - jr);
            float* panel = dst + (long)jr * kc;
            TransposeRows(b + (long)(j0 + jr) * ldb + p0, ldb, cols, kc, panel, nr);
            for (int j = cols; j < nr; j++)
            {
                float* d = panel + j;
                for (int p = 0; p < kc; p++, d += nr) *d = 0f;
            }
        }
    }

    /// <summary>
    /// dst[p*dstStride + r] = src[r*ld + p] for r &lt; rows, p &lt; count: a block of rows written as
    /// columns. Runs in 4×4 register transposes (SSE) where it can, element by element at the edges.
    /// </summary>
    private static void TransposeRows(float* src, int ld, int rows, int count, float* dst, int dstStride)
    {
        int r = 0;
        if (Sse.IsSupported)
        {
            for (; r + 4 <= rows; r += 4)
            {
                float* s0 = src + (long)r * ld, s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
                float* d = dst + r;
                int p = 0;
                for (; p + 4 <= count; p += 4, d += 4 * dstStride)
                {
                    var x0 = Sse.LoadVector128(s0 + p); var x1 = Sse.LoadVector128(s1 + p);
                    var x2 = Sse.LoadVector128(s2 + p); var x3 = Sse.LoadVector128(s3 + p);
                    var t0 = Sse.UnpackLow(x0, x1); var t1 = Sse.UnpackLow(x2, x3);   // 00 10 01 11 | 20 30 21 31
                    var t2 = Sse.UnpackHigh(x0, x1); var t3 = Sse.UnpackHigh(x2, x3); // 02 12 03 13 | 22 32 23 33
                    Sse.Store(d, Sse.MoveLowToHigh(t0, t1));
                    Sse.Store(d + dstStride, Sse.MoveHighToLow(t1, t0));
                    Sse.Store(d + 2 * dstStride, Sse.MoveLowToHigh(t2, t3));
                    Sse.Store(d + 3 * dstStride, Sse.MoveHighToLow(t3, t2));
                }
                for (; p < count; p++, d += dstStride)
                {
                    d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p];
                }
            }
        }
        for (; r < rows; r++)
        {
            float* s = src + (long)r * ld;
            float* d = dst + r;
            for (int p = 0; p < count; p++, d += dstStride) *d = s[p];
        }
    }
}
