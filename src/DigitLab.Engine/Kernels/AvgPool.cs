// AvgPool: 2-D average pooling forward and backward. Reference: AvgPoolReference.
using System.Runtime.CompilerServices;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Average pooling over the planes of (N, C, H, W) with geometry <see cref="ConvGeometry"/>
/// (OutChannels = InChannels). Every window divides by K·K, padding counting as zeros
/// (PyTorch's default <c>count_include_pad=True</c>).
/// </summary>
/// <remarks>Arrays rather than spans because planes are split across threads; each plane is written by one thread.</remarks>
public static unsafe class AvgPool
{
    private const int MinPlanesPerThread = 16;

    public static void Forward(ComputeContext compute, ConvGeometry g, float[] input, float[] output)
    {
        MaxPool.Check(g, input.Length, output.Length, g.OutputLength);
        // Arguments passed as state to a static lambda: no closure allocated per call.
        compute.For(g.Batch * g.InChannels, MinPlanesPerThread, (G: g, X: input, Y: output), static (a, s, e) => ForwardPlanes(a.G, a.X, a.Y, s, e));
    }

    /// <summary>
    /// Planes [start, end) of <see cref="Forward"/> (also the prepared model's pooling): each window's rows summed on their
    /// own left to right, the row sums added top to bottom, then times 1/(K·K). Own loops rather than TensorPrimitives.Sum
    /// per row, which cost a call per two floats (lenet5's first pool 0.39 ms of forward per step of 64 images); the same bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardPlanes(in ConvGeometry g, float[] input, float[] output, int start, int end)
    {
        int w = g.Width, oh = g.OutHeight, ow = g.OutWidth;
        float scale = 1f / (g.Kernel * g.Kernel);
        fixed (float* x0 = input, y0 = output)
            for (int plane = start; plane < end; plane++)
            {
                float* x = x0 + (long)plane * g.InPlane, y = y0 + (long)plane * g.OutPlane;
                for (int r = 0; r < oh; r++)
                {
                    var (top, bottom) = Clip(r, g.Stride, g.Padding, g.Kernel, g.Height);
                    for (int c = 0; c < ow; c++)
                    {
                        var (left, right) = Clip(c, g.Stride, g.Padding, g.Kernel, w);
                        float sum = 0f;
                        for (int iy = top; iy < bottom; iy++)
                        {
                            float row = 0f;
                            for (int ix = left; ix < right; ix++) row += x[iy * w + ix];
                            sum += row;
                        }
                        y[r * ow + c] = sum * scale;
                    }
                }
            }
    }

    /// <summary>Overwrites <paramref name="inputGrad"/>: each output gradient spread evenly (÷ K·K) over its window.</summary>
    public static void Backward(ComputeContext compute, ConvGeometry g, float[] outputGrad, float[] inputGrad)
    {
        MaxPool.Check(g, inputGrad.Length, outputGrad.Length, g.OutputLength);
        compute.For(g.Batch * g.InChannels, MinPlanesPerThread, (G: g, Dy: outputGrad, Dx: inputGrad), static (a, s, e) => BackwardPlanes(a.G, a.Dy, a.Dx, s, e));
    }

    /// <summary>Planes [start, end) of <see cref="Backward"/>: cleared, then every window's share added in output order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardPlanes(in ConvGeometry g, float[] outputGrad, float[] inputGrad, int start, int end)
    {
        int w = g.Width, oh = g.OutHeight, ow = g.OutWidth;
        float scale = 1f / (g.Kernel * g.Kernel);
        fixed (float* dy0 = outputGrad, dx0 = inputGrad)
            for (int plane = start; plane < end; plane++)
            {
                float* dx = dx0 + (long)plane * g.InPlane, dy = dy0 + (long)plane * g.OutPlane;
                new Span<float>(dx, g.InPlane).Clear();
                for (int r = 0; r < oh; r++)
                {
                    var (top, bottom) = Clip(r, g.Stride, g.Padding, g.Kernel, g.Height);
                    for (int c = 0; c < ow; c++)
                    {
                        var (left, right) = Clip(c, g.Stride, g.Padding, g.Kernel, w);
                        float share = dy[r * ow + c] * scale;
                        for (int iy = top; iy < bottom; iy++)
                            for (int ix = left; ix < right; ix++) dx[iy * w + ix] += share;
                    }
                }
            }
    }

    /// <summary>The window [start, end) of output index <paramref name="o"/> clipped to the image.</summary>
    private static (int Start, int End) Clip(int o, int stride, int padding, int kernel, int size)
    {
        int start = o * stride - padding;
        return (Math.Max(start, 0), Math.Min(start + kernel, size));
    }
}
