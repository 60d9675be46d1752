// Im2ColReference: readable, not fast. The definition of the im2col layout Im2Col is tested against.
namespace DigitLab.Kernels;

public static class Im2ColReference
{
    public static void Unfold(ReadOnlySpan<float> image, in ConvGeometry g, Span<float> columns, int ld)
    {
        for (int c = 0; c < g.InChannels; c++)
            for (int kh = 0; kh < g.Kernel; kh++)
                for (int kw = 0; kw < g.Kernel; kw++)
                    for (int y = 0; y < g.OutHeight; y++)
                        for (int x = 0; x < g.OutWidth; x++)
                        {
                            int iy = y * g.Stride - g.Padding + kh, ix = x * g.Stride - g.Padding + kw;
                            bool inside = iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width;
                            columns[((c * g.Kernel + kh) * g.Kernel + kw) * ld + y * g.OutWidth + x] =
                                inside ? image[(c * g.Height + iy) * g.Width + ix] : 0f;
                        }
    }

    public static void Fold(ReadOnlySpan<float> columns, int ld, in ConvGeometry g, Span<float> image)
    {
        var sum = new double[g.InChannels * g.Height * g.Width];
        for (int c = 0; c < g.InChannels; c++)
            for (int kh = 0; kh < g.Kernel; kh++)
                for (int kw = 0; kw < g.Kernel; kw++)
                    for (int y = 0; y < g.OutHeight; y++)
                        for (int x = 0; x < g.OutWidth; x++)
                        {
                            int iy = y * g.Stride - g.Padding + kh, ix = x * g.Stride - g.Padding + kw;
                            if (iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width)
                                sum[(c * g.Height + iy) * g.Width + ix] += columns[((c * g.Kernel + kh) * g.Kernel + kw) * ld + y * g.OutWidth + x];
                        }
        for (int i = 0; i < sum.Length; i++) image[i] = (float)sum[i];
    }
}
