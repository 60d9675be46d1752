// WinogradConvolution: inference-only 3×3 and 5×5 stride-1 convolution by Winograd's F(2×2, 3×3) and F(2×2, 5×5) over
// weights transformed once, bias and ReLU applied as each tile's outputs are stored. Reference: ConvolutionReference plus the epilogue.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// y (N, O, OH, OW) = act(conv(x (N, C, H, W), W) + b) for K×K kernels, K = 3 or 5, at stride 1 (any padding up to K − 1)
/// by Winograd's minimal filtering F(2×2, K×K) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
/// 2016): the output is cut into 2×2 tiles, each read from an n×n input patch d (n = K + 1); per input channel U = Bᵀ d B,
/// per (output, input channel) V = G g Gᵀ (transformed once, in double, when the <see cref="Plan"/> is built), then for
/// each of the n² elements ξ M_ξ[tile][o] = Σ_c U_ξ[c][tile] · V_ξ[c][o] — n² products of (tiles × C) by (C × O): for 3×3
/// 16 instead of 36 multiply-adds per tile, for 5×5 36 instead of 100 — and the outputs Y = Aᵀ M A. The n² products run on
/// <see cref="PackedConvolution"/>'s register tile (six tiles × up to 64 output channels in the lanes); the input
/// transform runs a tile row's tiles 15 (3×3) or 14 (5×5) to a vector (the patch columns separated by permutes).
/// </summary>
/// <remarks>
/// F(2×2, 3×3) interpolates at 0, ±1, ∞: its coefficients are 0, ±1 and ±½, so the result differs from the direct sum
/// only by rounding. F(2×2, 5×5) interpolates at 0, ±1, ±2, ∞ (its Bᵀ is the one F(4×4, 3×3) uses: coefficients up to 5;
/// G holds 1/24 … 2/3), which rounds a little more: both measured in the tests against the double-precision reference
/// within the engine's sum tolerances. Threads: a batch is split
/// into one run of images per thread, each image computed by one thread in a fixed order, so results do not depend on
/// the thread count. Needs AVX-512 (<see cref="Fast"/>).
/// </remarks>
public static unsafe class WinogradConvolution
{
    private const int Lanes = PackedConvolution.Lanes;
    private const int MaxVectors = 4;
    /// <summary>
    /// Tiles per block: twelve, run as one <see cref="Tile12"/> when the chunk is two vectors (32 output channels), else as
    /// register tiles of <see cref="PackedConvolution"/>'s six positions.
    /// </summary>
    private const int Block = 2 * PackedConvolution.TilePositions;

    /// <summary>Tiles of one tile row per input-transform vector: the permutes read columns 2t .. 2t + K of 32 loaded (15 for 3×3, 14 for 5×5).</summary>
    private static int RowTiles(int kernel) => 16 - (kernel - 1) / 2;

    /// <summary>G of F(2×2, 3×3) (4×3 row-major, points 0, 1, −1, ∞).</summary>
    private static readonly double[] G3 = [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1];

    /// <summary>G of F(2×2, 5×5) (6×5 row-major, points 0, 1, −1, 2, −2, ∞; rows scaled so that Bᵀ has integer entries).</summary>
    private static readonly double[] G5 =
    [
        1 / 4.0, 0, 0, 0, 0,
        1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0, 1 / 6.0,
        1 / 6.0, -1 / 6.0, 1 / 6.0, -1 / 6.0, 1 / 6.0,
        1 / 24.0, 1 / 12.0, 1 / 6.0, 1 / 3.0, 2 / 3.0,
        1 / 24.0, -1 / 12.0, 1 / 6.0, -1 / 3.0, 2 / 3.0,
        0, 0, 0, 0, 1,
    ];

    /// <summary>Whether this machine runs the kernel (AVX-512 in hardware).</summary>
    public static bool Fast => Avx512F.IsSupported && PackedConvolution.Fast;

    /// <summary>Whether <paramref name="g"/> is a convolution this kernel computes: 3×3 or 5×5, stride 1, padding 0 to K − 1.</summary>
    public static bool Supports(in ConvGeometry g) =>
        (g.Kernel == 3 || g.Kernel == 5) && g.Stride == 1 && g.Padding <= g.Kernel - 1 && g.OutHeight >= 1 && g.OutWidth >= 1;

    /// <summary>
    /// One layer's transformed weights for one input size. The prepared model's plans are immutable and shared by every
    /// caller; a training layer keeps one per workspace and transforms its changing weights again before each forward
    /// pass (<see cref="Transform"/>).
    /// </summary>
    public sealed class Plan
    {
        public ConvGeometry Geometry { get; }
        internal readonly int TilesHigh, TilesWide, Tiles, Hp, Wp, PadLength, ElementStride, ULength;
        internal readonly int Patch, Elements;  // n = K + 1 and n²
        /// <summary>
        /// Where a single image is split between two threads: the block of twelve tiles nearest the middle (the first
        /// thread takes the tiles before it; each tile is summed in the same block, in the same order, as on one thread: the
        /// same bits), or 0 when the image has one block. Each thread
        /// transforms the input of the tile rows its tiles lie in (a row cut by the split is transformed by both).
        /// </summary>
        internal readonly int SplitTile;

        /// <summary>Multiply-adds of one image's n² products (n² · tiles · C · O).</summary>
        internal readonly long Products;
        internal readonly int[] ChannelOffsets; // (C): c·Tiles, a channel's row in one element's U
        internal readonly Chunk[] Chunks;
        internal readonly float[] Weights;      // per chunk: (n², C, Vectors·16)
        internal readonly float[] Bias;         // (O rounded up to whole vectors)

        internal readonly record struct Chunk(int Channel, int Vectors, int Offset);

        /// <summary>Transforms <paramref name="weight"/> (O, C, K, K) and copies <paramref name="bias"/> (O) for inputs of <paramref name="height"/> × <paramref name="width"/>.</summary>
        public Plan(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int inChannels, int outChannels, int kernel, int padding, int height, int width)
            : this(inChannels, outChannels, kernel, padding, height, width)
        {
            CheckLengths(weight.Length, bias.Length);
            for (int o = 0; o < outChannels; o++) TransformChannel(weight, o, flipped: false);
            bias.CopyTo(Bias);
        }

        /// <summary>The layout for inputs of <paramref name="height"/> × <paramref name="width"/>, weights not yet transformed (zeros).</summary>
        public Plan(int inChannels, int outChannels, int kernel, int padding, int height, int width)
        {
            var g = new ConvGeometry(1, inChannels, height, width, outChannels, kernel, 1, padding);
            g.Validate();
            if (!Supports(g)) throw new ArgumentException($"WinogradConvolution computes 3×3 or 5×5 stride-1 convolutions with padding 0 to K − 1; found {g}.");
            Geometry = g;
            TilesHigh = (g.OutHeight + 1) / 2;
            TilesWide = (g.OutWidth + 1) / 2;
            Tiles = TilesHigh * TilesWide;
            Patch = kernel + 1;
            Elements = Patch * Patch;
            // The padded plane covers every tile's n×n patch; the input sits at (padding, padding), zeros around it.
            Hp = 2 * TilesHigh + kernel - 1;
            Wp = 2 * TilesWide + kernel - 1;
            PadLength = inChannels * Hp * Wp + 2 * Lanes; // slack: the last row's vector loads read past the plane
            ElementStride = inChannels * Tiles + Lanes;   // slack: a tile row's last store writes up to 16 lanes
            ULength = Elements * ElementStride;
            ChannelOffsets = new int[inChannels];
            for (int c = 0; c < inChannels; c++) ChannelOffsets[c] = c * Tiles;
            int vectors = (outChannels + Lanes - 1) / Lanes;
            var chunks = new List<Chunk>();
            for (int v = 0, offset = 0; v < vectors; )
            {
                int n = Math.Min(MaxVectors, vectors - v);
                chunks.Add(new Chunk(v * Lanes, n, offset));
                offset += Elements * inChannels * n * Lanes;
                v += n;
            }
            Chunks = chunks.ToArray();
            Weights = new float[Elements * inChannels * vectors * Lanes];
            Bias = new float[vectors * Lanes];
            int blocks = (Tiles + Block - 1) / Block;
            Products = (long)Elements * Tiles * inChannels * outChannels;
            if (blocks >= 2)
                SplitTile = Math.Clamp((2 * Tiles + 2 * Block) / (4 * Block), 1, blocks - 1) * Block;
        }

        /// <summary>
        /// Transforms <paramref name="weight"/> (O, C, K, K) again and copies <paramref name="bias"/> (O; null: zeros), output
        /// channels split over the context's threads (each channel's values computed the same way whichever thread does it).
        /// For a plan owned by one training layer; never call it on a plan other callers are using. With
        /// <paramref name="flipped"/>, <paramref name="weight"/> is the forward layer's (C, O, K, K) — this plan's input and
        /// output channels swapped — and each kernel is turned by 180°: the plan then computes that layer's input gradient
        /// from its output gradient (stride 1: dX = dY padded by K − 1 − P, convolved with the flipped kernels).
        /// </summary>
        public void Transform(ComputeContext compute, float[] weight, float[]? bias, bool flipped = false)
        {
            CheckLengths(weight.Length, bias?.Length ?? Geometry.OutChannels);
            compute.For(Geometry.OutChannels, 4, (Plan: this, W: weight, Flipped: flipped), static (c, s, e) =>
            {
                for (int o = s; o < e; o++) c.Plan.TransformChannel(c.W, o, c.Flipped);
            });
            if (bias is null) Array.Clear(Bias);
            else bias.CopyTo(Bias, 0);
        }

        private void CheckLengths(int weightLength, int biasLength)
        {
            var g = Geometry;
            if (weightLength != g.WeightLength) throw new ArgumentException($"Weight has {weightLength} floats; {g} needs {g.WeightLength} (O·C·K·K).");
            if (biasLength != g.OutChannels) throw new ArgumentException($"Bias has {biasLength} floats; {g} needs {g.OutChannels}.");
        }

        /// <summary>
        /// V = G g Gᵀ for output channel <paramref name="o"/> and every input channel, in double, into its lane of the packed
        /// weights. A training layer does this every step, so the work runs on columns of 8 doubles (lane i = row i of G, t
        /// or u): t[·, j] = Σ_r G[·, r] · g[r, j], then u[·, j] = Σ_r t[·, r] · G[j, r] (the scalar triple loop took 0.6–0.7 ms
        /// for net3's 32 → 64 layer on one thread, latency-bound). Every value is still the sum over r in ascending order of
        /// products rounded once each: the same bits as the scalar loop.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void TransformChannel(ReadOnlySpan<float> weight, int o, bool flipped)
        {
            int kernel = Geometry.Kernel, inChannels = Geometry.InChannels, np = Patch, kk = kernel * kernel;
            var gm = kernel == 3 ? G3 : G5;
            var chunk = Chunks[o / (MaxVectors * Lanes)];
            int lane = o - chunk.Channel, stride = chunk.Vectors * Lanes;
            // columns[r] = column r of G (G[i, r] in lane i, zeros past n); t[j] = column j of t.
            var columns = stackalloc Vector512<double>[kernel];
            var t = stackalloc Vector512<double>[kernel];
            var lanes = stackalloc double[8];
            for (int r = 0; r < kernel; r++)
            {
                for (int i = 0; i < 8; i++) lanes[i] = i < np ? gm[i * kernel + r] : 0;
                columns[r] = Vector512.Load(lanes);
            }
            long elementStride = (long)inChannels * stride;
            fixed (double* g = gm)
            fixed (float* w = weight, packed = Weights)
                for (int c = 0; c < inChannels; c++)
                {
                    // The flipped kernel reads the forward layer's (c, o) kernel backwards.
                    float* k = flipped ? w + (c * Geometry.OutChannels + o) * kk : w + (o * inChannels + c) * kk;
                    for (int j = 0; j < kernel; j++)
                    {
                        var sum = Vector512<double>.Zero;
                        for (int r = 0; r < kernel; r++)
                            sum += columns[r] * Vector512.Create((double)(flipped ? k[kk - 1 - (r * kernel + j)] : k[r * kernel + j]));
                        t[j] = sum;
                    }
                    float* dst = packed + chunk.Offset + (long)c * stride + lane;
                    for (int j = 0; j < np; j++)
                    {
                        var sum = Vector512<double>.Zero;
                        for (int r = 0; r < kernel; r++) sum += t[r] * Vector512.Create(g[j * kernel + r]);
                        sum.Store(lanes);
                        for (int i = 0; i < np; i++) dst[(i * np + j) * elementStride] = (float)lanes[i];
                    }
                }
        }

        /// <summary>Floats of workspace <see cref="Forward"/> needs at the context's thread count.</summary>
        public int WorkspaceLength(ComputeContext compute) => checked(compute.Threads * SlotLength);

        /// <summary>One thread's floats: padded planes, U, and a block's M.</summary>
        internal int SlotLength => PadLength + ULength + Elements * Block * MaxVectors * Lanes;

        public override string ToString() => $"WinogradConvolution.Plan({Geometry}, {Tiles} tiles of 2×2, F(2×2, {Geometry.Kernel}×{Geometry.Kernel}))";
    }

    /// <summary>
    /// output (N, O, OH, OW) = conv(input (N, C, H, W)) + bias, then max(·, 0) when <paramref name="relu"/>.
    /// <paramref name="workspace"/>: at least <see cref="Plan.WorkspaceLength"/> floats.
    /// </summary>
    /// <param name="minSplitWork">Least <see cref="Plan.Products"/> for a single image to be split between two threads.</param>
    public static void Forward(ComputeContext compute, Plan plan, int batch, float[] input, float[] output, bool relu, float[] workspace,
        long minSplitWork = MinSplitWork)
    {
        if (!Fast) throw new PlatformNotSupportedException("WinogradConvolution needs AVX-512; check WinogradConvolution.Fast first.");
        var g = plan.Geometry with { Batch = batch };
        if (input.Length < g.InputLength) throw new ArgumentException($"Input has {input.Length} floats; {g} needs {g.InputLength}.");
        if (output.Length < g.OutputLength) throw new ArgumentException($"Output has {output.Length} floats; {g} needs {g.OutputLength}.");
        int need = plan.WorkspaceLength(compute);
        if (workspace.Length < need) throw new ArgumentException($"Workspace has {workspace.Length} floats; {plan} needs {need}.");
        if (batch == 0) return;
        if (batch == 1 && compute.Threads > 1 && plan.SplitTile > 0 && plan.Products >= minSplitWork)
        {
            // One large image: two runs of whole blocks of tiles, each padded, transformed and multiplied by one thread in its own slot.
            compute.For(2, 1, (Plan: plan, X: input, Y: output, W: workspace, Relu: relu), static (c, ps, pe) =>
            {
                for (int p = ps; p < pe; p++)
                    Image(c.Plan, c.X, c.Y, c.W, p, 0, c.Relu, p == 0 ? 0 : c.Plan.SplitTile, p == 0 ? c.Plan.SplitTile : c.Plan.Tiles);
            });
            return;
        }
        int parts = Math.Min(compute.Threads, batch);
        compute.For(parts, 1, (Plan: plan, X: input, Y: output, W: workspace, Relu: relu, Batch: batch, Parts: parts), static (c, ps, pe) =>
        {
            for (int p = ps; p < pe; p++)
            {
                int start = (int)((long)c.Batch * p / c.Parts), end = (int)((long)c.Batch * (p + 1) / c.Parts);
                for (int image = start; image < end; image++) Image(c.Plan, c.X, c.Y, c.W, p, image, c.Relu, 0, c.Plan.Tiles);
            }
        });
    }

    /// <summary>
    /// Least multiply-adds of one image's products (n² · tiles · C · O) for a single image to be split between two threads
    /// by default: net3's 32 → 32 5×5 layer (3.7 M) is; cnn's 32 → 64 3×3 one (1.6 M), whose split ran slower, is not.
    /// </summary>
    public const long MinSplitWork = 3_000_000;

    /// <summary>
    /// The same for a layer whose output the next convolution reads (<c>PreparedConvolution</c>): from best's 32 → 64 layer
    /// (1.6 M) on. When the next layer splits the image by tile rows too, each half of this layer's output stays with the
    /// core that reads it; computed by one thread, its output lines were read by the other core for the next layer and
    /// had to be taken back from it in the next image.
    /// </summary>
    public const long MinSplitWorkBeforeConvolution = 1_500_000;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image(Plan plan, float[] input, float[] output, float[] workspace, int slot, int image, bool relu,
        int firstTile, int tiles)
    {
        var g = plan.Geometry;
        int c = g.InChannels, firstRow = firstTile / plan.TilesWide, lastRow = (tiles + plan.TilesWide - 1) / plan.TilesWide;
        float** src = stackalloc float*[Block];
        float** rows = stackalloc float*[Block];
        fixed (float* x0 = input, y0 = output, ws = workspace, w = plan.Weights, b = plan.Bias)
        fixed (int* offsets = plan.ChannelOffsets)
        {
            float* pad = ws + (long)slot * plan.SlotLength;
            float* u = pad + plan.PadLength, m = u + plan.ULength;
            Pad(plan, x0 + (long)image * g.InChannels * g.InPlane, pad, firstRow, lastRow);
            if (g.Kernel == 3) InputTransform(plan, pad, u, firstRow, lastRow);
            else InputTransform5(plan, pad, u, firstRow, lastRow);
            float* y = y0 + (long)image * g.OutChannels * g.OutPlane;
            foreach (var chunk in plan.Chunks)
            {
                int step = chunk.Vectors * Lanes;
                for (int t0 = firstTile; t0 < tiles; t0 += Block)
                {
                    int live = Math.Min(Block, tiles - t0);
                    for (int e = 0; e < plan.Elements; e++)
                    {
                        float* we = w + chunk.Offset + (long)e * c * step, ue = u + (long)e * plan.ElementStride + t0, me = m + e * Block * MaxVectors * Lanes;
                        if (live == Block && chunk.Vectors == 2)
                        {
                            Tile12(we, offsets, c, ue, me);
                            continue;
                        }
                        // Six tiles at a time otherwise, as the blocks of six before twelve-tile blocks (the same sums).
                        for (int k0 = 0; k0 < live; k0 += PackedConvolution.TilePositions)
                        {
                            int n = Math.Min(PackedConvolution.TilePositions, live - k0);
                            for (int k = 0; k < n; k++)
                            {
                                src[k] = ue + k0 + k;
                                rows[k] = me + (k0 + k) * MaxVectors * Lanes;
                            }
                            PackedConvolution.Tile(chunk.Vectors, n, we, offsets, c, src, rows, zero: true);
                        }
                    }
                    OutputTransform(plan, chunk, m, t0, live, b, y, relu);
                }
            }
        }
    }

    /// <summary>
    /// Copies the image's planes into (C, Hp, Wp) at (padding, padding), zeros elsewhere (and in the slack): the padded rows
    /// the patches of tile rows [<paramref name="firstRow"/>, <paramref name="lastRow"/>) read. A thread computing half of a
    /// single image reads only its half of the input (the lines the other core wrote stay in that core's cache for its
    /// next write). Rows outside are left as they were: the transform's vector loads reach them only in lanes of tiles past
    /// the row's end, which are overwritten or never multiplied.
    /// </summary>
    private static void Pad(Plan plan, float* x, float* pad, int firstRow, int lastRow)
    {
        var g = plan.Geometry;
        int w = g.Width, plane = plan.Hp * plan.Wp, r0 = 2 * firstRow, r1 = Math.Min(plan.Hp, 2 * lastRow + g.Kernel - 1);
        int y0 = Math.Max(0, r0 - g.Padding), y1 = Math.Min(g.Height, r1 - g.Padding);
        new Span<float>(pad + (long)g.InChannels * plane, plan.PadLength - g.InChannels * plane).Clear();
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            new Span<float>(pad + (long)ch * plane + r0 * plan.Wp, (r1 - r0) * plan.Wp).Clear();
            for (int iy = y0; iy < y1; iy++)
            {
                // Short rows (14 or 28 floats): vector copies inline rather than a copy call per row.
                float* from = x + ((long)ch * g.Height + iy) * w, to = pad + (long)ch * plane + (iy + g.Padding) * plan.Wp + g.Padding;
                int i = 0;
                for (; i + 16 <= w; i += 16) Vector512.Load(from + i).Store(to + i);
                for (; i + 8 <= w; i += 8) Vector256.Load(from + i).Store(to + i);
                for (; i < w; i++) to[i] = from[i];
            }
        }
    }

    /// <summary>
    /// U_ξ[c][tile] = (Bᵀ d B)_ξ for every channel and tile, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]],
    /// fifteen tiles of a tile row per vector: for each of the patch's four rows, its columns 2t, 2t+1, 2t+2, 2t+3 are
    /// separated from two loaded vectors by permutes, combined along the row, then the four rows combined.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTransform(Plan plan, float* pad, float* u, int firstRow, int lastRow)
    {
        var g = plan.Geometry;
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        var even2 = even + Vector512.Create(2);
        var odd2 = even + Vector512.Create(3);
        long es = plan.ElementStride;
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            float* plane = pad + (long)ch * plan.Hp * plan.Wp;
            for (int ty = firstRow; ty < lastRow; ty++)
                for (int tx = 0; tx < plan.TilesWide; tx += RowTiles(3))
                {
                    float* patch = plane + 2 * ty * plan.Wp + 2 * tx;
                    Row(patch, even, odd, even2, odd2, out var a0, out var a1, out var a2, out var a3);
                    Row(patch + plan.Wp, even, odd, even2, odd2, out var b0, out var b1, out var b2, out var b3);
                    Row(patch + 2 * plan.Wp, even, odd, even2, odd2, out var c0, out var c1, out var c2, out var c3);
                    Row(patch + 3 * plan.Wp, even, odd, even2, odd2, out var d0, out var d1, out var d2, out var d3);
                    float* dst = u + (long)ch * plan.Tiles + ty * plan.TilesWide + tx;
                    // Rows: U[0][j] = r0 − r2, U[1][j] = r1 + r2, U[2][j] = r2 − r1, U[3][j] = r1 − r3. The store writes 16 lanes;
                    // those past the tile row land on tiles (or slack) written later.
                    (a0 - c0).Store(dst); (a1 - c1).Store(dst + es); (a2 - c2).Store(dst + 2 * es); (a3 - c3).Store(dst + 3 * es);
                    (b0 + c0).Store(dst + 4 * es); (b1 + c1).Store(dst + 5 * es); (b2 + c2).Store(dst + 6 * es); (b3 + c3).Store(dst + 7 * es);
                    (c0 - b0).Store(dst + 8 * es); (c1 - b1).Store(dst + 9 * es); (c2 - b2).Store(dst + 10 * es); (c3 - b3).Store(dst + 11 * es);
                    (b0 - d0).Store(dst + 12 * es); (b1 - d1).Store(dst + 13 * es); (b2 - d2).Store(dst + 14 * es); (b3 - d3).Store(dst + 15 * es);
                }
        }
    }

    /// <summary>One patch row for 15 tiles: (d0 − d2, d1 + d2, d2 − d1, d1 − d3) of columns 2t .. 2t + 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row(float* r, Vector512<int> even, Vector512<int> odd, Vector512<int> even2, Vector512<int> odd2,
        out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2, out Vector512<float> t3)
    {
        var lo = Vector512.Load(r);
        var hi = Vector512.Load(r + Lanes);
        var d0 = Avx512F.PermuteVar16x32x2(lo, even, hi);
        var d1 = Avx512F.PermuteVar16x32x2(lo, odd, hi);
        var d2 = Avx512F.PermuteVar16x32x2(lo, even2, hi);
        var d3 = Avx512F.PermuteVar16x32x2(lo, odd2, hi);
        t0 = d0 - d2; t1 = d1 + d2; t2 = d2 - d1; t3 = d1 - d3;
    }

    /// <summary>
    /// Y = Aᵀ M A for the block's tiles and the chunk's channels (<see cref="Corners3"/>, <see cref="Corners5"/>), plus the
    /// bias, the ReLU when asked, stored into the tile's 2×2 outputs that lie inside the output plane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTransform(Plan plan, Plan.Chunk chunk, float* m, int t0, int live, float* bias, float* y, bool relu)
    {
        var g = plan.Geometry;
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.OutPlane;
        float* outs = stackalloc float[4 * Lanes];
        for (int k = 0; k < live; k++)
        {
            int tile = t0 + k, ty = tile / plan.TilesWide, tx = tile - ty * plan.TilesWide, oy = 2 * ty, ox = 2 * tx;
            bool right = ox + 1 < ow, below = oy + 1 < oh;
            for (int v = 0; v < chunk.Vectors; v++)
            {
                float* p = m + k * MaxVectors * Lanes + v * Lanes;
                Vector512<float> y00, y01, y10, y11;
                if (g.Kernel == 3) Corners3(p, out y00, out y01, out y10, out y11);
                else Corners5(p, out y00, out y01, out y10, out y11);
                var bv = Vector512.Load(bias + chunk.Channel + v * Lanes);
                y00 += bv; y01 += bv; y10 += bv; y11 += bv;
                if (relu)
                {
                    y00 = Vector512.Max(y00, Vector512<float>.Zero); y01 = Vector512.Max(y01, Vector512<float>.Zero);
                    y10 = Vector512.Max(y10, Vector512<float>.Zero); y11 = Vector512.Max(y11, Vector512<float>.Zero);
                }
                int first = chunk.Channel + v * Lanes, channels = Math.Min(Lanes, g.OutChannels - first);
                float* dst = y + (long)first * plane + oy * ow + ox;
                if (right && below && channels == Lanes)
                {
                    // Each channel's two output pairs are adjacent: interleaved (y00[l], y01[l]) and (y10[l], y11[l]) are
                    // stored eight bytes at a time.
                    Avx512F.UnpackLow(y00, y01).Store(outs);
                    Avx512F.UnpackHigh(y00, y01).Store(outs + Lanes);
                    Avx512F.UnpackLow(y10, y11).Store(outs + 2 * Lanes);
                    Avx512F.UnpackHigh(y10, y11).Store(outs + 3 * Lanes);
                    double* top = (double*)outs, bottom = (double*)(outs + 2 * Lanes);
                    for (int l = 0; l < Lanes; l++, dst += plane)
                    {
                        // Channel l sits in 128-bit lane l / 4 at pair l % 4: pairs 0–1 in the low unpack, 2–3 in the high one.
                        int at = (l >> 2) * 2 + (l & 1) + ((l & 2) != 0 ? 8 : 0);
                        *(double*)dst = top[at];
                        *(double*)(dst + ow) = bottom[at];
                    }
                    continue;
                }
                y00.Store(outs); y01.Store(outs + Lanes); y10.Store(outs + 2 * Lanes); y11.Store(outs + 3 * Lanes);
                for (int l = 0; l < channels; l++, dst += plane)
                {
                    dst[0] = outs[l];
                    if (right) dst[1] = outs[Lanes + l];
                    if (below)
                    {
                        dst[ow] = outs[2 * Lanes + l];
                        if (right) dst[ow + 1] = outs[3 * Lanes + l];
                    }
                }
            }
        }
    }

    /// <summary>
    /// M[k][·] = Σ_c U[c][tile k] · V[c][·] for twelve consecutive tiles (k = 0 … 11 at <paramref name="u"/> + k, channel c
    /// at offset <paramref name="offsets"/>[c]) and two vectors of output channels: 24 accumulators, each channel's two weight
    /// vectors loaded once for twelve broadcasts (PackedConvolution's six-position tile loads them once per six). Each sum
    /// runs over the channels in order from zero with one fused multiply-add per channel, as that tile's do: the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile12(float* w, int* offsets, int count, float* u, float* m)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> a8 = default, a9 = default, a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default;
        Vector512<float> a16 = default, a17 = default, a18 = default, a19 = default, a20 = default, a21 = default, a22 = default, a23 = default;
        for (int t = 0; t < count; t++)
        {
            float* x = u + offsets[t];
            var w0 = Vector512.Load(w + t * 2 * Lanes);
            var w1 = Vector512.Load(w + t * 2 * Lanes + Lanes);
            var b = Vector512.Create(x[0]); a0 = Vector512.FusedMultiplyAdd(b, w0, a0); a1 = Vector512.FusedMultiplyAdd(b, w1, a1);
            b = Vector512.Create(x[1]); a2 = Vector512.FusedMultiplyAdd(b, w0, a2); a3 = Vector512.FusedMultiplyAdd(b, w1, a3);
            b = Vector512.Create(x[2]); a4 = Vector512.FusedMultiplyAdd(b, w0, a4); a5 = Vector512.FusedMultiplyAdd(b, w1, a5);
            b = Vector512.Create(x[3]); a6 = Vector512.FusedMultiplyAdd(b, w0, a6); a7 = Vector512.FusedMultiplyAdd(b, w1, a7);
            b = Vector512.Create(x[4]); a8 = Vector512.FusedMultiplyAdd(b, w0, a8); a9 = Vector512.FusedMultiplyAdd(b, w1, a9);
            b = Vector512.Create(x[5]); a10 = Vector512.FusedMultiplyAdd(b, w0, a10); a11 = Vector512.FusedMultiplyAdd(b, w1, a11);
            b = Vector512.Create(x[6]); a12 = Vector512.FusedMultiplyAdd(b, w0, a12); a13 = Vector512.FusedMultiplyAdd(b, w1, a13);
            b = Vector512.Create(x[7]); a14 = Vector512.FusedMultiplyAdd(b, w0, a14); a15 = Vector512.FusedMultiplyAdd(b, w1, a15);
            b = Vector512.Create(x[8]); a16 = Vector512.FusedMultiplyAdd(b, w0, a16); a17 = Vector512.FusedMultiplyAdd(b, w1, a17);
            b = Vector512.Create(x[9]); a18 = Vector512.FusedMultiplyAdd(b, w0, a18); a19 = Vector512.FusedMultiplyAdd(b, w1, a19);
            b = Vector512.Create(x[10]); a20 = Vector512.FusedMultiplyAdd(b, w0, a20); a21 = Vector512.FusedMultiplyAdd(b, w1, a21);
            b = Vector512.Create(x[11]); a22 = Vector512.FusedMultiplyAdd(b, w0, a22); a23 = Vector512.FusedMultiplyAdd(b, w1, a23);
        }
        const int r = MaxVectors * Lanes;
        a0.Store(m); a1.Store(m + Lanes); a2.Store(m + r); a3.Store(m + r + Lanes);
        a4.Store(m + 2 * r); a5.Store(m + 2 * r + Lanes); a6.Store(m + 3 * r); a7.Store(m + 3 * r + Lanes);
        a8.Store(m + 4 * r); a9.Store(m + 4 * r + Lanes); a10.Store(m + 5 * r); a11.Store(m + 5 * r + Lanes);
        a12.Store(m + 6 * r); a13.Store(m + 6 * r + Lanes); a14.Store(m + 7 * r); a15.Store(m + 7 * r + Lanes);
        a16.Store(m + 8 * r); a17.Store(m + 8 * r + Lanes); a18.Store(m + 9 * r); a19.Store(m + 9 * r + Lanes);
        a20.Store(m + 10 * r); a21.Store(m + 10 * r + Lanes); a22.Store(m + 11 * r); a23.Store(m + 11 * r + Lanes);
    }

    /// <summary>Floats between consecutive elements ξ of a block's M.</summary>
    private const int MStride = Block * MaxVectors * Lanes;

    /// <summary>
    /// The four outputs of a 2×2 tile from its 4×4 M (one lane per output channel), Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]:
    /// s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 over the rows, then the same over the columns of s.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Corners3(float* p, out Vector512<float> y00, out Vector512<float> y01, out Vector512<float> y10, out Vector512<float> y11)
    {
        const int es = MStride;
        var m00 = Vector512.Load(p); var m01 = Vector512.Load(p + es); var m02 = Vector512.Load(p + 2 * es); var m03 = Vector512.Load(p + 3 * es);
        var m10 = Vector512.Load(p + 4 * es); var m11 = Vector512.Load(p + 5 * es); var m12 = Vector512.Load(p + 6 * es); var m13 = Vector512.Load(p + 7 * es);
        var m20 = Vector512.Load(p + 8 * es); var m21 = Vector512.Load(p + 9 * es); var m22 = Vector512.Load(p + 10 * es); var m23 = Vector512.Load(p + 11 * es);
        var m30 = Vector512.Load(p + 12 * es); var m31 = Vector512.Load(p + 13 * es); var m32 = Vector512.Load(p + 14 * es); var m33 = Vector512.Load(p + 15 * es);
        var s00 = m00 + m10 + m20; var s01 = m01 + m11 + m21; var s02 = m02 + m12 + m22; var s03 = m03 + m13 + m23;
        var s10 = m10 - m20 - m30; var s11 = m11 - m21 - m31; var s12 = m12 - m22 - m32; var s13 = m13 - m23 - m33;
        y00 = s00 + s01 + s02; y01 = s01 - s02 - s03;
        y10 = s10 + s11 + s12; y11 = s11 - s12 - s13;
    }

    /// <summary>
    /// The four outputs of a 2×2 tile from its 6×6 M, Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 1]]: per column j,
    /// s0 = m0 + m1 + m2 + m3 + m4 and s1 = (m1 − m2) + 2·(m3 − m4) + m5 over the rows, then the same over the columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Corners5(float* p, out Vector512<float> y00, out Vector512<float> y01, out Vector512<float> y10, out Vector512<float> y11)
    {
        Column5(p, out var a0, out var b0);
        Column5(p + MStride, out var a1, out var b1);
        Column5(p + 2 * MStride, out var a2, out var b2);
        Column5(p + 3 * MStride, out var a3, out var b3);
        Column5(p + 4 * MStride, out var a4, out var b4);
        Column5(p + 5 * MStride, out var a5, out var b5);
        var two = Vector512.Create(2f);
        y00 = a0 + a1 + a2 + a3 + a4;
        y01 = (a1 - a2) + two * (a3 - a4) + a5;
        y10 = b0 + b1 + b2 + b3 + b4;
        y11 = (b1 - b2) + two * (b3 - b4) + b5;
    }

    /// <summary>Column j of 6×6 M (from <paramref name="c"/>, rows 6·MStride apart) reduced by Aᵀ: (s0, s1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Column5(float* c, out Vector512<float> s0, out Vector512<float> s1)
    {
        const int rs = 6 * MStride;
        var m0 = Vector512.Load(c); var m1 = Vector512.Load(c + rs); var m2 = Vector512.Load(c + 2 * rs);
        var m3 = Vector512.Load(c + 3 * rs); var m4 = Vector512.Load(c + 4 * rs); var m5 = Vector512.Load(c + 5 * rs);
        s0 = m0 + m1 + m2 + m3 + m4;
        s1 = (m1 - m2) + Vector512.Create(2f) * (m3 - m4) + m5;
    }

    /// <summary>
    /// U_ξ[c][tile] = (Bᵀ d B)_ξ of F(2×2, 5×5) for every channel and tile, with
    /// Bᵀ = [[4, 0, −5, 0, 1, 0], [0, 4, 4, −1, −1, 0], [0, −4, 4, 1, −1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]]:
    /// fourteen tiles of a tile row per vector; each of the patch's six rows is transformed along its columns 2t .. 2t + 5
    /// (separated from two loaded vectors by permutes) into a small buffer, then the six rows are combined.
    /// </summary>
    private static void InputTransform5(Plan plan, float* pad, float* u, int firstRow, int lastRow)
    {
        var g = plan.Geometry;
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var rows = stackalloc Vector512<float>[36]; // rows[6·i + k]: column combination k of patch row i
        long es = plan.ElementStride;
        int step = RowTiles(5);
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            float* plane = pad + (long)ch * plan.Hp * plan.Wp;
            for (int ty = firstRow; ty < lastRow; ty++)
                for (int tx = 0; tx < plan.TilesWide; tx += step)
                {
                    float* patch = plane + 2 * ty * plan.Wp + 2 * tx;
                    for (int i = 0; i < 6; i++) Row5(patch + i * plan.Wp, even, rows + 6 * i);
                    float* dst = u + (long)ch * plan.Tiles + ty * plan.TilesWide + tx;
                    // The stores write 16 lanes; those past the tile row land on tiles (or slack) written later.
                    for (int k = 0; k < 6; k++)
                    {
                        Combine5(rows[k], rows[6 + k], rows[12 + k], rows[18 + k], rows[24 + k], rows[30 + k],
                            out var t0, out var t1, out var t2, out var t3, out var t4, out var t5);
                        t0.Store(dst + k * es); t1.Store(dst + (6 + k) * es); t2.Store(dst + (12 + k) * es);
                        t3.Store(dst + (18 + k) * es); t4.Store(dst + (24 + k) * es); t5.Store(dst + (30 + k) * es);
                    }
                }
        }
    }

    /// <summary>One patch row for 14 tiles: Bᵀ applied to its columns 2t .. 2t + 5, written to <paramref name="dst"/>[0..6].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row5(float* r, Vector512<int> even, Vector512<float>* dst)
    {
        var lo = Vector512.Load(r);
        var hi = Vector512.Load(r + Lanes);
        var d0 = Avx512F.PermuteVar16x32x2(lo, even, hi);
        var d1 = Avx512F.PermuteVar16x32x2(lo, even + Vector512.Create(1), hi);
        var d2 = Avx512F.PermuteVar16x32x2(lo, even + Vector512.Create(2), hi);
        var d3 = Avx512F.PermuteVar16x32x2(lo, even + Vector512.Create(3), hi);
        var d4 = Avx512F.PermuteVar16x32x2(lo, even + Vector512.Create(4), hi);
        var d5 = Avx512F.PermuteVar16x32x2(lo, even + Vector512.Create(5), hi);
        Combine5(d0, d1, d2, d3, d4, d5, out dst[0], out dst[1], out dst[2], out dst[3], out dst[4], out dst[5]);
    }

    /// <summary>(t0 … t5) = Bᵀ (d0 … d5) of F(2×2, 5×5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Combine5(Vector512<float> d0, Vector512<float> d1, Vector512<float> d2, Vector512<float> d3, Vector512<float> d4, Vector512<float> d5,
        out Vector512<float> t0, out Vector512<float> t1, out Vector512<float> t2, out Vector512<float> t3, out Vector512<float> t4, out Vector512<float> t5)
    {
        var four = Vector512.Create(4f);
        var five = Vector512.Create(5f);
        var two = Vector512.Create(2f);
        t0 = four * d0 - five * d2 + d4;
        t1 = four * (d1 + d2) - (d3 + d4);
        t2 = four * (d2 - d1) + (d3 - d4);
        t3 = two * (d3 - d1) + (d4 - d2);
        t4 = two * (d1 - d3) + (d4 - d2);
        t5 = four * d1 - five * d3 + d5;
    }
}
