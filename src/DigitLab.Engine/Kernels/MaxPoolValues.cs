// MaxPoolValues: max pooling for inference: the maxima only, no argmax indices kept for a backward pass.
// Reference: MaxPoolReference (window by window).
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
        if (g.Kernel == 2 && g.Stride == 2 && g.Padding == 0 && Avx512F.IsSupported)
            compute.For(planes, perThread, (G: g, Input: input, Output: output), static (c, s, e) => Pairs(c.G, c.Input, c.Output, s, e));
        else
            compute.For(planes, perThread, (G: g, Input: input, Output: output), static (c, s, e) => Planes(c.G, c.Input, c.Output, s, e));
    }

    /// <summary>
    /// The 2×2 stride-2 pool of most CNNs: per output row the maximum of its two input rows (the first 2·OW columns) into
    /// one compact (OH, 2·OW) buffer, then the maximum of each adjacent pair of that buffer, sixteen outputs per step
    /// (even and odd columns separated by a two-register permute).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Pairs(in ConvGeometry g, float[] input, float[] output, int start, int end)
    {
        int w = g.Width, oh = g.OutHeight, ow = g.OutWidth, width = 2 * ow, lanes = Vector512<float>.Count;
        // Slack of one vector: a narrow row's whole-vector maxima spill past the last compact row.
        int outputs = oh * ow, length = (outputs + lanes - 1) / lanes * lanes * 2 + lanes;
        float* pairs = stackalloc float[length];
        new Span<float>(pairs, length).Clear(); // the step past the last output reads (and drops) these
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        fixed (float* x0 = input, y0 = output)
        {
            for (int plane = start; plane < end; plane++)
            {
                float* x = x0 + (long)plane * g.InPlane, y = y0 + (long)plane * g.OutPlane;
                for (int oy = 0; oy < oh; oy++)
                {
                    float* r0 = x + 2 * oy * w, r1 = r0 + w, dst = pairs + oy * width;
                    if (width >= lanes)
                    {
                        // Whole vectors, the last one overlapping the one before (max is idempotent).
                        for (int j = 0; ; j += lanes)
                        {
                            if (j > width - lanes) j = width - lanes;
                            Vector512.Max(Vector512.Load(r0 + j), Vector512.Load(r1 + j)).Store(dst + j);
                            if (j == width - lanes) break;
                        }
                    }
                    else if ((long)(r1 - x0) + lanes <= input.Length)
                    {
                        // A row narrower than a vector (cnn's 14×14 → 7×7): one whole vector of each row; the lanes past
                        // it land on the next compact row, which is written after this one (or in the slack).
                        Vector512.Max(Vector512.Load(r0), Vector512.Load(r1)).Store(dst);
                    }
                    else
                        for (int j = 0; j < width; j++) dst[j] = MathF.Max(r0[j], r1[j]);
                }
                int i = 0;
                for (; i + lanes <= outputs; i += lanes)
                {
                    var a = Vector512.Load(pairs + 2 * i);
                    var b = Vector512.Load(pairs + 2 * i + lanes);
                    Vector512.Max(Avx512F.PermuteVar16x32x2(a, even, b), Avx512F.PermuteVar16x32x2(a, odd, b)).Store(y + i);
                }
                for (; i < outputs; i++) y[i] = MathF.Max(pairs[2 * i], pairs[2 * i + 1]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Planes(in ConvGeometry g, float[] input, float[] output, int start, int end)
    {
        int h = g.Height, w = g.Width, k = g.Kernel, s = g.Stride, p = g.Padding, oh = g.OutHeight, ow = g.OutWidth;
        int lanes = Vector512<float>.Count;
        // Window starts j = 0 .. wp − k over the padded row; buffers rounded up to whole vectors, plus k of slack for the loads.
        int starts = w + 2 * p - k + 1, span = (starts + lanes - 1) / lanes * lanes, padded = span + k;
        int length = padded + (h + 1) * span;
        var heap = length <= 8192 ? null : new float[length];
        float* stack = stackalloc float[heap is null ? length : 0];
        fixed (float* x0 = input, y0 = output, pinned = heap)
        {
            float* row = heap is null ? stack : pinned;   // one input row between −∞ pads
            float* rows = row + padded;                   // (H, span): each row's window maxima along x
            float* sum = rows + h * span;                 // one output row's maxima over its window's rows
            new Span<float>(row, padded).Fill(float.NegativeInfinity);
            for (int plane = start; plane < end; plane++)
            {
                float* x = x0 + (long)plane * g.InPlane, y = y0 + (long)plane * g.OutPlane;
                for (int iy = 0; iy < h; iy++)
                {
                    float* src = x + iy * w, dst = row + p;
                    int i = 0;
                    for (; i + lanes <= w; i += lanes) Vector512.Load(src + i).Store(dst + i);
                    for (; i < w; i++) dst[i] = src[i];
                    float* hmax = rows + iy * span;
                    for (int j = 0; j < span; j += lanes)
                    {
                        var m = Vector512.Load(row + j);
                        for (int kx = 1; kx < k; kx++) m = Vector512.Max(m, Vector512.Load(row + j + kx));
                        m.Store(hmax + j);
                    }
                }
                for (int oy = 0; oy < oh; oy++)
                {
                    int iy0 = Math.Max(0, oy * s - p), iy1 = Math.Min(h, oy * s - p + k);
                    for (int j = 0; j < span; j += lanes)
                    {
                        var m = Vector512.Load(rows + iy0 * span + j);
                        for (int iy = iy0 + 1; iy < iy1; iy++) m = Vector512.Max(m, Vector512.Load(rows + iy * span + j));
                        m.Store(sum + j);
                    }
                    float* dst = y + oy * ow;
                    for (int ox = 0; ox < ow; ox++) dst[ox] = sum[ox * s];
                }
            }
        }
    }
}
