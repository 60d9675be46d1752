// GemmMicroKernels: the register-blocked inner loops of Gemm (AVX-512, AVX2+FMA, portable), one MR×NR tile each.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DigitLab.Kernels;

/// <summary>Which micro-kernel Gemm runs; <see cref="Gemm.BestKernel"/> is picked once from the CPU.</summary>
public enum GemmKernel
{
    /// <summary>Vector&lt;float&gt; arithmetic, any CPU: 4 rows × 2 vectors.</summary>
    Portable,
    /// <summary>AVX2 + FMA: 6 rows × 16 columns (12 ymm accumulators).</summary>
    Avx2,
    /// <summary>AVX-512F: 8 rows × 48 columns (24 zmm accumulators).</summary>
    Avx512,
}

/// <summary>
/// One micro-tile: C[0..MR, 0..NR] (+)= Apanel · Bpanel over <c>kc</c> steps, where the packed A panel
/// holds MR values per k step (<c>a[p*MR + r]</c>) and the packed B panel NR values (<c>b[p*NR + j]</c>).
/// </summary>
/// <remarks>
/// Every kernel sums the kc products of one k block in its registers, starting from zero, and then
/// stores <c>C = sum</c> (first block, no accumulate) or <c>C = C + sum</c>. Edge tiles run the same
/// kernel into a scratch tile and the caller applies the same single addition, so each C element gets
/// the same arithmetic whatever the tile position or thread split: results are bit-identical across
/// thread counts.
/// </remarks>
internal static unsafe class GemmMicroKernels
{
    public const int Avx512Rows = 8, Avx512Cols = 48;
    public const int Avx2Rows = 6, Avx2Cols = 16;
    public const int PortableRows = 4;
    public static int PortableCols => 2 * Vector<float>.Count;

    /// <summary>AVX-512: 8×48 tile, 24 accumulators; per k step 3 loads of B, 8 broadcasts of A, 24 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx512(int kc, float* a, float* b, float* c, int ldc, bool addToC)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        // Ask for the C tile now so it arrives during the k loop: when C is larger than the caches (2048²
        // and up) its rows would otherwise be fetched from memory only at the final load-add-store.
        for (int r = 0; r < 8; r++)
        {
            float* row = c + (long)r * ldc;
            Sse.Prefetch0(row); Sse.Prefetch0(row + 16); Sse.Prefetch0(row + 32);
        }
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32);
            var av = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01); c02 = Avx512F.FusedMultiplyAdd(av, b2, c02);
            av = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11); c12 = Avx512F.FusedMultiplyAdd(av, b2, c12);
            av = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21); c22 = Avx512F.FusedMultiplyAdd(av, b2, c22);
            av = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31); c32 = Avx512F.FusedMultiplyAdd(av, b2, c32);
            av = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41); c42 = Avx512F.FusedMultiplyAdd(av, b2, c42);
            av = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51); c52 = Avx512F.FusedMultiplyAdd(av, b2, c52);
            av = Vector512.Create(a[6]);
            c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61); c62 = Avx512F.FusedMultiplyAdd(av, b2, c62);
            av = Vector512.Create(a[7]);
            c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71); c72 = Avx512F.FusedMultiplyAdd(av, b2, c72);
            a += 8; b += 48;
        }
        Store512(c, addToC, c00, c01, c02); c += ldc;
        Store512(c, addToC, c10, c11, c12); c += ldc;
        Store512(c, addToC, c20, c21, c22); c += ldc;
        Store512(c, addToC, c30, c31, c32); c += ldc;
        Store512(c, addToC, c40, c41, c42); c += ldc;
        Store512(c, addToC, c50, c51, c52); c += ldc;
        Store512(c, addToC, c60, c61, c62); c += ldc;
        Store512(c, addToC, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, bool addToC, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2)
    {
        if (addToC)
        {
            v0 += Vector512.Load(c); v1 += Vector512.Load(c + 16); v2 += Vector512.Load(c + 32);
        }
        Vector512.Store(v0, c); Vector512.Store(v1, c + 16); Vector512.Store(v2, c + 32);
    }

    /// <summary>AVX2 + FMA: 6×16 tile, 12 accumulators in the 16 ymm registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Avx2(int kc, float* a, float* b, float* c, int ldc, bool addToC)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b); var b1 = Vector256.Load(b + 8);
            var av = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += 6; b += 16;
        }
        Store256(c, addToC, c00, c01); c += ldc;
        Store256(c, addToC, c10, c11); c += ldc;
        Store256(c, addToC, c20, c21); c += ldc;
        Store256(c, addToC, c30, c31); c += ldc;
        Store256(c, addToC, c40, c41); c += ldc;
        Store256(c, addToC, c50, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, bool addToC, Vector256<float> v0, Vector256<float> v1)
    {
        if (addToC) { v0 += Vector256.Load(c); v1 += Vector256.Load(c + 8); }
        Vector256.Store(v0, c); Vector256.Store(v1, c + 8);
    }

    /// <summary>Portable: 4 rows × 2 Vector&lt;float&gt;, multiply then add (no FMA assumed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Portable(int kc, float* a, float* b, float* c, int ldc, bool addToC)
    {
        int w = Vector<float>.Count, nr = 2 * w;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Unsafe.ReadUnaligned<Vector<float>>(b);
            var b1 = Unsafe.ReadUnaligned<Vector<float>>(b + w);
            var av = new Vector<float>(a[0]); c00 += av * b0; c01 += av * b1;
            av = new Vector<float>(a[1]); c10 += av * b0; c11 += av * b1;
            av = new Vector<float>(a[2]); c20 += av * b0; c21 += av * b1;
            av = new Vector<float>(a[3]); c30 += av * b0; c31 += av * b1;
            a += 4; b += nr;
        }
        StorePortable(c, w, addToC, c00, c01); c += ldc;
        StorePortable(c, w, addToC, c10, c11); c += ldc;
        StorePortable(c, w, addToC, c20, c21); c += ldc;
        StorePortable(c, w, addToC, c30, c31);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePortable(float* c, int w, bool addToC, Vector<float> v0, Vector<float> v1)
    {
        if (addToC)
        {
            v0 += Unsafe.ReadUnaligned<Vector<float>>(c);
            v1 += Unsafe.ReadUnaligned<Vector<float>>(c + w);
        }
        Unsafe.WriteUnaligned(c, v0);
        Unsafe.WriteUnaligned(c + w, v1);
    }
}
