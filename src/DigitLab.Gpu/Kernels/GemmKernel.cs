// GemmKernel: the device matrix product C = op(A)·op(B) (+ C), shared-memory tiled and register-blocked.
using ILGPU;
using ILGPU.Runtime;

namespace DigitLab.Gpu.Kernels;

/// <summary>Sizes and flags of one product: C (M, N) = op(A) (M, K) · op(B) (K, N); row-major with leading dimensions.</summary>
public readonly struct GemmArgs(int m, int n, int k, int lda, int ldb, int ldc, bool transA, bool transB, bool accumulate)
{
    public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
    public readonly int TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Accumulate = accumulate ? 1 : 0;
}

/// <summary>
/// One group of 256 threads computes a 64×64 tile of C; each thread keeps a 4×4 block of it in registers
/// (rows ty + 16·i, columns tx + 16·j, so stores are coalesced and shared-memory reads conflict-free). A and B
/// pass through shared memory 16 columns of K at a time. Every C element sums its K products in one fixed order:
/// the result is bit-identical from run to run on one device.
/// </summary>
public static class GemmKernel
{
    public const int TileM = 64, TileN = 64, TileK = 16, Threads = 256;

    /// <summary>The launch configuration for <paramref name="a"/>'s sizes: one group per 64×64 tile.</summary>
    public static KernelConfig Config(in GemmArgs a) =>
        new(new Index2D((a.N + TileN - 1) / TileN, (a.M + TileM - 1) / TileM), new Index2D(Threads, 1));

    public static void Kernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs s)
    {
        var tileA = SharedMemory.Allocate<float>(TileK * TileM); // [k][m]
        var tileB = SharedMemory.Allocate<float>(TileK * TileN); // [k][n]
        int t = Group.IdxX;
        int tx = t % 16, ty = t / 16;
        int row0 = Grid.IdxY * TileM, col0 = Grid.IdxX * TileN;
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int k0 = 0; k0 < s.K; k0 += TileK)
        {
            for (int l = 0; l < 4; l++)
            {
                int e = t + Threads * l;
                // A tile: walk along A's contiguous dimension so that neighbouring threads read neighbouring addresses.
                int am, ak;
                if (s.TransA == 0) { ak = e % TileK; am = e / TileK; } else { am = e % TileM; ak = e / TileM; }
                int gm = row0 + am, gk = k0 + ak;
                float va = 0;
                if (gm < s.M && gk < s.K) va = s.TransA == 0 ? a[(long)gm * s.Lda + gk] : a[(long)gk * s.Lda + gm];
                tileA[ak * TileM + am] = va;
                int bn, bk;
                if (s.TransB == 0) { bn = e % TileN; bk = e / TileN; } else { bk = e % TileK; bn = e / TileK; }
                int gn = col0 + bn; gk = k0 + bk;
                float vb = 0;
                if (gn < s.N && gk < s.K) vb = s.TransB == 0 ? b[(long)gk * s.Ldb + gn] : b[(long)gn * s.Ldb + gk];
                tileB[bk * TileN + bn] = vb;
            }
            Group.Barrier();
            for (int kk = 0; kk < TileK; kk++)
            {
                int ao = kk * TileM + ty, bo = kk * TileN + tx;
                float a0 = tileA[ao], a1 = tileA[ao + 16], a2 = tileA[ao + 32], a3 = tileA[ao + 48];
                float b0 = tileB[bo], b1 = tileB[bo + 16], b2 = tileB[bo + 32], b3 = tileB[bo + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }
        Store(c, s, row0 + ty, col0 + tx, c00, c01, c02, c03);
        Store(c, s, row0 + ty + 16, col0 + tx, c10, c11, c12, c13);
        Store(c, s, row0 + ty + 32, col0 + tx, c20, c21, c22, c23);
        Store(c, s, row0 + ty + 48, col0 + tx, c30, c31, c32, c33);
    }

    private static void Store(ArrayView<float> c, in GemmArgs s, int row, int col, float v0, float v1, float v2, float v3)
    {
        if (row >= s.M) return;
        long o = (long)row * s.Ldc;
        StoreOne(c, s, o, col, v0);
        StoreOne(c, s, o, col + 16, v1);
        StoreOne(c, s, o, col + 32, v2);
        StoreOne(c, s, o, col + 48, v3);
    }

    private static void StoreOne(ArrayView<float> c, in GemmArgs s, long rowOffset, int col, float v)
    {
        if (col >= s.N) return;
        long i = rowOffset + col;
        c[i] = s.Accumulate != 0 ? c[i] + v : v;
    }
}
