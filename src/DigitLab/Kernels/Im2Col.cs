// Im2Col: unfolds one image into the columns a convolution multiplies, and folds gradients back (Col2Im).
// Reference: Im2ColReference.
using System.Runtime.CompilerServices;

namespace DigitLab.Kernels;

/// <summary>
/// im2col for one image: column p = (oh, ow) of row r = (c, kh, kw) holds
/// x[c, oh·S − P + kh, ow·S − P + kw] (0 outside the image). The columns of one image are OH·OW
/// consecutive entries of each row; rows are <c>ld</c> apart, so several images can sit side by side.
/// </summary>
public static class Im2Col
{
    /// <summary>Unfolds <paramref name="image"/> (C, H, W) into <paramref name="columns"/> (C·K·K rows, stride <paramref name="ld"/>).</summary>
    public static void Unfold(ReadOnlySpan<float> image, in ConvGeometry g, Span<float> columns, int ld)
    {
        int k = g.Kernel, s = g.Stride, pad = g.Padding, oh = g.OutHeight, ow = g.OutWidth, h = g.Height, w = g.Width;
        for (int c = 0; c < g.InChannels; c++)
        {
            var plane = image.Slice(c * h * w, h * w);
            for (int kh = 0; kh < k; kh++)
                for (int kw = 0; kw < k; kw++)
                {
                    var row = columns.Slice(((c * k + kh) * k + kw) * ld, oh * ow);
                    var (first, last) = ValidRange(kw, s, pad, w, ow);
                    for (int y = 0; y < oh; y++)
                    {
                        var dst = row.Slice(y * ow, ow);
                        int iy = y * s - pad + kh;
                        if ((uint)iy >= (uint)h || first >= last) { dst.Clear(); continue; }
                        dst[..first].Clear();
                        dst[last..].Clear();
                        var src = plane.Slice(iy * w);
                        int ix = first * s - pad + kw;
                        if (s == 1) src.Slice(ix, last - first).CopyTo(dst[first..last]);
                        else for (int x = first; x < last; x++, ix += s) dst[x] = src[ix];
                    }
                }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Unfold"/>: overwrites <paramref name="image"/> (C, H, W) with the sum,
    /// over every column entry, of the value at the pixel that entry was copied from.
    /// </summary>
    public static void Fold(ReadOnlySpan<float> columns, int ld, in ConvGeometry g, Span<float> image)
    {
        int k = g.Kernel, s = g.Stride, pad = g.Padding, oh = g.OutHeight, ow = g.OutWidth, h = g.Height, w = g.Width;
        image.Slice(0, g.InChannels * h * w).Clear();
        for (int c = 0; c < g.InChannels; c++)
        {
            var plane = image.Slice(c * h * w, h * w);
            for (int kh = 0; kh < k; kh++)
                for (int kw = 0; kw < k; kw++)
                {
                    var row = columns.Slice(((c * k + kh) * k + kw) * ld, oh * ow);
                    var (first, last) = ValidRange(kw, s, pad, w, ow);
                    if (first >= last) continue;
                    for (int y = 0; y < oh; y++)
                    {
                        int iy = y * s - pad + kh;
                        if ((uint)iy >= (uint)h) continue;
                        var src = row.Slice(y * ow);
                        var dst = plane.Slice(iy * w);
                        int ix = first * s - pad + kw;
                        if (s == 1)
                        {
                            var d = dst.Slice(ix, last - first);
                            System.Numerics.Tensors.TensorPrimitives.Add(d, src[first..last], d);
                        }
                        else for (int x = first; x < last; x++, ix += s) dst[ix] += src[x];
                    }
                }
        }
    }

    /// <summary>The output columns [first, last) whose input column ow·S − P + kw lies inside [0, W).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int First, int Last) ValidRange(int kw, int s, int pad, int w, int ow)
    {
        int first = pad - kw <= 0 ? 0 : (pad - kw + s - 1) / s;
        int lastIn = w - 1 + pad - kw; // largest ow·S with a valid input column
        int last = lastIn < 0 ? 0 : Math.Min(ow, lastIn / s + 1);
        return (Math.Min(first, last), last);
    }
}
