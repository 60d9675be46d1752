// ConvolutionTaps: the batched convolution route when some kernel taps only ever read padding (tiny maps,
// e.g. a 3×3 pad-1 convolution on 1×1 maps); it unfolds and multiplies only the live taps.
// Reference: ConvolutionReference (direct loops).
using System.Numerics;
using DigitLab.Tensors;

namespace DigitLab.Kernels;

/// <summary>
/// Tap reduction for <see cref="Convolution"/>'s batched route. A tap (ky, kx) is <i>live</i> when it reads
/// inside the image for at least one output position, i.e. ky is live for some output row and kx for some output
/// column, so the live taps are the product LiveY × LiveX. A dead tap's im2col rows are all zeros: the forward
/// GEMM would spend K·K/T of its work on them (T live taps), and its weights get exactly zero gradient. Here the
/// columns hold only the C·T live rows (row c·T + t for channel c and the t-th live tap in row-major order), the
/// weight is compacted to W' (O, C·T) on every call (the weights change between steps), the weight gradient is
/// computed for the live columns only and added into the full (O, C, K, K) gradient, and the input gradient
/// goes through W' and a fold over the live taps.
/// </summary>
/// <remarks>
/// Workspace (see <see cref="WorkspaceLength"/>): the group's columns (C·T, G·OH·OW), its GEMM result or gathered
/// output gradient (O, G·OH·OW), then W' (O, C·T) and the live part of the weight gradient (O, C·T). The group
/// size is <see cref="Convolution.GroupSize"/>'s. Every reduction runs in a fixed order: results are bit-identical
/// for the same <see cref="Threading.Threads"/>.
/// </remarks>
internal static class ConvolutionTaps
{
    /// <summary>
    /// Whether <paramref name="g"/> goes through tap reduction: the batched route, some taps dead but not all (with
    /// none live the output is the bias alone, which the full route already gives), and K ≤ 31 for the tap masks.
    /// </summary>
    public static bool Applies(in ConvGeometry g)
    {
        if (Convolution.ByImage(g) || g.Kernel > 31) return false;
        int live = LiveCount(g);
        return live > 0 && live < g.Kernel * g.Kernel;
    }

    /// <summary>Number of live taps T.</summary>
    public static int LiveCount(in ConvGeometry g) =>
        BitOperations.PopCount(LiveMask(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight))
        * BitOperations.PopCount(LiveMask(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth));

    /// <summary>Bit k set when kernel offset k reads inside [0, size) for some output position o·S − P + k, o &lt; outSize.</summary>
    private static uint LiveMask(int kernel, int stride, int padding, int size, int outSize)
    {
        uint mask = 0;
        for (int k = 0; k < kernel; k++)
            for (int o = 0; o < outSize; o++)
            {
                int i = o * stride - padding + k;
                if (i >= 0 && i < size) { mask |= 1u << k; break; }
            }
        return mask;
    }

    /// <summary>Floats of workspace: the group's columns and GEMM result, then W' and the live weight gradient.</summary>
    public static int WorkspaceLength(in ConvGeometry g)
    {
        long rows = (long)g.InChannels * LiveCount(g);
        long length = (long)Convolution.GroupSize(g) * g.OutPlane * (rows + g.OutChannels) + 2 * g.OutChannels * rows;
        return checked((int)length);
    }

    /// <summary>
    /// output (N, O, OH, OW) = conv(input, weight) + bias, as <see cref="Convolution.Forward"/>. Returns true when the
    /// workspace still holds the live columns of the whole batch, for <see cref="Backward"/>.
    /// </summary>
    public static bool Forward(in ConvGeometry g, float[] input, float[] weight, float[]? bias, float[] output, float[] workspace)
    {
        var a = Prepare(g, input, weight, workspace);
        a.Bias = bias;
        a.Output = output;
        int group = Convolution.GroupSize(g), plane = g.OutPlane, o = g.OutChannels, rows = a.Rows;
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first), ld = count * plane;
            a.Start = first;
            a.Ld = ld;
            Threading.For(count, 1, a, static (c, s, e) =>
            {
                for (int i = s; i < e; i++) UnfoldLive(c, c.Start + i, c.Workspace.AsSpan(i * c.G.OutPlane));
            });
            // (O, G·OH·OW) = W' (O, C·T) · columns (C·T, G·OH·OW)
            Gemm.Multiply(false, false, o, ld, rows, workspace.AsSpan(a.WeightOffset, o * rows), rows, workspace, ld,
                workspace.AsSpan(rows * ld, o * ld), ld, accumulate: false);
            Threading.For(count, 1, a, static (c, s, e) =>
            {
                int plane = c.G.OutPlane, o = c.G.OutChannels, ld = c.Ld;
                for (int i = s; i < e; i++)
                    for (int ch = 0; ch < o; ch++)
                    {
                        var dst = c.Output.AsSpan(((c.Start + i) * o + ch) * plane, plane);
                        c.Workspace.AsSpan(c.Rows * ld + ch * ld + i * plane, plane).CopyTo(dst);
                        if (c.Bias is not null) System.Numerics.Tensors.TensorPrimitives.Add(dst, c.Bias[ch], dst);
                    }
            });
        }
        return group >= g.Batch;
    }

    /// <summary>
    /// weightGrad (O, C, K, K) += dL/dW (dead taps get nothing: their gradient is zero) and, when
    /// <paramref name="inputGrad"/> is given, overwrites it (N, C, H, W) with dL/dx. The bias gradient is the caller's.
    /// <paramref name="columnsReady"/>: the workspace holds the batch's live columns from <see cref="Forward"/>.
    /// </summary>
    public static void Backward(in ConvGeometry g, float[] input, float[] weight, float[] outputGrad,
        float[]? inputGrad, float[] weightGrad, float[] workspace, bool columnsReady)
    {
        var a = Prepare(g, input, weight, workspace);
        a.OutputGrad = outputGrad;
        a.InputGrad = inputGrad;
        a.WeightGrad = weightGrad;
        int group = Convolution.GroupSize(g), plane = g.OutPlane, o = g.OutChannels, rows = a.Rows;
        var compactWeight = workspace.AsSpan(a.WeightOffset, o * rows);
        var liveGrad = workspace.AsSpan(a.WeightOffset + o * rows, o * rows);
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first), ld = count * plane;
            a.Start = first;
            a.Ld = ld;
            // Gather dY of the group into (O, G·OH·OW), the layout of the columns, and unfold unless Forward left them.
            Threading.For(count, 1, (a, columnsReady && count == g.Batch), static (state, s, e) =>
            {
                var (c, ready) = state;
                int plane = c.G.OutPlane, o = c.G.OutChannels, ld = c.Ld;
                for (int i = s; i < e; i++)
                {
                    if (!ready) UnfoldLive(c, c.Start + i, c.Workspace.AsSpan(i * plane));
                    for (int ch = 0; ch < o; ch++)
                        c.OutputGrad.AsSpan(((c.Start + i) * o + ch) * plane, plane).CopyTo(c.Workspace.AsSpan(c.Rows * ld + ch * ld + i * plane, plane));
                }
            });
            var gathered = workspace.AsSpan(rows * ld, o * ld);
            // dW' (O, C·T) = dY (O, G·OH·OW) · columnsᵀ (G·OH·OW, C·T), then added into the live taps of dW.
            Gemm.Multiply(false, true, o, rows, ld, gathered, ld, workspace, ld, liveGrad, rows, accumulate: false);
            Threading.For(o, 16, a, static (c, s, e) => ScatterAddLive(c, s, e));
            if (inputGrad is null) continue;
            // dColumns (C·T, G·OH·OW) = W'ᵀ (C·T, O) · dY (O, G·OH·OW), written over the columns, then folded.
            Gemm.Multiply(true, false, rows, ld, o, compactWeight, rows, gathered, ld, workspace.AsSpan(0, rows * ld), ld, accumulate: false);
            Threading.For(count, 1, a, static (c, s, e) =>
            {
                for (int i = s; i < e; i++) FoldLive(c, c.Workspace.AsSpan(i * c.G.OutPlane), c.Start + i);
            });
        }
    }

    /// <summary>The live-tap masks, the call's arguments, and W' (O, C·T) copied from the weight into the workspace.</summary>
    private static Args Prepare(in ConvGeometry g, float[] input, float[] weight, float[] workspace)
    {
        if (!Applies(g)) throw new ArgumentException($"Tap reduction needs a batched geometry with some but not all taps dead; {g} has {LiveCount(g)} live of {g.Kernel * g.Kernel}.");
        if (weight.Length < g.WeightLength) throw new ArgumentException($"Convolution weight has {weight.Length} floats, needs {g.WeightLength} for {g}.");
        if (workspace.Length < WorkspaceLength(g))
            throw new ArgumentException($"Convolution workspace has {workspace.Length} floats, needs {WorkspaceLength(g)} (see Convolution.WorkspaceLength).");
        var a = new Args
        {
            G = g, Input = input, Weight = weight, Workspace = workspace,
            MaskY = LiveMask(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight),
            MaskX = LiveMask(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth),
        };
        a.Taps = BitOperations.PopCount(a.MaskY) * BitOperations.PopCount(a.MaskX);
        a.Rows = g.InChannels * a.Taps;
        a.WeightOffset = checked(Convolution.GroupSize(g) * g.OutPlane * (a.Rows + g.OutChannels));
        Threading.For(g.OutChannels, 16, a, static (c, s, e) => CompactWeight(c, s, e));
        return a;
    }

    /// <summary>
    /// Fills <paramref name="offsets"/> with ky·K + kx of the live taps in row-major order (the offset of each within
    /// a channel's K·K block) and returns T.
    /// </summary>
    private static int LiveOffsets(in Args a, Span<int> offsets)
    {
        int t = 0, k = a.G.Kernel;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                if ((a.MaskY >> ky & 1) != 0 && (a.MaskX >> kx & 1) != 0) offsets[t++] = ky * k + kx;
        return t;
    }

    /// <summary>W'[o, c·T + t] = weight[o, c, ky, kx] for output channels [first, last), t the live tap (ky, kx).</summary>
    private static void CompactWeight(in Args c, int first, int last)
    {
        Span<int> offsets = stackalloc int[c.G.Kernel * c.G.Kernel];
        int taps = LiveOffsets(c, offsets), kk = c.G.Kernel * c.G.Kernel, full = c.G.ColumnRows, channels = c.G.InChannels;
        for (int o = first; o < last; o++)
        {
            var src = c.Weight.AsSpan(o * full, full);
            var dst = c.Workspace.AsSpan(c.WeightOffset + o * c.Rows, c.Rows);
            for (int t = 0; t < taps; t++)
            {
                int at = offsets[t];
                for (int ch = 0; ch < channels; ch++) dst[ch * taps + t] = src[ch * kk + at];
            }
        }
    }

    /// <summary>weightGrad[o, c, ky, kx] += dW'[o, c·T + t] for output channels [first, last), t the live tap (ky, kx).</summary>
    private static void ScatterAddLive(in Args c, int first, int last)
    {
        Span<int> offsets = stackalloc int[c.G.Kernel * c.G.Kernel];
        int taps = LiveOffsets(c, offsets), kk = c.G.Kernel * c.G.Kernel, full = c.G.ColumnRows, channels = c.G.InChannels;
        int liveOffset = c.WeightOffset + c.G.OutChannels * c.Rows;
        for (int o = first; o < last; o++)
        {
            var dst = c.WeightGrad.AsSpan(o * full, full);
            var src = c.Workspace.AsSpan(liveOffset + o * c.Rows, c.Rows);
            for (int t = 0; t < taps; t++)
            {
                int at = offsets[t];
                for (int ch = 0; ch < channels; ch++) dst[ch * kk + at] += src[ch * taps + t];
            }
        }
    }

    /// <summary>
    /// Live im2col of image <paramref name="image"/> into <paramref name="columns"/> (C·T rows, stride Ld): row c·T + t,
    /// column (oh, ow) holds x[c, oh·S − P + ky, ow·S − P + kx] for the t-th live tap (ky, kx), 0 outside the image.
    /// </summary>
    private static void UnfoldLive(in Args a, int image, Span<float> columns)
    {
        var g = a.G;
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, s = g.Stride, pad = g.Padding, inPlane = g.InPlane;
        var x = a.Input.AsSpan(image * g.InChannels * inPlane, g.InChannels * inPlane);
        Span<int> offsets = stackalloc int[g.Kernel * g.Kernel];
        int taps = LiveOffsets(a, offsets);
        if (oh * ow == 1)
        {
            // One output position (e.g. 1×1 maps): each live row holds a single value, and a live tap reads inside the image.
            for (int t = 0; t < taps; t++)
            {
                int iy = offsets[t] / g.Kernel - pad, ix = offsets[t] % g.Kernel - pad;
                int at = iy * w + ix; // live with one output position means inside the image
                for (int ch = 0; ch < g.InChannels; ch++) columns[(ch * taps + t) * a.Ld] = x[ch * inPlane + at];
            }
            return;
        }
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            var plane = x.Slice(ch * inPlane, inPlane);
            for (int t = 0; t < taps; t++)
            {
                int ky = offsets[t] / g.Kernel, kx = offsets[t] % g.Kernel;
                var dst = columns.Slice((ch * taps + t) * a.Ld, oh * ow);
                for (int y = 0; y < oh; y++)
                {
                    int iy = y * s - pad + ky;
                    bool rowInside = (uint)iy < (uint)h;
                    for (int xo = 0; xo < ow; xo++)
                    {
                        int ix = xo * s - pad + kx;
                        dst[y * ow + xo] = rowInside && (uint)ix < (uint)w ? plane[iy * w + ix] : 0f;
                    }
                }
            }
        }
    }

    /// <summary>The adjoint of <see cref="UnfoldLive"/>: overwrites image <paramref name="image"/> of the input gradient (C, H, W).</summary>
    private static void FoldLive(in Args a, ReadOnlySpan<float> columns, int image)
    {
        var g = a.G;
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, s = g.Stride, pad = g.Padding, inPlane = g.InPlane;
        var dx = a.InputGrad!.AsSpan(image * g.InChannels * inPlane, g.InChannels * inPlane);
        dx.Clear();
        Span<int> offsets = stackalloc int[g.Kernel * g.Kernel];
        int taps = LiveOffsets(a, offsets);
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            var plane = dx.Slice(ch * inPlane, inPlane);
            for (int t = 0; t < taps; t++)
            {
                int ky = offsets[t] / g.Kernel, kx = offsets[t] % g.Kernel;
                var src = columns.Slice((ch * taps + t) * a.Ld, oh * ow);
                for (int y = 0; y < oh; y++)
                {
                    int iy = y * s - pad + ky;
                    if ((uint)iy >= (uint)h) continue;
                    for (int xo = 0; xo < ow; xo++)
                    {
                        int ix = xo * s - pad + kx;
                        if ((uint)ix < (uint)w) plane[iy * w + ix] += src[y * ow + xo];
                    }
                }
            }
        }
    }

    /// <summary>
    /// One call's arguments, passed by value to static lambdas (no closure per call). MaskY/MaskX: live kernel rows
    /// and columns; Taps: T; Rows: C·T; WeightOffset: where W' starts in the workspace (the live weight gradient follows);
    /// Start: first image of the group; Ld: the group's column count G·OH·OW.
    /// </summary>
    private struct Args
    {
        public ConvGeometry G;
        public float[] Input, Weight, Workspace, Output, OutputGrad, WeightGrad;
        public float[]? Bias, InputGrad;
        public uint MaskY, MaskX;
        public int Taps, Rows, WeightOffset, Start, Ld;
    }
}
