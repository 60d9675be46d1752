// PackedConvolution: inference-only 2-D convolution over weights packed once (output channels in the vector lanes, live
// taps only), bias, residual and ReLU applied as each tile is stored. Reference: ConvolutionReference plus the epilogue.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// y (N, O, OH, OW) = act(conv(x (N, C, H, W), W) + b [+ r]) for a model whose weights do not change (a prepared model;
/// a linear layer is the 1×1 case on a 1×1 plane). A <see cref="Plan"/> is built once per layer and input size: the
/// weights are packed in chunks of up to 64 output channels (the channels zero-padded to whole 16-float vectors), keeping
/// only the kernel taps some output position reads inside the image (on ResNet's 1×1 maps the centre tap of a padded
/// 3×3, on its 2×2 → 1×1 stride-2 layer 4 of 9). Each call pads the input planes once and walks register tiles of up to
/// six output positions × one chunk: per tap, the chunk's weight vectors are loaded once and each position's input
/// value broadcast into them (no im2col matrix, nothing packed per call). Layers with at least 16 input channels are
/// packed <c>[chunk][kernel tap][C][lanes]</c> and walked one kernel tap at a time with only the tile's positions that
/// read that tap inside the image (on a 2×2 map each position reads 4 of the 9 taps); shallower ones are packed
/// <c>[chunk][C·taps][lanes]</c> and walked in one go. The positions of a tile may come from different images, so the
/// tiny late planes of a batch still fill whole tiles. The tile's sums get the bias, the residual and the ReLU on whole
/// vectors, then are stored into the (N, O, OH, OW) output.
/// </summary>
/// <remarks>
/// Threads: a batch of at least <see cref="ComputeContext.Threads"/> images is split into one run of images per thread
/// (each thread walks every chunk over a cache-sized group of its images). Fewer images (a single prediction): each
/// thread pads the image into its own slot and computes whole chunks of output channels (a plan with narrower chunks
/// gives every thread one), so both cores share the weights of one layer and no two write the same output lines. Each
/// output value is one tile's sum in a fixed order whoever computes it, so results are bit-identical for the same
/// <see cref="ComputeContext.Threads"/> (across thread counts a position may move between a tile of one, whose taps
/// alternate two sums, and a fuller tile). Works on any hardware (Vector512 is emulated where AVX-512 is absent,
/// slowly): <see cref="Fast"/> says whether the caller should take it.
/// </remarks>
public static unsafe class PackedConvolution
{
    /// <summary>Floats per vector: output channels are padded to a multiple of it.</summary>
    public const int Lanes = 16;

    /// <summary>Output positions per register tile (6 × 4 accumulators + 4 weights + 1 broadcast of the 32 registers).</summary>
    public const int TilePositions = 6;

    /// <summary>Most vectors (64 output channels) per chunk.</summary>
    private const int MaxVectors = 4;

    /// <summary>Padded input floats per thread group on the batch route (256 KiB: the group stays in the core's L2 cache).</summary>
    private const int GroupBudget = 1 << 16;

    /// <summary>Least multiply-adds of one image worth splitting over the threads (below it a hand-off costs more than it saves).</summary>
    private const long MinSplitWork = 1 << 16;

    /// <summary>Input channels from which a layer is walked tap-major (enough channels per tap to amortise a tile's reload).</summary>
    private const int TapMajorChannels = 16;

    /// <summary>Whether this machine runs the kernel at speed (512-bit vectors in hardware).</summary>
    public static bool Fast => Vector512.IsHardwareAccelerated;

    /// <summary>One layer's weights packed for one input size, with its offsets; immutable, shared by every caller.</summary>
    public sealed class Plan
    {
        /// <summary>The geometry with batch 1 (the batch comes with each call).</summary>
        public ConvGeometry Geometry { get; }

        internal readonly int Hp, Wp, PadLength, Taps;
        internal readonly int[] TapOffsets;        // (Taps): c·Hp·Wp + ky·Wp + kx of each live tap, in packing order (either packing)
        internal readonly int[] PositionOffsets;   // (OH·OW): oy·S·Wp + ox·S, the tile's window origin in a padded plane
        internal readonly bool TapMajor;           // weights (kernel tap, C, lanes) walked per kernel tap; else (C·taps, lanes) in one walk
        internal readonly bool WalkAll;            // tap-major, but at most 1/8 of (position, tap) pairs read padding: every tile walks all taps
        internal readonly int[] KernelTaps;        // (live kernel taps): ky·Wp + kx, in packing order
        internal readonly int[] ChannelOffsets;    // (C): c·Hp·Wp, the offsets a tap-major walk reads
        internal readonly ulong[] PositionTaps;    // (OH·OW): bit j set when kernel tap j reads inside the image at that position
        internal readonly Chunk[] Chunks;
        internal readonly float[] Weights;         // per chunk: (Taps, Vectors·16)
        internal readonly float[] Bias;            // (O rounded up to whole vectors), zeros past O

        internal readonly record struct Chunk(int Channel, int Vectors, int Offset);

        /// <summary>
        /// Packs <paramref name="weight"/> (O, C, K, K) and <paramref name="bias"/> (O) for inputs of
        /// <paramref name="height"/> × <paramref name="width"/>, in chunks of at most <paramref name="chunkVectors"/>
        /// vectors (1 to 4; narrower chunks give a single image's threads a chunk each, with the same sums).
        /// </summary>
        public Plan(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int inChannels, int outChannels, int kernel, int stride, int padding,
            int height, int width, int chunkVectors = MaxVectors)
        {
            if (chunkVectors is < 1 or > MaxVectors)
                throw new ArgumentOutOfRangeException(nameof(chunkVectors), chunkVectors, $"Chunks hold 1 to {MaxVectors} vectors.");
            var g = new ConvGeometry(1, inChannels, height, width, outChannels, kernel, stride, padding);
            g.Validate();
            if (weight.Length != g.WeightLength) throw new ArgumentException($"Weight has {weight.Length} floats; {g} needs {g.WeightLength} (O·C·K·K).");
            if (bias.Length != outChannels) throw new ArgumentException($"Bias has {bias.Length} floats; {g} needs {outChannels}.");
            Geometry = g;
            Hp = height + 2 * padding;
            Wp = width + 2 * padding;
            PadLength = (inChannels * Hp * Wp + Lanes - 1) / Lanes * Lanes;
            var (y0, y1) = ConvGeometry.LiveRange(kernel, stride, padding, height, g.OutHeight);
            var (x0, x1) = ConvGeometry.LiveRange(kernel, stride, padding, width, g.OutWidth);
            int kernelTaps = (y1 - y0) * (x1 - x0);
            Taps = inChannels * kernelTaps;
            // Deep layers walk one kernel tap at a time over the channels, each with only the tile's positions it reads
            // inside the image (on 2×2 maps 4 of 9 taps per position); shallow ones walk every tap in one go.
            TapMajor = inChannels >= TapMajorChannels && kernelTaps <= 64;
            KernelTaps = new int[kernelTaps];
            for (int ky = y0, j = 0; ky < y1; ky++)
                for (int kx = x0; kx < x1; kx++, j++) KernelTaps[j] = ky * Wp + kx;
            ChannelOffsets = new int[inChannels];
            for (int c = 0; c < inChannels; c++) ChannelOffsets[c] = c * Hp * Wp;
            TapOffsets = new int[Taps];
            var source = new int[Taps]; // (c·K + ky)·K + kx of each packed tap
            int t = 0;
            if (TapMajor)
            {
                for (int ky = y0; ky < y1; ky++)
                    for (int kx = x0; kx < x1; kx++)
                        for (int c = 0; c < inChannels; c++, t++)
                        {
                            TapOffsets[t] = c * Hp * Wp + ky * Wp + kx;
                            source[t] = (c * kernel + ky) * kernel + kx;
                        }
            }
            else
            {
                for (int c = 0; c < inChannels; c++)
                    for (int ky = y0; ky < y1; ky++)
                        for (int kx = x0; kx < x1; kx++, t++)
                        {
                            TapOffsets[t] = c * Hp * Wp + ky * Wp + kx;
                            source[t] = (c * kernel + ky) * kernel + kx;
                        }
            }
            PositionTaps = new ulong[g.OutPlane];
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                    for (int ky = y0, j = 0; ky < y1; ky++)
                        for (int kx = x0; kx < x1; kx++, j++)
                        {
                            int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                            if (j < 64 && iy >= 0 && iy < height && ix >= 0 && ix < width) PositionTaps[oy * g.OutWidth + ox] |= 1UL << j;
                        }
            // On a large plane few (position, tap) pairs read padding (cnn's 14×14 with padding 1: 8%), but most tiles of six
            // consecutive positions hold one on the border: those walk every tap in one go too, multiplying the zeros of the
            // padded input (exact: each adds +0), rather than per kernel tap with their sums stored and reloaded between.
            long reads = 0;
            foreach (ulong m in PositionTaps) reads += System.Numerics.BitOperations.PopCount(m);
            WalkAll = TapMajor && reads * 8 >= 7L * g.OutPlane * kernelTaps;
            PositionOffsets = new int[g.OutPlane];
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                    PositionOffsets[oy * g.OutWidth + ox] = oy * stride * Wp + ox * stride;
            // Chunks of chunkVectors (four by default) while they last, then the rest as one.
            int vectors = (outChannels + Lanes - 1) / Lanes;
            var chunks = new List<Chunk>();
            for (int v = 0, offset = 0; v < vectors; )
            {
                int n = Math.Min(chunkVectors, vectors - v);
                chunks.Add(new Chunk(v * Lanes, n, offset));
                offset += Taps * n * Lanes;
                v += n;
            }
            Chunks = chunks.ToArray();
            Weights = new float[Taps * vectors * Lanes];
            int fan = g.ColumnRows;
            foreach (var chunk in Chunks)
                for (int tap = 0; tap < Taps; tap++)
                    for (int lane = 0; lane < chunk.Vectors * Lanes; lane++)
                    {
                        int o = chunk.Channel + lane;
                        if (o < outChannels) Weights[chunk.Offset + tap * chunk.Vectors * Lanes + lane] = weight[o * fan + source[tap]];
                    }
            Bias = new float[vectors * Lanes];
            bias.CopyTo(Bias);
        }

        /// <summary>Output channel vectors of 16 (O rounded up).</summary>
        public int Vectors => Bias.Length / Lanes;

        /// <summary>Chunks of output channels (the single-image route gives each thread whole chunks when there are enough).</summary>
        public int ChunkCount => Chunks.Length;

        /// <summary>Live taps per input channel (of K·K): the taps some output position reads inside the image.</summary>
        public int LiveTaps => Taps / Geometry.InChannels;

        /// <summary>Floats of workspace <see cref="Forward"/> needs for <paramref name="batch"/> images at the context's thread count.</summary>
        public int WorkspaceLength(ComputeContext compute, int batch) => checked(compute.Threads * GroupSize(batch, compute.Threads) * PadLength);

        /// <summary>Images per group on the batch route: as many padded images as <see cref="GroupBudget"/> holds, at least one.</summary>
        internal int GroupSize(int batch, int threads)
        {
            int perThread = Math.Max(1, (batch + threads - 1) / threads);
            return Math.Clamp(GroupBudget / PadLength, 1, perThread);
        }

        public override string ToString() => $"PackedConvolution.Plan({Geometry}, {LiveTaps} live taps of {Geometry.Kernel * Geometry.Kernel})";
    }

    /// <summary>
    /// output (N, O, OH, OW) = conv(input (N, C, H, W)) + bias, plus <paramref name="residual"/> (N, O, OH, OW) when given,
    /// then max(·, 0) when <paramref name="relu"/>. <paramref name="workspace"/>: at least
    /// <see cref="Plan.WorkspaceLength"/> floats. <paramref name="residual"/> may not be <paramref name="output"/>.
    /// </summary>
    public static void Forward(ComputeContext compute, Plan plan, int batch, float[] input, float[] output, float[]? residual, bool relu,
        float[] workspace)
    {
        var g = plan.Geometry with { Batch = batch };
        if (input.Length < g.InputLength) throw new ArgumentException($"Input has {input.Length} floats; {g} needs {g.InputLength}.");
        if (output.Length < g.OutputLength) throw new ArgumentException($"Output has {output.Length} floats; {g} needs {g.OutputLength}.");
        if (residual is not null && residual.Length < g.OutputLength)
            throw new ArgumentException($"Residual has {residual.Length} floats; {g} needs {g.OutputLength} (the output's shape).");
        if (ReferenceEquals(residual, output)) throw new ArgumentException("The residual must not be the output array (tiles read it while others are written).");
        int need = plan.WorkspaceLength(compute, batch);
        if (workspace.Length < need) throw new ArgumentException($"Workspace has {workspace.Length} floats; {plan} needs {need} for batch {batch}.");
        if (batch == 0) return;
        var call = new Call { Plan = plan, Input = input, Output = output, Residual = residual, Relu = relu, Workspace = workspace };
        if (batch >= compute.Threads)
        {
            // One contiguous run of images per thread, a group at a time; part p pads into workspace slot p.
            call.Parts = compute.Threads;
            call.Group = plan.GroupSize(batch, compute.Threads);
            call.Batch = batch;
            compute.For(call.Parts, 1, call, static (c, ps, pe) =>
            {
                for (int p = ps; p < pe; p++)
                {
                    int start = (int)((long)c.Batch * p / c.Parts), end = (int)((long)c.Batch * (p + 1) / c.Parts);
                    for (int first = start; first < end; first += c.Group)
                    {
                        int count = Math.Min(c.Group, end - first);
                        RunGroup(c, first, count, p, 0, c.Plan.Chunks.Length * Tiles(count * c.Plan.Geometry.OutPlane), pad: true);
                    }
                }
            });
            return;
        }
        // Fewer images than threads: each thread pads the image itself and computes a fixed run of its (chunk, tile) items:
        // whole chunks when there are at least as many as threads, so each thread writes only its own output channels' planes
        // (tiles of one chunk shared between two cores wrote the same cache lines: on ResNet's 7×7 and 4×4 planes two threads
        // ran a layer no faster than one). A part whose worker has not started runs on the caller (ComputeContext). Every
        // item is one fixed tile computed the same way whoever runs it: the results stay the same bits.
        int tiles = Tiles(g.OutPlane), items = plan.Chunks.Length * tiles;
        long work = (long)plan.Taps * g.OutPlane * plan.Geometry.OutChannels;
        call.Parts = work >= MinSplitWork * compute.Threads ? Math.Min(compute.Threads, items) : 1;
        call.Group = 1;
        call.Batch = items;
        for (int image = 0; image < batch; image++)
        {
            call.Image = image;
            compute.For(call.Parts, 1, call, static (c, ps, pe) =>
            {
                for (int p = ps; p < pe; p++)
                {
                    var (start, end) = SingleImageItems(c.Plan.Chunks.Length, c.Batch, c.Parts, p);
                    if (start < end) RunGroup(c, c.Image, 1, p, start, end, pad: true);
                }
            });
        }
    }

    private static int Tiles(int pairs) => (pairs + TilePositions - 1) / TilePositions;

    /// <summary>
    /// Part <paramref name="part"/>'s items [start, end) of a single image's <paramref name="items"/> (chunk-major): whole chunks
    /// when there are at least as many chunks as parts, else an even run of tiles.
    /// </summary>
    internal static (int Start, int End) SingleImageItems(int chunks, int items, int parts, int part)
    {
        if (chunks >= parts)
        {
            int tiles = items / chunks;
            return (chunks * part / parts * tiles, chunks * (part + 1) / parts * tiles);
        }
        return ((int)((long)items * part / parts), (int)((long)items * (part + 1) / parts));
    }

    /// <summary>
    /// One thread's share: images [first, first + count) padded into its slot (when <paramref name="pad"/>; else the slot
    /// holds them already), then items [itemStart, itemEnd) of chunk × tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunGroup(in Call c, int first, int count, int slot, int itemStart, int itemEnd, bool pad)
    {
        var plan = c.Plan;
        var g = plan.Geometry;
        int plane = g.OutPlane, pairs = count * plane, tiles = Tiles(pairs), inLength = g.InChannels * g.InPlane, outLength = g.OutChannels * plane;
        float** src = stackalloc float*[TilePositions];
        float** rows = stackalloc float*[TilePositions];
        float** origin = stackalloc float*[TilePositions];
        ulong* masks = stackalloc ulong[TilePositions];
        int* outBase = stackalloc int[TilePositions];
        float* acc = stackalloc float[TilePositions * MaxVectors * Lanes];
        fixed (float* x = c.Input, y = c.Output, r = c.Residual, ws = c.Workspace, w = plan.Weights, b = plan.Bias)
        fixed (int* taps = plan.TapOffsets, positions = plan.PositionOffsets, channels = plan.ChannelOffsets)
        {
            float* slots = ws + (long)slot * c.Group * plan.PadLength;
            for (int i = 0; pad && i < count; i++)
                DirectConvolution.PadPlanes(x + (long)(first + i) * inLength, g.InChannels, g.Height, g.Width, g.Padding,
                    slots + (long)i * plan.PadLength, plan.PadLength);
            for (int item = itemStart; item < itemEnd; item++)
            {
                var chunk = plan.Chunks[item / tiles];
                int tile = item % tiles, q0 = tile * TilePositions, live = Math.Min(TilePositions, pairs - q0);
                for (int k = 0; k < live; k++)
                {
                    int q = q0 + k, image = q / plane, position = q - image * plane;
                    origin[k] = slots + (long)image * plan.PadLength + positions[position];
                    masks[k] = plan.PositionTaps[position];
                    outBase[k] = (first + image) * outLength + position;
                    rows[k] = acc + k * MaxVectors * Lanes;
                }
                new Span<float>(acc, live * MaxVectors * Lanes).Clear();
                float* wc = w + chunk.Offset;
                if (plan.TapMajor)
                {
                    // Per kernel tap, the C channels for the positions that read it inside the image; a tile whose positions
                    // all read every tap inside (the interior of a large plane) walks them in one go instead, in the same
                    // order, without storing and reloading its sums between kernel taps.
                    int channelCount = g.InChannels, step = chunk.Vectors * Lanes;
                    ulong every = plan.KernelTaps.Length == 64 ? ulong.MaxValue : (1UL << plan.KernelTaps.Length) - 1, common = every;
                    for (int k = 0; k < live; k++) common &= masks[k];
                    if (common == every || plan.WalkAll)
                    {
                        Tile(chunk.Vectors, live, wc, taps, plan.Taps, origin, rows);
                        Store(acc, live, chunk, g.OutChannels, plane, b, outBase, y, r, c.Relu);
                        continue;
                    }
                    for (int j = 0; j < plan.KernelTaps.Length; j++)
                    {
                        int n = 0;
                        for (int k = 0; k < live; k++)
                            if ((masks[k] >> j & 1) != 0) { src[n] = origin[k] + plan.KernelTaps[j]; rows[n] = acc + k * MaxVectors * Lanes; n++; }
                        if (n > 0) Tile(chunk.Vectors, n, wc + (long)j * channelCount * step, channels, channelCount, src, rows);
                    }
                }
                else
                    Tile(chunk.Vectors, live, wc, taps, plan.Taps, origin, rows);
                Store(acc, live, chunk, g.OutChannels, plane, b, outBase, y, r, c.Relu);
            }
        }
    }

    /// <summary>Dispatches to the tile specialised for <paramref name="vectors"/> × <paramref name="positions"/>.</summary>
    internal static void Tile(int vectors, int positions, float* w, int* offsets, int count, float** src, float** rows, bool zero = false)
    {
        switch (vectors * 8 + positions)
        {
            case 4 * 8 + 6: Tile<Six, Four>(w, offsets, count, src, rows, zero); break;
            case 4 * 8 + 5: Tile<Five, Four>(w, offsets, count, src, rows, zero); break;
            case 4 * 8 + 4: Tile<Four, Four>(w, offsets, count, src, rows, zero); break;
            case 4 * 8 + 3: Tile<Three, Four>(w, offsets, count, src, rows, zero); break;
            case 4 * 8 + 2: Tile<Two, Four>(w, offsets, count, src, rows, zero); break;
            case 4 * 8 + 1: Tile<One, Four>(w, offsets, count, src, rows, zero); break;
            case 3 * 8 + 6: Tile<Six, Three>(w, offsets, count, src, rows, zero); break;
            case 3 * 8 + 5: Tile<Five, Three>(w, offsets, count, src, rows, zero); break;
            case 3 * 8 + 4: Tile<Four, Three>(w, offsets, count, src, rows, zero); break;
            case 3 * 8 + 3: Tile<Three, Three>(w, offsets, count, src, rows, zero); break;
            case 3 * 8 + 2: Tile<Two, Three>(w, offsets, count, src, rows, zero); break;
            case 3 * 8 + 1: Tile<One, Three>(w, offsets, count, src, rows, zero); break;
            case 2 * 8 + 6: Tile<Six, Two>(w, offsets, count, src, rows, zero); break;
            case 2 * 8 + 5: Tile<Five, Two>(w, offsets, count, src, rows, zero); break;
            case 2 * 8 + 4: Tile<Four, Two>(w, offsets, count, src, rows, zero); break;
            case 2 * 8 + 3: Tile<Three, Two>(w, offsets, count, src, rows, zero); break;
            case 2 * 8 + 2: Tile<Two, Two>(w, offsets, count, src, rows, zero); break;
            case 2 * 8 + 1: Tile<One, Two>(w, offsets, count, src, rows, zero); break;
            case 1 * 8 + 6: Tile<Six, One>(w, offsets, count, src, rows, zero); break;
            case 1 * 8 + 5: Tile<Five, One>(w, offsets, count, src, rows, zero); break;
            case 1 * 8 + 4: Tile<Four, One>(w, offsets, count, src, rows, zero); break;
            case 1 * 8 + 3: Tile<Three, One>(w, offsets, count, src, rows, zero); break;
            case 1 * 8 + 2: Tile<Two, One>(w, offsets, count, src, rows, zero); break;
            default: Tile<One, One>(w, offsets, count, src, rows, zero); break;
        }
    }

    /// <summary>
    /// The epilogue: y[base_p + o·plane] = act(acc[p][o − chunk] + b[o] (+ r[same index])) for the tile's live positions p
    /// and the chunk's real channels o. The arithmetic runs on whole vectors in the tile buffer (a data-dependent branch
    /// per value mispredicts half the time after a ReLU); only the strided loads and stores are scalar.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Store(float* acc, int live, Plan.Chunk chunk, int outChannels, int plane, float* bias, int* outBase, float* y, float* residual, bool relu)
    {
        int width = chunk.Vectors * Lanes, channels = Math.Min(width, outChannels - chunk.Channel);
        float* b = bias + chunk.Channel;
        if (live == TilePositions && residual is null && channels == width && outBase[TilePositions - 1] == outBase[0] + TilePositions - 1
            && Avx512F.IsSupported)
        {
            StoreTransposed(acc, chunk.Vectors, plane, b, y + outBase[0] + (long)chunk.Channel * plane, relu);
            return;
        }
        for (int p = 0; p < live; p++)
        {
            float* a = acc + p * MaxVectors * Lanes;
            if (residual is not null)
            {
                float* res = residual + outBase[p] + (long)chunk.Channel * plane;
                for (int l = 0; l < channels; l++) a[l] += res[(long)l * plane];
            }
            for (int v = 0; v < width; v += Lanes)
            {
                var sum = Vector512.Load(a + v) + Vector512.Load(b + v);
                if (relu) sum = Vector512.Max(sum, Vector512<float>.Zero);
                sum.Store(a + v);
            }
            float* dst = y + outBase[p] + (long)chunk.Channel * plane;
            for (int l = 0; l < channels; l++) dst[(long)l * plane] = a[l];
        }
    }

    /// <summary>
    /// The epilogue of a full tile whose six positions are consecutive in one output plane and whose chunk holds only real
    /// channels: y[o·plane + p] = act(acc[p][o] + b[o]) written six floats at a time per channel. Each 6 × 16 block
    /// (positions × channels) is transposed in registers (two unpacks and two shuffles give each 128-bit lane four
    /// channels' first four positions, and their last two) and stored with one 128-bit and one 64-bit store per
    /// channel, instead of 96 scalar loads and stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTransposed(float* acc, int vectors, int plane, float* bias, float* dst, bool relu)
    {
        const int row = MaxVectors * Lanes;
        for (int v = 0; v < vectors; v++)
        {
            var b = Vector512.Load(bias + v * Lanes);
            var r0 = Vector512.Load(acc + v * Lanes) + b;
            var r1 = Vector512.Load(acc + row + v * Lanes) + b;
            var r2 = Vector512.Load(acc + 2 * row + v * Lanes) + b;
            var r3 = Vector512.Load(acc + 3 * row + v * Lanes) + b;
            var r4 = Vector512.Load(acc + 4 * row + v * Lanes) + b;
            var r5 = Vector512.Load(acc + 5 * row + v * Lanes) + b;
            if (relu)
            {
                var zero = Vector512<float>.Zero;
                r0 = Vector512.Max(r0, zero); r1 = Vector512.Max(r1, zero); r2 = Vector512.Max(r2, zero);
                r3 = Vector512.Max(r3, zero); r4 = Vector512.Max(r4, zero); r5 = Vector512.Max(r5, zero);
            }
            // Per 128-bit lane (channels 4L..4L+3): t0 = (r0[0], r1[0], r0[1], r1[1]), t1 = (r0[2], r1[2], r0[3], r1[3]), ...
            var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
            var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
            var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
            // u_k: positions 0–3 of channel 4L + k; w_k: positions 4–5 of it (in the low half of the lane).
            var u0 = Avx512F.Shuffle(t0, t2, 0x44); var u1 = Avx512F.Shuffle(t0, t2, 0xEE);
            var u2 = Avx512F.Shuffle(t1, t3, 0x44); var u3 = Avx512F.Shuffle(t1, t3, 0xEE);
            var w01 = t4; // (r4[0], r5[0], r4[1], r5[1]): channel 4L at 0–1, 4L+1 at 2–3
            var w23 = t5; // channel 4L+2 at 0–1, 4L+3 at 2–3
            float* d = dst + (long)v * Lanes * plane;
            // The lane index of an extract must be a constant: one call per 128-bit lane.
            StoreLane(u0.GetLower().GetLower(), u1.GetLower().GetLower(), u2.GetLower().GetLower(), u3.GetLower().GetLower(),
                w01.GetLower().GetLower(), w23.GetLower().GetLower(), d, plane);
            StoreLane(Avx512F.ExtractVector128(u0, 1), Avx512F.ExtractVector128(u1, 1), Avx512F.ExtractVector128(u2, 1), Avx512F.ExtractVector128(u3, 1),
                Avx512F.ExtractVector128(w01, 1), Avx512F.ExtractVector128(w23, 1), d + 4L * plane, plane);
            StoreLane(Avx512F.ExtractVector128(u0, 2), Avx512F.ExtractVector128(u1, 2), Avx512F.ExtractVector128(u2, 2), Avx512F.ExtractVector128(u3, 2),
                Avx512F.ExtractVector128(w01, 2), Avx512F.ExtractVector128(w23, 2), d + 8L * plane, plane);
            StoreLane(Avx512F.ExtractVector128(u0, 3), Avx512F.ExtractVector128(u1, 3), Avx512F.ExtractVector128(u2, 3), Avx512F.ExtractVector128(u3, 3),
                Avx512F.ExtractVector128(w01, 3), Avx512F.ExtractVector128(w23, 3), d + 12L * plane, plane);
        }
    }

    /// <summary>Stores one 128-bit lane's four channels (six positions each: four from u_k, two from w) at d, d + plane, d + 2·plane, d + 3·plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreLane(Vector128<float> u0, Vector128<float> u1, Vector128<float> u2, Vector128<float> u3,
        Vector128<float> w01, Vector128<float> w23, float* d, int plane)
    {
        u0.Store(d);
        u1.Store(d + plane);
        u2.Store(d + 2L * plane);
        u3.Store(d + 3L * plane);
        var a = w01.AsDouble();
        var c = w23.AsDouble();
        *(double*)(d + 4) = a.GetElement(0);
        *(double*)(d + plane + 4) = a.GetElement(1);
        *(double*)(d + 2L * plane + 4) = c.GetElement(0);
        *(double*)(d + 3L * plane + 4) = c.GetElement(1);
    }

    /// <summary>A compile-time count: generic tiles are specialised per count, the unused accumulators dropped by the JIT.</summary>
    private interface ICount { static abstract int Value { get; } }
    private struct One : ICount { public static int Value => 1; }
    private struct Two : ICount { public static int Value => 2; }
    private struct Three : ICount { public static int Value => 3; }
    private struct Four : ICount { public static int Value => 4; }
    private struct Five : ICount { public static int Value => 5; }
    private struct Six : ICount { public static int Value => 6; }

    /// <summary>
    /// rows_p[v·16 + l] += Σ_t w[t·V·16 + v·16 + l] · src_p[offsets[t]] for TP positions and TV vectors: per tap TV weight
    /// loads and TP broadcasts feed TP·TV fused multiply-adds. One position alone (a 1×1 map, a GEMV) alternates two
    /// accumulator sets between even and odd taps, so the adds do not wait on each other.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TP, TV>(float* w, int* taps, int count, float** src, float** rows, bool zero) where TP : struct, ICount where TV : struct, ICount
    {
        int step = TV.Value * Lanes;
        float* p0 = src[0], p1 = TP.Value > 1 ? src[1] : null, p2 = TP.Value > 2 ? src[2] : null;
        float* p3 = TP.Value > 3 ? src[3] : null, p4 = TP.Value > 4 ? src[4] : null, p5 = TP.Value > 5 ? src[5] : null;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default, a50 = default, a51 = default, a52 = default, a53 = default;
        // A fresh tile (zero) starts from zero sums; one that continues a walk reloads its running sums.
        if (!zero)
        {
            float* r0 = rows[0];
            a00 = Vector512.Load(r0); if (TV.Value > 1) a01 = Vector512.Load(r0 + 16); if (TV.Value > 2) a02 = Vector512.Load(r0 + 32); if (TV.Value > 3) a03 = Vector512.Load(r0 + 48);
            if (TP.Value > 1)
            {
                float* r1 = rows[1];
                a10 = Vector512.Load(r1); if (TV.Value > 1) a11 = Vector512.Load(r1 + 16); if (TV.Value > 2) a12 = Vector512.Load(r1 + 32); if (TV.Value > 3) a13 = Vector512.Load(r1 + 48);
            }
            if (TP.Value > 2)
            {
                float* r2 = rows[2];
                a20 = Vector512.Load(r2); if (TV.Value > 1) a21 = Vector512.Load(r2 + 16); if (TV.Value > 2) a22 = Vector512.Load(r2 + 32); if (TV.Value > 3) a23 = Vector512.Load(r2 + 48);
            }
            if (TP.Value > 3)
            {
                float* r3 = rows[3];
                a30 = Vector512.Load(r3); if (TV.Value > 1) a31 = Vector512.Load(r3 + 16); if (TV.Value > 2) a32 = Vector512.Load(r3 + 32); if (TV.Value > 3) a33 = Vector512.Load(r3 + 48);
            }
            if (TP.Value > 4)
            {
                float* r4 = rows[4];
                a40 = Vector512.Load(r4); if (TV.Value > 1) a41 = Vector512.Load(r4 + 16); if (TV.Value > 2) a42 = Vector512.Load(r4 + 32); if (TV.Value > 3) a43 = Vector512.Load(r4 + 48);
            }
            if (TP.Value > 5)
            {
                float* r5 = rows[5];
                a50 = Vector512.Load(r5); if (TV.Value > 1) a51 = Vector512.Load(r5 + 16); if (TV.Value > 2) a52 = Vector512.Load(r5 + 32); if (TV.Value > 3) a53 = Vector512.Load(r5 + 48);
            }
        }
        int t = 0;
        if (TP.Value == 1)
        {
            // Two taps per step into two accumulator sets (a0·, a1·), summed at the end.
            for (; t + 1 < count; t += 2)
            {
                float* wk = w + (long)t * step;
                var v = Vector512.Create(p0[taps[t]]);
                var u = Vector512.Create(p0[taps[t + 1]]);
                a00 = Vector512.FusedMultiplyAdd(v, Vector512.Load(wk), a00);
                a10 = Vector512.FusedMultiplyAdd(u, Vector512.Load(wk + step), a10);
                if (TV.Value > 1)
                {
                    a01 = Vector512.FusedMultiplyAdd(v, Vector512.Load(wk + 16), a01);
                    a11 = Vector512.FusedMultiplyAdd(u, Vector512.Load(wk + step + 16), a11);
                }
                if (TV.Value > 2)
                {
                    a02 = Vector512.FusedMultiplyAdd(v, Vector512.Load(wk + 32), a02);
                    a12 = Vector512.FusedMultiplyAdd(u, Vector512.Load(wk + step + 32), a12);
                }
                if (TV.Value > 3)
                {
                    a03 = Vector512.FusedMultiplyAdd(v, Vector512.Load(wk + 48), a03);
                    a13 = Vector512.FusedMultiplyAdd(u, Vector512.Load(wk + step + 48), a13);
                }
            }
        }
        for (; t < count; t++)
        {
            int off = taps[t];
            float* wk = w + (long)t * step;
            var w0 = Vector512.Load(wk);
            var w1 = TV.Value > 1 ? Vector512.Load(wk + 16) : default;
            var w2 = TV.Value > 2 ? Vector512.Load(wk + 32) : default;
            var w3 = TV.Value > 3 ? Vector512.Load(wk + 48) : default;
            var v = Vector512.Create(p0[off]);
            a00 = Vector512.FusedMultiplyAdd(v, w0, a00);
            if (TV.Value > 1) a01 = Vector512.FusedMultiplyAdd(v, w1, a01);
            if (TV.Value > 2) a02 = Vector512.FusedMultiplyAdd(v, w2, a02);
            if (TV.Value > 3) a03 = Vector512.FusedMultiplyAdd(v, w3, a03);
            if (TP.Value > 1)
            {
                v = Vector512.Create(p1[off]);
                a10 = Vector512.FusedMultiplyAdd(v, w0, a10);
                if (TV.Value > 1) a11 = Vector512.FusedMultiplyAdd(v, w1, a11);
                if (TV.Value > 2) a12 = Vector512.FusedMultiplyAdd(v, w2, a12);
                if (TV.Value > 3) a13 = Vector512.FusedMultiplyAdd(v, w3, a13);
            }
            if (TP.Value > 2)
            {
                v = Vector512.Create(p2[off]);
                a20 = Vector512.FusedMultiplyAdd(v, w0, a20);
                if (TV.Value > 1) a21 = Vector512.FusedMultiplyAdd(v, w1, a21);
                if (TV.Value > 2) a22 = Vector512.FusedMultiplyAdd(v, w2, a22);
                if (TV.Value > 3) a23 = Vector512.FusedMultiplyAdd(v, w3, a23);
            }
            if (TP.Value > 3)
            {
                v = Vector512.Create(p3[off]);
                a30 = Vector512.FusedMultiplyAdd(v, w0, a30);
                if (TV.Value > 1) a31 = Vector512.FusedMultiplyAdd(v, w1, a31);
                if (TV.Value > 2) a32 = Vector512.FusedMultiplyAdd(v, w2, a32);
                if (TV.Value > 3) a33 = Vector512.FusedMultiplyAdd(v, w3, a33);
            }
            if (TP.Value > 4)
            {
                v = Vector512.Create(p4[off]);
                a40 = Vector512.FusedMultiplyAdd(v, w0, a40);
                if (TV.Value > 1) a41 = Vector512.FusedMultiplyAdd(v, w1, a41);
                if (TV.Value > 2) a42 = Vector512.FusedMultiplyAdd(v, w2, a42);
                if (TV.Value > 3) a43 = Vector512.FusedMultiplyAdd(v, w3, a43);
            }
            if (TP.Value > 5)
            {
                v = Vector512.Create(p5[off]);
                a50 = Vector512.FusedMultiplyAdd(v, w0, a50);
                if (TV.Value > 1) a51 = Vector512.FusedMultiplyAdd(v, w1, a51);
                if (TV.Value > 2) a52 = Vector512.FusedMultiplyAdd(v, w2, a52);
                if (TV.Value > 3) a53 = Vector512.FusedMultiplyAdd(v, w3, a53);
            }
        }
        if (TP.Value == 1)
        {
            a00 += a10; a01 += a11; a02 += a12; a03 += a13;
        }
        Store(rows[0], a00, a01, a02, a03, TV.Value);
        if (TP.Value > 1) Store(rows[1], a10, a11, a12, a13, TV.Value);
        if (TP.Value > 2) Store(rows[2], a20, a21, a22, a23, TV.Value);
        if (TP.Value > 3) Store(rows[3], a30, a31, a32, a33, TV.Value);
        if (TP.Value > 4) Store(rows[4], a40, a41, a42, a43, TV.Value);
        if (TP.Value > 5) Store(rows[5], a50, a51, a52, a53, TV.Value);
    }


    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* d, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, int vectors)
    {
        v0.Store(d);
        if (vectors > 1) v1.Store(d + 16);
        if (vectors > 2) v2.Store(d + 32);
        if (vectors > 3) v3.Store(d + 48);
    }

    /// <summary>One call's arguments for the parallel loops, passed by value to static lambdas (no closure per call).</summary>
    private struct Call
    {
        public Plan Plan;
        public float[] Input, Output, Workspace;
        public float[]? Residual;
        public bool Relu;
        public int Batch, Group, Image, Parts; // Batch: images (batch route) or items (one image split)
    }
}
