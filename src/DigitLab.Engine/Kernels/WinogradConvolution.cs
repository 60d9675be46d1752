// WinogradConvolution: inference-only 3×3 stride-1 convolution by Winograd's F(2×2, 3×3) over weights transformed once,
// bias and ReLU applied as each tile's outputs are stored. Reference: ConvolutionReference plus the epilogue.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// y (N, O, OH, OW) = act(conv(x (N, C, H, W), W) + b) for 3×3 kernels at stride 1 (any padding up to 2) by Winograd's
/// minimal filtering F(2×2, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): the output
/// is cut into 2×2 tiles, each read from a 4×4 input patch d; per input channel U = Bᵀ d B, per (output, input channel)
/// V = G g Gᵀ (transformed once, in double, when the <see cref="Plan"/> is built), then for each of the 16 elements ξ
/// M_ξ[tile][o] = Σ_c U_ξ[c][tile] · V_ξ[c][o] — 16 products of (tiles × C) by (C × O), 2.25 times fewer multiply-adds
/// than the direct 3×3 sum — and the outputs Y = Aᵀ M A. The 16 products run on <see cref="PackedConvolution"/>'s
/// register tile (six tiles × up to 64 output channels in the lanes); the input transform runs sixteen tiles of a tile
/// row per vector (even and odd columns separated by permutes).
/// </summary>
/// <remarks>
/// The transforms' coefficients are 0, ±1 and ±½, so the result differs from the direct sum only by rounding: measured
/// in the tests against the double-precision reference within the engine's sum tolerances. Threads: a batch is split
/// into one run of images per thread, each image computed by one thread in a fixed order, so results do not depend on
/// the thread count. Needs AVX-512 (<see cref="Fast"/>).
/// </remarks>
public static unsafe class WinogradConvolution
{
    private const int Lanes = PackedConvolution.Lanes;
    private const int MaxVectors = 4;
    /// <summary>Tiles per register tile (the packed kernel's six positions).</summary>
    private const int Block = PackedConvolution.TilePositions;
    /// <summary>Tiles of one tile row per input-transform vector (15: the permutes read columns 2t .. 2t + 3 of 32 loaded).</summary>
    private const int RowTiles = 15;

    /// <summary>Whether this machine runs the kernel (AVX-512 in hardware).</summary>
    public static bool Fast => Avx512F.IsSupported && PackedConvolution.Fast;

    /// <summary>Whether <paramref name="g"/> is a convolution this kernel computes: 3×3, stride 1, padding 0 to 2.</summary>
    public static bool Supports(in ConvGeometry g) => g.Kernel == 3 && g.Stride == 1 && g.Padding <= 2 && g.OutHeight >= 1 && g.OutWidth >= 1;

    /// <summary>One layer's transformed weights for one input size; immutable, shared by every caller.</summary>
    public sealed class Plan
    {
        public ConvGeometry Geometry { get; }
        internal readonly int TilesHigh, TilesWide, Tiles, Hp, Wp, PadLength, ElementStride, ULength;
        internal readonly int[] ChannelOffsets; // (C): c·Tiles, a channel's row in one element's U
        internal readonly Chunk[] Chunks;
        internal readonly float[] Weights;      // per chunk: (16, C, Vectors·16)
        internal readonly float[] Bias;         // (O rounded up to whole vectors)

        internal readonly record struct Chunk(int Channel, int Vectors, int Offset);

        /// <summary>Transforms <paramref name="weight"/> (O, C, 3, 3) and copies <paramref name="bias"/> (O) for inputs of <paramref name="height"/> × <paramref name="width"/>.</summary>
        public Plan(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int inChannels, int outChannels, int padding, int height, int width)
        {
            var g = new ConvGeometry(1, inChannels, height, width, outChannels, 3, 1, padding);
            g.Validate();
            if (!Supports(g)) throw new ArgumentException($"WinogradConvolution computes 3×3 stride-1 convolutions with padding 0 to 2; found {g}.");
            if (weight.Length != g.WeightLength) throw new ArgumentException($"Weight has {weight.Length} floats; {g} needs {g.WeightLength} (O·C·3·3).");
            if (bias.Length != outChannels) throw new ArgumentException($"Bias has {bias.Length} floats; {g} needs {outChannels}.");
            Geometry = g;
            TilesHigh = (g.OutHeight + 1) / 2;
            TilesWide = (g.OutWidth + 1) / 2;
            Tiles = TilesHigh * TilesWide;
            // The padded plane covers every tile's 4×4 patch; the input sits at (padding, padding), zeros around it.
            Hp = 2 * TilesHigh + 2;
            Wp = 2 * TilesWide + 2;
            PadLength = inChannels * Hp * Wp + 2 * Lanes; // slack: the last row's vector loads read past the plane
            ElementStride = inChannels * Tiles + Lanes;   // slack: a tile row's last store writes up to 16 lanes
            ULength = 16 * ElementStride;
            ChannelOffsets = new int[inChannels];
            for (int c = 0; c < inChannels; c++) ChannelOffsets[c] = c * Tiles;
            int vectors = (outChannels + Lanes - 1) / Lanes;
            var chunks = new List<Chunk>();
            for (int v = 0, offset = 0; v < vectors; )
            {
                int n = Math.Min(MaxVectors, vectors - v);
                chunks.Add(new Chunk(v * Lanes, n, offset));
                offset += 16 * inChannels * n * Lanes;
                v += n;
            }
            Chunks = chunks.ToArray();
            Weights = new float[16 * inChannels * vectors * Lanes];
            Span<double> t = stackalloc double[12];
            Span<double> u = stackalloc double[16];
            foreach (var chunk in Chunks)
                for (int lane = 0; lane < chunk.Vectors * Lanes; lane++)
                {
                    int o = chunk.Channel + lane;
                    if (o >= outChannels) continue;
                    for (int c = 0; c < inChannels; c++)
                    {
                        var k = weight.Slice((o * inChannels + c) * 9, 9);
                        // t = G g (4×3), G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]; u = t Gᵀ (4×4).
                        for (int j = 0; j < 3; j++)
                        {
                            double g0 = k[j], g1 = k[3 + j], g2 = k[6 + j];
                            t[j] = g0; t[3 + j] = 0.5 * (g0 + g1 + g2); t[6 + j] = 0.5 * (g0 - g1 + g2); t[9 + j] = g2;
                        }
                        for (int i = 0; i < 4; i++)
                        {
                            double a = t[3 * i], b = t[3 * i + 1], d = t[3 * i + 2];
                            u[4 * i] = a; u[4 * i + 1] = 0.5 * (a + b + d); u[4 * i + 2] = 0.5 * (a - b + d); u[4 * i + 3] = d;
                        }
                        for (int e = 0; e < 16; e++)
                            Weights[chunk.Offset + (e * inChannels + c) * chunk.Vectors * Lanes + lane] = (float)u[e];
                    }
                }
            Bias = new float[vectors * Lanes];
            bias.CopyTo(Bias);
        }

        /// <summary>Floats of workspace <see cref="Forward"/> needs at the context's thread count.</summary>
        public int WorkspaceLength(ComputeContext compute) => checked(compute.Threads * (PadLength + ULength + 16 * Block * MaxVectors * Lanes));

        public override string ToString() => $"WinogradConvolution.Plan({Geometry}, {Tiles} tiles of 2×2)";
    }

    /// <summary>
    /// output (N, O, OH, OW) = conv(input (N, C, H, W)) + bias, then max(·, 0) when <paramref name="relu"/>.
    /// <paramref name="workspace"/>: at least <see cref="Plan.WorkspaceLength"/> floats.
    /// </summary>
    public static void Forward(ComputeContext compute, Plan plan, int batch, float[] input, float[] output, bool relu, float[] workspace)
    {
        if (!Fast) throw new PlatformNotSupportedException("WinogradConvolution needs AVX-512; check WinogradConvolution.Fast first.");
        var g = plan.Geometry with { Batch = batch };
        if (input.Length < g.InputLength) throw new ArgumentException($"Input has {input.Length} floats; {g} needs {g.InputLength}.");
        if (output.Length < g.OutputLength) throw new ArgumentException($"Output has {output.Length} floats; {g} needs {g.OutputLength}.");
        int need = plan.WorkspaceLength(compute);
        if (workspace.Length < need) throw new ArgumentException($"Workspace has {workspace.Length} floats; {plan} needs {need}.");
        if (batch == 0) return;
        int parts = Math.Min(compute.Threads, batch);
        compute.For(parts, 1, (Plan: plan, X: input, Y: output, W: workspace, Relu: relu, Batch: batch, Parts: parts), static (c, ps, pe) =>
        {
            for (int p = ps; p < pe; p++)
            {
                int start = (int)((long)c.Batch * p / c.Parts), end = (int)((long)c.Batch * (p + 1) / c.Parts);
                for (int image = start; image < end; image++) Image(c.Plan, c.X, c.Y, c.W, p, image, c.Relu);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image(Plan plan, float[] input, float[] output, float[] workspace, int slot, int image, bool relu)
    {
        var g = plan.Geometry;
        int c = g.InChannels, tiles = plan.Tiles;
        float** src = stackalloc float*[Block];
        float** rows = stackalloc float*[Block];
        fixed (float* x0 = input, y0 = output, ws = workspace, w = plan.Weights, b = plan.Bias)
        fixed (int* offsets = plan.ChannelOffsets)
        {
            float* pad = ws + (long)slot * (plan.PadLength + plan.ULength + 16 * Block * MaxVectors * Lanes);
            float* u = pad + plan.PadLength, m = u + plan.ULength;
            Pad(plan, x0 + (long)image * g.InChannels * g.InPlane, pad);
            InputTransform(plan, pad, u);
            float* y = y0 + (long)image * g.OutChannels * g.OutPlane;
            foreach (var chunk in plan.Chunks)
            {
                int step = chunk.Vectors * Lanes;
                for (int t0 = 0; t0 < tiles; t0 += Block)
                {
                    int live = Math.Min(Block, tiles - t0);
                    for (int e = 0; e < 16; e++)
                    {
                        for (int k = 0; k < live; k++)
                        {
                            src[k] = u + (long)e * plan.ElementStride + t0 + k;
                            rows[k] = m + (e * Block + k) * MaxVectors * Lanes;
                        }
                        PackedConvolution.Tile(chunk.Vectors, live, w + chunk.Offset + (long)e * c * step, offsets, c, src, rows, zero: true);
                    }
                    OutputTransform(plan, chunk, m, t0, live, b, y, relu);
                }
            }
        }
    }

    /// <summary>Copies the image's planes into (C, Hp, Wp) at (padding, padding), zeros elsewhere (and in the slack).</summary>
    private static void Pad(Plan plan, float* x, float* pad)
    {
        var g = plan.Geometry;
        new Span<float>(pad, plan.PadLength).Clear();
        int w = g.Width;
        for (int ch = 0; ch < g.InChannels; ch++)
            for (int iy = 0; iy < g.Height; iy++)
            {
                // Short rows (14 or 28 floats): vector copies inline rather than a copy call per row.
                float* from = x + ((long)ch * g.Height + iy) * w, to = pad + (long)ch * plan.Hp * plan.Wp + (iy + g.Padding) * plan.Wp + g.Padding;
                int i = 0;
                for (; i + 16 <= w; i += 16) Vector512.Load(from + i).Store(to + i);
                for (; i + 8 <= w; i += 8) Vector256.Load(from + i).Store(to + i);
                for (; i < w; i++) to[i] = from[i];
            }
    }

    /// <summary>
    /// U_ξ[c][tile] = (Bᵀ d B)_ξ for every channel and tile, Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]],
    /// fifteen tiles of a tile row per vector: for each of the patch's four rows, its columns 2t, 2t+1, 2t+2, 2t+3 are
    /// separated from two loaded vectors by permutes, combined along the row, then the four rows combined.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTransform(Plan plan, float* pad, float* u)
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
            for (int ty = 0; ty < plan.TilesHigh; ty++)
                for (int tx = 0; tx < plan.TilesWide; tx += RowTiles)
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
    /// Y = Aᵀ M A (Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]) for the block's tiles and the chunk's channels, plus the bias, the
    /// ReLU when asked, stored into the tile's 2×2 outputs that lie inside the output plane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTransform(Plan plan, Plan.Chunk chunk, float* m, int t0, int live, float* bias, float* y, bool relu)
    {
        var g = plan.Geometry;
        int oh = g.OutHeight, ow = g.OutWidth, plane = g.OutPlane;
        float* outs = stackalloc float[4 * Lanes];
        const int es = Block * MaxVectors * Lanes;
        for (int k = 0; k < live; k++)
        {
            int tile = t0 + k, ty = tile / plan.TilesWide, tx = tile - ty * plan.TilesWide, oy = 2 * ty, ox = 2 * tx;
            bool right = ox + 1 < ow, below = oy + 1 < oh;
            for (int v = 0; v < chunk.Vectors; v++)
            {
                float* p = m + k * MaxVectors * Lanes + v * Lanes;
                // s_i = row i of Aᵀ M: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3 (rows of the 4×4 M), per column j.
                var m00 = Vector512.Load(p); var m01 = Vector512.Load(p + es); var m02 = Vector512.Load(p + 2 * es); var m03 = Vector512.Load(p + 3 * es);
                var m10 = Vector512.Load(p + 4 * es); var m11 = Vector512.Load(p + 5 * es); var m12 = Vector512.Load(p + 6 * es); var m13 = Vector512.Load(p + 7 * es);
                var m20 = Vector512.Load(p + 8 * es); var m21 = Vector512.Load(p + 9 * es); var m22 = Vector512.Load(p + 10 * es); var m23 = Vector512.Load(p + 11 * es);
                var m30 = Vector512.Load(p + 12 * es); var m31 = Vector512.Load(p + 13 * es); var m32 = Vector512.Load(p + 14 * es); var m33 = Vector512.Load(p + 15 * es);
                var s00 = m00 + m10 + m20; var s01 = m01 + m11 + m21; var s02 = m02 + m12 + m22; var s03 = m03 + m13 + m23;
                var s10 = m10 - m20 - m30; var s11 = m11 - m21 - m31; var s12 = m12 - m22 - m32; var s13 = m13 - m23 - m33;
                var bv = Vector512.Load(bias + chunk.Channel + v * Lanes);
                var y00 = s00 + s01 + s02 + bv; var y01 = s01 - s02 - s03 + bv;
                var y10 = s10 + s11 + s12 + bv; var y11 = s11 - s12 - s13 + bv;
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
}
