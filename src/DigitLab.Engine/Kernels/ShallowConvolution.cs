// ShallowConvolution: inference convolution for first layers (few taps per output: C·K·K ≤ 32, stride 1) with the
// output positions in the vector lanes, bias and ReLU applied as each vector is stored. Reference: ConvolutionReference.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// y (N, O, OH, OW) = act(conv(x (N, C, H, W), W (O, C, K, K)) + b) for stride 1, at most <see cref="MaxTaps"/> taps per
/// output and output rows at least 16 wide (MNIST's one-channel 3×3 and 5×5 first layers). Each image is padded once;
/// for every 16 consecutive outputs of a row, each tap's 16 input values are one vector load from the padded row, and
/// eight output channels accumulate at once from broadcast weights. The last block of a row overlaps the one before
/// (the same values written twice by the same thread), so there is no scalar tail; the stores are whole vectors in
/// the (N, O, OH, OW) layout, with no transpose. The channel-lane tiles of <see cref="PackedConvolution"/> have too few
/// taps here to pay for their strided epilogue.
/// </summary>
/// <remarks>
/// Threads: a batch of at least <see cref="ComputeContext.Threads"/> images is split into runs of images; a single image
/// into runs of eight output channels, each thread padding the image itself. Every output is computed by one thread
/// summing its taps in a fixed order, so results do not depend on the thread count.
/// </remarks>
public static unsafe class ShallowConvolution
{
    /// <summary>Most taps per output (C·K·K) this kernel takes.</summary>
    public const int MaxTaps = 32;

    private const int Lanes = 16, Channels = 8;

    /// <summary>Whether <see cref="Forward"/> handles <paramref name="g"/>.</summary>
    public static bool Supports(in ConvGeometry g) => g.Stride == 1 && g.ColumnRows <= MaxTaps && g.OutWidth >= Lanes;

    private static int PadLength(in ConvGeometry g) => g.InChannels * (g.Height + 2 * g.Padding) * (g.Width + 2 * g.Padding);

    /// <summary>Weights rounded up to whole groups of eight channels, then one padded image per thread, in floats.</summary>
    public static int WorkspaceLength(ComputeContext compute, in ConvGeometry g) =>
        checked(WeightLength(g) + compute.Threads * PadLength(g));

    private static int WeightLength(in ConvGeometry g) => (g.OutChannels + Channels - 1) / Channels * Channels * g.ColumnRows;

    /// <summary>output = act(conv(input) + bias); act = ReLU when <paramref name="relu"/>.</summary>
    public static void Forward(ComputeContext compute, in ConvGeometry g, float[] input, float[] weight, float[] bias, float[] output, bool relu,
        float[] workspace)
    {
        if (!Supports(g)) throw new ArgumentException($"ShallowConvolution does not handle {g}: it needs stride 1, C·K·K ≤ {MaxTaps} and outputs ≥ {Lanes} wide.");
        if (input.Length < g.InputLength) throw new ArgumentException($"Input has {input.Length} floats; {g} needs {g.InputLength}.");
        if (output.Length < g.OutputLength) throw new ArgumentException($"Output has {output.Length} floats; {g} needs {g.OutputLength}.");
        if (weight.Length < g.WeightLength || bias.Length < g.OutChannels)
            throw new ArgumentException($"Weight/bias have {weight.Length}/{bias.Length} floats; {g} needs {g.WeightLength}/{g.OutChannels}.");
        int need = WorkspaceLength(compute, g);
        if (workspace.Length < need) throw new ArgumentException($"Workspace has {workspace.Length} floats; {g} needs {need}.");
        // Weights (O rounded up to 8, C·K·K), zeros past O: the last group of eight computes zeros it never stores.
        var packed = workspace.AsSpan(0, WeightLength(g));
        weight.AsSpan(0, g.WeightLength).CopyTo(packed);
        packed[g.WeightLength..].Clear();
        int groups = (g.OutChannels + Channels - 1) / Channels;
        var call = new Call { G = g, Input = input, Bias = bias, Output = output, Relu = relu, Workspace = workspace, Groups = groups };
        if (g.Batch >= compute.Threads)
        {
            call.Parts = compute.Threads;
            compute.For(call.Parts, 1, call, static (c, ps, pe) =>
            {
                for (int p = ps; p < pe; p++)
                    for (int i = (int)((long)c.G.Batch * p / c.Parts); i < (int)((long)c.G.Batch * (p + 1) / c.Parts); i++)
                        Image(c, i, p, 0, c.Groups);
            });
            return;
        }
        call.Parts = Math.Min(compute.Threads, groups);
        for (int image = 0; image < g.Batch; image++)
        {
            call.Image = image;
            compute.For(call.Parts, 1, call, static (c, ps, pe) =>
            {
                for (int p = ps; p < pe; p++) Image(c, c.Image, p, c.Groups * p / c.Parts, c.Groups * (p + 1) / c.Parts);
            });
        }
    }

    /// <summary>Image <paramref name="image"/> padded into workspace slot <paramref name="slot"/>, then its channel groups [first, end).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Image(in Call c, int image, int slot, int first, int end)
    {
        var g = c.G;
        int hp = g.Height + 2 * g.Padding, wp = g.Width + 2 * g.Padding, k = g.Kernel, taps = g.ColumnRows, plane = g.OutPlane;
        int* offsets = stackalloc int[MaxTaps];
        for (int ch = 0, t = 0; ch < g.InChannels; ch++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++, t++) offsets[t] = (ch * hp + ky) * wp + kx;
        fixed (float* x = c.Input, y = c.Output, ws = c.Workspace, b = c.Bias)
        {
            float* pad = ws + WeightLength(g) + (long)slot * PadLength(g);
            DirectConvolution.PadPlanes(x + (long)image * g.InChannels * g.InPlane, g.InChannels, g.Height, g.Width, g.Padding, pad, PadLength(g));
            float* image0 = y + (long)image * g.OutChannels * plane;
            for (int group = first; group < end; group++)
            {
                int o0 = group * Channels, live = Math.Min(Channels, g.OutChannels - o0);
                float* w = ws + (long)o0 * taps;
                for (int oy = 0; oy < g.OutHeight; oy++)
                    for (int ox = 0; ; ox += Lanes)
                    {
                        if (ox > g.OutWidth - Lanes) ox = g.OutWidth - Lanes; // the last block overlaps the one before
                        Block(pad + oy * wp + ox, offsets, taps, w, b + o0, live, image0 + (long)o0 * plane + oy * g.OutWidth + ox, plane, c.Relu);
                        if (ox == g.OutWidth - Lanes) break;
                    }
            }
        }
    }

    /// <summary>
    /// Sixteen outputs of eight channels: acc_o = Σ_t w[o·taps + t] · x[offsets[t] .. +16]; then y[o·plane ..] =
    /// act(acc_o + b[o]) for the <paramref name="live"/> channels that exist.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(float* x, int* offsets, int taps, float* w, float* b, int live, float* y, int plane, bool relu)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < taps; t++)
        {
            var v = Vector512.Load(x + offsets[t]);
            float* wt = w + t;
            a0 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[0]), a0);
            a1 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[taps]), a1);
            a2 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[2 * taps]), a2);
            a3 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[3 * taps]), a3);
            a4 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[4 * taps]), a4);
            a5 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[5 * taps]), a5);
            a6 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[6 * taps]), a6);
            a7 = Vector512.FusedMultiplyAdd(v, Vector512.Create(wt[7 * taps]), a7);
        }
        Put(a0, b, 0, live, y, plane, relu); Put(a1, b, 1, live, y, plane, relu); Put(a2, b, 2, live, y, plane, relu); Put(a3, b, 3, live, y, plane, relu);
        Put(a4, b, 4, live, y, plane, relu); Put(a5, b, 5, live, y, plane, relu); Put(a6, b, 6, live, y, plane, relu); Put(a7, b, 7, live, y, plane, relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(Vector512<float> acc, float* b, int o, int live, float* y, int plane, bool relu)
    {
        if (o >= live) return;
        var v = acc + Vector512.Create(b[o]);
        if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
        v.Store(y + (long)o * plane);
    }

    /// <summary>One call's arguments for the parallel loops, passed by value to static lambdas (no closure per call).</summary>
    private struct Call
    {
        public ConvGeometry G;
        public float[] Input, Bias, Output, Workspace;
        public bool Relu;
        public int Groups, Parts, Image;
    }
}
