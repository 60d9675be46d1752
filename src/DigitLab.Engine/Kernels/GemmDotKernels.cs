// GemmDotKernels: Gemm's path for C = A·Bᵀ with a narrow C (few rows or columns): dot products, no packing.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DigitLab.Kernels;

/// <summary>
/// C[i, j] (+)= Σ_p X[i, p] · Y[j, p], where rows of X and Y are contiguous along p: the layout of
/// A·Bᵀ (weight gradients dW = dY·colsᵀ with a long k, a linear layer's forward pass on one sample).
/// When C has fewer than a micro-tile of rows or columns, the packed path would mostly multiply
/// zero padding; here every product is useful and nothing is copied.
/// </summary>
/// <remarks>
/// Tiles of 4 rows of X × 3 rows of Y keep 12 vector accumulators; k runs in chunks of
/// <see cref="KChunk"/> so the rows of a chunk stay in L2 while they are reused. Each chunk's sum
/// (vector lanes, then the horizontal sum, then the scalar tail) is added to C in chunk order, the
/// same for every thread split: results are deterministic.
/// </remarks>
internal static unsafe class GemmDotKernels
{
    /// <summary>k values per chunk: 4 + 3 rows × 8 KiB, and the X rows of one thread's range, stay in L2.</summary>
    public const int KChunk = 2048;
    public const int XRows = 4, YRows = 3;

    /// <summary>
    /// Rows [x0, x1) of X against all <paramref name="yCount"/> rows of Y; C element (i, j) lives at
    /// <c>c[i*cRowStride + j*cColStride]</c> (swapped strides give Cᵀ).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(bool avx512, float* x, int ldx, int x0, int x1, float* y, int ldy, int yCount, int k,
        float* c, int cRowStride, int cColStride, bool accumulate)
    {
        float* sums = stackalloc float[XRows * YRows];
        for (int p0 = 0; p0 < k; p0 += KChunk)
        {
            int kc = Math.Min(KChunk, k - p0);
            bool addToC = accumulate || p0 > 0;
            for (int i = x0; i < x1; i += XRows)
            {
                int rows = Math.Min(XRows, x1 - i);
                float* xi = x + (long)i * ldx + p0;
                for (int j = 0; j < yCount; j += YRows)
                {
                    int cols = Math.Min(YRows, yCount - j);
                    float* yj = y + (long)j * ldy + p0;
                    if (avx512) Tile512(xi, ldx, rows, yj, ldy, cols, kc, sums);
                    else Tile256(xi, ldx, rows, yj, ldy, cols, kc, sums);
                    for (int r = 0; r < rows; r++)
                        for (int q = 0; q < cols; q++)
                        {
                            float* dst = c + (long)(i + r) * cRowStride + (long)(j + q) * cColStride;
                            float s = sums[r * YRows + q];
                            *dst = addToC ? *dst + s : s;
                        }
                }
            }
        }
    }

    /// <summary>sums[r*3 + q] = Σ_p x[r][p]·y[q][p]; missing rows repeat row 0 and their sums are ignored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512(float* x, int ldx, int rows, float* y, int ldy, int cols, int kc, float* sums)
    {
        float* x0 = x, x1 = rows > 1 ? x + ldx : x, x2 = rows > 2 ? x + 2L * ldx : x, x3 = rows > 3 ? x + 3L * ldx : x;
        float* y0 = y, y1 = cols > 1 ? y + ldy : y, y2 = cols > 2 ? y + 2L * ldy : y;
        Vector512<float> s00 = default, s01 = default, s02 = default, s10 = default, s11 = default, s12 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s30 = default, s31 = default, s32 = default;
        int p = 0;
        for (; p + 16 <= kc; p += 16)
        {
            var b0 = Vector512.Load(y0 + p); var b1 = Vector512.Load(y1 + p); var b2 = Vector512.Load(y2 + p);
            var a = Vector512.Load(x0 + p);
            s00 = Avx512F.FusedMultiplyAdd(a, b0, s00); s01 = Avx512F.FusedMultiplyAdd(a, b1, s01); s02 = Avx512F.FusedMultiplyAdd(a, b2, s02);
            a = Vector512.Load(x1 + p);
            s10 = Avx512F.FusedMultiplyAdd(a, b0, s10); s11 = Avx512F.FusedMultiplyAdd(a, b1, s11); s12 = Avx512F.FusedMultiplyAdd(a, b2, s12);
            a = Vector512.Load(x2 + p);
            s20 = Avx512F.FusedMultiplyAdd(a, b0, s20); s21 = Avx512F.FusedMultiplyAdd(a, b1, s21); s22 = Avx512F.FusedMultiplyAdd(a, b2, s22);
            a = Vector512.Load(x3 + p);
            s30 = Avx512F.FusedMultiplyAdd(a, b0, s30); s31 = Avx512F.FusedMultiplyAdd(a, b1, s31); s32 = Avx512F.FusedMultiplyAdd(a, b2, s32);
        }
        sums[0] = Vector512.Sum(s00); sums[1] = Vector512.Sum(s01); sums[2] = Vector512.Sum(s02);
        sums[3] = Vector512.Sum(s10); sums[4] = Vector512.Sum(s11); sums[5] = Vector512.Sum(s12);
        sums[6] = Vector512.Sum(s20); sums[7] = Vector512.Sum(s21); sums[8] = Vector512.Sum(s22);
        sums[9] = Vector512.Sum(s30); sums[10] = Vector512.Sum(s31); sums[11] = Vector512.Sum(s32);
        Tail(x0, x1, x2, x3, y0, y1, y2, p, kc, sums);
    }

    /// <summary>AVX2 + FMA version of <see cref="Tile512"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256(float* x, int ldx, int rows, float* y, int ldy, int cols, int kc, float* sums)
    {
        float* x0 = x, x1 = rows > 1 ? x + ldx : x, x2 = rows > 2 ? x + 2L * ldx : x, x3 = rows > 3 ? x + 3L * ldx : x;
        float* y0 = y, y1 = cols > 1 ? y + ldy : y, y2 = cols > 2 ? y + 2L * ldy : y;
        Vector256<float> s00 = default, s01 = default, s02 = default, s10 = default, s11 = default, s12 = default;
        Vector256<float> s20 = default, s21 = default, s22 = default, s30 = default, s31 = default, s32 = default;
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            var b0 = Vector256.Load(y0 + p); var b1 = Vector256.Load(y1 + p); var b2 = Vector256.Load(y2 + p);
            var a = Vector256.Load(x0 + p);
            s00 = Fma.MultiplyAdd(a, b0, s00); s01 = Fma.MultiplyAdd(a, b1, s01); s02 = Fma.MultiplyAdd(a, b2, s02);
            a = Vector256.Load(x1 + p);
            s10 = Fma.MultiplyAdd(a, b0, s10); s11 = Fma.MultiplyAdd(a, b1, s11); s12 = Fma.MultiplyAdd(a, b2, s12);
            a = Vector256.Load(x2 + p);
            s20 = Fma.MultiplyAdd(a, b0, s20); s21 = Fma.MultiplyAdd(a, b1, s21); s22 = Fma.MultiplyAdd(a, b2, s22);
            a = Vector256.Load(x3 + p);
            s30 = Fma.MultiplyAdd(a, b0, s30); s31 = Fma.MultiplyAdd(a, b1, s31); s32 = Fma.MultiplyAdd(a, b2, s32);
        }
        sums[0] = Vector256.Sum(s00); sums[1] = Vector256.Sum(s01); sums[2] = Vector256.Sum(s02);
        sums[3] = Vector256.Sum(s10); sums[4] = Vector256.Sum(s11); sums[5] = Vector256.Sum(s12);
        sums[6] = Vector256.Sum(s20); sums[7] = Vector256.Sum(s21); sums[8] = Vector256.Sum(s22);
        sums[9] = Vector256.Sum(s30); sums[10] = Vector256.Sum(s31); sums[11] = Vector256.Sum(s32);
        Tail(x0, x1, x2, x3, y0, y1, y2, p, kc, sums);
    }

    /// <summary>The last kc mod vector-width products, one at a time, after the vector sums.</summary>
    private static void Tail(float* x0, float* x1, float* x2, float* x3, float* y0, float* y1, float* y2, int p, int kc, float* sums)
    {
        for (; p < kc; p++)
        {
            float b0 = y0[p], b1 = y1[p], b2 = y2[p];
            float a = x0[p]; sums[0] += a * b0; sums[1] += a * b1; sums[2] += a * b2;
            a = x1[p]; sums[3] += a * b0; sums[4] += a * b1; sums[5] += a * b2;
            a = x2[p]; sums[6] += a * b0; sums[7] += a * b1; sums[8] += a * b2;
            a = x3[p]; sums[9] += a * b0; sums[10] += a * b1; sums[11] += a * b2;
        }
    }
}
