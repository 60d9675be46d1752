// MaxPoolReference: readable, not fast. Max pooling written window by window.
namespace DigitLab.Kernels;

public static class MaxPoolReference
{
    public static void Forward(in ConvGeometry g, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax)
    {
        int planes = g.Batch * g.InChannels;
        for (int p = 0; p < planes; p++)
            for (int r = 0; r < g.OutHeight; r++)
                for (int c = 0; c < g.OutWidth; c++)
                {
                    float m = float.NegativeInfinity;
                    int best = -1;
                    for (int kh = 0; kh < g.Kernel; kh++)
                        for (int kw = 0; kw < g.Kernel; kw++)
                        {
                            int iy = r * g.Stride - g.Padding + kh, ix = c * g.Stride - g.Padding + kw;
                            if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                            float v = input[p * g.InPlane + iy * g.Width + ix];
                            if (best < 0 || v > m || (float.IsNaN(v) && !float.IsNaN(m))) { m = v; best = iy * g.Width + ix; }
                        }
                    output[p * g.OutPlane + r * g.OutWidth + c] = m;
                    argmax[p * g.OutPlane + r * g.OutWidth + c] = best;
                }
    }

    public static void Backward(in ConvGeometry g, ReadOnlySpan<float> outputGrad, ReadOnlySpan<int> argmax, Span<float> inputGrad)
    {
        inputGrad.Slice(0, g.InputLength).Clear();
        int planes = g.Batch * g.InChannels;
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < g.OutPlane; i++)
                inputGrad[p * g.InPlane + argmax[p * g.OutPlane + i]] += outputGrad[p * g.OutPlane + i];
    }
}
