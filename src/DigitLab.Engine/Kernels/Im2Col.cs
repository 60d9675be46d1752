// Im2Col: unfolds one image into the columns a convolution multiplies, and folds gradients back (Col2Im).
// Reference: Im2ColReference.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
        if (IsShift(g)) { UnfoldShifted(image, g, columns, ld); return; }
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
                        if (s == 1) CopyShort(src.Slice(ix, last - first), dst[first..last]);
                        else for (int x = first; x < last; x++, ix += s) dst[x] = src[ix];
                    }
                }
        }
    }

    /// <summary>
    /// The adjoint of <see cref="Unfold"/>: overwrites <paramref name="image"/> (C, H, W) with the sum,
    /// over every column entry, of the value at the pixel that entry was copied from.
    /// </summary>
    /// <remarks>The columns are scratch: entries that map outside the image may be zeroed.</remarks>
    public static void Fold(Span<float> columns, int ld, in ConvGeometry g, Span<float> image)
    {
        if (IsShift(g)) { FoldShifted(columns, ld, g, image); return; }
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
                            Elementwise.Add(d, src[first..last], d);
                        }
                        else for (int x = first; x < last; x++, ix += s) dst[ix] += src[x];
                    }
                }
        }
    }

    /// <summary>
    /// Stride 1 and OW = W (a "same" width, 2P = K − 1): each im2col row is the whole input plane
    /// shifted by (kh − P)·W + (kw − P), so it moves in one contiguous copy instead of OH short ones;
    /// only the entries that wrapped around a row edge, and the rows above or below the image, are zeroed.
    /// </summary>
    private static bool IsShift(in ConvGeometry g) => g.Stride == 1 && g.OutWidth == g.Width && g.OutHeight * g.OutWidth > 0;

    private static void UnfoldShifted(ReadOnlySpan<float> image, in ConvGeometry g, Span<float> columns, int ld)
    {
        int k = g.Kernel, pad = g.Padding, h = g.Height, w = g.Width, oh = g.OutHeight, planeIn = h * w;
        for (int c = 0; c < g.InChannels; c++)
        {
            var plane = image.Slice(c * planeIn, planeIn);
            for (int kh = 0; kh < k; kh++)
                for (int kw = 0; kw < k; kw++)
                {
                    var row = columns.Slice(((c * k + kh) * k + kw) * ld, oh * w);
                    var (y0, y1, dx, start, end) = ShiftRange(kh, kw, pad, h, w, oh);
                    int shift = (kh - pad) * w + dx;
                    row[..(y0 * w)].Clear();
                    row[(y1 * w)..].Clear();
                    if (y0 >= y1) continue;
                    row[(y0 * w)..(start - shift)].Clear();
                    row[(end - shift)..(y1 * w)].Clear();
                    plane[start..end].CopyTo(row[(start - shift)..(end - shift)]);
                    ZeroWrapped(row, y0, y1, w, dx);
                }
        }
    }

    private static void FoldShifted(Span<float> columns, int ld, in ConvGeometry g, Span<float> image)
    {
        int k = g.Kernel, pad = g.Padding, h = g.Height, w = g.Width, oh = g.OutHeight, planeIn = h * w;
        image.Slice(0, g.InChannels * planeIn).Clear();
        for (int c = 0; c < g.InChannels; c++)
        {
            var plane = image.Slice(c * planeIn, planeIn);
            for (int kh = 0; kh < k; kh++)
                for (int kw = 0; kw < k; kw++)
                {
                    var row = columns.Slice(((c * k + kh) * k + kw) * ld, oh * w);
                    var (y0, y1, dx, start, end) = ShiftRange(kh, kw, pad, h, w, oh);
                    if (y0 >= y1) continue;
                    int shift = (kh - pad) * w + dx;
                    ZeroWrapped(row, y0, y1, w, dx); // they belong to no pixel; zero them so one add covers the rest
                    var target = plane[start..end];
                    Elementwise.Add(target, row[(start - shift)..(end - shift)], target);
                }
        }
    }

    /// <summary>
    /// For kernel offset (kh, kw): the output rows [y0, y1) that read inside the image, the column
    /// shift dx = kw − P, and the input range [start, end) those rows read, clipped to the plane.
    /// </summary>
    private static (int Y0, int Y1, int Dx, int Start, int End) ShiftRange(int kh, int kw, int pad, int h, int w, int oh)
    {
        int dy = kh - pad, dx = kw - pad;
        int y0 = Math.Min(oh, Math.Max(0, -dy)), y1 = Math.Max(y0, Math.Min(oh, h - dy));
        int shift = dy * w + dx;
        int start = Math.Max(y0 * w + shift, 0), end = Math.Min(y1 * w + shift, h * w);
        return (y0, y1, dx, start, Math.Max(start, end));
    }

    /// <summary>Zeroes, in rows [y0, y1), the columns whose source x + dx fell outside [0, W).</summary>
    private static void ZeroWrapped(Span<float> row, int y0, int y1, int w, int dx)
    {
        if (dx == 0) return;
        int from = dx < 0 ? 0 : Math.Max(0, w - dx), count = Math.Min(w, Math.Abs(dx));
        // Usually one or two values per row: plain stores, not a Clear call each.
        for (int y = y0; y < y1; y++)
        {
            int at = y * w + from;
            for (int i = 0; i < count; i++) row[at + i] = 0f;
        }
    }

    /// <summary>
    /// A copy of a few floats (an output row of a small feature map, often 6 to 24): vector moves and a scalar
    /// tail, inline; Span.CopyTo's call into memmove costs more than the copy at these lengths.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort(ReadOnlySpan<float> source, Span<float> destination)
    {
        int n = source.Length, i = 0;
        if (n > 32) { source.CopyTo(destination); return; }
        if (destination.Length < n) throw new ArgumentException("CopyShort: destination shorter than source.");
        ref float src = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source);
        ref float dst = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(destination);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                Vector256.LoadUnsafe(ref src, (nuint)i).StoreUnsafe(ref dst, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref dst, i) = Unsafe.Add(ref src, i);
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
