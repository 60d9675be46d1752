// ConvolutionTaps: the batched convolution route on maps so small that most kernel taps read padding (3×3 pad 1
// on 2×2 or 1×1 maps): it unfolds and multiplies only the taps that read the image, position class by class.
// Reference: ConvolutionReference (direct loops).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Tap reduction for <see cref="Convolution"/>'s batched route. At output position (oy, ox), tap (ky, kx) is <i>live</i>
/// when it reads inside the image; the live taps are LiveY(oy) × LiveX(ox). Output rows with the same LiveY and
/// columns with the same LiveX form a <i>class</i> of positions that share their live taps (a 1×1 map: one class
/// of one position, the centre tap; 2×2 maps under a 3×3 pad-1 kernel: four classes of one position, four taps each).
/// A dead tap's im2col entries are zeros: the full route spends K·K/T of its multiply on them. Here each class has its
/// own columns holding its C·T live rows (row c·T + t for channel c and its t-th live tap in row-major order) and
/// G·P columns (image-major, P positions per image), its own compacted weight W' (O, C·T) copied by every forward
/// pass (the weights change between steps) and reused by the backward pass that finds it still in the workspace,
/// its weight gradient computed for the live taps alone and added into the full (O, C, K, K) one (a dead tap's gradient is exactly zero), and its input gradient through W' and a fold over its
/// live taps, added class after class.
/// </summary>
/// <remarks>
/// Used where it pays (<see cref="Applies"/>). Workspace (see
/// <see cref="WorkspaceLength"/>): one class's columns (C·T, G·P) and GEMM result or gathered output gradient
/// (O, G·P), then W' and the live weight gradient (O, C·T), sized for the largest class, for groups of
/// <see cref="GroupSize"/> images. Every reduction runs in a fixed order (classes in order): results are
/// bit-identical for the same <see cref="ComputeContext.Threads"/>.
/// </remarks>
internal static class ConvolutionTaps
{
    /// <summary>
    /// Whether <paramref name="g"/> goes through tap reduction: the batched route, K ≤ 31 (the tap masks are bits),
    /// every output position reading the image at least once (otherwise the full route, which gives such positions
    /// the bias alone), and either one class with some tap dead, or several classes, at most half the full im2col's
    /// entries live and every class GEMM at least <see cref="MinClassColumns"/> wide.
    /// </summary>
    /// <remarks>
    /// With one class (1×1 maps) any dead tap is worth leaving out: the GEMM keeps its width. With several, each
    /// class's GEMM is only G·P columns wide, and under <see cref="MinClassColumns"/> the narrow GEMMs lose what the
    /// skipped taps save: such geometries (2×2 maps on a training batch of 64) keep the full route.
    /// </remarks>
    public static bool Applies(in ConvGeometry g)
    {
        if (Convolution.ByImage(g) || g.Kernel > 31) return false;
        long liveY = LiveSum(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight);
        long liveX = LiveSum(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth);
        long full = (long)g.OutPlane * g.Kernel * g.Kernel;
        if (liveY < 0 || liveX < 0) return false;
        if (ClassCount(g) == 1) return liveY * liveX < full;
        return 2 * liveY * liveX <= full && (long)GroupSize(g) * SmallestClass(g) >= MinClassColumns;
    }

    /// <summary>
    /// Narrowest class GEMM (G·P columns) worth splitting into classes for: a 256×64×1024 GEMM runs at about half the
    /// rate of a 256×256×2304 one, so four such classes (2×2 maps, batch 64) gain nothing over the full route.
    /// </summary>
    private const int MinClassColumns = 256;

    /// <summary>
    /// Images per group: the whole batch when its largest class's columns and result fit <see cref="Convolution.ColumnBudget"/>,
    /// else equal groups within <see cref="Convolution.StreamBudget"/> (as the full route, counted on the live rows).
    /// </summary>
    public static int GroupSize(in ConvGeometry g)
    {
        long perImage = Math.Max(1, LargestClass(g).ColumnsAndResult);
        if (perImage * g.Batch <= Convolution.ColumnBudget) return Math.Max(1, g.Batch);
        int most = (int)Math.Clamp(Convolution.StreamBudget / perImage, 1, g.Batch), groups = (g.Batch + most - 1) / most;
        return (g.Batch + groups - 1) / groups;
    }

    /// <summary>Fewest positions P of any class.</summary>
    private static int SmallestClass(in ConvGeometry g)
    {
        Span<uint> rowKinds = stackalloc uint[g.OutHeight], colKinds = stackalloc uint[g.OutWidth];
        Span<int> lines = stackalloc int[Math.Max(g.OutHeight, g.OutWidth)];
        int nr = Kinds(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, rowKinds);
        int nc = Kinds(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, colKinds);
        int fewest = int.MaxValue;
        for (int a = 0; a < nr; a++)
            for (int b = 0; b < nc; b++)
                fewest = Math.Min(fewest, Lines(rowKinds[a], g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, lines)
                    * Lines(colKinds[b], g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, lines));
        return fewest;
    }

    /// <summary>Live (position, tap) pairs over all output positions: Σ_p T(p).</summary>
    public static long LiveEntries(in ConvGeometry g) =>
        Math.Max(0, LiveSum(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight))
        * Math.Max(0, LiveSum(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth));

    /// <summary>Number of position classes (distinct LiveY times distinct LiveX).</summary>
    public static int ClassCount(in ConvGeometry g)
    {
        Span<uint> rows = stackalloc uint[g.OutHeight], cols = stackalloc uint[g.OutWidth];
        return Kinds(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, rows) * Kinds(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, cols);
    }

    /// <summary>Bit k set when kernel offset k reads inside [0, size) at output line o (o·S − P + k).</summary>
    private static uint LineMask(int kernel, int stride, int padding, int size, int o)
    {
        uint mask = 0;
        for (int k = 0; k < kernel; k++)
        {
            int i = o * stride - padding + k;
            if (i >= 0 && i < size) mask |= 1u << k;
        }
        return mask;
    }

    /// <summary>Σ over output lines of their live offsets, or −1 when some line has none.</summary>
    private static long LiveSum(int kernel, int stride, int padding, int size, int outSize)
    {
        long sum = 0;
        for (int o = 0; o < outSize; o++)
        {
            int live = BitOperations.PopCount(LineMask(kernel, stride, padding, size, o));
            if (live == 0) return -1;
            sum += live;
        }
        return sum;
    }

    /// <summary>The distinct line masks in order of first appearance; returns how many.</summary>
    private static int Kinds(int kernel, int stride, int padding, int size, int outSize, Span<uint> kinds)
    {
        int count = 0;
        for (int o = 0; o < outSize; o++)
        {
            uint mask = LineMask(kernel, stride, padding, size, o);
            if (!kinds[..count].Contains(mask)) kinds[count++] = mask;
        }
        return count;
    }

    /// <summary>The output lines whose mask is <paramref name="kind"/>, in order; returns how many.</summary>
    private static int Lines(uint kind, int kernel, int stride, int padding, int size, int outSize, Span<int> lines)
    {
        int count = 0;
        for (int o = 0; o < outSize; o++)
            if (LineMask(kernel, stride, padding, size, o) == kind) lines[count++] = o;
        return count;
    }

    /// <summary>Floats of workspace: the largest class's columns and GEMM result for a group, then W' and the live weight gradient.</summary>
    public static int WorkspaceLength(in ConvGeometry g)
    {
        var (columnsAndResult, weight) = LargestClass(g);
        return checked((int)((long)GroupSize(g) * columnsAndResult + 2 * weight));
    }

    /// <summary>Over the classes: the largest P·(C·T + O) (one image's columns and result) and O·C·T (W').</summary>
    private static (long ColumnsAndResult, long Weight) LargestClass(in ConvGeometry g)
    {
        Span<uint> rowKinds = stackalloc uint[g.OutHeight], colKinds = stackalloc uint[g.OutWidth];
        Span<int> lines = stackalloc int[Math.Max(g.OutHeight, g.OutWidth)];
        int nr = Kinds(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, rowKinds);
        int nc = Kinds(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, colKinds);
        long columnsAndResult = 0, weight = 0;
        for (int a = 0; a < nr; a++)
            for (int b = 0; b < nc; b++)
            {
                long positions = (long)Lines(rowKinds[a], g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, lines)
                    * Lines(colKinds[b], g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, lines);
                long rows = (long)g.InChannels * BitOperations.PopCount(rowKinds[a]) * BitOperations.PopCount(colKinds[b]);
                columnsAndResult = Math.Max(columnsAndResult, positions * (rows + g.OutChannels));
                weight = Math.Max(weight, g.OutChannels * rows);
            }
        return (columnsAndResult, weight);
    }

    /// <summary>
    /// output (N, O, OH, OW) = conv(input, weight) + bias, as <see cref="Convolution.Forward"/>. Returns true when the
    /// workspace still holds the live columns of the whole batch (one class, one group), for <see cref="Backward"/>.
    /// </summary>
    public static bool Forward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[]? bias, float[] output, float[] workspace)
    {
        var a = Start(g, input, weight, workspace);
        a.Bias = bias;
        a.Output = output;
        Span<uint> rowKinds = stackalloc uint[g.OutHeight], colKinds = stackalloc uint[g.OutWidth];
        int nr = Kinds(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, rowKinds);
        int nc = Kinds(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, colKinds);
        int group = GroupSize(g), o = g.OutChannels;
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first);
            a.Start = first;
            for (int ka = 0; ka < nr; ka++)
                for (int kb = 0; kb < nc; kb++)
                {
                    SetClass(compute, ref a, rowKinds[ka], colKinds[kb], count);
                    int rows = a.Rows, ld = a.Ld;
                    compute.For(count, 1, a, static (c, s, e) =>
                    {
                        for (int i = s; i < e; i++) UnfoldClass(c, i);
                    });
                    // (O, G·P) = W' (O, C·T) · columns (C·T, G·P)
                    Gemm.Multiply(compute, false, false, o, ld, rows, workspace.AsSpan(a.WeightOffset, o * rows), rows, workspace, ld,
                        workspace.AsSpan(rows * ld, o * ld), ld, accumulate: false);
                    compute.For(count, 1, a, static (c, s, e) =>
                    {
                        for (int i = s; i < e; i++) ScatterClass(c, i);
                    });
                }
        }
        return nr * nc == 1 && group >= g.Batch;
    }

    /// <summary>
    /// weightGrad (O, C, K, K) += dL/dW (dead taps get nothing: their gradient is zero) and, when
    /// <paramref name="inputGrad"/> is given, overwrites it (N, C, H, W) with dL/dx. The bias gradient is the caller's.
    /// <paramref name="columnsReady"/>: the workspace holds the batch's live columns and W' from <see cref="Forward"/>
    /// with these same weights (W' is then not copied again: on 1×1 maps the copy reads every cache line of the
    /// strided (O, C, K, K) weights, 9.4 MB for a 512 → 512 layer, for the 1 MB of live ones).
    /// </summary>
    public static void Backward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[] outputGrad,
        float[]? inputGrad, float[] weightGrad, float[] workspace, bool columnsReady)
    {
        var a = Start(g, input, weight, workspace);
        a.OutputGrad = outputGrad;
        a.InputGrad = inputGrad;
        a.WeightGrad = weightGrad;
        Span<uint> rowKinds = stackalloc uint[g.OutHeight], colKinds = stackalloc uint[g.OutWidth];
        int nr = Kinds(g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, rowKinds);
        int nc = Kinds(g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, colKinds);
        int group = GroupSize(g), o = g.OutChannels, inLength = g.InChannels * g.InPlane;
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first);
            a.Start = first;
            bool ready = columnsReady && nr * nc == 1 && count == g.Batch;
            // The classes' input gradients are added into the group's images.
            if (inputGrad is not null) inputGrad.AsSpan(first * inLength, count * inLength).Clear();
            for (int ka = 0; ka < nr; ka++)
                for (int kb = 0; kb < nc; kb++)
                {
                    SetClass(compute, ref a, rowKinds[ka], colKinds[kb], count, compact: !ready);
                    int rows = a.Rows, ld = a.Ld;
                    // Gather the class's dY into (O, G·P), the layout of its columns, and unfold unless Forward left them.
                    compute.For(count, 1, (a, ready), static (state, s, e) =>
                    {
                        var (c, ready) = state;
                        for (int i = s; i < e; i++)
                        {
                            if (!ready) UnfoldClass(c, i);
                            GatherClass(c, i);
                        }
                    });
                    var gathered = workspace.AsSpan(rows * ld, o * ld);
                    // dW' (O, C·T) = dY (O, G·P) · columnsᵀ (G·P, C·T), then added into the class's live taps of dW.
                    Gemm.Multiply(compute, false, true, o, rows, ld, gathered, ld, workspace, ld, workspace.AsSpan(a.WeightOffset + o * rows, o * rows), rows,
                        accumulate: false);
                    compute.For(o, 16, a, static (c, s, e) => ScatterAddLive(c, s, e));
                    if (inputGrad is null) continue;
                    // dColumns (C·T, G·P) = W'ᵀ (C·T, O) · dY (O, G·P), written over the columns, then folded (added).
                    Gemm.Multiply(compute, true, false, rows, ld, o, workspace.AsSpan(a.WeightOffset, o * rows), rows, gathered, ld,
                        workspace.AsSpan(0, rows * ld), ld, accumulate: false);
                    compute.For(count, 1, a, static (c, s, e) =>
                    {
                        for (int i = s; i < e; i++) FoldClass(c, i);
                    });
                }
        }
    }

    /// <summary>Checks the arguments; the call's arguments with W' placed after the largest class's group columns and result.</summary>
    private static Args Start(in ConvGeometry g, float[] input, float[] weight, float[] workspace)
    {
        if (!Applies(g)) throw new ArgumentException($"Tap reduction needs a batched geometry where at most half the im2col entries are live; {g} has {LiveEntries(g)} of {(long)g.OutPlane * g.Kernel * g.Kernel}.");
        if (weight.Length < g.WeightLength) throw new ArgumentException($"Convolution weight has {weight.Length} floats, needs {g.WeightLength} for {g}.");
        if (workspace.Length < WorkspaceLength(g))
            throw new ArgumentException($"Convolution workspace has {workspace.Length} floats, needs {WorkspaceLength(g)} (see Convolution.WorkspaceLength).");
        return new Args
        {
            G = g, Input = input, Weight = weight, Workspace = workspace,
            WeightOffset = checked((int)(GroupSize(g) * LargestClass(g).ColumnsAndResult)),
        };
    }

    /// <summary>
    /// Points <paramref name="a"/> at the class (rows of mask <paramref name="maskY"/>, columns of mask
    /// <paramref name="maskX"/>) and, when <paramref name="compact"/>, copies its W' (otherwise already in place).
    /// </summary>
    private static void SetClass(ComputeContext compute, ref Args a, uint maskY, uint maskX, int count, bool compact = true)
    {
        var g = a.G;
        Span<int> lines = stackalloc int[Math.Max(g.OutHeight, g.OutWidth)];
        a.MaskY = maskY;
        a.MaskX = maskX;
        a.Taps = BitOperations.PopCount(maskY) * BitOperations.PopCount(maskX);
        a.Rows = g.InChannels * a.Taps;
        a.Positions = Lines(maskY, g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, lines)
            * Lines(maskX, g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, lines);
        a.Ld = count * a.Positions;
        if (compact) compute.For(g.OutChannels, 16, a, static (c, s, e) => CompactWeight(c, s, e));
    }

    /// <summary>Fills <paramref name="offsets"/> with ky·K + kx of the class's live taps in row-major order; returns T.</summary>
    private static int LiveOffsets(in Args a, Span<int> offsets)
    {
        int t = 0, k = a.G.Kernel;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                if ((a.MaskY >> ky & 1) != 0 && (a.MaskX >> kx & 1) != 0) offsets[t++] = ky * k + kx;
        return t;
    }

    /// <summary>
    /// The class's positions, row-major: into <paramref name="pixels"/> (unless empty) each one's tap-(0, 0) input offset
    /// (oy·S − P)·W + ox·S − P, so that tap (ky, kx) reads pixel offset + ky·W + kx; into <paramref name="outputs"/>
    /// (unless empty) its plane offset oy·OW + ox. Returns P.
    /// </summary>
    private static int Positions(in Args a, Span<int> pixels, Span<int> outputs)
    {
        var g = a.G;
        Span<int> ys = stackalloc int[g.OutHeight], xs = stackalloc int[g.OutWidth];
        int ny = Lines(a.MaskY, g.Kernel, g.Stride, g.Padding, g.Height, g.OutHeight, ys);
        int nx = Lines(a.MaskX, g.Kernel, g.Stride, g.Padding, g.Width, g.OutWidth, xs);
        int p = 0;
        for (int y = 0; y < ny; y++)
            for (int x = 0; x < nx; x++, p++)
            {
                if (!pixels.IsEmpty) pixels[p] = (ys[y] * g.Stride - g.Padding) * g.Width + xs[x] * g.Stride - g.Padding;
                if (!outputs.IsEmpty) outputs[p] = ys[y] * g.OutWidth + xs[x];
            }
        return p;
    }

    /// <summary>W'[o, c·T + t] = weight[o, c, ky, kx] for output channels [first, last), t the class's live tap (ky, kx).</summary>
    private static void CompactWeight(in Args c, int first, int last)
    {
        Span<int> offsets = stackalloc int[c.G.Kernel * c.G.Kernel];
        int taps = LiveOffsets(c, offsets), kk = c.G.Kernel * c.G.Kernel, full = c.G.ColumnRows, channels = c.G.InChannels;
        for (int o = first; o < last; o++)
        {
            // Whole rows checked once, then unchecked element moves (the loop is bound by the strided reads).
            ref float src = ref MemoryMarshal.GetReference(c.Weight.AsSpan(o * full, full));
            ref float dst = ref MemoryMarshal.GetReference(c.Workspace.AsSpan(c.WeightOffset + o * c.Rows, c.Rows));
            for (int ch = 0; ch < channels; ch++)
                for (int t = 0; t < taps; t++) Unsafe.Add(ref dst, ch * taps + t) = Unsafe.Add(ref src, ch * kk + offsets[t]);
        }
    }

    /// <summary>weightGrad[o, c, ky, kx] += dW'[o, c·T + t] for output channels [first, last), t the class's live tap (ky, kx).</summary>
    private static void ScatterAddLive(in Args c, int first, int last)
    {
        Span<int> offsets = stackalloc int[c.G.Kernel * c.G.Kernel];
        int taps = LiveOffsets(c, offsets), kk = c.G.Kernel * c.G.Kernel, full = c.G.ColumnRows, channels = c.G.InChannels;
        int liveOffset = c.WeightOffset + c.G.OutChannels * c.Rows;
        for (int o = first; o < last; o++)
        {
            ref float dst = ref MemoryMarshal.GetReference(c.WeightGrad.AsSpan(o * full, full));
            ref float src = ref MemoryMarshal.GetReference(c.Workspace.AsSpan(liveOffset + o * c.Rows, c.Rows));
            for (int ch = 0; ch < channels; ch++)
                for (int t = 0; t < taps; t++) Unsafe.Add(ref dst, ch * kk + offsets[t]) += Unsafe.Add(ref src, ch * taps + t);
        }
    }

    /// <summary>
    /// The class's live taps as offsets ky·W + kx within an input plane (returns T) and, in <paramref name="pixels"/>,
    /// the input index of each of the class's <paramref name="positions"/> output positions: input index + offset is
    /// what tap t reads there. Shared by <see cref="UnfoldClass"/> and its adjoint <see cref="FoldClass"/>.
    /// </summary>
    private static int PlaneTaps(in Args a, Span<int> offsets, Span<int> pixels, out int positions)
    {
        int taps = LiveOffsets(a, offsets), k = a.G.Kernel;
        positions = Positions(a, pixels, default);
        for (int t = 0; t < taps; t++) offsets[t] = offsets[t] / k * a.G.Width + offsets[t] % k;
        return taps;
    }

    /// <summary>
    /// The class's im2col of image <c>Start + i</c> of the group: column i·P + p of row c·T + t holds x[c] at position p's
    /// tap t (inside the image by construction).
    /// </summary>
    private static void UnfoldClass(in Args a, int i)
    {
        var g = a.G;
        int inPlane = g.InPlane, kk = g.Kernel * g.Kernel;
        var x = a.Input.AsSpan((a.Start + i) * g.InChannels * inPlane, g.InChannels * inPlane);
        Span<int> offsets = stackalloc int[kk], pixels = stackalloc int[g.OutPlane];
        int taps = PlaneTaps(a, offsets, pixels, out int positions);
        // Unchecked moves: every index is inside the image (live taps) and the columns (checked once here); the
        // checked spans' per-element costs dominated on 1×1 maps (one position per image, C·T rows of one float).
        var columns = a.Workspace.AsSpan(i * positions, (a.Rows - 1) * a.Ld + positions);
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float cr = ref MemoryMarshal.GetReference(columns);
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            ref float plane = ref Unsafe.Add(ref xr, ch * inPlane);
            for (int t = 0; t < taps; t++)
            {
                ref float dst = ref Unsafe.Add(ref cr, (ch * taps + t) * a.Ld);
                int shift = offsets[t];
                for (int p = 0; p < positions; p++) Unsafe.Add(ref dst, p) = Unsafe.Add(ref plane, pixels[p] + shift);
            }
        }
    }

    /// <summary>The adjoint of <see cref="UnfoldClass"/>: adds the class's column gradients into image <c>Start + i</c>'s input gradient.</summary>
    private static void FoldClass(in Args a, int i)
    {
        var g = a.G;
        int inPlane = g.InPlane, kk = g.Kernel * g.Kernel;
        var dx = a.InputGrad!.AsSpan((a.Start + i) * g.InChannels * inPlane, g.InChannels * inPlane);
        Span<int> offsets = stackalloc int[kk], pixels = stackalloc int[g.OutPlane];
        int taps = PlaneTaps(a, offsets, pixels, out int positions);
        var columns = a.Workspace.AsSpan(i * positions, (a.Rows - 1) * a.Ld + positions);
        ref float dr = ref MemoryMarshal.GetReference(dx);
        ref float cr = ref MemoryMarshal.GetReference(columns);
        for (int ch = 0; ch < g.InChannels; ch++)
        {
            ref float plane = ref Unsafe.Add(ref dr, ch * inPlane);
            for (int t = 0; t < taps; t++)
            {
                ref float src = ref Unsafe.Add(ref cr, (ch * taps + t) * a.Ld);
                int shift = offsets[t];
                for (int p = 0; p < positions; p++) Unsafe.Add(ref plane, pixels[p] + shift) += Unsafe.Add(ref src, p);
            }
        }
    }

    /// <summary>output[Start + i, o, position] = result[o, i·P + p] (+ bias[o]) for the class's positions.</summary>
    private static void ScatterClass(in Args a, int i)
    {
        var g = a.G;
        int plane = g.OutPlane, o = g.OutChannels;
        Span<int> at = stackalloc int[plane];
        int positions = Positions(a, default, at);
        ref float sr = ref MemoryMarshal.GetReference(a.Workspace.AsSpan(a.Rows * a.Ld + i * positions, (o - 1) * a.Ld + positions));
        ref float dr = ref MemoryMarshal.GetReference(a.Output.AsSpan((a.Start + i) * o * plane, o * plane));
        for (int ch = 0; ch < o; ch++)
        {
            ref float src = ref Unsafe.Add(ref sr, ch * a.Ld);
            ref float dst = ref Unsafe.Add(ref dr, ch * plane);
            if (a.Bias is null)
                for (int p = 0; p < positions; p++) Unsafe.Add(ref dst, at[p]) = Unsafe.Add(ref src, p);
            else
            {
                float b = a.Bias[ch];
                for (int p = 0; p < positions; p++) Unsafe.Add(ref dst, at[p]) = Unsafe.Add(ref src, p) + b;
            }
        }
    }

    /// <summary>gathered[o, i·P + p] = outputGrad[Start + i, o, position] for the class's positions.</summary>
    private static void GatherClass(in Args a, int i)
    {
        var g = a.G;
        int plane = g.OutPlane, o = g.OutChannels;
        Span<int> at = stackalloc int[plane];
        int positions = Positions(a, default, at);
        ref float sr = ref MemoryMarshal.GetReference(a.OutputGrad.AsSpan((a.Start + i) * o * plane, o * plane));
        ref float dr = ref MemoryMarshal.GetReference(a.Workspace.AsSpan(a.Rows * a.Ld + i * positions, (o - 1) * a.Ld + positions));
        for (int ch = 0; ch < o; ch++)
        {
            ref float src = ref Unsafe.Add(ref sr, ch * plane);
            ref float dst = ref Unsafe.Add(ref dr, ch * a.Ld);
            for (int p = 0; p < positions; p++) Unsafe.Add(ref dst, p) = Unsafe.Add(ref src, at[p]);
        }
    }

    /// <summary>
    /// One call's arguments, passed by value to static lambdas (no closure per call). MaskY/MaskX: the class's live
    /// kernel rows and columns; Taps: T; Rows: C·T; Positions: P; WeightOffset: where W' starts in the workspace (the
    /// live weight gradient follows); Start: first image of the group; Ld: the class's column count G·P.
    /// </summary>
    private struct Args
    {
        public ConvGeometry G;
        public float[] Input, Weight, Workspace, Output, OutputGrad, WeightGrad;
        public float[]? Bias, InputGrad;
        public uint MaskY, MaskX;
        public int Taps, Rows, Positions, WeightOffset, Start, Ld;
    }
}
