// Gemm: the fast matrix multiply every dense and convolution layer runs on. Reference: GemmReference.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// C = op(A) · op(B) (+ C when <c>accumulate</c>), row-major, with leading dimensions.
/// op(A) is m×k (A is stored k×m with lda ≥ m when transposed, else m×k with lda ≥ k),
/// op(B) is k×n (B stored n×k with ldb ≥ k when transposed, else k×n with ldb ≥ n), C is m×n with ldc ≥ n.
/// </summary>
/// <remarks>
/// <para>GotoBLAS/BLIS structure: for each NC-wide column block of C and each KC-deep slice of k, a
/// KC×NC block of op(B) is packed into NR-wide panels; for each MC-tall row block, an MC×KC block of
/// op(A) is packed into MR-tall panels; a register-blocked micro-kernel (<see cref="GemmMicroKernels"/>)
/// then computes each MR×NR tile of C from one A panel (kept in L2) and one B panel (kept in L1).
/// Pack buffers are pinned, 64-byte aligned, pooled and reused: no allocation per call once they have
/// grown to the largest problem seen.</para>
/// <para>Two shapes take other routes: A·Bᵀ with a C at most 16 wide (weight gradients with few outputs,
/// single-sample forward passes) runs as unpacked dot products (<see cref="GemmDotKernels"/>), and a
/// shallow k (≤ 32, first convolution layers) sweeps C row block by row block, since those tiles are
/// bound by writing C rather than by arithmetic.</para>
/// <para>Threads (<see cref="ComputeContext.Threads"/>): C is split into contiguous runs of NR columns or of
/// MR rows, whichever shares out more evenly, fixed by the sizes and the thread count alone. Each C element is
/// computed by one thread, in the same k order whatever the split, so results are deterministic and
/// in fact identical for any thread count. Problems under <see cref="MinParallelMacs"/> multiply-adds
/// per thread stay on the calling thread.</para>
/// <para>C must not overlap A or B. Throws <see cref="ArgumentException"/> when a span is too short
/// for its size and leading dimension, or a leading dimension is smaller than its row width.</para>
/// </remarks>
public static unsafe class Gemm
{
    /// <summary>Smallest amount of work (multiply-adds) worth handing to another thread: about 10 µs.</summary>
    public const long MinParallelMacs = 1L << 19;

    /// <summary>The fastest micro-kernel this CPU runs; the one <see cref="Multiply(ComputeContext, bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, bool)"/> uses.</summary>
    public static GemmKernel BestKernel { get; } =
        Avx512F.IsSupported ? GemmKernel.Avx512 : Fma.IsSupported && Avx2.IsSupported ? GemmKernel.Avx2 : GemmKernel.Portable;

    /// <summary>Whether <paramref name="kernel"/> can run on this CPU.</summary>
    public static bool IsSupported(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Avx512 => Avx512F.IsSupported,
        GemmKernel.Avx2 => Fma.IsSupported && Avx2.IsSupported,
        _ => true,
    };

    /// <summary>C = op(A)·op(B) (+ C) with the fastest kernel for this CPU. See the class remarks for layouts.</summary>
    public static void Multiply(ComputeContext compute, bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
        => Multiply(compute, BestKernel, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate);

    /// <summary>C = op(A)·op(B) (+ C) with a chosen micro-kernel (tests and benchmarks compare them).</summary>
    public static void Multiply(ComputeContext compute, GemmKernel kernel, bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        Span<float> c, int ldc, bool accumulate)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentOutOfRangeException(nameof(m), $"Gemm sizes must be non-negative; got m={m}, n={n}, k={k}.");
        if (!IsSupported(kernel))
            throw new PlatformNotSupportedException($"The {kernel} GEMM kernel needs CPU features this machine lacks; use Gemm.BestKernel ({BestKernel}).");
        CheckOperand("A", a.Length, transA ? k : m, transA ? m : k, lda, transA ? "k×m (transposed)" : "m×k");
        CheckOperand("B", b.Length, transB ? n : k, transB ? k : n, ldb, transB ? "n×k (transposed)" : "k×n");
        CheckOperand("C", c.Length, m, n, ldc, "m×n");
        if (m == 0 || n == 0) return;

        fixed (float* pa = a, pb = b, pc = c)
        {
            if (k == 0)
            {
                // An empty sum: C = 0, or C unchanged when accumulating.
                if (!accumulate)
                    for (int i = 0; i < m; i++) new Span<float>(pc + (long)i * ldc, n).Clear();
                return;
            }
            var problem = new Problem(Blocking.For(kernel), transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate);
            if (UsesDotPath(kernel, transA, transB, m, n, k)) RunDot(compute, problem, kernel == GemmKernel.Avx512);
            else Run(compute, problem);
        }
    }

    private static void CheckOperand(string name, int length, int rows, int cols, int ld, string layout)
    {
        if (ld < cols && rows > 0)
            throw new ArgumentException($"Gemm: leading dimension of {name} ({layout}, {rows}×{cols}) must be at least {cols}; got {ld}.", "ld" + name.ToLowerInvariant());
        if (rows == 0 || cols == 0) return;
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"Gemm: {name} ({layout}, {rows}×{cols}, leading dimension {ld}) needs at least {needed} floats; the span holds {length}. Check the sizes and the transpose flags.", name.ToLowerInvariant());
    }

    /// <summary>Block sizes and micro-kernel of one GEMM flavour.</summary>
    private readonly struct Blocking
    {
        public readonly int MR, NR, MC, KC, NC;
        public readonly delegate*<int, float*, float*, float*, int, bool, void> Kernel;

        private Blocking(int mr, int nr, int mc, int kc, int nc, delegate*<int, float*, float*, float*, int, bool, void> kernel)
        {
            MR = mr; NR = nr; MC = mc; KC = kc; NC = nc; Kernel = kernel;
        }

        // KC: a B panel (KC×NR floats) stays in L1 (48 KiB on this machine's cores); MC: an A block (MC×KC)
        // stays in L2; NC: a B block (KC×NC) stays in the shared L3.
        private static readonly Blocking Avx512Blocking = new(GemmMicroKernels.Avx512Rows, GemmMicroKernels.Avx512Cols,
            mc: 240, kc: 160, nc: 48 * 64, &GemmMicroKernels.Avx512);
        private static readonly Blocking Avx2Blocking = new(GemmMicroKernels.Avx2Rows, GemmMicroKernels.Avx2Cols,
            mc: 144, kc: 256, nc: 16 * 192, &GemmMicroKernels.Avx2);
        private static readonly Blocking PortableBlocking = new(GemmMicroKernels.PortableRows, GemmMicroKernels.PortableCols,
            mc: 128, kc: 256, nc: GemmMicroKernels.PortableCols * 128, &GemmMicroKernels.Portable);

        public static Blocking For(GemmKernel kernel) => kernel switch
        {
            GemmKernel.Avx512 => Avx512Blocking,
            GemmKernel.Avx2 => Avx2Blocking,
            _ => PortableBlocking,
        };
    }

    /// <summary>One call's operands, as pointers so worker threads can share them.</summary>
    private readonly struct Problem(Blocking blocking, bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        public readonly Blocking Blocking = blocking;
        public readonly bool TransA = transA, TransB = transB, Accumulate = accumulate;
        public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
        public readonly float* A = a, B = b, C = c;
    }

    /// <summary>
    /// A·Bᵀ with a narrow C (at most <see cref="DotPathMaxWidth"/> rows or columns, as in a weight gradient
    /// with few outputs or a single-sample forward pass) runs as dot products: see <see cref="GemmDotKernels"/>.
    /// </summary>
    private static bool UsesDotPath(GemmKernel kernel, bool transA, bool transB, int m, int n, int k)
        => transB && !transA && kernel != GemmKernel.Portable && k >= 16 && Math.Min(m, n) <= DotPathMaxWidth;

    /// <summary>Narrowest C side that still fills packed micro-tiles well enough to beat dot products.</summary>
    private const int DotPathMaxWidth = 16;

    private static void RunDot(ComputeContext compute, in Problem problem, bool avx512)
    {
        // The longer side of C goes to the 4-row side of the dot tiles (and is what threads split).
        int xCount = Math.Max(problem.M, problem.N), yCount = Math.Min(problem.M, problem.N);
        int groups = (xCount + GemmDotKernels.XRows - 1) / GemmDotKernels.XRows;
        long macs = (long)problem.M * problem.N * problem.K;
        if (compute.Threads == 1 || macs < 2 * MinParallelMacs)
        {
            RunDotRange(problem, avx512, 0, groups);
            return;
        }
        long macsPerGroup = (long)GemmDotKernels.XRows * yCount * problem.K;
        var job = Interlocked.Exchange(ref _spareJob, null) ?? new Job();
        job.Problem = problem;
        job.Mode = avx512 ? JobMode.Dot512 : JobMode.Dot256;
        compute.For(groups, (int)Math.Max(1, (MinParallelMacs + macsPerGroup - 1) / macsPerGroup), job.Body);
        job.Problem = default;
        _spareJob = job;
    }

    private static void RunDotRange(in Problem p, bool avx512, int groupStart, int groupEnd)
    {
        int x0 = groupStart * GemmDotKernels.XRows;
        if (p.M >= p.N)
        {
            int x1 = Math.Min(groupEnd * GemmDotKernels.XRows, p.M);
            GemmDotKernels.Run(avx512, p.A, p.Lda, x0, x1, p.B, p.Ldb, p.N, p.K, p.C, p.Ldc, 1, p.Accumulate);
        }
        else
        {
            int x1 = Math.Min(groupEnd * GemmDotKernels.XRows, p.N);
            GemmDotKernels.Run(avx512, p.B, p.Ldb, x0, x1, p.A, p.Lda, p.M, p.K, p.C, 1, p.Ldc, p.Accumulate);
        }
    }

    private static void Run(ComputeContext compute, in Problem problem)
    {
        int mr = problem.Blocking.MR, nr = problem.Blocking.NR;
        int threads = compute.Threads;
        long macs = (long)problem.M * problem.N * problem.K;
        if (threads == 1 || macs < 2 * MinParallelMacs)
        {
            RunRange(problem, 0, problem.M, 0, problem.N);
            return;
        }
        int rowBlocks = (problem.M + mr - 1) / mr, colBlocks = (problem.N + nr - 1) / nr;
        // Split the dimension whose blocks share out more evenly; on a tie, the one whose split duplicates
        // less packing: splitting columns makes every thread pack all of A (m×k), rows all of B (k×n).
        double columnBalance = Balance(colBlocks, threads), rowBalance = Balance(rowBlocks, threads);
        bool splitColumns = columnBalance > rowBalance || (columnBalance == rowBalance && problem.M <= problem.N);
        long macsPerBlock = splitColumns ? (long)nr * problem.M * problem.K : (long)mr * problem.N * problem.K;
        int minBlocksPerThread = (int)Math.Max(1, (MinParallelMacs + macsPerBlock - 1) / macsPerBlock);

        var job = Interlocked.Exchange(ref _spareJob, null) ?? new Job();
        job.Problem = problem;
        job.Mode = splitColumns ? JobMode.SplitColumns : JobMode.SplitRows;
        compute.For(splitColumns ? colBlocks : rowBlocks, minBlocksPerThread, job.Body);
        job.Problem = default;
        _spareJob = job;
    }

    /// <summary>Share of the threads' time spent working when <paramref name="blocks"/> are dealt out in contiguous runs.</summary>
    private static double Balance(int blocks, int threads)
    {
        int parts = Math.Min(blocks, threads);
        return (double)blocks / (parts * ((blocks + parts - 1) / parts)) * parts / threads;
    }

    private static Job? _spareJob;

    private enum JobMode { SplitColumns, SplitRows, Dot512, Dot256 }

    /// <summary>A reusable closure over one call, so a parallel call allocates no delegate of its own.</summary>
    private sealed class Job
    {
        public Problem Problem;
        public JobMode Mode;
        public readonly Action<int, int> Body;

        public Job() => Body = RunBlocks;

        private void RunBlocks(int start, int end)
        {
            int mr = Problem.Blocking.MR, nr = Problem.Blocking.NR;
            switch (Mode)
            {
                case JobMode.SplitColumns:
                    RunRange(Problem, 0, Problem.M, start * nr, Math.Min(end * nr, Problem.N));
                    break;
                case JobMode.SplitRows:
                    RunRange(Problem, start * mr, Math.Min(end * mr, Problem.M), 0, Problem.N);
                    break;
                default:
                    RunDotRange(Problem, Mode == JobMode.Dot512, start, end);
                    break;
            }
        }
    }

    /// <summary>Computes rows [i0, i1) × columns [j0, j1) of C on the calling thread.</summary>
    // Fully optimised from the first call: a GEMM is called few times but loops long, so tier-0 code
    // (kept until a method has been called 30 times) would otherwise time the first training steps.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunRange(in Problem p, int i0, int i1, int j0, int j1)
    {
        var bl = p.Blocking;
        int mr = bl.MR, nr = bl.NR;
        int kcMax = Math.Min(bl.KC, p.K);
        int mcMax = Math.Min(bl.MC, RoundUp(i1 - i0, mr));
        int ncMax = Math.Min(bl.NC, RoundUp(j1 - j0, nr));
        var buffers = PackBuffers.Rent();
        float* packA = buffers.A(mcMax * kcMax);
        float* packB = buffers.B(ncMax * kcMax);
        float* tile = stackalloc float[mr * nr];
        var kernel = bl.Kernel;

        for (int jc = j0; jc < j1; jc += bl.NC)
        {
            int nc = Math.Min(bl.NC, j1 - jc);
            for (int pc = 0; pc < p.K; pc += bl.KC)
            {
                int kc = Math.Min(bl.KC, p.K - pc);
                bool addToC = p.Accumulate || pc > 0;
                GemmPacking.PackB(p.TransB, p.B, p.Ldb, pc, jc, kc, nc, nr, packB);
                for (int ic = i0; ic < i1; ic += bl.MC)
                {
                    int mc = Math.Min(bl.MC, i1 - ic);
                    GemmPacking.PackA(p.TransA, p.A, p.Lda, ic, pc, mc, kc, mr, packA);
                    if (kc > ShallowK)
                    {
                        // BLIS order: one B panel stays in L1 while every A panel of the block streams past it.
                        for (int jr = 0; jr < nc; jr += nr)
                            for (int ir = 0; ir < mc; ir += mr)
                                Tile(p, kernel, kc, packA, packB, tile, ic, jc, ir, jr, mc, nc, addToC);
                    }
                    else
                    {
                        // Shallow k (first convolution layers: k = 9 or 25): the tiles are store-bound, so
                        // sweep C row block by row block, which writes MR rows as a few long sequential streams.
                        for (int ir = 0; ir < mc; ir += mr)
                            for (int jr = 0; jr < nc; jr += nr)
                                Tile(p, kernel, kc, packA, packB, tile, ic, jc, ir, jr, mc, nc, addToC);
                    }
                }
            }
        }
        PackBuffers.Return(buffers);
    }

    /// <summary>k depth up to which C is swept row block by row block (see RunRange).</summary>
    private const int ShallowK = 32;

    /// <summary>One MR×NR tile of C from packed panels; edge tiles go through <paramref name="tile"/> scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(in Problem p, delegate*<int, float*, float*, float*, int, bool, void> kernel, int kc,
        float* packA, float* packB, float* tile, int ic, int jc, int ir, int jr, int mc, int nc, bool addToC)
    {
        int mr = p.Blocking.MR, nr = p.Blocking.NR;
        int rows = Math.Min(mr, mc - ir), cols = Math.Min(nr, nc - jr);
        float* aPanel = packA + (long)ir * kc;
        float* bPanel = packB + (long)jr * kc;
        float* cTile = p.C + (long)(ic + ir) * p.Ldc + jc + jr;
        if (rows == mr && cols == nr)
        {
            kernel(kc, aPanel, bPanel, cTile, p.Ldc, addToC);
            return;
        }
        // Edge tile: full tile into scratch, then the same single add (or copy) into C.
        kernel(kc, aPanel, bPanel, tile, nr, false);
        for (int r = 0; r < rows; r++)
        {
            float* dst = cTile + (long)r * p.Ldc;
            float* src = tile + r * nr;
            if (addToC) for (int j = 0; j < cols; j++) dst[j] = src[j] + dst[j];
            else for (int j = 0; j < cols; j++) dst[j] = src[j];
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// Pack buffers: pinned arrays that only grow, addressed 64-byte aligned so packed panels start on
    /// cache lines. A RunRange borrows one set and returns it, so the number of sets follows how many
    /// ranges run at once (the thread count), not which pool threads happen to run them.
    /// </summary>
    private sealed class PackBuffers
    {
        private float[] _a = [], _b = [];
        private static readonly PackBuffers?[] Spare = new PackBuffers?[32];

        public static PackBuffers Rent()
        {
            for (int i = 0; i < Spare.Length; i++)
            {
                var set = Interlocked.Exchange(ref Spare[i], null);
                if (set is not null) return set;
            }
            return new PackBuffers();
        }

        public static void Return(PackBuffers set)
        {
            for (int i = 0; i < Spare.Length; i++)
                if (Interlocked.CompareExchange(ref Spare[i], set, null) is null) return;
        }

        public float* A(int floats) => Aligned(ref _a, floats);
        public float* B(int floats) => Aligned(ref _b, floats);

        private static float* Aligned(ref float[] buffer, int floats)
        {
            const int Slack = 16; // 64 bytes, room to align the start
            if (buffer.Length < floats + Slack)
                buffer = GC.AllocateUninitializedArray<float>(floats + Slack, pinned: true);
            nint start = (nint)Unsafe.AsPointer(ref buffer[0]);
            return (float*)((start + 63) & ~(nint)63);
        }
    }
}
