// MaxPoolValues: max pooling for inference: the maxima only, no argmax indices kept for a backward pass.
// Reference: MaxPoolReference (window by window).
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// y (N, C, OH, OW) = the maximum of each window of x (N, C, H, W), padding counting as −∞ (PyTorch's MaxPool2d),
/// separably and on whole vectors: each input row's maxima over every K-wide window start (stride 1), then per output
/// row the maximum of its window's rows, of which every stride-th start is stored. NaN propagates as in the reference. Planes are split over the threads when there are
/// enough of them; each output is written by one thread, so results do not depend on the thread count.
/// </summary>
public static class MaxPoolValues
{
    /// <summary>Least outputs per thread (below it a hand-off costs more than the pooling).</summary>
    private const int MinOutputsPerThread = 1 << 14;

    public static void Forward(ComputeContext compute, in ConvGeometry g, float[] input, float[] output)
    {
        g.Validate();
        if (2 * g.Padding > g.Kernel)
            throw new ArgumentException($"Max pooling padding {g.Padding} exceeds half the kernel {g.Kernel} (a window could hold only padding); PyTorch refuses it too.");
        if (input.Length < g.InputLength) throw new ArgumentException($"Input has {input.Length} floats; {g} needs {g.InputLength}.");
        if (output.Length < g.OutputLength) throw new ArgumentException($"Output has {output.Length} floats; {g} needs {g.OutputLength}.");
        int planes = g.Batch * g.InChannels;
        int perThread = Math.Max(1, MinOutputsPerThread / Math.Max(1, g.OutPlane));
        compute.For(planes, perThread, (G: g, Input: input, Output: output), static (c, s, e) => Planes(c.G, c.Input, c.Output, s, e));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Planes(in ConvGeometry g, float[] input, float[] output, int start, int end)
    {
        int h = g.Height, w = g.Width, k = g.Kernel, s = g.Stride, p = g.Padding, oh = g.OutHeight, ow = g.OutWidth;
        int lanes = Vector512<float>.Count;
        // Window starts j = 0 .. wp − k over the padded row; buffers rounded up to whole vectors, plus k of slack for the loads.
        int starts = w + 2 * p - k + 1, span = (starts + lanes - 1) / lanes * lanes, padded = span + k;
        int length = padded + (h + 1) * span;
        Span<float> buffer = length <= 8192 ? stackalloc float[length] : new float[length];
        var row = buffer[..padded];             // one input row between −∞ pads
        var rows = buffer.Slice(padded, h * span); // (H, span): each row's window maxima along x
        var sum = buffer.Slice(padded + h * span, span);
        row.Fill(float.NegativeInfinity);
        for (int plane = start; plane < end; plane++)
        {
            var x = input.AsSpan(plane * g.InPlane, g.InPlane);
            var y = output.AsSpan(plane * g.OutPlane, g.OutPlane);
            for (int iy = 0; iy < h; iy++)
            {
                x.Slice(iy * w, w).CopyTo(row[p..]);
                var hmax = rows.Slice(iy * span, span);
                for (int j = 0; j < span; j += lanes)
                {
                    var m = Vector512.LoadUnsafe(ref row[j]);
                    for (int kx = 1; kx < k; kx++) m = Vector512.Max(m, Vector512.LoadUnsafe(ref row[j + kx]));
                    m.StoreUnsafe(ref hmax[j]);
                }
            }
            for (int oy = 0; oy < oh; oy++)
            {
                int iy0 = Math.Max(0, oy * s - p), iy1 = Math.Min(h, oy * s - p + k);
                for (int j = 0; j < span; j += lanes)
                {
                    var m = Vector512.LoadUnsafe(ref rows[iy0 * span + j]);
                    for (int iy = iy0 + 1; iy < iy1; iy++) m = Vector512.Max(m, Vector512.LoadUnsafe(ref rows[iy * span + j]));
                    m.StoreUnsafe(ref sum[j]);
                }
                var dst = y.Slice(oy * ow, ow);
                for (int ox = 0; ox < ow; ox++) dst[ox] = sum[ox * s];
            }
        }
    }
}
