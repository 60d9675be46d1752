// MaxPool: 2-D max pooling forward (recording each window's argmax) and backward. Reference: MaxPoolReference.
using DigitLab.Tensors;

namespace DigitLab.Kernels;

/// <summary>
/// Max pooling over the planes of (N, C, H, W) with geometry <see cref="ConvGeometry"/>
/// (OutChannels = InChannels). Padding counts as −∞, as in PyTorch. Within a window the first
/// maximum in row-major order wins, and NaN wins over numbers, as in PyTorch's CPU kernel.
/// </summary>
/// <remarks>Arrays rather than spans because planes are split across threads; each plane is written by one thread.</remarks>
public static class MaxPool
{
    private const int MinPlanesPerThread = 16;

    /// <summary>output (N, C, OH, OW) = window maxima; <paramref name="argmax"/> (N, C, OH, OW) = index h·W + w of each maximum in its plane.</summary>
    public static void Forward(ConvGeometry g, float[] input, float[] output, int[] argmax)
    {
        Check(g, input.Length, output.Length, argmax.Length);
        int planes = g.Batch * g.InChannels, inPlane = g.InPlane, outPlane = g.OutPlane;
        Threading.For(planes, MinPlanesPerThread, (s, e) =>
        {
            for (int p = s; p < e; p++)
            {
                var x = input.AsSpan(p * inPlane, inPlane);
                var y = output.AsSpan(p * outPlane, outPlane);
                var idx = argmax.AsSpan(p * outPlane, outPlane);
                if (g is { Kernel: 2, Stride: 2, Padding: 0 }) Plane2x2(x, g.Width, g.OutHeight, g.OutWidth, y, idx);
                else PlaneGeneral(x, g, y, idx);
            }
        });
    }

    /// <summary>Overwrites <paramref name="inputGrad"/> (N, C, H, W): each output gradient goes to its window's argmax.</summary>
    public static void Backward(ConvGeometry g, float[] outputGrad, int[] argmax, float[] inputGrad)
    {
        Check(g, inputGrad.Length, outputGrad.Length, argmax.Length);
        int planes = g.Batch * g.InChannels, inPlane = g.InPlane, outPlane = g.OutPlane;
        Threading.For(planes, MinPlanesPerThread, (s, e) =>
        {
            for (int p = s; p < e; p++)
            {
                var dx = inputGrad.AsSpan(p * inPlane, inPlane);
                dx.Clear();
                var dy = outputGrad.AsSpan(p * outPlane, outPlane);
                var idx = argmax.AsSpan(p * outPlane, outPlane);
                for (int i = 0; i < outPlane; i++) dx[idx[i]] += dy[i];
            }
        });
    }

    // The common 2×2 / stride 2 case: four loads, no bounds logic.
    private static void Plane2x2(ReadOnlySpan<float> x, int w, int oh, int ow, Span<float> y, Span<int> idx)
    {
        for (int r = 0; r < oh; r++)
        {
            int top = 2 * r * w, bottom = top + w;
            for (int c = 0; c < ow; c++)
            {
                int i0 = top + 2 * c;
                int best = i0;
                float m = x[i0];
                if (x[i0 + 1] > m || float.IsNaN(x[i0 + 1])) { m = x[i0 + 1]; best = i0 + 1; }
                int i2 = bottom + 2 * c;
                if (x[i2] > m || float.IsNaN(x[i2])) { m = x[i2]; best = i2; }
                if (x[i2 + 1] > m || float.IsNaN(x[i2 + 1])) { m = x[i2 + 1]; best = i2 + 1; }
                y[r * ow + c] = m;
                idx[r * ow + c] = best;
            }
        }
    }

    private static void PlaneGeneral(ReadOnlySpan<float> x, in ConvGeometry g, Span<float> y, Span<int> idx)
    {
        for (int r = 0; r < g.OutHeight; r++)
        {
            int y0 = r * g.Stride - g.Padding, y1 = Math.Min(y0 + g.Kernel, g.Height);
            y0 = Math.Max(y0, 0);
            for (int c = 0; c < g.OutWidth; c++)
            {
                int x0 = c * g.Stride - g.Padding, x1 = Math.Min(x0 + g.Kernel, g.Width);
                x0 = Math.Max(x0, 0);
                int best = y0 * g.Width + x0;
                float m = float.NegativeInfinity;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++)
                    {
                        float v = x[iy * g.Width + ix];
                        if (v > m || float.IsNaN(v)) { m = v; best = iy * g.Width + ix; if (float.IsNaN(v)) goto done; }
                    }
                done:
                y[r * g.OutWidth + c] = m;
                idx[r * g.OutWidth + c] = best;
            }
        }
    }

    internal static void Check(in ConvGeometry g, int inputLength, int outputLength, int indexLength)
    {
        g.Validate();
        if (g.InChannels != g.OutChannels) throw new ArgumentException($"Pooling keeps the channels: {g}.");
        if (g.Padding * 2 > g.Kernel)
            throw new ArgumentException($"Pooling padding {g.Padding} must be at most half the kernel {g.Kernel} (PyTorch's rule).");
        if (inputLength < g.InputLength || outputLength < g.OutputLength || indexLength < g.OutputLength)
            throw new ArgumentException($"Pooling arrays too short for {g}: input {inputLength}, output {outputLength}, indices {indexLength}.");
    }
}
