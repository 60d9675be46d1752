// ConvolutionReference: readable, not fast. Direct seven-loop convolution in double, forward and both backward passes.
namespace DigitLab.Kernels;

public static class ConvolutionReference
{
    public static void Forward(in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output)
    {
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                    {
                        double sum = bias.IsEmpty ? 0 : bias[o];
                        for (int c = 0; c < g.InChannels; c++)
                            for (int kh = 0; kh < g.Kernel; kh++)
                                for (int kw = 0; kw < g.Kernel; kw++)
                                {
                                    int iy = y * g.Stride - g.Padding + kh, ix = x * g.Stride - g.Padding + kw;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    sum += (double)input[((n * g.InChannels + c) * g.Height + iy) * g.Width + ix]
                                         * weight[((o * g.InChannels + c) * g.Kernel + kh) * g.Kernel + kw];
                                }
                        output[((n * g.OutChannels + o) * g.OutHeight + y) * g.OutWidth + x] = (float)sum;
                    }
    }

    /// <summary>Overwrites inputGrad, accumulates (+=) weightGrad and biasGrad (when not empty).</summary>
    public static void Backward(in ConvGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> outputGrad,
        Span<float> inputGrad, Span<float> weightGrad, Span<float> biasGrad)
    {
        var dx = new double[g.InputLength];
        var dw = new double[g.WeightLength];
        var db = new double[g.OutChannels];
        for (int n = 0; n < g.Batch; n++)
            for (int o = 0; o < g.OutChannels; o++)
                for (int y = 0; y < g.OutHeight; y++)
                    for (int x = 0; x < g.OutWidth; x++)
                    {
                        double dy = outputGrad[((n * g.OutChannels + o) * g.OutHeight + y) * g.OutWidth + x];
                        db[o] += dy;
                        for (int c = 0; c < g.InChannels; c++)
                            for (int kh = 0; kh < g.Kernel; kh++)
                                for (int kw = 0; kw < g.Kernel; kw++)
                                {
                                    int iy = y * g.Stride - g.Padding + kh, ix = x * g.Stride - g.Padding + kw;
                                    if (iy < 0 || iy >= g.Height || ix < 0 || ix >= g.Width) continue;
                                    int xi = ((n * g.InChannels + c) * g.Height + iy) * g.Width + ix;
                                    int wi = ((o * g.InChannels + c) * g.Kernel + kh) * g.Kernel + kw;
                                    dx[xi] += dy * weight[wi];
                                    dw[wi] += dy * input[xi];
                                }
                    }
        for (int i = 0; i < dx.Length; i++) inputGrad[i] = (float)dx[i];
        for (int i = 0; i < dw.Length; i++) weightGrad[i] += (float)dw[i];
        if (!biasGrad.IsEmpty) for (int i = 0; i < db.Length; i++) biasGrad[i] += (float)db[i];
    }
}
