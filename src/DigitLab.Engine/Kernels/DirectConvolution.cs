// DirectConvolution: stride-1 convolution read straight from padded images ("wide planes"), no im2col matrix.
// Reference: ConvolutionReference (direct loops).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Stride-1 convolution on large planes (the early layers of the CNNs) without unfolding: each image is copied
/// into a zero-padded plane of width Wp = W + 2·padding, and the outputs are computed on a <i>wide plane</i>
/// of OH rows × Wp columns. On a wide plane the input that kernel tap (c, ky, kx) meets at output position q is
/// <c>xpad[c·Hp·Wp + ky·Wp + kx + q]</c>: consecutive positions read consecutive floats, so a vector of 16
/// outputs reads a plain (unaligned) vector of input for every tap, and the im2col matrix never exists.
/// The Wp − OW columns at the end of every wide row are computed and thrown away (20 % of the work for a
/// 5×5 kernel on 24×24); the unfold-and-multiply route it replaces moved every input value K² times through
/// memory and ran its GEMM on M = 32 rows.
/// <list type="bullet">
/// <item><b>Forward</b>: 8 output channels × 48 wide positions per register tile, one FMA chain per output over
/// the C·K·K taps, in the order (c, ky, kx). Without padding the taps read K shifted copies of each input plane
/// cut to OW columns instead, so no thrown-away columns are computed (<see cref="FlatForward"/>).</item>
/// <item><b>Input gradient</b>: for stride 1 it is the forward convolution of dY padded by K−1−padding with the
/// kernel flipped and its channel axes swapped, so the same tile computes it; without padding, on the input's own
/// width (<see cref="FlatInputGradient"/>).</item>
/// <item><b>Weight gradient</b>: dW[o, c, ky, kx] = Σ_q dYwide[o, q] · xpad[c·Hp·Wp + ky·Wp + kx + q], with dY
/// laid out on the wide plane and zero in the thrown-away columns. A tile holds 4 (K = 5) or 8 (K = 3) output
/// channels × the K taps of one kernel row in vector accumulators, summed over a few images before the
/// horizontal sums.</item>
/// </list>
/// Images are split into one contiguous run per thread, as on <see cref="Convolution"/>'s by-image route; each
/// output value is computed by one thread, and the weight gradient is summed per thread then added in thread
/// order, so results are bit-identical for the same <see cref="ComputeContext.Threads"/>.
/// </summary>
public static unsafe class DirectConvolution
{
    private const int TileRows = 8, TileCols = 48, Lanes = 16;

    /// <summary>Floats of slack after each padded plane set: the last wide tile and the last taps read past its end.</summary>
    private static int Slack(in ConvGeometry g) => g.Kernel + TileCols;

    /// <summary>Per thread, the floats of (images, padded planes + wide dY) that one weight-gradient group keeps near the core.</summary>
    private const int GroupBudget = 1 << 17;

    /// <summary>Whether <see cref="Forward"/> handles <paramref name="g"/>: AVX-512, stride 1, output channels in eights, a large output plane, 16 taps or more.</summary>
    public static bool SupportsForward(in ConvGeometry g) =>
        Avx512F.IsSupported && g.Stride == 1 && g.OutChannels % TileRows == 0 && g.OutPlane >= Convolution.MinImagePlane
        && g.ColumnRows >= MinTaps;

    /// <summary>
    /// Whether <see cref="Backward"/> handles <paramref name="g"/>: AVX-512, stride 1, a large output plane, 16 taps or more, a 3×3
    /// (output channels in eights) or 5×5 (in fours) kernel, and, when the input gradient is wanted, padding below the
    /// kernel size, input channels in eights or 4 to 7 of them: one block of 8 completed with zero weights, its extra rows
    /// not copied out (lenet5's 6 → 16 layer: 1.4–1.7 ms per step of 64 on im2col + GEMM). Other counts (fast's 12) keep the
    /// GEMM and its bits until measured.
    /// A one-channel first layer's input gradient (saliency maps) stays on the GEMM rather than compute 8 rows for 1.
    /// </summary>
    public static bool SupportsBackward(in ConvGeometry g, bool inputGradient) =>
        Avx512F.IsSupported && g.Stride == 1 && g.OutPlane >= Convolution.MinImagePlane && g.ColumnRows >= MinTaps
        && (g.Kernel == 3 && g.OutChannels % 8 == 0 || g.Kernel == 5 && g.OutChannels % 4 == 0)
        && (!inputGradient || g.Padding <= g.Kernel - 1 && (g.InChannels % TileRows == 0 || g.InChannels is >= TileRows / 2 and < TileRows));

    /// <summary>
    /// Below this many taps (C·K·K) the copies into wide planes cost more than they save: cnn's 1-channel 3×3 first
    /// layer trains faster on im2col + GEMM (`digitlab bench train --models cnn`: 7,382 samples/s against 7,035 with
    /// it here), while net3's 1-channel 5×5 one (25 taps) is faster here.
    /// </summary>
    private const int MinTaps = 16;

    /// <summary>The sizes derived from a geometry; all lengths in floats.</summary>
    private readonly struct Layout
    {
        public readonly int Hp, Wp, PadLength;             // padded input planes (C × Hp × Wp + slack)
        public readonly int WideLd, WideLength;             // forward result on the wide plane: O × WideLd
        public readonly int DyLd, DyLength;                 // dY on the wide plane for dW: O × DyLd
        public readonly int Hq, Wq, DyPadLength;            // dY padded by K−1−P for dX: O × Hq × Wq + slack
        public readonly int UnfoldPlane, UnfoldLength;      // flat forward: C·K planes of H × OW (+ slack)
        public readonly int FlatLd, FlatLength;             // flat forward result: O × FlatLd (OH·OW rounded up to 16)
        public readonly int DxLd, DxLength;                 // dX on its wide plane: C rounded up to 8 × DxLd
        public readonly int Group;                          // images per weight-gradient group
        public readonly int FlatStride;                     // flat weight gradient, per image: unfolded rows + dY (O × FlatLd)
        public readonly int PackLength, OffsetLength;       // packed weights; tap offsets (ints)
        public readonly int PartLength, SharedLength;

        public Layout(in ConvGeometry g)
        {
            int k = g.Kernel, c = g.InChannels, o = g.OutChannels, slack = Slack(g);
            Hp = g.Height + 2 * g.Padding;
            Wp = g.Width + 2 * g.Padding;
            PadLength = RoundUp(c * Hp * Wp + slack, Lanes);
            WideLd = RoundUp(g.OutHeight * Wp, TileCols);
            WideLength = o * WideLd;
            DyLd = RoundUp(g.OutHeight * Wp, Lanes);
            DyLength = o * DyLd;
            int q = Math.Max(0, k - 1 - g.Padding);
            if (FlatInputGradient(g))
            {
                // dY on rows of the input's width: K zero rows above (the last absorbs reads left of row 0), K − 1 below.
                Hq = g.OutHeight + 2 * k - 1;
                Wq = g.Width;
            }
            else
            {
                Hq = g.OutHeight + 2 * q;
                Wq = g.OutWidth + 2 * q;
            }
            DyPadLength = RoundUp(o * Hq * Wq + slack, Lanes);
            DxLd = RoundUp(g.Height * Wq, TileCols);
            DxLength = RoundUp(c, TileRows) * DxLd;
            // The forward's packed weights, or the input gradient's (input channels rounded up to 8).
            PackLength = RoundUp(Math.Max(g.WeightLength, RoundUp(c, TileRows) * o * k * k), Lanes);
            OffsetLength = RoundUp(Math.Max(g.ColumnRows, o * k * k), Lanes);
            UnfoldPlane = g.Height * g.OutWidth;
            UnfoldLength = RoundUp(c * k * UnfoldPlane + slack, Lanes);
            FlatLd = RoundUp(g.OutPlane, Lanes);
            FlatLength = o * FlatLd;
            FlatStride = UnfoldLength + FlatLength;
            Group = FlatWeightGradient(g)
                ? Math.Clamp(FlatGroupBudget / FlatStride, 1, 8)
                : Math.Clamp(GroupBudget / (PadLength + DyLength), 1, 4);
            int forward = FlatForward(g) ? UnfoldLength + FlatLength : PadLength + WideLength;
            int weights = Group * (FlatWeightGradient(g) ? FlatStride : PadLength + DyLength);
            int input = DyPadLength + DxLength;
            SumOffset = RoundUp(Math.Max(forward, Math.Max(weights, input)), Lanes);
            PartLength = SumOffset + RoundUp(g.WeightLength, Lanes);
            SharedLength = PackLength + OffsetLength;
        }

        /// <summary>Offset in a part of its weight-gradient sum (the last O·C·K·K floats).</summary>
        public int SumOffset { get; }
    }

    /// <summary>
    /// Whether the input gradient runs on the input's own width (padding 0): dY laid on rows of W floats, its last
    /// K − 1 columns zero, so a wide row of dX is exactly a row of dX (no thrown-away columns). dX[c, s] for s = y·W + x
    /// reads dY[o, s − ky'·W − kx'] (ky', kx' the unflipped tap): a position left of a row's start reads the row
    /// above's zero columns. On padded dY planes of width OW + 2(K − 1) the wide rows held K − 1 more columns
    /// (net3's conv2: 672 wide positions per channel for 576 inputs; a 5×5 layer on 12×12 maps: 192 for 144).
    /// </summary>
    private static bool FlatInputGradient(in ConvGeometry g) => g.Padding == 0;

    /// <summary>
    /// Whether the forward pass runs on unfolded rows (padding 0): each input plane copied K times, shifted by kx and cut to
    /// OW columns (<see cref="UnfoldRows"/>), so tap (c, ky, kx) meets output p = y·OW + x at unfolded[c, kx][p + ky·OW] and
    /// only the OH·OW outputs are computed. The wide plane computed OH·(W − OW) thrown-away positions besides
    /// (net3's conv2: 480 for 400 outputs; a 5×5 layer on 12×12 maps: 96 for 64); the copies cost K times the input's size, once per image.
    /// </summary>
    private static bool FlatForward(in ConvGeometry g) => g.Padding == 0 && g.Kernel > 1;

    /// <summary>
    /// Whether the weight gradient runs on <see cref="FlatForward"/>'s unfolded rows: dW[o, c, ky, kx] = Σ_p dY[o, p] ·
    /// unfolded[c, kx][p + ky·OW] over the OH·OW outputs only. Taken for 5×5 kernels without padding whose wide rows would
    /// throw away a third or more (32 → 64 channels on 12×12 maps, 8 of 12 columns: 3.4-3.8 against 4.8-4.9 ms per batch of 64
    /// on one thread; no zoo layer today: net3's third convolution meets 10×10 maps and takes the channel lanes).
    /// On net3's conv2 (20 of 24 columns) it was no faster than the wide plane (9.4-9.7 against 9.1-9.5 ms): its taps read
    /// five unfolded planes instead of one, and groups of more than two images no longer stayed in the caches.
    /// The vector lanes hold other positions than on the wide plane, so the sums round differently (deterministically).
    /// </summary>
    private static bool FlatWeightGradient(in ConvGeometry g) => g.Padding == 0 && g.Kernel == 5 && 3 * g.OutWidth <= 2 * g.Width;

    /// <summary>
    /// Per thread, the floats of a flat weight-gradient group (2 MiB, at most 8 images): the loops run input channel by
    /// input channel, so one channel's unfolded rows (K·H·OW per image) and a block of dY rows are reused from the caches;
    /// more images per group mean fewer horizontal sums.
    /// </summary>
    private const int FlatGroupBudget = 1 << 19;

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static int Parts(ComputeContext compute, in ConvGeometry g) => Math.Max(1, Math.Min(compute.Threads, g.Batch));

    /// <summary>Floats of workspace <see cref="Forward"/> and <see cref="Backward"/> need at the current <see cref="ComputeContext.Threads"/>.</summary>
    public static int WorkspaceLength(ComputeContext compute, in ConvGeometry g)
    {
        var l = new Layout(g);
        return checked(l.SharedLength + Parts(compute, g) * l.PartLength);
    }

    /// <summary>output (N, O, OH, OW) = conv(input (N, C, H, W), weight (O, C, K, K)) + bias (O).</summary>
    public static void Forward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[]? bias, float[] output, float[] workspace)
    {
        if (!SupportsForward(g)) throw new ArgumentException($"DirectConvolution.Forward does not handle {g}; check SupportsForward first.");
        var l = new Layout(g);
        int parts = CheckedParts(compute, g, l, input, output, workspace);
        // Weights packed once per call: per block of 8 output channels, the 8 values of each tap side by side.
        PackForward(g, weight, workspace, l);
        var call = new Call { G = g, L = l, Input = input, Weight = weight, Bias = bias, Output = output, Workspace = workspace, Parts = parts };
        compute.For(parts, 1, call, static (c, ps, pe) =>
        {
            for (int p = ps; p < pe; p++)
            {
                int first = c.G.Batch * p / c.Parts, last = c.G.Batch * (p + 1) / c.Parts;
                fixed (float* x = c.Input, y = c.Output, ws = c.Workspace, b = c.Bias)
                {
                    float* pack = ws, part = ws + c.L.SharedLength + (long)p * c.L.PartLength;
                    int* offsets = (int*)(ws + c.L.PackLength);
                    int inLength = c.G.InChannels * c.G.InPlane, outLength = c.G.OutChannels * c.G.OutPlane;
                    bool flat = FlatForward(c.G);
                    for (int i = first; i < last; i++)
                    {
                        if (flat)
                        {
                            UnfoldRows(x + (long)i * inLength, c.G.InChannels, c.G.Height, c.G.Width, c.G.Kernel, c.G.OutWidth, part, c.L.UnfoldLength);
                            FlatConvolution(c.G.ColumnRows, c.G.OutChannels, pack, offsets, part, part + c.L.UnfoldLength, c.L.FlatLd);
                            // The result rows are the output planes (OH·OW floats each, at a stride rounded up to 16).
                            Compact(part + c.L.UnfoldLength, c.L.FlatLd, c.G.OutChannels, 1, c.G.OutPlane, c.L.FlatLd, b, y + (long)i * outLength);
                            continue;
                        }
                        PadPlanes(x + (long)i * inLength, c.G.InChannels, c.G.Height, c.G.Width, c.G.Padding, part, c.L.PadLength);
                        WideConvolution(c.G.ColumnRows, c.G.OutChannels, pack, offsets, part, part + c.L.PadLength, c.L.WideLd);
                        Compact(part + c.L.PadLength, c.L.WideLd, c.G.OutChannels, c.G.OutHeight, c.G.OutWidth, c.L.Wp, b,
                            y + (long)i * outLength);
                    }
                }
            }
        });
    }

    /// <summary>
    /// weightGrad (O, C, K, K) += Σ_n dY_n ⋆ x_n and biasGrad (O) += Σ dY; when <paramref name="inputGrad"/> is given,
    /// overwrites it (N, C, H, W) with dL/dx.
    /// </summary>
    public static void Backward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[] outputGrad,
        float[]? inputGrad, float[] weightGrad, float[]? biasGrad, float[] workspace)
    {
        if (!SupportsBackward(g, inputGrad is not null))
            throw new ArgumentException($"DirectConvolution.Backward does not handle {g}; check SupportsBackward first.");
        var l = new Layout(g);
        int parts = CheckedParts(compute, g, l, input, outputGrad, workspace);
        if (inputGrad is not null && inputGrad.Length < g.InputLength)
            throw new ArgumentException($"Input gradient has {inputGrad.Length} floats, {g} needs {g.InputLength}.");
        if (weightGrad.Length < g.WeightLength)
            throw new ArgumentException($"Weight gradient has {weightGrad.Length} floats, {g} needs {g.WeightLength}.");
        if (biasGrad is not null) Bias.AccumulateChannelSums(compute, outputGrad, g.Batch, g.OutChannels, g.OutPlane, biasGrad);
        if (inputGrad is not null) PackInputGradient(g, weight, workspace, l);
        int sumOffset = l.SumOffset, length = g.WeightLength;
        var call = new Call { G = g, L = l, Input = input, OutputGrad = outputGrad, InputGrad = inputGrad, WeightGrad = weightGrad,
            Workspace = workspace, Parts = parts };
        compute.For(parts, 1, call, static (c, ps, pe) =>
        {
            for (int p = ps; p < pe; p++)
            {
                int first = c.G.Batch * p / c.Parts, last = c.G.Batch * (p + 1) / c.Parts;
                fixed (float* x = c.Input, dy = c.OutputGrad, dx = c.InputGrad, dwTotal = c.WeightGrad, ws = c.Workspace)
                {
                    float* part = ws + c.L.SharedLength + (long)p * c.L.PartLength;
                    // Thread 0 adds into the gradient itself; the others into their own sums, added below in order.
                    float* sum = p == 0 ? dwTotal : part + c.L.SumOffset;
                    if (p != 0) new Span<float>(sum, c.G.WeightLength).Clear();
                    WeightGradient(c.G, c.L, x, dy, first, last, sum, part);
                    if (dx is not null)
                        InputGradient(c.G, c.L, dy, first, last, ws, (int*)(ws + c.L.PackLength), dx, part);
                }
            }
        });
        var total = weightGrad.AsSpan(0, length);
        for (int p = 1; p < parts; p++)
            Elementwise.Add(total, workspace.AsSpan(l.SharedLength + p * l.PartLength + sumOffset, length), total);
    }

    private static int CheckedParts(ComputeContext compute, in ConvGeometry g, in Layout l, float[] input, float[] output, float[] workspace)
    {
        g.Validate();
        if (input.Length < g.InputLength || output.Length < g.OutputLength)
            throw new ArgumentException($"Convolution arrays too short for {g}: input {input.Length} (needs {g.InputLength}), output {output.Length} (needs {g.OutputLength}).");
        // A workspace sized for fewer threads than now set is still enough: it runs fewer threads.
        int parts = Math.Min(Parts(compute, g), (workspace.Length - l.SharedLength) / l.PartLength);
        if (parts < 1)
            throw new ArgumentException($"Convolution workspace has {workspace.Length} floats, needs {WorkspaceLength(compute, g)} (see Convolution.WorkspaceLength).");
        return parts;
    }

    /// <summary>pack[ob][tap][r] = W[8·ob + r, tap]; offsets[tap (c, ky, kx)] = c·Hp·Wp + ky·Wp + kx.</summary>
    private static void PackForward(in ConvGeometry g, float[] weight, float[] workspace, in Layout l)
    {
        int taps = g.ColumnRows, k = g.Kernel;
        var pack = workspace.AsSpan(0, g.OutChannels * taps);
        for (int ob = 0; ob < g.OutChannels / TileRows; ob++)
            for (int t = 0; t < taps; t++)
                for (int r = 0; r < TileRows; r++)
                    pack[(ob * taps + t) * TileRows + r] = weight[(ob * TileRows + r) * taps + t];
        var offsets = MemoryMarshal.Cast<float, int>(workspace.AsSpan(l.PackLength, taps));
        bool flat = FlatForward(g);
        for (int c = 0, t = 0; c < g.InChannels; c++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    offsets[t++] = flat ? (c * k + kx) * l.UnfoldPlane + ky * g.OutWidth : c * l.Hp * l.Wp + ky * l.Wp + kx;
    }

    /// <summary>
    /// The input gradient's kernel: Wflip[c, o, ky, kx] = W[o, c, K−1−ky, K−1−kx], packed as the forward's
    /// (blocks of 8 input channels, the last one completed with zeros), with offsets o·Hq·Wq + ky·Wq + kx into the padded dY planes.
    /// </summary>
    private static void PackInputGradient(in ConvGeometry g, float[] weight, float[] workspace, in Layout l)
    {
        int k = g.Kernel, kk = k * k, taps = g.OutChannels * kk, c = g.InChannels, blocks = (c + TileRows - 1) / TileRows;
        var pack = workspace.AsSpan(0, blocks * TileRows * taps);
        for (int cb = 0; cb < blocks; cb++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                    {
                        int t = o * kk + ky * k + kx, source = (k - 1 - ky) * k + (k - 1 - kx);
                        for (int r = 0; r < TileRows; r++)
                            pack[(cb * taps + t) * TileRows + r] = cb * TileRows + r < c ? weight[(o * c + cb * TileRows + r) * kk + source] : 0f;
                    }
        var offsets = MemoryMarshal.Cast<float, int>(workspace.AsSpan(l.PackLength, taps));
        // Flat: tap (ky, kx) of the flipped kernel meets dY row y − (K−1−ky), column x − (K−1−kx), at padded row K + that.
        int flat = FlatInputGradient(g) ? l.Wq - (k - 1) : 0;
        for (int o = 0, t = 0; o < g.OutChannels; o++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                    offsets[t++] = o * l.Hq * l.Wq + ky * l.Wq + kx + flat;
    }

    /// <summary>
    /// The flat input gradient's dY: channels of <paramref name="hq"/> rows × <paramref name="wq"/>, each row of dY at
    /// row K + y with zeros after its <paramref name="width"/> values, zero rows around, zeroed slack to <paramref name="length"/>.
    /// </summary>
    private static void PadFlat(float* source, int channels, int height, int width, int k, int hq, int wq, float* dst, int length)
    {
        new Span<float>(dst, length).Clear();
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                new ReadOnlySpan<float>(source + ((long)c * height + y) * width, width)
                    .CopyTo(new Span<float>(dst + (long)c * hq * wq + (k + y) * wq, width));
    }

    /// <summary>Copies C planes of H × W into zeroed planes of (H + 2p) × (W + 2p), followed by zeroed slack.</summary>
    internal static void PadPlanes(float* source, int channels, int height, int width, int padding, float* dst, int length)
    {
        int wp = width + 2 * padding, hp = height + 2 * padding;
        if (padding == 0)
        {
            // The planes are already contiguous: one copy, then zeros for the slack.
            int planes = channels * height * width;
            new ReadOnlySpan<float>(source, planes).CopyTo(new Span<float>(dst, planes));
            new Span<float>(dst + planes, length - planes).Clear();
            return;
        }
        new Span<float>(dst, length).Clear();
        for (int c = 0; c < channels; c++)
            for (int h = 0; h < height; h++)
                new ReadOnlySpan<float>(source + ((long)c * height + h) * width, width)
                    .CopyTo(new Span<float>(dst + (long)c * hp * wp + (h + padding) * wp + padding, width));
    }

    /// <summary>
    /// wide[o, q] = Σ_tap pack[o, tap] · x[offsets[tap] + q] for every output channel o (in blocks of 8) and every
    /// wide position q &lt; <paramref name="ld"/> (a multiple of 48).
    /// </summary>
    private static void WideConvolution(int taps, int outChannels, float* pack, int* offsets, float* x, float* wide, int ld)
    {
        for (int ob = 0; ob < outChannels / TileRows; ob++)
        {
            float* a = pack + (long)ob * taps * TileRows, c = wide + (long)ob * TileRows * ld;
            for (int q = 0; q < ld; q += TileCols) Tile(taps, a, x + q, offsets, c + q, ld, accumulate: false);
        }
    }

    /// <summary>
    /// dst[c·K + kx] (H rows × <paramref name="outWidth"/>) = source[c] (H × W) columns kx .. kx + OW − 1, then zeros to
    /// <paramref name="length"/>. A row is copied by full vectors and one last vector ending at its end (overlapping the one
    /// before: the same values), so a 20-float row is two loads and two stores.
    /// </summary>
    private static void UnfoldRows(float* source, int channels, int height, int width, int k, int outWidth, float* dst, int length)
    {
        int plane = height * outWidth;
        for (int c = 0; c < channels; c++)
            for (int kx = 0; kx < k; kx++)
            {
                float* from = source + (long)c * height * width + kx, to = dst + (long)(c * k + kx) * plane;
                for (int y = 0; y < height; y++, from += width, to += outWidth)
                {
                    if (outWidth >= Lanes)
                    {
                        int j = 0;
                        for (; j <= outWidth - Lanes; j += Lanes) Vector512.Store(Vector512.Load(from + j), to + j);
                        if (j < outWidth) Vector512.Store(Vector512.Load(from + outWidth - Lanes), to + outWidth - Lanes);
                    }
                    else if (outWidth >= 8)
                    {
                        Vector256.Store(Vector256.Load(from), to);
                        Vector256.Store(Vector256.Load(from + outWidth - 8), to + outWidth - 8);
                    }
                    else
                        for (int j = 0; j < outWidth; j++) to[j] = from[j];
                }
            }
        long used = (long)channels * k * plane;
        new Span<float>(dst + used, (int)(length - used)).Clear();
    }

    /// <summary>
    /// <see cref="WideConvolution"/> on unfolded rows: out[o, p] for p &lt; <paramref name="ld"/> (a multiple of 16), by
    /// 48-position tiles and 16-position tiles for the rest. Each output's FMA chain runs over the taps in the same order.
    /// </summary>
    private static void FlatConvolution(int taps, int outChannels, float* pack, int* offsets, float* x, float* output, int ld)
    {
        for (int ob = 0; ob < outChannels / TileRows; ob++)
        {
            float* a = pack + (long)ob * taps * TileRows, c = output + (long)ob * TileRows * ld;
            int q = 0;
            for (; q <= ld - TileCols; q += TileCols) Tile(taps, a, x + q, offsets, c + q, ld, accumulate: false);
            for (; q < ld; q += Lanes) NarrowTile(taps, a, x + q, offsets, c + q, ld);
        }
    }

    /// <summary>As <see cref="Tile"/> for 16 positions: c[r, 0..16] = Σ_p a[p·8 + r] · x[offsets[p] + 0..16] for r &lt; 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NarrowTile(int taps, float* a, float* x, int* offsets, float* c, int ldc)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int p = 0; p < taps; p++)
        {
            var b = Vector512.Load(x + offsets[p]);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[0]), b, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[1]), b, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[2]), b, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[3]), b, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[4]), b, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[5]), b, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[6]), b, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a[7]), b, c7);
            a += TileRows;
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }

    /// <summary>
    /// The input gradient's <see cref="WideConvolution"/> over dY padded by q = K−1−P: wide row y of dX reads padded rows
    /// y + ky, of which only [q, q + OH) hold dY, so a tile (48 positions, one to three wide rows) visits only the kernel
    /// rows ky that reach them, per output channel o a run of its taps (o, ky, 0..K−1). With P = 0 the first and last
    /// K−1 rows lose taps: 14 % of net3's conv2 input gradient (5×5 on 24×24) is products with zeros. The products left
    /// out are exactly zero and an accumulator that starts at +0 never holds −0, so the sums keep their bits.
    /// </summary>
    private static void InputGradientConvolution(in ConvGeometry g, in Layout l, float* pack, int* offsets, float* dyPad, float* dxWide)
    {
        int k = g.Kernel, q = k - 1 - g.Padding, o = g.OutChannels, taps = o * k * k;
        for (int cb = 0; cb < (g.InChannels + TileRows - 1) / TileRows; cb++)
        {
            float* a = pack + (long)cb * taps * TileRows, c = dxWide + (long)cb * TileRows * l.DxLd;
            for (int p = 0; p < l.DxLd; p += TileCols)
            {
                int first = p / l.Wq, last = (p + TileCols - 1) / l.Wq; // the wide rows this tile touches
                int kyLo = Math.Max(0, q - last), kyHi = Math.Min(k - 1, q + g.OutHeight - 1 - first);
                if (kyLo == 0 && kyHi == k - 1)
                {
                    Tile(taps, a, dyPad + p, offsets, c + p, l.DxLd, accumulate: false);
                    continue;
                }
                int run = Math.Max(0, kyHi - kyLo + 1) * k;
                for (int ch = 0; ch < o; ch++)
                {
                    int t0 = (ch * k + Math.Min(kyLo, k - 1)) * k;
                    Tile(run, a + (long)t0 * TileRows, dyPad + p, offsets + t0, c + p, l.DxLd, accumulate: ch > 0);
                }
            }
        }
    }

    /// <summary>
    /// c[r, 0..48] = Σ_p a[p·8 + r] · x[offsets[p] + 0..48] for r &lt; 8 (added to c's values when <paramref name="accumulate"/>,
    /// continuing their FMA chains: a sum split into runs keeps its bits): 24 accumulators, 3 loads and 8 broadcasts per tap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(int taps, float* a, float* x, int* offsets, float* c, int ldc, bool accumulate)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        if (accumulate)
        {
            float* r = c;
            c00 = Vector512.Load(r); c01 = Vector512.Load(r + 16); c02 = Vector512.Load(r + 32); r += ldc;
            c10 = Vector512.Load(r); c11 = Vector512.Load(r + 16); c12 = Vector512.Load(r + 32); r += ldc;
            c20 = Vector512.Load(r); c21 = Vector512.Load(r + 16); c22 = Vector512.Load(r + 32); r += ldc;
            c30 = Vector512.Load(r); c31 = Vector512.Load(r + 16); c32 = Vector512.Load(r + 32); r += ldc;
            c40 = Vector512.Load(r); c41 = Vector512.Load(r + 16); c42 = Vector512.Load(r + 32); r += ldc;
            c50 = Vector512.Load(r); c51 = Vector512.Load(r + 16); c52 = Vector512.Load(r + 32); r += ldc;
            c60 = Vector512.Load(r); c61 = Vector512.Load(r + 16); c62 = Vector512.Load(r + 32); r += ldc;
            c70 = Vector512.Load(r); c71 = Vector512.Load(r + 16); c72 = Vector512.Load(r + 32);
        }
        for (int p = 0; p < taps; p++)
        {
            float* b = x + offsets[p];
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
            a += TileRows;
        }
        Store(c, c00, c01, c02); c += ldc;
        Store(c, c10, c11, c12); c += ldc;
        Store(c, c20, c21, c22); c += ldc;
        Store(c, c30, c31, c32); c += ldc;
        Store(c, c40, c41, c42); c += ldc;
        Store(c, c50, c51, c52); c += ldc;
        Store(c, c60, c61, c62); c += ldc;
        Store(c, c70, c71, c72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2)
    {
        v0.Store(c); v1.Store(c + 16); v2.Store(c + 32);
    }

    /// <summary>dst[ch, y, 0..width] = wide[ch·ld + y·wideWidth + 0..width] (+ bias[ch]): the useful columns of each wide row.</summary>
    private static void Compact(float* wide, int ld, int channels, int height, int width, int wideWidth, float* bias, float* dst)
    {
        for (int ch = 0; ch < channels; ch++)
        {
            float b = bias is null ? 0f : bias[ch];
            for (int y = 0; y < height; y++)
            {
                var from = new ReadOnlySpan<float>(wide + (long)ch * ld + y * wideWidth, width);
                var to = new Span<float>(dst + ((long)ch * height + y) * width, width);
                if (bias is null) from.CopyTo(to);
                else Elementwise.Add(from, b, to);
            }
        }
    }

    /// <summary>dX of images [first, last): dY padded by K−1−P, convolved with the flipped kernel on the wide plane.</summary>
    private static void InputGradient(in ConvGeometry g, in Layout l, float* dy, int first, int last, float* pack, int* offsets, float* dx, float* part)
    {
        int q = g.Kernel - 1 - g.Padding, outLength = g.OutChannels * g.OutPlane, inLength = g.InChannels * g.InPlane;
        float* dyPad = part, dxWide = part + l.DyPadLength;
        for (int i = first; i < last; i++)
        {
            if (FlatInputGradient(g))
                PadFlat(dy + (long)i * outLength, g.OutChannels, g.OutHeight, g.OutWidth, g.Kernel, l.Hq, l.Wq, dyPad, l.DyPadLength);
            else
                PadPlanes(dy + (long)i * outLength, g.OutChannels, g.OutHeight, g.OutWidth, q, dyPad, l.DyPadLength);
            InputGradientConvolution(g, l, pack, offsets, dyPad, dxWide);
            Compact(dxWide, l.DxLd, g.InChannels, g.Height, g.Width, l.Wq, null, dx + (long)i * inLength);
        }
    }

    /// <summary>sum (O, C, K, K) += the weight gradient of images [first, last), a group of a few images at a time.</summary>
    private static void WeightGradient(in ConvGeometry g, in Layout l, float* x, float* dy, int first, int last, float* sum, float* part)
    {
        if (FlatWeightGradient(g))
        {
            FlatWeightGradientImages(g, l, x, dy, first, last, sum, part);
            return;
        }
        int inLength = g.InChannels * g.InPlane, outLength = g.OutChannels * g.OutPlane, stride = l.PadLength + l.DyLength;
        for (int start = first; start < last; start += l.Group)
        {
            int count = Math.Min(l.Group, last - start);
            for (int i = 0; i < count; i++)
            {
                float* image = part + (long)i * stride;
                PadPlanes(x + (long)(start + i) * inLength, g.InChannels, g.Height, g.Width, g.Padding, image, l.PadLength);
                // dY on the wide plane: each row of OW values at the start of a row of Wp, zeros elsewhere.
                float* wide = image + l.PadLength, source = dy + (long)(start + i) * outLength;
                for (int o = 0; o < g.OutChannels; o++)
                    WidenRows(source + (long)o * g.OutPlane, g.OutHeight, g.OutWidth, l.Wp, wide + (long)o * l.DyLd, l.DyLd);
            }
            int k = g.Kernel, kk = k * k, taps = g.ColumnRows, rows = k == 5 ? 4 : 8;
            for (int ob = 0; ob < g.OutChannels; ob += rows)
                for (int c = 0; c < g.InChannels; c++)
                    for (int ky = 0; ky < k; ky++)
                    {
                        float* dst = sum + (long)ob * taps + c * kk + ky * k;
                        int xOffset = c * l.Hp * l.Wp + ky * l.Wp, dyOffset = ob * l.DyLd;
                        if (k == 5) WeightRow5(part, count, stride, l.PadLength, xOffset, 1, dyOffset, l.DyLd, dst, taps);
                        else WeightRow3(part, count, stride, l.PadLength, xOffset, dyOffset, l.DyLd, dst, taps);
                    }
        }
    }

    /// <summary>
    /// <see cref="WeightGradient"/> on unfolded rows (<see cref="FlatWeightGradient"/>): per image of a group, its
    /// unfolded rows and its dY rows of OH·OW rounded up to 16 (zeros after), then per input channel, kernel row and
    /// block of 4 output channels one <see cref="WeightRow5"/> over the group.
    /// </summary>
    private static void FlatWeightGradientImages(in ConvGeometry g, in Layout l, float* x, float* dy, int first, int last, float* sum, float* part)
    {
        int inLength = g.InChannels * g.InPlane, plane = g.OutPlane, outLength = g.OutChannels * plane, ld = RoundUp(plane, Lanes);
        int k = g.Kernel, kk = k * k, taps = g.ColumnRows, stride = l.FlatStride;
        for (int start = first; start < last; start += l.Group)
        {
            int count = Math.Min(l.Group, last - start);
            for (int i = 0; i < count; i++)
            {
                float* image = part + (long)i * stride, source = dy + (long)(start + i) * outLength;
                UnfoldRows(x + (long)(start + i) * inLength, g.InChannels, g.Height, g.Width, k, g.OutWidth, image, l.UnfoldLength);
                for (int o = 0; o < g.OutChannels; o++)
                {
                    float* row = image + l.UnfoldLength + (long)o * ld;
                    new ReadOnlySpan<float>(source + (long)o * plane, plane).CopyTo(new Span<float>(row, plane));
                    new Span<float>(row + plane, ld - plane).Clear();
                }
            }
            for (int c = 0; c < g.InChannels; c++)
                for (int ob = 0; ob < g.OutChannels; ob += 4)
                    for (int ky = 0; ky < k; ky++)
                        WeightRow5(part, count, stride, l.UnfoldLength, c * k * l.UnfoldPlane + ky * g.OutWidth, l.UnfoldPlane, ob * ld, ld,
                            sum + (long)ob * taps + c * kk + ky * k, taps);
        }
    }

    /// <summary>
    /// dst[0..ld) = the rows × width plane at <paramref name="source"/> laid on rows of <paramref name="wideWidth"/>, zeros
    /// in each row's last wideWidth − width columns and after the last row: one pass of vector stores (a Clear of the
    /// whole wide plane and a copy call per 24-float row took half of net3's first-layer weight gradient).
    /// </summary>
    private static void WidenRows(float* source, int rows, int width, int wideWidth, float* dst, int ld)
    {
        for (int y = 0; y < rows; y++, source += width, dst += wideWidth)
        {
            int j = 0;
            for (; j <= width - Lanes; j += Lanes) Vector512.Store(Vector512.Load(source + j), dst + j);
            if (j <= width - 8) { Vector256.Store(Vector256.Load(source + j), dst + j); j += 8; }
            for (; j < width; j++) dst[j] = source[j];
            for (; j < wideWidth; j++) dst[j] = 0f;
        }
        new Span<float>(dst, ld - rows * wideWidth).Clear();
    }

    /// <summary>
    /// dst[r·taps + kx] += Σ_images Σ_q dyWide[r, q] · x[q + kx·xStep] for 4 output channels r and kx &lt; 5, where image i's
    /// padded planes start at part + i·stride (x at xOffset) and its wide dY at part + i·stride + padLength (+ dyOffset).
    /// xStep 1: the wide plane (tap kx is one float along); the unfolded plane's size: the flat route's shifted copies.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightRow5(float* part, int images, int stride, int padLength, int xOffset, int xStep, int dyOffset, int ld, float* dst, int taps)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a04 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default, a14 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a24 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default, a34 = default;
        for (int i = 0; i < images; i++)
        {
            float* x = part + (long)i * stride + xOffset, d = part + (long)i * stride + padLength + dyOffset;
            float* x1p = x + xStep, x2p = x + 2 * xStep, x3p = x + 3 * xStep, x4p = x + 4 * xStep;
            for (int q = 0; q < ld; q += Lanes)
            {
                var x0 = Vector512.Load(x + q); var x1 = Vector512.Load(x1p + q); var x2 = Vector512.Load(x2p + q);
                var x3 = Vector512.Load(x3p + q); var x4 = Vector512.Load(x4p + q);
                var d0 = Vector512.Load(d + q);
                a00 = Avx512F.FusedMultiplyAdd(d0, x0, a00); a01 = Avx512F.FusedMultiplyAdd(d0, x1, a01); a02 = Avx512F.FusedMultiplyAdd(d0, x2, a02);
                a03 = Avx512F.FusedMultiplyAdd(d0, x3, a03); a04 = Avx512F.FusedMultiplyAdd(d0, x4, a04);
                var d1 = Vector512.Load(d + ld + q);
                a10 = Avx512F.FusedMultiplyAdd(d1, x0, a10); a11 = Avx512F.FusedMultiplyAdd(d1, x1, a11); a12 = Avx512F.FusedMultiplyAdd(d1, x2, a12);
                a13 = Avx512F.FusedMultiplyAdd(d1, x3, a13); a14 = Avx512F.FusedMultiplyAdd(d1, x4, a14);
                var d2 = Vector512.Load(d + 2 * ld + q);
                a20 = Avx512F.FusedMultiplyAdd(d2, x0, a20); a21 = Avx512F.FusedMultiplyAdd(d2, x1, a21); a22 = Avx512F.FusedMultiplyAdd(d2, x2, a22);
                a23 = Avx512F.FusedMultiplyAdd(d2, x3, a23); a24 = Avx512F.FusedMultiplyAdd(d2, x4, a24);
                var d3 = Vector512.Load(d + 3 * ld + q);
                a30 = Avx512F.FusedMultiplyAdd(d3, x0, a30); a31 = Avx512F.FusedMultiplyAdd(d3, x1, a31); a32 = Avx512F.FusedMultiplyAdd(d3, x2, a32);
                a33 = Avx512F.FusedMultiplyAdd(d3, x3, a33); a34 = Avx512F.FusedMultiplyAdd(d3, x4, a34);
            }
        }
        AddSums(dst, a00, a01, a02, a03, a04); dst += taps;
        AddSums(dst, a10, a11, a12, a13, a14); dst += taps;
        AddSums(dst, a20, a21, a22, a23, a24); dst += taps;
        AddSums(dst, a30, a31, a32, a33, a34);
    }

    /// <summary>As <see cref="WeightRow5"/> for 8 output channels and kx &lt; 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightRow3(float* part, int images, int stride, int padLength, int xOffset, int dyOffset, int ld, float* dst, int taps)
    {
        Vector512<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a50 = default, a51 = default, a52 = default;
        Vector512<float> a60 = default, a61 = default, a62 = default, a70 = default, a71 = default, a72 = default;
        for (int i = 0; i < images; i++)
        {
            float* x = part + (long)i * stride + xOffset, d = part + (long)i * stride + padLength + dyOffset;
            for (int q = 0; q < ld; q += Lanes)
            {
                var x0 = Vector512.Load(x + q); var x1 = Vector512.Load(x + q + 1); var x2 = Vector512.Load(x + q + 2);
                var dv = Vector512.Load(d + q);
                a00 = Avx512F.FusedMultiplyAdd(dv, x0, a00); a01 = Avx512F.FusedMultiplyAdd(dv, x1, a01); a02 = Avx512F.FusedMultiplyAdd(dv, x2, a02);
                dv = Vector512.Load(d + ld + q);
                a10 = Avx512F.FusedMultiplyAdd(dv, x0, a10); a11 = Avx512F.FusedMultiplyAdd(dv, x1, a11); a12 = Avx512F.FusedMultiplyAdd(dv, x2, a12);
                dv = Vector512.Load(d + 2 * ld + q);
                a20 = Avx512F.FusedMultiplyAdd(dv, x0, a20); a21 = Avx512F.FusedMultiplyAdd(dv, x1, a21); a22 = Avx512F.FusedMultiplyAdd(dv, x2, a22);
                dv = Vector512.Load(d + 3 * ld + q);
                a30 = Avx512F.FusedMultiplyAdd(dv, x0, a30); a31 = Avx512F.FusedMultiplyAdd(dv, x1, a31); a32 = Avx512F.FusedMultiplyAdd(dv, x2, a32);
                dv = Vector512.Load(d + 4 * ld + q);
                a40 = Avx512F.FusedMultiplyAdd(dv, x0, a40); a41 = Avx512F.FusedMultiplyAdd(dv, x1, a41); a42 = Avx512F.FusedMultiplyAdd(dv, x2, a42);
                dv = Vector512.Load(d + 5 * ld + q);
                a50 = Avx512F.FusedMultiplyAdd(dv, x0, a50); a51 = Avx512F.FusedMultiplyAdd(dv, x1, a51); a52 = Avx512F.FusedMultiplyAdd(dv, x2, a52);
                dv = Vector512.Load(d + 6 * ld + q);
                a60 = Avx512F.FusedMultiplyAdd(dv, x0, a60); a61 = Avx512F.FusedMultiplyAdd(dv, x1, a61); a62 = Avx512F.FusedMultiplyAdd(dv, x2, a62);
                dv = Vector512.Load(d + 7 * ld + q);
                a70 = Avx512F.FusedMultiplyAdd(dv, x0, a70); a71 = Avx512F.FusedMultiplyAdd(dv, x1, a71); a72 = Avx512F.FusedMultiplyAdd(dv, x2, a72);
            }
        }
        AddSums(dst, a00, a01, a02); dst += taps;
        AddSums(dst, a10, a11, a12); dst += taps;
        AddSums(dst, a20, a21, a22); dst += taps;
        AddSums(dst, a30, a31, a32); dst += taps;
        AddSums(dst, a40, a41, a42); dst += taps;
        AddSums(dst, a50, a51, a52); dst += taps;
        AddSums(dst, a60, a61, a62); dst += taps;
        AddSums(dst, a70, a71, a72);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSums(float* dst, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2)
    {
        dst[0] += Vector512.Sum(v0); dst[1] += Vector512.Sum(v1); dst[2] += Vector512.Sum(v2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSums(float* dst, Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3, Vector512<float> v4)
    {
        dst[0] += Vector512.Sum(v0); dst[1] += Vector512.Sum(v1); dst[2] += Vector512.Sum(v2);
        dst[3] += Vector512.Sum(v3); dst[4] += Vector512.Sum(v4);
    }

    /// <summary>
    /// One call's arguments for the parallel loops, passed by value to static lambdas so that no closure is
    /// allocated per call.
    /// </summary>
    private struct Call
    {
        public ConvGeometry G;
        public Layout L;
        public float[] Input, Weight, Output, OutputGrad, WeightGrad, Workspace;
        public float[]? Bias, InputGrad;
        public int Parts;
    }
}
