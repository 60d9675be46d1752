// Convolution: 2-D convolution forward and both backward passes over a batch, by im2col + Gemm.
// Reference: ConvolutionReference (direct loops).
using System.Runtime.Intrinsics;
using DigitLab.Tensors;

namespace DigitLab.Kernels;

/// <summary>
/// Batched 2-D convolution (PyTorch's cross-correlation) on the GEMM. Images are processed in
/// groups of G: the G images' im2col matrices sit side by side in one (C·K·K, G·OH·OW) matrix, so
/// one GEMM per group has n = G·OH·OW (large even when the feature maps are 4×4), and
/// its (O, G·OH·OW) result is scattered into (N, O, OH, OW) with the bias added. When C·K·K is
/// small (the first layer: one input channel) the forward pass skips the GEMM and computes each
/// output vector directly from the columns (<see cref="ShallowForward"/>), which is faster there.
/// </summary>
/// <remarks>
/// Arrays rather than spans because the per-image work runs on several threads. Each image's
/// result is written by exactly one thread and every reduction runs in a fixed order, so results
/// are bit-identical for the same <see cref="Threading.Threads"/>. The caller owns the workspace
/// (see <see cref="WorkspaceLength"/>); the kernels keep no state.
/// </remarks>
public static class Convolution
{
    /// <summary>Largest im2col group, in floats (16 MiB): big enough for long GEMMs, small enough for the caches around them.</summary>
    private const int ColumnBudget = 1 << 22;

    /// <summary>Images per group: as many as fit the budget, at least one.</summary>
    public static int GroupSize(in ConvGeometry g) =>
        Math.Clamp(ColumnBudget / Math.Max(1, g.ColumnRows * g.OutPlane), 1, Math.Max(1, g.Batch));

    /// <summary>Floats of workspace the three passes need: the group's columns, then its (O, G·OH·OW) GEMM result.</summary>
    public static int WorkspaceLength(in ConvGeometry g)
    {
        long group = GroupSize(g);
        long length = group * g.OutPlane * ((long)g.ColumnRows + g.OutChannels);
        return checked((int)length);
    }

    /// <summary>
    /// output (N, O, OH, OW) = conv(input (N, C, H, W), weight (O, C, K, K)) + bias (O).
    /// Returns true when the workspace still holds the im2col of the whole batch (one group), which
    /// <see cref="Backward"/> can then reuse instead of unfolding again.
    /// </summary>
    public static bool Forward(in ConvGeometry g, float[] input, float[] weight, float[]? bias, float[] output, float[] workspace)
    {
        Check(g, input, output, workspace);
        var geo = g;
        int group = GroupSize(g), plane = g.OutPlane, rows = g.ColumnRows, o = g.OutChannels;
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first), ld = count * plane;
            int start = first;
            Unfold(geo, input, start, count, workspace);
            if (rows <= ShallowRows)
            {
                // Few column rows (a first layer: C = 1, K ≤ 5): each output vector is a short sum
                // over rows, kept in a register and stored once; no GEMM packing, no scatter.
                Threading.For(count, 1, (s, e) =>
                {
                    for (int i = s; i < e; i++)
                        ShallowForward(workspace.AsSpan(i * plane), ld, rows, plane, weight, bias,
                            output.AsSpan((start + i) * o * plane, o * plane), o);
                });
                continue;
            }
            // (O, G·OH·OW) = W (O, C·K·K) · columns (C·K·K, G·OH·OW)
            Gemm.Multiply(false, false, o, ld, rows, weight, rows, workspace, ld,
                workspace.AsSpan(rows * ld, o * ld), ld, accumulate: false);
            Threading.For(count, 1, (s, e) =>
            {
                for (int i = s; i < e; i++)
                    for (int ch = 0; ch < o; ch++)
                    {
                        var dst = output.AsSpan(((start + i) * o + ch) * plane, plane);
                        workspace.AsSpan(rows * ld + ch * ld + i * plane, plane).CopyTo(dst);
                        if (bias is not null) System.Numerics.Tensors.TensorPrimitives.Add(dst, bias[ch], dst);
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
    public static void Backward(in ConvGeometry g, float[] input, float[] weight, float[] outputGrad,
        float[]? inputGrad, float[] weightGrad, float[]? biasGrad, float[] workspace, bool columnsReady)
    {
        Check(g, input, outputGrad, workspace);
        var geo = g;
        int group = GroupSize(g), plane = g.OutPlane, rows = g.ColumnRows, o = g.OutChannels;
        if (biasGrad is not null) Bias.AccumulateChannelSums(outputGrad.AsSpan(0, g.OutputLength), biasGrad.AsSpan(0, o), plane);
        for (int first = 0; first < g.Batch; first += group)
        {
            int count = Math.Min(group, g.Batch - first), ld = count * plane;
            int start = first;
            if (!(columnsReady && count == g.Batch)) Unfold(geo, input, start, count, workspace);
            // Gather dY of the group into (O, G·OH·OW), the layout the columns have.
            Threading.For(count, 1, (s, e) =>
            {
                for (int i = s; i < e; i++)
                    for (int ch = 0; ch < o; ch++)
                        outputGrad.AsSpan(((start + i) * o + ch) * plane, plane).CopyTo(workspace.AsSpan(rows * ld + ch * ld + i * plane, plane));
            });
            var gathered = workspace.AsSpan(rows * ld, o * ld);
            // dW (O, C·K·K) += dY (O, G·OH·OW) · columnsᵀ (G·OH·OW, C·K·K)
            Gemm.Multiply(false, true, o, rows, ld, gathered, ld, workspace, ld, weightGrad, rows, accumulate: true);
            if (inputGrad is null) continue;
            // dColumns (C·K·K, G·OH·OW) = Wᵀ (C·K·K, O) · dY (O, G·OH·OW), written over the columns.
            Gemm.Multiply(true, false, rows, ld, o, weight, rows, gathered, ld, workspace.AsSpan(0, rows * ld), ld, accumulate: false);
            int inLength = g.InChannels * g.InPlane;
            Threading.For(count, 1, (s, e) =>
            {
                for (int i = s; i < e; i++)
                    Im2Col.Fold(workspace.AsSpan(i * plane), ld, geo, inputGrad.AsSpan((start + i) * inLength, inLength));
            });
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

    private static void Unfold(ConvGeometry g, float[] input, int start, int count, float[] workspace)
    {
        int inLength = g.InChannels * g.InPlane, plane = g.OutPlane, ld = count * plane;
        Threading.For(count, 1, (s, e) =>
        {
            for (int i = s; i < e; i++)
                Im2Col.Unfold(input.AsSpan((start + i) * inLength, inLength), g, workspace.AsSpan(i * plane), ld);
        });
    }

    private static void Check(in ConvGeometry g, float[] input, float[] output, float[] workspace)
    {
        g.Validate();
        if (input.Length < g.InputLength || output.Length < g.OutputLength)
            throw new ArgumentException($"Convolution arrays too short for {g}: input {input.Length} (needs {g.InputLength}), output {output.Length} (needs {g.OutputLength}).");
        if (workspace.Length < WorkspaceLength(g))
            throw new ArgumentException($"Convolution workspace has {workspace.Length} floats, needs {WorkspaceLength(g)}.");
    }
}
