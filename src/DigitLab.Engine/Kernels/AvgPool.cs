// AvgPool: 2-D average pooling forward and backward. Reference: AvgPoolReference.
using System.Numerics.Tensors;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Average pooling over the planes of (N, C, H, W) with geometry <see cref="ConvGeometry"/>
/// (OutChannels = InChannels). Every window divides by K·K, padding counting as zeros
/// (PyTorch's default <c>count_include_pad=True</c>).
/// </summary>
/// <remarks>Arrays rather than spans because planes are split across threads; each plane is written by one thread.</remarks>
public static class AvgPool
{
    private const int MinPlanesPerThread = 16;

    public static void Forward(ComputeContext compute, ConvGeometry g, float[] input, float[] output)
    {
        MaxPool.Check(g, input.Length, output.Length, g.OutputLength);
        float scale = 1f / (g.Kernel * g.Kernel);
        // Arguments passed as state to a static lambda: no closure allocated per call.
        compute.For(g.Batch * g.InChannels, MinPlanesPerThread, (g, input, output, scale), static (a, s, e) =>
        {
            var (g, input, output, scale) = a;
            int inPlane = g.InPlane, outPlane = g.OutPlane;
            for (int p = s; p < e; p++)
            {
                var x = input.AsSpan(p * inPlane, inPlane);
                var y = output.AsSpan(p * outPlane, outPlane);
                for (int r = 0; r < g.OutHeight; r++)
                {
                    var (y0, y1) = Clip(r, g.Stride, g.Padding, g.Kernel, g.Height);
                    for (int c = 0; c < g.OutWidth; c++)
                    {
                        var (x0, x1) = Clip(c, g.Stride, g.Padding, g.Kernel, g.Width);
                        float sum = 0f;
                        for (int iy = y0; iy < y1; iy++) sum += TensorPrimitives.Sum(x.Slice(iy * g.Width + x0, x1 - x0));
                        y[r * g.OutWidth + c] = sum * scale;
                    }
                }
            }
        });
    }

    /// <summary>Overwrites <paramref name="inputGrad"/>: each output gradient spread evenly (÷ K·K) over its window.</summary>
    public static void Backward(ComputeContext compute, ConvGeometry g, float[] outputGrad, float[] inputGrad)
    {
        MaxPool.Check(g, inputGrad.Length, outputGrad.Length, g.OutputLength);
        float scale = 1f / (g.Kernel * g.Kernel);
        compute.For(g.Batch * g.InChannels, MinPlanesPerThread, (g, outputGrad, inputGrad, scale), static (a, s, e) =>
        {
            var (g, outputGrad, inputGrad, scale) = a;
            int inPlane = g.InPlane, outPlane = g.OutPlane;
            for (int p = s; p < e; p++)
            {
                var dx = inputGrad.AsSpan(p * inPlane, inPlane);
                dx.Clear();
                var dy = outputGrad.AsSpan(p * outPlane, outPlane);
                for (int r = 0; r < g.OutHeight; r++)
                {
                    var (y0, y1) = Clip(r, g.Stride, g.Padding, g.Kernel, g.Height);
                    for (int c = 0; c < g.OutWidth; c++)
                    {
                        var (x0, x1) = Clip(c, g.Stride, g.Padding, g.Kernel, g.Width);
                        float share = dy[r * g.OutWidth + c] * scale;
                        for (int iy = y0; iy < y1; iy++)
                        {
                            var row = dx.Slice(iy * g.Width + x0, x1 - x0);
                            TensorPrimitives.Add(row, share, row);
                        }
                    }
                }
            }
        });
    }

    /// <summary>The window [start, end) of output index <paramref name="o"/> clipped to the image.</summary>
    private static (int Start, int End) Clip(int o, int stride, int padding, int kernel, int size)
    {
        int start = o * stride - padding;
        return (Math.Max(start, 0), Math.Min(start + kernel, size));
    }
}
