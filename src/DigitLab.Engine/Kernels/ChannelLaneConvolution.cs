// ChannelLaneConvolution: convolution on small planes (≤ 7×7 outputs) with output channels in the vector lanes.
// Reference: ConvolutionReference (direct loops).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Convolution for small output planes (OH·OW &lt; <see cref="Convolution.MinImagePlane"/>: net3's third layer,
/// ResNet's 7×7 … 1×1 stages) with 32 or 64 output channels in the lanes of two or four AVX-512 vectors.
/// <list type="bullet">
/// <item><b>Forward</b> (any stride): a register tile is one output position (y, x) of six images × 64 (or 32)
/// output channels; for every kernel tap it loads the tap's weights for those channels (packed tap-major once
/// per call) and broadcasts each image's input value. Only the taps that fall inside the image are visited:
/// on ResNet's 1×1 planes that is 1 of the 9 taps of a padded 3×3 kernel, on 2×2 planes 4 of 9 (an im2col
/// GEMM multiplies all 9 by zeros). No im2col matrix is written.</item>
/// <item><b>Input gradient</b> (any stride): a tile is one input position of six images × 64 (or 32) input channels;
/// it walks the taps that reach that position from inside dY (every stride-th kernel row, dY rows stepping
/// backwards), reading dY where it lies, with the same register tile as the forward pass.</item>
/// <item><b>Weight gradient</b> (any stride): a tile is one tap (ky, kx) of six input channels × 64 (or 32)
/// output channels, summed over the images and the output positions where that tap lands inside the image.</item>
/// </list>
/// Images are split into one contiguous run per thread and processed a cache-sized group at a time; each output
/// value is computed by one thread in a fixed order, and the weight gradient is summed per thread then added in
/// thread order, so results are bit-identical for the same <see cref="ComputeContext.Threads"/>.
/// </summary>
public static unsafe class ChannelLaneConvolution
{
    private const int TileImages = 6, TileChannels = 6, Lanes = 16;

    /// <summary>Images per group at least (a training batch is one group); more while a group stays within 1 MiB per core.</summary>
    private const int MinGroup = 64, GroupBudget = 1 << 18;

    /// <summary>Output-channel chunk: four vectors when the count allows, else two.</summary>
    private static int Chunk(int channels) => channels % 64 == 0 ? 64 : 32;

    /// <summary>
    /// Whether <see cref="Forward"/> handles <paramref name="g"/>: AVX-512, a small output plane, output channels in 32s,
    /// and at least a tile's six images (one image alone would be computed six times over: a single-image prediction
    /// runs faster on im2col + GEMM).
    /// </summary>
    public static bool SupportsForward(in ConvGeometry g) =>
        Avx512F.IsSupported && g.OutPlane < Convolution.MinImagePlane && g.OutChannels % 32 == 0 && g.Batch >= TileImages;

    /// <summary>
    /// Whether <see cref="Backward"/> handles <paramref name="g"/>: as <see cref="SupportsForward"/>, and when the input
    /// gradient is wanted, input channels in 32s.
    /// </summary>
    public static bool SupportsBackward(in ConvGeometry g, bool inputGradient) =>
        SupportsForward(g) && (!inputGradient || g.InChannels % 32 == 0);

    /// <summary>Sizes derived from a geometry, in floats.</summary>
    private readonly struct Layout
    {
        public readonly int Hp, Wp, PadLength;     // input planes padded by P: C × Hp × Wp
        public readonly int Group;                 // images per group
        public readonly int ImageLength;           // per image in a group: padded planes + transposed result
        public readonly int PackLength;
        public readonly int SumOffset;             // the weight gradient, tap-major (C·K·K × O), after the slots

        public Layout(in ConvGeometry g)
        {
            int k = g.Kernel, c = g.InChannels, o = g.OutChannels;
            Hp = g.Height + 2 * g.Padding;
            Wp = g.Width + 2 * g.Padding;
            PadLength = RoundUp(c * Hp * Wp, Lanes);
            int forward = PadLength + RoundUp(g.OutPlane * o, Lanes);  // padded x, then (P, O) result or dYᵀ
            int input = RoundUp(g.InPlane * c, Lanes);                 // (H·W, C) input gradient
            ImageLength = Math.Max(forward, input);
            Group = Math.Clamp(Math.Max(MinGroup, GroupBudget / ImageLength), 1, Math.Max(1, g.Batch));
            PackLength = RoundUp(g.WeightLength, Lanes);
            SumOffset = PackLength + Group * ImageLength;
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>Floats of workspace <see cref="Forward"/> and <see cref="Backward"/> need (any thread count).</summary>
    public static int WorkspaceLength(in ConvGeometry g)
    {
        var l = new Layout(g);
        return checked(l.SumOffset + RoundUp(g.WeightLength, Lanes));
    }

    /// <summary>output (N, O, OH, OW) = conv(input (N, C, H, W), weight (O, C, K, K)) + bias (O).</summary>
    public static void Forward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[]? bias, float[] output, float[] workspace)
    {
        if (!SupportsForward(g)) throw new ArgumentException($"ChannelLaneConvolution.Forward does not handle {g}; check SupportsForward first.");
        var l = new Layout(g);
        Check(g, l, input, output, workspace);
        // pack[(c·K + ky)·K + kx][o] = W[o, c, ky, kx]: a tap's weights for all output channels side by side (live taps only).
        var live = LiveTaps(g.Height, g.Width, g.Padding, g.Kernel, g.Stride, g.OutHeight, g.OutWidth);
        PackTransposed(weight, g.OutChannels, g.InChannels, g.Kernel, live, workspace);
        for (int start = 0; start < g.Batch; start += l.Group)
        {
            var call = new Call { G = g, L = l, Input = input, Bias = bias, Output = output, Workspace = workspace, Start = start };
            compute.For(Math.Min(l.Group, g.Batch - start), 1, call, static (c, s, e) =>
            {
                var g = c.G;
                fixed (float* x = c.Input, y = c.Output, ws = c.Workspace, b = c.Bias)
                {
                    float* slots = ws + c.L.PackLength + (long)s * c.L.ImageLength;
                    int inLength = g.InChannels * g.InPlane, outLength = g.OutChannels * g.OutPlane;
                    for (int i = s; i < e; i++)
                        DirectConvolution.PadPlanes(x + (long)(c.Start + i) * inLength, g.InChannels, g.Height, g.Width, g.Padding,
                            slots + (long)(i - s) * c.L.ImageLength, c.L.PadLength);
                    ConvolveAt(e - s, slots, c.L.ImageLength, c.L.PadLength, g.InChannels, c.L.Hp, c.L.Wp, g.Padding, g.Height, g.Width,
                        g.Kernel, g.Stride, g.OutChannels, g.OutHeight, g.OutWidth, ws);
                    for (int i = s; i < e; i++)
                        TransposeOut(slots + (long)(i - s) * c.L.ImageLength + c.L.PadLength, g.OutPlane, g.OutChannels, b,
                            y + (long)(c.Start + i) * outLength);
                }
            });
        }
    }

    /// <summary>
    /// weightGrad (O, C, K, K) += Σ_n dY_n ⋆ x_n and biasGrad (O) += Σ dY; when <paramref name="inputGrad"/> is given,
    /// overwrites it (N, C, H, W) with dL/dx.
    /// </summary>
    /// <remarks>
    /// Per group: the images' padded inputs and dYᵀ are laid out (threads split the images), then the weight
    /// gradient is computed with the threads splitting the input channels (each weight entry is summed by one
    /// thread over all images, in image order: no per-thread sums, and the same result for any thread count) into
    /// a tap-major sum, then the input gradient (threads split the images again). At the end the sum's live taps are
    /// added into the (O, C, K, K) gradient.
    /// </remarks>
    public static void Backward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[] outputGrad,
        float[]? inputGrad, float[] weightGrad, float[]? biasGrad, float[] workspace)
    {
        if (!SupportsBackward(g, inputGrad is not null))
            throw new ArgumentException($"ChannelLaneConvolution.Backward does not handle {g}; check SupportsBackward first.");
        var l = new Layout(g);
        Check(g, l, input, outputGrad, workspace);
        if (inputGrad is not null && inputGrad.Length < g.InputLength)
            throw new ArgumentException($"Input gradient has {inputGrad.Length} floats, {g} needs {g.InputLength}.");
        if (weightGrad.Length < g.WeightLength)
            throw new ArgumentException($"Weight gradient has {weightGrad.Length} floats, {g} needs {g.WeightLength}.");
        if (biasGrad is not null) Bias.AccumulateChannelSums(compute, outputGrad, g.Batch, g.OutChannels, g.OutPlane, biasGrad);
        if (inputGrad is not null)
            PackChannelsLast(weight, g.OutChannels, g.InChannels, g.Kernel, LiveTaps(g.Height, g.Width, g.Padding, g.Kernel, g.Stride, g.OutHeight, g.OutWidth), workspace);
        for (int start = 0; start < g.Batch; start += l.Group)
        {
            int count = Math.Min(l.Group, g.Batch - start);
            var call = new Call { G = g, L = l, Input = input, OutputGrad = outputGrad, InputGrad = inputGrad, WeightGrad = weightGrad,
                Workspace = workspace, Start = start, Count = count };
            compute.For(count, 1, call, static (c, s, e) =>
            {
                var g = c.G;
                fixed (float* x = c.Input, dy = c.OutputGrad, ws = c.Workspace)
                {
                    int inLength = g.InChannels * g.InPlane, outLength = g.OutChannels * g.OutPlane;
                    for (int i = s; i < e; i++)
                    {
                        float* image = ws + c.L.PackLength + (long)i * c.L.ImageLength;
                        DirectConvolution.PadPlanes(x + (long)(c.Start + i) * inLength, g.InChannels, g.Height, g.Width, g.Padding, image, c.L.PadLength);
                        TransposeIn(dy + (long)(c.Start + i) * outLength, g.OutChannels, g.OutPlane, image + c.L.PadLength);
                    }
                }
            });
            compute.For((g.InChannels + TileChannels - 1) / TileChannels, 1, call, static (c, s, e) =>
            {
                fixed (float* ws = c.Workspace)
                    WeightGradient(c.G, c.L, c.Count, ws + c.L.PackLength, ws + c.L.SumOffset, c.Start == 0,
                        s * TileChannels, Math.Min(c.G.InChannels, e * TileChannels));
            });
            if (inputGrad is null) continue;
            compute.For(count, 1, call, static (c, s, e) =>
            {
                var g = c.G;
                fixed (float* dy = c.OutputGrad, dx = c.InputGrad, ws = c.Workspace)
                {
                    float* slots = ws + c.L.PackLength + (long)s * c.L.ImageLength;
                    int inLength = g.InChannels * g.InPlane;
                    InputGradientAt(g, dy, c.Start + s, e - s, slots, c.L.ImageLength, ws);
                    for (int i = s; i < e; i++)
                        TransposeOut(slots + (long)(i - s) * c.L.ImageLength, g.InPlane, g.InChannels, null, dx + (long)(c.Start + i) * inLength);
                }
            });
        }
        // weightGrad[o, tap] += sum[tap, o] over the live taps, blocks of 16 output channels per thread.
        var add = new Call { G = g, L = l, WeightGrad = weightGrad, Workspace = workspace };
        compute.For(g.OutChannels / Lanes, 1, add, static (c, s, e) =>
        {
            var g = c.G;
            int k = g.Kernel, kk = k * k, taps = g.ColumnRows, o = g.OutChannels;
            fixed (float* dw = c.WeightGrad, ws = c.Workspace)
            {
                float* sum = ws + c.L.SumOffset;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                    {
                        if (!TapWindow(g, ky, kx, out _, out _, out _, out _)) continue;
                        for (int b = s; b < e; b++)
                            for (int ch = 0; ch < g.InChannels; ch++)
                            {
                                int tap = ch * kk + ky * k + kx;
                                float* from = sum + (long)tap * o + b * Lanes;
                                float* to = dw + (long)b * Lanes * taps + tap;
                                for (int j = 0; j < Lanes; j++) to[(long)j * taps] += from[j];
                            }
                    }
            }
        });
    }

    /// <summary>
    /// The output rectangle [y0, y1) × [x0, x1) where tap (ky, kx) lands inside the input (0 ≤ y·s + ky − P &lt; H,
    /// likewise for x); false when it never does.
    /// </summary>
    private static bool TapWindow(in ConvGeometry g, int ky, int kx, out int y0, out int y1, out int x0, out int x1)
    {
        int s = g.Stride;
        y0 = Math.Max(0, CeilDiv(g.Padding - ky, s));
        y1 = Math.Min(g.OutHeight, FloorDiv(g.Height - 1 + g.Padding - ky, s) + 1);
        x0 = Math.Max(0, CeilDiv(g.Padding - kx, s));
        x1 = Math.Min(g.OutWidth, FloorDiv(g.Width - 1 + g.Padding - kx, s) + 1);
        return y0 < y1 && x0 < x1;
    }

    private static void Check(in ConvGeometry g, in Layout l, float[] input, float[] output, float[] workspace)
    {
        g.Validate();
        if (input.Length < g.InputLength || output.Length < g.OutputLength)
            throw new ArgumentException($"Convolution arrays too short for {g}: input {input.Length} (needs {g.InputLength}), output {output.Length} (needs {g.OutputLength}).");
        if (workspace.Length < WorkspaceLength(g))
            throw new ArgumentException($"Convolution workspace has {workspace.Length} floats, needs {WorkspaceLength(g)} (see Convolution.WorkspaceLength).");
    }

    /// <summary>The taps rows [Y0, Y1) × columns [X0, X1) that land inside the input for at least one output position.</summary>
    private readonly record struct TapRange(int Y0, int Y1, int X0, int X1);

    /// <summary>
    /// Live taps of a convolution of an H × W input padded by <paramref name="padding"/>: a tap row ky is live when
    /// 0 ≤ y·s + ky − padding &lt; H for some output row y (columns likewise).
    /// </summary>
    private static TapRange LiveTaps(int height, int width, int padding, int k, int s, int outHeight, int outWidth)
    {
        int y0 = k, y1 = 0, x0 = k, x1 = 0;
        for (int y = 0; y < outHeight; y++)
        {
            y0 = Math.Min(y0, Math.Max(0, padding - y * s));
            y1 = Math.Max(y1, Math.Min(k, height + padding - y * s));
        }
        for (int x = 0; x < outWidth; x++)
        {
            x0 = Math.Min(x0, Math.Max(0, padding - x * s));
            x1 = Math.Max(x1, Math.Min(k, width + padding - x * s));
        }
        return new TapRange(y0, y1, x0, x1);
    }

    /// <summary>pack[(c·K + ky)·K + kx][o] = W[o, c, ky, kx] for the live taps (the others are never read).</summary>
    private static void PackTransposed(float[] weight, int outChannels, int inChannels, int k, TapRange live, float[] pack)
    {
        // Sixteen output channels at a time: each write is a whole 64-byte line, and the reads walk sixteen rows in step
        // (one output channel at a time strode 18 KB per write on resnet's 512-channel layers).
        int taps = inChannels * k * k;
        fixed (float* w = weight, p = pack)
            for (int o0 = 0; o0 < outChannels; o0 += Lanes)
                for (int c = 0; c < inChannels; c++)
                    for (int ky = live.Y0; ky < live.Y1; ky++)
                        for (int kx = live.X0; kx < live.X1; kx++)
                        {
                            int tap = (c * k + ky) * k + kx;
                            float* source = w + (long)o0 * taps + tap;
                            float* dst = p + (long)tap * outChannels + o0;
                            for (int j = 0; j < Lanes; j++) dst[j] = source[(long)j * taps];
                        }
    }

    /// <summary>
    /// pack[(o·K + ky)·K + kx][c] = W[o, c, ky, kx] for the live taps: the input gradient's weights, a tap's values for all
    /// input channels side by side (sixteen input channels at a time, so each write is a whole line).
    /// </summary>
    private static void PackChannelsLast(float[] weight, int outChannels, int inChannels, int k, TapRange live, float[] pack)
    {
        int kk = k * k;
        fixed (float* w = weight, p = pack)
            for (int o = 0; o < outChannels; o++)
                for (int c0 = 0; c0 < inChannels; c0 += Lanes)
                    for (int ky = live.Y0; ky < live.Y1; ky++)
                        for (int kx = live.X0; kx < live.X1; kx++)
                        {
                            int tap = ky * k + kx;
                            float* source = w + (long)(o * inChannels + c0) * kk + tap;
                            float* dst = p + (long)(o * kk + tap) * inChannels + c0;
                            for (int j = 0; j < Lanes; j++) dst[j] = source[(long)j * kk];
                        }
    }

    /// <summary>dst (P × O) = source (O × P)ᵀ: one image's dY with its channels side by side per position.</summary>
    private static void TransposeIn(float* source, int channels, int plane, float* dst)
    {
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < plane; p++)
                dst[(long)p * channels + c] = source[(long)c * plane + p];
    }

    /// <summary>dst (O × P) = source (P × O)ᵀ (+ bias per channel).</summary>
    private static void TransposeOut(float* source, int plane, int channels, float* bias, float* dst)
    {
        for (int c = 0; c < channels; c++)
        {
            float b = bias is null ? 0f : bias[c];
            for (int p = 0; p < plane; p++)
                dst[(long)c * plane + p] = source[(long)p * channels + c] + b;
        }
    }

    /// <summary>
    /// For each output position and each tile of six images (the last tile repeats its last image), the taps that
    /// land inside the (unpadded) input: rows ky with 0 ≤ y·s + ky − padding &lt; height, columns likewise.
    /// </summary>
    private static void ConvolveAt(int count, float* images, int stride, int padLength, int channels, int hp, int wp, int padding,
        int height, int width, int k, int s, int outChannels, int outHeight, int outWidth, float* pack)
    {
        int chunk = Chunk(outChannels), plane = outHeight * outWidth;
        float** src = stackalloc float*[TileImages];
        float** dst = stackalloc float*[TileImages];
        for (int y = 0; y < outHeight; y++)
        {
            int ky0 = Math.Max(0, padding - y * s), ky1 = Math.Min(k, height + padding - y * s);
            for (int x = 0; x < outWidth; x++)
            {
                int kx0 = Math.Max(0, padding - x * s), kx1 = Math.Min(k, width + padding - x * s);
                int at = y * s * wp + x * s, position = y * outWidth + x;
                for (int t = 0; t < count; t += TileImages)
                {
                    for (int r = 0; r < TileImages; r++)
                    {
                        float* image = images + (long)Math.Min(t + r, count - 1) * stride;
                        src[r] = image + at;
                        dst[r] = image + padLength + (long)position * outChannels;
                    }
                    for (int r = 0; r < TileImages; r++) src[r] += ky0 * wp + kx0;
                    var walk = new TapWalk
                    {
                        Channels = channels, Rows = ky1 - ky0, Cols = kx1 - kx0, PlaneStride = hp * wp, RowStep = wp, ColStep = 1,
                        WeightPlane = k * k * outChannels, WeightRowStep = k * outChannels, WeightColStep = outChannels,
                    };
                    float* first = pack + (long)(ky0 * k + kx0) * outChannels;
                    for (int oc = 0; oc < outChannels; oc += chunk)
                    {
                        if (chunk == 64) Tile4(walk, first + oc, src, dst, oc);
                        else Tile2(walk, first + oc, src, dst, oc);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Input gradients of images [first, first + count), each as (H·W × C) at slots + i·slotStride:
    /// dX[c, h, w] = Σ_o Σ W[o, c, ky, kx] · dY[o, (h + P − ky)/S, (w + P − kx)/S] over the taps where both quotients are
    /// whole and inside dY. The tile reads dY where it lies (no copy): as ky steps by S, the dY row steps back by one.
    /// Positions no tap reaches (a strided 1×1 kernel's gaps) get zeros.
    /// </summary>
    private static void InputGradientAt(in ConvGeometry g, float* dy, int first, int count, float* slots, int slotStride, float* pack)
    {
        int c = g.InChannels, chunk = Chunk(c), k = g.Kernel, s = g.Stride, outLength = g.OutChannels * g.OutPlane;
        float** src = stackalloc float*[TileImages];
        float** dst = stackalloc float*[TileImages];
        for (int h = 0; h < g.Height; h++)
        {
            int rows = StridedTaps(h, g.Padding, s, k, g.OutHeight, out int ky0);
            int oy = rows > 0 ? (h + g.Padding - ky0) / s : 0;
            for (int w = 0; w < g.Width; w++)
            {
                int cols = StridedTaps(w, g.Padding, s, k, g.OutWidth, out int kx0);
                int ox = cols > 0 ? (w + g.Padding - kx0) / s : 0;
                int position = h * g.Width + w;
                for (int t = 0; t < count; t += TileImages)
                {
                    for (int r = 0; r < TileImages; r++)
                    {
                        int i = Math.Min(t + r, count - 1);
                        src[r] = dy + (long)(first + i) * outLength + oy * g.OutWidth + ox;
                        dst[r] = slots + (long)i * slotStride + (long)position * c;
                    }
                    var walk = new TapWalk
                    {
                        Channels = g.OutChannels, Rows = rows, Cols = cols, PlaneStride = g.OutPlane, RowStep = -g.OutWidth, ColStep = -1,
                        WeightPlane = k * k * c, WeightRowStep = s * k * c, WeightColStep = s * c,
                    };
                    float* start = pack + (long)(ky0 * k + kx0) * c;
                    for (int cc = 0; cc < c; cc += chunk)
                    {
                        if (chunk == 64) Tile4(walk, start + cc, src, dst, cc);
                        else Tile2(walk, start + cc, src, dst, cc);
                    }
                }
            }
        }
    }

    /// <summary>
    /// The kernel rows ky (or columns) that reach input row h: (h + P − ky) divisible by s, 0 ≤ (h + P − ky)/s &lt; outSize,
    /// 0 ≤ ky &lt; k. Returns how many (they step by s from <paramref name="first"/>).
    /// </summary>
    private static int StridedTaps(int h, int padding, int s, int k, int outSize, out int first)
    {
        int f = (h + padding) % s, lowest = h + padding - s * (outSize - 1);
        if (f < lowest) f += (lowest - f + s - 1) / s * s;
        int last = Math.Min(k - 1, h + padding);
        first = f;
        return f <= last ? (last - f) / s + 1 : 0;
    }

    /// <summary>
    /// How a tile walks its taps: for each input channel c, Rows × Cols taps (jy, jx); the input value sits at
    /// src[r][c·PlaneStride + jy·RowStep + jx·ColStep] and the tap's weights at w + c·WeightPlane + jy·WeightRowStep +
    /// jx·WeightColStep (64 or 32 output channels side by side). The forward pass walks a padded plane forwards; the
    /// input gradient walks dY backwards (RowStep = −OW) over every stride-th kernel row.
    /// </summary>
    private struct TapWalk
    {
        public int Channels, Rows, Cols, PlaneStride, RowStep, ColStep, WeightPlane, WeightRowStep, WeightColStep;
    }

    /// <summary>
    /// dst[r][oc + 0..64] = Σ over the walk's taps of the tap's 64 weights · src[r][tap's input offset], for six images r:
    /// 24 accumulators, 4 loads and 6 broadcasts per tap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4(in TapWalk t, float* w, float** src, float** dst, int oc)
    {
        float* p0 = src[0], p1 = src[1], p2 = src[2], p3 = src[3], p4 = src[4], p5 = src[5];
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default, a50 = default, a51 = default, a52 = default, a53 = default;
        int rows = t.Rows, cols = t.Cols, rowStep = t.RowStep, colStep = t.ColStep, weightColStep = t.WeightColStep;
        for (int c = 0; c < t.Channels; c++)
            for (int jy = 0; jy < rows; jy++)
            {
                int rowOffset = c * t.PlaneStride + jy * rowStep;
                float* wr = w + (long)c * t.WeightPlane + (long)jy * t.WeightRowStep;
                for (int jx = 0; jx < cols; jx++)
                {
                    int off = rowOffset + jx * colStep;
                    float* wk = wr + (long)jx * weightColStep;
                    var w0 = Vector512.Load(wk); var w1 = Vector512.Load(wk + 16); var w2 = Vector512.Load(wk + 32); var w3 = Vector512.Load(wk + 48);
                    var v = Vector512.Create(p0[off]);
                    a00 = Avx512F.FusedMultiplyAdd(v, w0, a00); a01 = Avx512F.FusedMultiplyAdd(v, w1, a01); a02 = Avx512F.FusedMultiplyAdd(v, w2, a02); a03 = Avx512F.FusedMultiplyAdd(v, w3, a03);
                    v = Vector512.Create(p1[off]);
                    a10 = Avx512F.FusedMultiplyAdd(v, w0, a10); a11 = Avx512F.FusedMultiplyAdd(v, w1, a11); a12 = Avx512F.FusedMultiplyAdd(v, w2, a12); a13 = Avx512F.FusedMultiplyAdd(v, w3, a13);
                    v = Vector512.Create(p2[off]);
                    a20 = Avx512F.FusedMultiplyAdd(v, w0, a20); a21 = Avx512F.FusedMultiplyAdd(v, w1, a21); a22 = Avx512F.FusedMultiplyAdd(v, w2, a22); a23 = Avx512F.FusedMultiplyAdd(v, w3, a23);
                    v = Vector512.Create(p3[off]);
                    a30 = Avx512F.FusedMultiplyAdd(v, w0, a30); a31 = Avx512F.FusedMultiplyAdd(v, w1, a31); a32 = Avx512F.FusedMultiplyAdd(v, w2, a32); a33 = Avx512F.FusedMultiplyAdd(v, w3, a33);
                    v = Vector512.Create(p4[off]);
                    a40 = Avx512F.FusedMultiplyAdd(v, w0, a40); a41 = Avx512F.FusedMultiplyAdd(v, w1, a41); a42 = Avx512F.FusedMultiplyAdd(v, w2, a42); a43 = Avx512F.FusedMultiplyAdd(v, w3, a43);
                    v = Vector512.Create(p5[off]);
                    a50 = Avx512F.FusedMultiplyAdd(v, w0, a50); a51 = Avx512F.FusedMultiplyAdd(v, w1, a51); a52 = Avx512F.FusedMultiplyAdd(v, w2, a52); a53 = Avx512F.FusedMultiplyAdd(v, w3, a53);
                }
            }
        Store4(dst[0] + oc, a00, a01, a02, a03); Store4(dst[1] + oc, a10, a11, a12, a13); Store4(dst[2] + oc, a20, a21, a22, a23);
        Store4(dst[3] + oc, a30, a31, a32, a33); Store4(dst[4] + oc, a40, a41, a42, a43); Store4(dst[5] + oc, a50, a51, a52, a53);
    }

    /// <summary>As <see cref="Tile4"/> for 32 output channels: 12 accumulators, 2 loads and 6 broadcasts per tap.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile2(in TapWalk t, float* w, float** src, float** dst, int oc)
    {
        float* p0 = src[0], p1 = src[1], p2 = src[2], p3 = src[3], p4 = src[4], p5 = src[5];
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector512<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        int rows = t.Rows, cols = t.Cols, rowStep = t.RowStep, colStep = t.ColStep, weightColStep = t.WeightColStep;
        for (int c = 0; c < t.Channels; c++)
            for (int jy = 0; jy < rows; jy++)
            {
                int rowOffset = c * t.PlaneStride + jy * rowStep;
                float* wr = w + (long)c * t.WeightPlane + (long)jy * t.WeightRowStep;
                for (int jx = 0; jx < cols; jx++)
                {
                    int off = rowOffset + jx * colStep;
                    float* wk = wr + (long)jx * weightColStep;
                    var w0 = Vector512.Load(wk); var w1 = Vector512.Load(wk + 16);
                    var v = Vector512.Create(p0[off]);
                    a00 = Avx512F.FusedMultiplyAdd(v, w0, a00); a01 = Avx512F.FusedMultiplyAdd(v, w1, a01);
                    v = Vector512.Create(p1[off]);
                    a10 = Avx512F.FusedMultiplyAdd(v, w0, a10); a11 = Avx512F.FusedMultiplyAdd(v, w1, a11);
                    v = Vector512.Create(p2[off]);
                    a20 = Avx512F.FusedMultiplyAdd(v, w0, a20); a21 = Avx512F.FusedMultiplyAdd(v, w1, a21);
                    v = Vector512.Create(p3[off]);
                    a30 = Avx512F.FusedMultiplyAdd(v, w0, a30); a31 = Avx512F.FusedMultiplyAdd(v, w1, a31);
                    v = Vector512.Create(p4[off]);
                    a40 = Avx512F.FusedMultiplyAdd(v, w0, a40); a41 = Avx512F.FusedMultiplyAdd(v, w1, a41);
                    v = Vector512.Create(p5[off]);
                    a50 = Avx512F.FusedMultiplyAdd(v, w0, a50); a51 = Avx512F.FusedMultiplyAdd(v, w1, a51);
                }
            }
        a00.Store(dst[0] + oc); a01.Store(dst[0] + oc + 16); a10.Store(dst[1] + oc); a11.Store(dst[1] + oc + 16);
        a20.Store(dst[2] + oc); a21.Store(dst[2] + oc + 16); a30.Store(dst[3] + oc); a31.Store(dst[3] + oc + 16);
        a40.Store(dst[4] + oc); a41.Store(dst[4] + oc + 16); a50.Store(dst[5] + oc); a51.Store(dst[5] + oc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4(float* d, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        v0.Store(d); v1.Store(d + 16); v2.Store(d + 32); v3.Store(d + 48);
    }

    /// <summary>
    /// sum (C·K·K × O, tap-major) = (first group) or += the weight gradient of a group for input channels [cStart, cEnd): per output-channel chunk,
    /// six input channels and one tap (ky, kx) at a time, over the group's images and the output positions where that
    /// tap lands inside the input. Image i's padded input sits at slots + i·ImageLength, its dYᵀ (P × O) right after.
    /// </summary>
    private static void WeightGradient(in ConvGeometry g, in Layout l, int count, float* slots, float* sum, bool first, int cStart, int cEnd)
    {
        int k = g.Kernel, kk = k * k, s = g.Stride, o = g.OutChannels, chunk = Chunk(o);
        int* channelOffsets = stackalloc int[TileChannels];
        float* acc = stackalloc float[TileChannels * 64];
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
            {
                if (!TapWindow(g, ky, kx, out int y0, out int y1, out int x0, out int x1)) continue;
                for (int c0 = cStart; c0 < cEnd; c0 += TileChannels)
                {
                    int live = Math.Min(TileChannels, cEnd - c0);
                    // A short last tile repeats its last channel; those sums are dropped.
                    for (int r = 0; r < TileChannels; r++) channelOffsets[r] = Math.Min(c0 + r, cEnd - 1) * l.Hp * l.Wp;
                    for (int oc = 0; oc < o; oc += chunk)
                    {
                        var w = new WeightWindow
                        {
                            Images = count, Stride = l.ImageLength, PadLength = l.PadLength, Start = ky * l.Wp + kx,
                            Y0 = y0, Y1 = y1, X0 = x0, X1 = x1, S = s, Wp = l.Wp, OutWidth = g.OutWidth, Ld = o, Oc = oc,
                        };
                        if (chunk == 64) WeightTile4(w, slots, channelOffsets, acc);
                        else WeightTile2(w, slots, channelOffsets, acc);
                        for (int r = 0; r < live; r++)
                        {
                            // sum[tap, oc..] (=|+=) the tile's row: whole vectors into the tap-major sum.
                            var row = new ReadOnlySpan<float>(acc + r * chunk, chunk);
                            var dst = new Span<float>(sum + (long)((c0 + r) * kk + ky * k + kx) * o + oc, chunk);
                            if (first) row.CopyTo(dst);
                            else Elementwise.Add(dst, row, dst);
                        }
                    }
                }
            }
    }

    private static int CeilDiv(int a, int b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);
    private static int FloorDiv(int a, int b) => a >= 0 ? a / b : -((-a + b - 1) / b);

    /// <summary>Where a weight-gradient tile reads: images, the tap's start in a padded plane, the valid output rectangle.</summary>
    private struct WeightWindow
    {
        public int Images, Stride, PadLength, Start, Y0, Y1, X0, X1, S, Wp, OutWidth, Ld, Oc;
    }

    /// <summary>acc[r·64 + 0..64] = Σ_images Σ_(y, x) dYᵀ[(y·OW + x)·O + oc + 0..64] · xpad[channel r][tap at (y, x)], six channels r.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightTile4(in WeightWindow w, float* part, int* channelOffsets, float* acc)
    {
        int o0 = channelOffsets[0], o1 = channelOffsets[1], o2 = channelOffsets[2], o3 = channelOffsets[3], o4 = channelOffsets[4], o5 = channelOffsets[5];
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a43 = default, a50 = default, a51 = default, a52 = default, a53 = default;
        for (int i = 0; i < w.Images; i++)
        {
            float* image = part + (long)i * w.Stride;
            float* dyT = image + w.PadLength + w.Oc;
            for (int y = w.Y0; y < w.Y1; y++)
            {
                float* xrow = image + w.Start + y * w.S * w.Wp;
                float* drow = dyT + (long)y * w.OutWidth * w.Ld;
                for (int x = w.X0; x < w.X1; x++)
                {
                    float* b = xrow + x * w.S;
                    float* d = drow + (long)x * w.Ld;
                    var d0 = Vector512.Load(d); var d1 = Vector512.Load(d + 16); var d2 = Vector512.Load(d + 32); var d3 = Vector512.Load(d + 48);
                    var v = Vector512.Create(b[o0]);
                    a00 = Avx512F.FusedMultiplyAdd(v, d0, a00); a01 = Avx512F.FusedMultiplyAdd(v, d1, a01); a02 = Avx512F.FusedMultiplyAdd(v, d2, a02); a03 = Avx512F.FusedMultiplyAdd(v, d3, a03);
                    v = Vector512.Create(b[o1]);
                    a10 = Avx512F.FusedMultiplyAdd(v, d0, a10); a11 = Avx512F.FusedMultiplyAdd(v, d1, a11); a12 = Avx512F.FusedMultiplyAdd(v, d2, a12); a13 = Avx512F.FusedMultiplyAdd(v, d3, a13);
                    v = Vector512.Create(b[o2]);
                    a20 = Avx512F.FusedMultiplyAdd(v, d0, a20); a21 = Avx512F.FusedMultiplyAdd(v, d1, a21); a22 = Avx512F.FusedMultiplyAdd(v, d2, a22); a23 = Avx512F.FusedMultiplyAdd(v, d3, a23);
                    v = Vector512.Create(b[o3]);
                    a30 = Avx512F.FusedMultiplyAdd(v, d0, a30); a31 = Avx512F.FusedMultiplyAdd(v, d1, a31); a32 = Avx512F.FusedMultiplyAdd(v, d2, a32); a33 = Avx512F.FusedMultiplyAdd(v, d3, a33);
                    v = Vector512.Create(b[o4]);
                    a40 = Avx512F.FusedMultiplyAdd(v, d0, a40); a41 = Avx512F.FusedMultiplyAdd(v, d1, a41); a42 = Avx512F.FusedMultiplyAdd(v, d2, a42); a43 = Avx512F.FusedMultiplyAdd(v, d3, a43);
                    v = Vector512.Create(b[o5]);
                    a50 = Avx512F.FusedMultiplyAdd(v, d0, a50); a51 = Avx512F.FusedMultiplyAdd(v, d1, a51); a52 = Avx512F.FusedMultiplyAdd(v, d2, a52); a53 = Avx512F.FusedMultiplyAdd(v, d3, a53);
                }
            }
        }
        Store4(acc, a00, a01, a02, a03); Store4(acc + 64, a10, a11, a12, a13); Store4(acc + 128, a20, a21, a22, a23);
        Store4(acc + 192, a30, a31, a32, a33); Store4(acc + 256, a40, a41, a42, a43); Store4(acc + 320, a50, a51, a52, a53);
    }

    /// <summary>As <see cref="WeightTile4"/> for 32 output channels; acc rows of 32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightTile2(in WeightWindow w, float* part, int* channelOffsets, float* acc)
    {
        int o0 = channelOffsets[0], o1 = channelOffsets[1], o2 = channelOffsets[2], o3 = channelOffsets[3], o4 = channelOffsets[4], o5 = channelOffsets[5];
        Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector512<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        for (int i = 0; i < w.Images; i++)
        {
            float* image = part + (long)i * w.Stride;
            float* dyT = image + w.PadLength + w.Oc;
            for (int y = w.Y0; y < w.Y1; y++)
            {
                float* xrow = image + w.Start + y * w.S * w.Wp;
                float* drow = dyT + (long)y * w.OutWidth * w.Ld;
                for (int x = w.X0; x < w.X1; x++)
                {
                    float* b = xrow + x * w.S;
                    float* d = drow + (long)x * w.Ld;
                    var d0 = Vector512.Load(d); var d1 = Vector512.Load(d + 16);
                    var v = Vector512.Create(b[o0]);
                    a00 = Avx512F.FusedMultiplyAdd(v, d0, a00); a01 = Avx512F.FusedMultiplyAdd(v, d1, a01);
                    v = Vector512.Create(b[o1]);
                    a10 = Avx512F.FusedMultiplyAdd(v, d0, a10); a11 = Avx512F.FusedMultiplyAdd(v, d1, a11);
                    v = Vector512.Create(b[o2]);
                    a20 = Avx512F.FusedMultiplyAdd(v, d0, a20); a21 = Avx512F.FusedMultiplyAdd(v, d1, a21);
                    v = Vector512.Create(b[o3]);
                    a30 = Avx512F.FusedMultiplyAdd(v, d0, a30); a31 = Avx512F.FusedMultiplyAdd(v, d1, a31);
                    v = Vector512.Create(b[o4]);
                    a40 = Avx512F.FusedMultiplyAdd(v, d0, a40); a41 = Avx512F.FusedMultiplyAdd(v, d1, a41);
                    v = Vector512.Create(b[o5]);
                    a50 = Avx512F.FusedMultiplyAdd(v, d0, a50); a51 = Avx512F.FusedMultiplyAdd(v, d1, a51);
                }
            }
        }
        a00.Store(acc); a01.Store(acc + 16); a10.Store(acc + 32); a11.Store(acc + 48); a20.Store(acc + 64); a21.Store(acc + 80);
        a30.Store(acc + 96); a31.Store(acc + 112); a40.Store(acc + 128); a41.Store(acc + 144); a50.Store(acc + 160); a51.Store(acc + 176);
    }

    /// <summary>One call's arguments for the parallel loops, passed by value to static lambdas (no closure per call).</summary>
    private struct Call
    {
        public ConvGeometry G;
        public Layout L;
        public float[] Input, Output, OutputGrad, WeightGrad, Workspace;
        public float[]? Bias, InputGrad;
        public int Start, Count; // the group's first image and its image count
    }
}
