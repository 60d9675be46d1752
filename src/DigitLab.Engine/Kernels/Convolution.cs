// Convolution: 2-D convolution forward and both backward passes over a batch: the direct routes where they apply, else im2col + Gemm.
// Reference: ConvolutionReference (direct loops).
using System.Runtime.Intrinsics;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Batched 2-D convolution (PyTorch's cross-correlation). Stride-1 layers on large planes go to
/// <see cref="DirectConvolution"/> and small planes with output channels in 32s to <see cref="ChannelLaneConvolution"/>
/// (each direction on its own: a pass those cannot do falls back here). The rest runs on the GEMM, by one of
/// two routes chosen by the output plane size:
/// <list type="bullet">
/// <item><b>By image</b> (OH·OW ≥ <see cref="MinImagePlane"/>, the large early layers): the batch is split
/// into one contiguous run of images per thread; each thread unfolds a few images at a time into its own
/// slice of the workspace, small enough to stay in its core's L2 cache, and runs a single-threaded GEMM on
/// them straight into the output. The columns never travel to memory, and the weight gradient is summed
/// per thread, then added in thread order.</item>
/// <item>When C·K·K is small (the first layer: one input channel) the forward pass skips the GEMM and
/// computes each output vector directly from the columns (<see cref="ShallowForward"/>), which is faster there.</item>
/// <item><b>Batched</b> (small feature maps, deep layers): images are processed in groups of G whose
/// im2col matrices sit side by side in one (C·K·K, G·OH·OW) matrix, so one GEMM per group has
/// n = G·OH·OW (large even when the feature maps are 4×4) and the GEMM itself spreads over the threads;
/// its (O, G·OH·OW) result is scattered into (N, O, OH, OW) with the bias added. Small maps unfold and fold by
/// vector gathers and shifted loads (<see cref="Im2ColGather"/>). Where kernel taps only read padding (3×3 pad 1 on
/// 1×1 maps, or on 2×2 maps for large batches), <see cref="ConvolutionTaps"/> leaves them out.</item>
/// </list>
/// </summary>
/// <remarks>
/// Arrays rather than spans because the per-image work runs on several threads. Each image's
/// result is written by exactly one thread and every reduction runs in a fixed order, so results
/// are bit-identical for the same <see cref="ComputeContext.Threads"/>. The caller owns the workspace
/// (see <see cref="WorkspaceLength"/>, which depends on the thread count); the kernels keep no state.
/// </remarks>
public static class Convolution
{
    /// <summary>
    /// Largest im2col of a whole batch that the batched route unfolds as one group, in floats (16 MiB): the columns
    /// then stay in the workspace and the backward pass reuses them instead of unfolding again (a training batch).
    /// </summary>
    internal const int ColumnBudget = 1 << 22;

    /// <summary>
    /// Largest im2col group of the batched route when the batch exceeds <see cref="ColumnBudget"/> (inference on
    /// large batches), in floats (4 MiB): the columns are read back by the GEMM while still in the caches. With
    /// 16 MiB groups, resnet18's layer1 and layer2 ran a third slower on batches of 1000.
    /// </summary>
    internal const int StreamBudget = 1 << 20;

    /// <summary>
    /// Columns plus GEMM result of one thread's group on the by-image route, in floats (1 MiB): about what
    /// one core's L2 cache holds, so unfolding, multiplying and scattering a group never leaves it.
    /// </summary>
    private const int ImageBudget = 1 << 18;

    /// <summary>Smallest output plane (OH·OW) that takes the by-image route; below it a thread's GEMMs would be too narrow.</summary>
    public const int MinImagePlane = 64;

    private static bool Direct(ComputeContext compute, in ConvGeometry g) => compute.DirectConvolution && DirectConvolution.SupportsForward(g);
    private static bool DirectBackward(ComputeContext compute, in ConvGeometry g, bool inputGradient) => compute.DirectConvolution && DirectConvolution.SupportsBackward(g, inputGradient);
    private static bool Lanes(ComputeContext compute, in ConvGeometry g) =>
        compute.DirectConvolution && ChannelLaneConvolution.SupportsForward(g) && !SinglePositionTaps(g);
    private static bool LanesBackward(ComputeContext compute, in ConvGeometry g, bool inputGradient) =>
        compute.DirectConvolution && ChannelLaneConvolution.SupportsBackward(g, inputGradient) && !SinglePositionTaps(g);

    /// <summary>
    /// A 1×1 output map whose kernel reads padding with some taps (resnet18's layer4: 3×3 pad 1 on 1×1 maps, the centre
    /// tap alone, and 2×2 → 1×1 at stride 2, four taps of nine): one GEMM over the live taps (<see cref="ConvolutionTaps"/>)
    /// beats the channel-lane tiles, which walk every tap's weights. One thread, batch 64, 512 channels
    /// (scratch timing of both routes, alternated): the 1×1 map's forward 0.76 against 1.03-1.24 ms, backward 1.68
    /// against 1.95-2.37; 2×2 → 1×1 1.23 against 1.57-1.65 and 2.65 against 3.26-3.30.
    /// </summary>
    internal static bool SinglePositionTaps(in ConvGeometry g) => g.OutPlane == 1 && ConvolutionTaps.Applies(g);

    /// <summary>
    /// Whether a layer's forward pass runs on <see cref="WinogradConvolution"/> (F(2×2, 3×3) or F(2×2, 5×5)) with weights
    /// transformed by its caller (<see cref="Nn.Conv2d"/> keeps the plan): 3×3 or 5×5 at stride 1, at least 8 input and 16
    /// output channels, output planes of 8×8 or more, AVX-512 (the prepared model's rule, without its batch condition), and
    /// at least 1.5 times fewer multiply-adds than the direct route's live taps. <see cref="Nn.Conv2d"/> asks it for the
    /// forward pass and for the input gradient as a layer of its own (dY padded by K − 1 − P, kernels turned): net3's
    /// 32 → 32 input gradient (24×24 from 20×20) passes at 1.9×, its 32 → 64 one (10×10 from 6×6 padded by 4, mostly
    /// padding) at 1.0× does not (`bench train --models net3 --profile`: that layer's backward 4.9 → 6.4 cpu ms per step on
    /// Winograd before this rule).
    /// </summary>
    public static bool Winograd(ComputeContext compute, in ConvGeometry g) =>
        WinogradConvolution.Fast && compute.DirectConvolution && WinogradConvolution.Supports(g)
        && g.InChannels >= 8 && g.OutChannels >= PackedConvolution.Lanes && g.OutPlane >= MinImagePlane
        && 2 * LiveTaps(g.OutHeight, g.Height, g.Kernel, g.Padding) * LiveTaps(g.OutWidth, g.Width, g.Kernel, g.Padding)
           >= 3L * ((g.OutHeight + 1) / 2 * (g.Kernel + 1)) * ((g.OutWidth + 1) / 2 * (g.Kernel + 1));

    /// <summary>Along one axis of a stride-1 layer, the (output position, kernel tap) pairs that read inside the input.</summary>
    private static long LiveTaps(int outSize, int inSize, int kernel, int padding)
    {
        long live = 0;
        for (int o = 0; o < outSize; o++) live += Math.Min(kernel, inSize + padding - o) - Math.Max(0, padding - o);
        return live;
    }

    /// <summary>Whether <paramref name="g"/> takes the by-image route (see the class summary).</summary>
    public static bool ByImage(in ConvGeometry g) => g.OutPlane >= MinImagePlane;

    /// <summary>Threads (runs of images) on the by-image route.</summary>
    private static int Parts(ComputeContext compute, in ConvGeometry g) => Math.Max(1, Math.Min(compute.Threads, g.Batch));

    /// <summary>
    /// Images per GEMM: on the by-image route as many as fit a thread's cache budget; on the batched route the whole
    /// batch when its columns fit <see cref="ColumnBudget"/>, else equal groups within <see cref="StreamBudget"/>; at least one.
    /// </summary>
    public static int GroupSize(in ConvGeometry g)
    {
        if (ByImage(g)) return Math.Clamp(ImageBudget / Math.Max(1, g.OutPlane * (g.ColumnRows + g.OutChannels)), 1, Math.Max(1, g.Batch));
        long perImage = Math.Max(1, (long)g.ColumnRows * g.OutPlane);
        if (perImage * g.Batch <= ColumnBudget) return Math.Max(1, g.Batch);
        // Groups of at most StreamBudget, as equal as possible (no short last group).
        int most = (int)Math.Clamp(StreamBudget / perImage, 1, g.Batch), groups = (g.Batch + most - 1) / most;
        return (g.Batch + groups - 1) / groups;
    }

    /// <summary>One thread's workspace on the by-image route: its group's columns and GEMM result, then its weight-gradient sum.</summary>
    private static int PartLength(in ConvGeometry g) =>
        checked(GroupSize(g) * g.OutPlane * (g.ColumnRows + g.OutChannels) + g.OutChannels * g.ColumnRows);

    /// <summary>
    /// Floats of workspace the three passes need at the current <see cref="ComputeContext.Threads"/>: per thread its
    /// group's columns, GEMM result and weight-gradient sum (by image), or the group's columns then its
    /// (O, G·OH·OW) GEMM result (batched).
    /// </summary>
    public static int WorkspaceLength(ComputeContext compute, in ConvGeometry g)
    {
        // A direct route that takes both passes (whether or not the input gradient is wanted) needs only its own
        // workspace; where a pass may fall back to im2col + GEMM, the larger of the two (the GEMM routes' columns take
        // up to ColumnBudget floats, 16 MiB, per layer).
        int gemm = ByImage(g) ? checked(Parts(compute, g) * PartLength(g)) : BatchedWorkspaceLength(g);
        if (Direct(compute, g) || DirectBackward(compute, g, inputGradient: false))
            return Direct(compute, g) && DirectBackward(compute, g, inputGradient: true) ? DirectConvolution.WorkspaceLength(compute, g)
                : Math.Max(DirectConvolution.WorkspaceLength(compute, g), gemm);
        if (Lanes(compute, g))
            return LanesBackward(compute, g, inputGradient: true) ? ChannelLaneConvolution.WorkspaceLength(g)
                : Math.Max(ChannelLaneConvolution.WorkspaceLength(g), gemm);
        return gemm;
    }

    /// <summary>The batched route's workspace: the group's columns, then its (O, G·OH·OW) GEMM result.</summary>
    private static int BatchedWorkspaceLength(in ConvGeometry g)
    {
        long group = GroupSize(g);
        long length = group * g.OutPlane * ((long)g.ColumnRows + g.OutChannels);
        if (ConvolutionTaps.Applies(g)) length = Math.Max(length, ConvolutionTaps.WorkspaceLength(g));
        return checked((int)length);
    }

    /// <summary>
    /// output (N, O, OH, OW) = conv(input (N, C, H, W), weight (O, C, K, K)) + bias (O).
    /// Returns true when the workspace still holds the im2col of the whole batch (one group), which
    /// <see cref="Backward"/> can then reuse instead of unfolding again.
    /// </summary>
    public static bool Forward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[]? bias, float[] output, float[] workspace)
    {
        if (Direct(compute, g))
        {
            DirectConvolution.Forward(compute, g, input, weight, bias, output, workspace);
            return false;
        }
        if (Lanes(compute, g))
        {
            ChannelLaneConvolution.Forward(compute, g, input, weight, bias, output, workspace);
            return false;
        }
        Check(compute, g, input, output, workspace);
        if (ByImage(g))
        {
            int partLength = PartLength(g), parts = Math.Min(Parts(compute, g), workspace.Length / partLength);
            var call = new Call { Compute = compute, G = g, Input = input, Weight = weight, Bias = bias, Output = output, Workspace = workspace,
                Parts = parts, PartLength = partLength };
            compute.For(parts, 1, call, static (c, ps, pe) =>
            {
                for (int p = ps; p < pe; p++)
                    ForwardImages(c.Compute, c.G, c.G.Batch * p / c.Parts, c.G.Batch * (p + 1) / c.Parts, c.Input, c.Weight, c.Bias, c.Output,
                        c.Workspace.AsSpan(p * c.PartLength, c.PartLength));
            });
            return false;
        }
        // Tiny maps where some kernel taps only ever read padding: unfold and multiply the live taps alone.
        if (ConvolutionTaps.Applies(g)) return ConvolutionTaps.Forward(compute, g, input, weight, bias, output, workspace);
        int group = GroupSize(g), plane = g.OutPlane, rows = g.ColumnRows, o = g.OutChannels;
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first), ld = count * plane;
            int start = first;
            Unfold(compute, g, input, start, count, workspace);
            var call = new Call { Compute = compute, G = g, Weight = weight, Bias = bias, Output = output, Workspace = workspace, Start = start, Ld = ld };
            if (rows <= ShallowRows)
            {
                // Few column rows (a first layer: C = 1, K ≤ 5): each output vector is a short sum
                // over rows, kept in a register and stored once; no GEMM packing, no scatter.
                compute.For(count, 1, call, static (c, s, e) =>
                {
                    int plane = c.G.OutPlane, o = c.G.OutChannels;
                    for (int i = s; i < e; i++)
                        ShallowForward(c.Workspace.AsSpan(i * plane), c.Ld, c.G.ColumnRows, plane, c.Weight, c.Bias,
                            c.Output.AsSpan((c.Start + i) * o * plane, o * plane), o);
                });
                continue;
            }
            // (O, G·OH·OW) = W (O, C·K·K) · columns (C·K·K, G·OH·OW)
            Gemm.Multiply(compute, false, false, o, ld, rows, weight, rows, workspace, ld,
                workspace.AsSpan(rows * ld, o * ld), ld, accumulate: false);
            compute.For(count, 1, call, static (c, s, e) =>
            {
                int plane = c.G.OutPlane, o = c.G.OutChannels, rows = c.G.ColumnRows, ld = c.Ld;
                for (int i = s; i < e; i++)
                    for (int ch = 0; ch < o; ch++)
                    {
                        var dst = c.Output.AsSpan(((c.Start + i) * o + ch) * plane, plane);
                        c.Workspace.AsSpan(rows * ld + ch * ld + i * plane, plane).CopyTo(dst);
                        if (c.Bias is not null) Elementwise.Add(dst, c.Bias[ch], dst);
                    }
            });
        }
        return group >= g.Batch;
    }

    /// <summary>
    /// weightGrad (O, C, K, K) += Σ_n dY_n · im2col(x_n)ᵀ and biasGrad (O) += Σ_{n,p} dY[n, o, p];
    /// then, when <paramref name="inputGrad"/> is given, overwrites it (N, C, H, W) with dL/dx.
    /// <paramref name="columnsReady"/>: the workspace holds the batch's im2col from <see cref="Forward"/>.
    /// </summary>
    public static void Backward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[] outputGrad,
        float[]? inputGrad, float[] weightGrad, float[]? biasGrad, float[] workspace, bool columnsReady)
    {
        if (DirectBackward(compute, g, inputGrad is not null))
        {
            DirectConvolution.Backward(compute, g, input, weight, outputGrad, inputGrad, weightGrad, biasGrad, workspace);
            return;
        }
        if (LanesBackward(compute, g, inputGrad is not null))
        {
            ChannelLaneConvolution.Backward(compute, g, input, weight, outputGrad, inputGrad, weightGrad, biasGrad, workspace);
            return;
        }
        Check(compute, g, input, outputGrad, workspace);
        int group = GroupSize(g), plane = g.OutPlane, rows = g.ColumnRows, o = g.OutChannels;
        if (biasGrad is not null) Bias.AccumulateChannelSums(compute, outputGrad, g.Batch, o, plane, biasGrad);
        if (ByImage(g))
        {
            int partLength = PartLength(g), parts = Math.Min(Parts(compute, g), workspace.Length / partLength), sumOffset = partLength - o * rows;
            var call = new Call { Compute = compute, G = g, Input = input, Weight = weight, OutputGrad = outputGrad, InputGrad = inputGrad,
                WeightGrad = weightGrad, Workspace = workspace, Parts = parts, PartLength = partLength, SumOffset = sumOffset };
            compute.For(parts, 1, call, static (c, ps, pe) =>
            {
                int length = c.G.OutChannels * c.G.ColumnRows;
                for (int p = ps; p < pe; p++)
                {
                    var part = c.Workspace.AsSpan(p * c.PartLength, c.PartLength);
                    // Thread 0 adds into the gradient itself; the others into their own sums, added below in order.
                    var sum = p == 0 ? c.WeightGrad.AsSpan(0, length) : part.Slice(c.SumOffset, length);
                    if (p != 0) sum.Clear();
                    BackwardImages(c.Compute, c.G, c.G.Batch * p / c.Parts, c.G.Batch * (p + 1) / c.Parts, c.Input, c.Weight, c.OutputGrad,
                        c.InputGrad, sum, part);
                }
            });
            var total = weightGrad.AsSpan(0, o * rows);
            for (int p = 1; p < parts; p++)
                Elementwise.Add(total, workspace.AsSpan(p * partLength + sumOffset, o * rows), total);
            return;
        }
        if (ConvolutionTaps.Applies(g))
        {
            ConvolutionTaps.Backward(compute, g, input, weight, outputGrad, inputGrad, weightGrad, workspace, columnsReady);
            return;
        }
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first), ld = count * plane;
            int start = first;
            if (!(columnsReady && count == g.Batch)) Unfold(compute, g, input, start, count, workspace);
            var call = new Call { Compute = compute, G = g, OutputGrad = outputGrad, InputGrad = inputGrad, Workspace = workspace, Start = start, Ld = ld };
            // Gather dY of the group into (O, G·OH·OW), the layout the columns have.
            compute.For(count, 1, call, static (c, s, e) =>
            {
                int plane = c.G.OutPlane, o = c.G.OutChannels, rows = c.G.ColumnRows, ld = c.Ld;
                for (int i = s; i < e; i++)
                    for (int ch = 0; ch < o; ch++)
                        c.OutputGrad.AsSpan(((c.Start + i) * o + ch) * plane, plane).CopyTo(c.Workspace.AsSpan(rows * ld + ch * ld + i * plane, plane));
            });
            var gathered = workspace.AsSpan(rows * ld, o * ld);
            // dW (O, C·K·K) += dY (O, G·OH·OW) · columnsᵀ (G·OH·OW, C·K·K)
            Gemm.Multiply(compute, false, true, o, rows, ld, gathered, ld, workspace, ld, weightGrad, rows, accumulate: true);
            if (inputGrad is null) continue;
            // dColumns (C·K·K, G·OH·OW) = Wᵀ (C·K·K, O) · dY (O, G·OH·OW), written over the columns.
            Gemm.Multiply(compute, true, false, rows, ld, o, weight, rows, gathered, ld, workspace.AsSpan(0, rows * ld), ld, accumulate: false);
            compute.For(count, 1, call, static (c, s, e) => FoldBatched(c, s, e));
        }
    }

    /// <summary>Forward pass of images [first, last) on the calling thread, a cache-sized group at a time.</summary>
    private static void ForwardImages(ComputeContext compute, in ConvGeometry g, int first, int last, float[] input, float[] weight, float[]? bias,
        float[] output, Span<float> part)
    {
        int group = GroupSize(g), plane = g.OutPlane, rows = g.ColumnRows, o = g.OutChannels, inLength = g.InChannels * g.InPlane;
        for (int start = first; start < last; start += group)
        {
            int count = Math.Min(group, last - start), ld = count * plane;
            var columns = part.Slice(0, rows * ld);
            for (int i = 0; i < count; i++)
                Im2Col.Unfold(input.AsSpan((start + i) * inLength, inLength), g, columns.Slice(i * plane), ld);
            if (rows <= ShallowRows)
            {
                // A first layer (C·K·K ≤ 32): direct sums in registers beat a GEMM with so short a k.
                for (int i = 0; i < count; i++)
                    ShallowForward(columns.Slice(i * plane), ld, rows, plane, weight, bias, output.AsSpan((start + i) * o * plane, o * plane), o);
                continue;
            }
            if (count == 1)
            {
                // One image: its (O, OH·OW) result is its output block, so the GEMM writes there directly.
                var y = output.AsSpan(start * o * plane, o * plane);
                Gemm.Multiply(compute, false, false, o, plane, rows, weight, rows, columns, ld, y, plane, accumulate: false);
                if (bias is not null) Bias.AddToChannels(y, bias.AsSpan(0, o), plane);
                continue;
            }
            // (O, G·OH·OW) = W (O, C·K·K) · columns (C·K·K, G·OH·OW), then scattered per image with the bias.
            var result = part.Slice(rows * ld, o * ld);
            Gemm.Multiply(compute, false, false, o, ld, rows, weight, rows, columns, ld, result, ld, accumulate: false);
            for (int i = 0; i < count; i++)
                for (int ch = 0; ch < o; ch++)
                {
                    var dst = output.AsSpan(((start + i) * o + ch) * plane, plane);
                    result.Slice(ch * ld + i * plane, plane).CopyTo(dst);
                    if (bias is not null) Elementwise.Add(dst, bias[ch], dst);
                }
        }
    }

    /// <summary>
    /// Backward pass of images [first, last) on the calling thread: <paramref name="weightGradSum"/> += their weight
    /// gradient, and their input gradient when <paramref name="inputGrad"/> is given.
    /// </summary>
    private static void BackwardImages(ComputeContext compute, in ConvGeometry g, int first, int last, float[] input, float[] weight, float[] outputGrad,
        float[]? inputGrad, Span<float> weightGradSum, Span<float> part)
    {
        int group = GroupSize(g), plane = g.OutPlane, rows = g.ColumnRows, o = g.OutChannels, inLength = g.InChannels * g.InPlane;
        for (int start = first; start < last; start += group)
        {
            int count = Math.Min(group, last - start), ld = count * plane;
            var columns = part.Slice(0, rows * ld);
            for (int i = 0; i < count; i++)
                Im2Col.Unfold(input.AsSpan((start + i) * inLength, inLength), g, columns.Slice(i * plane), ld);
            // dY of the group as (O, G·OH·OW); one image's is already laid out so.
            Span<float> dy;
            if (count == 1) dy = outputGrad.AsSpan(start * o * plane, o * plane);
            else
            {
                dy = part.Slice(rows * ld, o * ld);
                for (int i = 0; i < count; i++)
                    for (int ch = 0; ch < o; ch++)
                        outputGrad.AsSpan(((start + i) * o + ch) * plane, plane).CopyTo(dy.Slice(ch * ld + i * plane, plane));
            }
            // dW (O, C·K·K) += dY (O, G·OH·OW) · columnsᵀ (G·OH·OW, C·K·K)
            Gemm.Multiply(compute, false, true, o, rows, ld, dy, ld, columns, ld, weightGradSum, rows, accumulate: true);
            if (inputGrad is null) continue;
            // dColumns (C·K·K, G·OH·OW) = Wᵀ (C·K·K, O) · dY (O, G·OH·OW), written over the columns, then folded.
            Gemm.Multiply(compute, true, false, rows, ld, o, weight, rows, dy, ld, columns, ld, accumulate: false);
            for (int i = 0; i < count; i++)
                Im2Col.Fold(columns.Slice(i * plane), ld, g, inputGrad.AsSpan((start + i) * inLength, inLength));
        }
    }

    /// <summary>Up to this many column rows (C·K·K) the direct path beats a GEMM whose k would be tiny.</summary>
    internal const int ShallowRows = 32;

    /// <summary>
    /// out (O, P) = W (O, R) · columns (R rows of P, stride <paramref name="ld"/>) + bias, one image,
    /// for small R: for each output channel and vector of P, the R products accumulate in a register.
    /// </summary>
    internal static void ShallowForward(ReadOnlySpan<float> columns, int ld, int rows, int plane,
        ReadOnlySpan<float> weight, float[]? bias, Span<float> output, int outChannels)
    {
        ref float col = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(columns);
        for (int o = 0; o < outChannels; o++)
        {
            var w = weight.Slice(o * rows, rows);
            float b = bias is null ? 0f : bias[o];
            var dst = output.Slice(o * plane, plane);
            ref float d = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dst);
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; j <= plane - Vector512<float>.Count; j += Vector512<float>.Count)
                {
                    var acc = Vector512.Create(b);
                    for (int r = 0; r < rows; r++)
                        acc = Vector512.FusedMultiplyAdd(Vector512.Create(w[r]), Vector512.LoadUnsafe(ref col, (nuint)(r * ld + j)), acc);
                    acc.StoreUnsafe(ref d, (nuint)j);
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j <= plane - Vector256<float>.Count; j += Vector256<float>.Count)
                {
                    var acc = Vector256.Create(b);
                    for (int r = 0; r < rows; r++)
                        acc = Vector256.FusedMultiplyAdd(Vector256.Create(w[r]), Vector256.LoadUnsafe(ref col, (nuint)(r * ld + j)), acc);
                    acc.StoreUnsafe(ref d, (nuint)j);
                }
            }
            for (; j < plane; j++)
            {
                float acc = b;
                for (int r = 0; r < rows; r++) acc = MathF.FusedMultiplyAdd(w[r], columns[r * ld + j], acc);
                dst[j] = acc;
            }
        }
    }

    /// <summary>Batched route: im2col of images [start, start + count) side by side into the workspace, by gathers on small maps.</summary>
    private static void Unfold(ComputeContext compute, in ConvGeometry g, float[] input, int start, int count, float[] workspace)
    {
        var call = new Call { Compute = compute, G = g, Input = input, Workspace = workspace, Start = start, Ld = count * g.OutPlane };
        compute.For(count, 1, call, static (c, s, e) => UnfoldBatched(c, s, e));
    }

    private static void UnfoldBatched(in Call c, int first, int last)
    {
        int inLength = c.G.InChannels * c.G.InPlane;
        if (Im2ColGather.Supports(c.G))
        {
            int length = Im2ColGather.TableLength(c.G);
            Span<int> unfold = stackalloc int[length];
            Im2ColGather.BuildTable(c.G, unfold);
            // Every image but this thread's last may overrun its rows: the next image, unfolded after it here, overwrites that.
            for (int i = first; i < last; i++)
                Im2ColGather.Unfold(c.Input.AsSpan((c.Start + i) * inLength, inLength), c.G, unfold, c.Workspace.AsSpan(i * c.G.OutPlane), c.Ld,
                    overrunRows: i < last - 1);
            return;
        }
        for (int i = first; i < last; i++)
            Im2Col.Unfold(c.Input.AsSpan((c.Start + i) * inLength, inLength), c.G, c.Workspace.AsSpan(i * c.G.OutPlane), c.Ld);
    }

    /// <summary>Batched route: the input gradient of images [first, last) of the group from its column gradients in the workspace.</summary>
    /// <remarks>
    /// Small "same" stride-1 maps fold by shifted vector loads (<see cref="Im2ColGather.Fold"/>); others by Im2Col.Fold
    /// (a gathered fold, reading each pixel's K·K entries from K·K rows, measured slower than its shifted adds).
    /// </remarks>
    private static void FoldBatched(in Call c, int first, int last)
    {
        int inLength = c.G.InChannels * c.G.InPlane;
        if (Im2ColGather.SupportsFold(c.G))
        {
            int length = Im2ColGather.TableLength(c.G);
            Span<int> unfold = stackalloc int[length], fold = stackalloc int[length];
            Im2ColGather.BuildTable(c.G, unfold);
            Im2ColGather.BuildFoldTable(c.G, unfold, fold);
            for (int i = first; i < last; i++)
                Im2ColGather.Fold(c.Workspace, i * c.G.OutPlane, c.Ld, c.G, fold, c.InputGrad!.AsSpan((c.Start + i) * inLength, inLength));
            return;
        }
        for (int i = first; i < last; i++)
            Im2Col.Fold(c.Workspace.AsSpan(i * c.G.OutPlane), c.Ld, c.G, c.InputGrad!.AsSpan((c.Start + i) * inLength, inLength));
    }

    /// <summary>
    /// One call's arguments for the parallel loops above, passed by value to static lambdas so that no closure is
    /// allocated per call (each loop sets the fields it reads). Start: first image of the group; Ld: the group's
    /// column count G·OH·OW; Parts/PartLength/SumOffset: the by-image route's per-thread workspace layout.
    /// </summary>
    private struct Call
    {
        public ComputeContext Compute;
        public ConvGeometry G;
        public float[] Input, Weight, Output, OutputGrad, WeightGrad, Workspace;
        public float[]? Bias, InputGrad;
        public int Parts, PartLength, SumOffset, Start, Ld;
    }

    private static void Check(ComputeContext compute, in ConvGeometry g, float[] input, float[] output, float[] workspace)
    {
        g.Validate();
        if (input.Length < g.InputLength || output.Length < g.OutputLength)
            throw new ArgumentException($"Convolution arrays too short for {g}: input {input.Length} (needs {g.InputLength}), output {output.Length} (needs {g.OutputLength}).");
        // By image, a workspace sized for fewer threads than now set is still enough: it runs fewer threads.
        int minimum = ByImage(g) ? PartLength(g) : WorkspaceLength(compute, g);
        if (workspace.Length < minimum)
            throw new ArgumentException($"Convolution workspace has {workspace.Length} floats, needs {WorkspaceLength(compute, g)} (see Convolution.WorkspaceLength).");
    }
}
