// AvgPoolReference: readable, not fast. Average pooling window by window in double; padding counts as zeros.
namespace DigitLab.Kernels;

public static class AvgPoolReference
{
    public static void Forward(in ConvGeometry g, ReadOnlySpan<float> input, Span<float> output)
    {
        for (int p = 0; p < g.Batch * g.InChannels; p++)
            for (int r = 0; r < g.OutHeight; r++)
                for (int c = 0; c < g.OutWidth; c++)
                {
                    double sum = 0;
                    for (int kh = 0; kh < g.Kernel; kh++)
                        for (int kw = 0; kw < g.Kernel; kw++)
                        {
                            int iy = r * g.Stride - g.Padding + kh, ix = c * g.Stride - g.Padding + kw;
                            if (iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width) sum += input[p * g.InPlane + iy * g.Width + ix];
                        }
                    output[p * g.OutPlane + r * g.OutWidth + c] = (float)(sum / (g.Kernel * g.Kernel));
                }
    }

    public static void Backward(in ConvGeometry g, ReadOnlySpan<float> outputGrad, Span<float> inputGrad)
    {
        var dx = new double[g.InputLength];
        for (int p = 0; p < g.Batch * g.InChannels; p++)
            for (int r = 0; r < g.OutHeight; r++)
                for (int c = 0; c < g.OutWidth; c++)
                    for (int kh = 0; kh < g.Kernel; kh++)
                        for (int kw = 0; kw < g.Kernel; kw++)
                        {
                            int iy = r * g.Stride - g.Padding + kh, ix = c * g.Stride - g.Padding + kw;
                            if (iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width)
                                dx[p * g.InPlane + iy * g.Width + ix] += outputGrad[p * g.OutPlane + r * g.OutWidth + c] / (double)(g.Kernel * g.Kernel);
                        }
        for (int i = 0; i < dx.Length; i++) inputGrad[i] = (float)dx[i];
    }
}
