// Im2ColGather: im2col for small feature maps by table-driven vector gathers. Reference: Im2ColReference.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DigitLab.Kernels;

/// <summary>
/// The same layout as <see cref="Im2Col"/> (row (c, kh, kw), column (oh, ow), rows <c>ld</c> apart), for maps so
/// small (7×7, 4×4, 2×2) that <see cref="Im2Col"/>'s per-row copies and clears cost far more than the data they
/// move. A table built once per call gives, for each tap and each output position, the input index it reads
/// (−1 in the padding); each im2col row is then a few masked 8-lane gathers, or, for a "same" stride-1 convolution,
/// loads from a zero-bordered copy of the plane at the tap's shift, masked by the table. (The fold stays <see cref="Im2Col.Fold"/>:
/// gathering each pixel's K·K entries from K·K rows measured slower than its shifted adds.)
/// </summary>
/// <remarks>Needs AVX2 (<see cref="Supports"/>). Callers build the table on the stack: <see cref="TableLength"/> ints.</remarks>
public static unsafe class Im2ColGather
{
    /// <summary>Largest table, in ints (16 KiB of stack).</summary>
    public const int MaxTable = 4096;

    private static int Padded(int n) => (n + 7) / 8 * 8;

    /// <summary>Ints of the table: K·K taps by OH·OW rounded up to 8 lanes.</summary>
    public static int TableLength(in ConvGeometry g) => g.Kernel * g.Kernel * Padded(g.OutPlane);

    /// <summary>Whether this CPU and geometry can use the gathers (AVX2 and a table of at most <see cref="MaxTable"/> ints).</summary>
    public static bool Supports(in ConvGeometry g) => Avx2.IsSupported && (long)g.Kernel * g.Kernel * Padded(g.OutPlane) <= MaxTable;

    /// <summary>
    /// table[t·P + p] = h·W + w of the pixel tap t = kh·K + kw reads at output position p, or −1 in the padding
    /// (P = OH·OW rounded up to 8).
    /// </summary>
    public static void BuildTable(in ConvGeometry g, Span<int> table)
    {
        int k = g.Kernel, ow = g.OutWidth, padded = Padded(g.OutPlane);
        table.Slice(0, k * k * padded).Fill(-1);
        for (int t = 0; t < k * k; t++)
            for (int p = 0; p < g.OutPlane; p++)
            {
                int iy = p / ow * g.Stride - g.Padding + t / k, ix = p % ow * g.Stride - g.Padding + t % k;
                if ((uint)iy < (uint)g.Height && (uint)ix < (uint)g.Width) table[t * padded + p] = iy * g.Width + ix;
            }
    }

    /// <summary>
    /// Unfolds <paramref name="image"/> (C, H, W) into <paramref name="columns"/> (C·K·K rows, stride <paramref name="ld"/>).
    /// With <paramref name="overrunRows"/>, when OH·OW is not a multiple of 8 the last vector of each row is stored whole
    /// (a masked store costs several times more), writing garbage over the next OH·OW rounded up to 8, minus OH·OW, floats
    /// of the row: for a caller that unfolds the next image there afterwards. It is ignored when that would reach past
    /// the next image's columns (OH·OW &lt; 4).
    /// </summary>
    public static void Unfold(ReadOnlySpan<float> image, in ConvGeometry g, ReadOnlySpan<int> unfoldTable, Span<float> columns, int ld,
        bool overrunRows = false)
    {
        int kk = g.Kernel * g.Kernel, plane = g.OutPlane, padded = Padded(plane), inPlane = g.InPlane;
        bool whole = overrunRows && padded - plane <= plane;
        Check(g, image.Length, unfoldTable.Length, kk * padded, columns.Length, ld, whole ? padded : plane);
        var tail = TailMask(plane);
        // A "same" stride-1 convolution (OW = W): each row is the plane shifted by (kh − P)·W + kw − P, so it is
        // loaded from a zero-bordered copy of the plane and masked where the table says padding; no gathers.
        bool shifted = g.Stride == 1 && g.OutWidth == g.Width;
        int border = shifted ? g.Padding * g.Width + g.Padding : 0;
        Span<float> bordered = stackalloc float[shifted ? 2 * border + padded : 0];
        bordered.Clear();
        Span<int> shifts = stackalloc int[kk];
        Shifts(g, shifts);
        fixed (float* x = image, col = columns, copy = bordered)
        fixed (int* table = unfoldTable)
        {
            for (int c = 0; c < g.InChannels; c++)
            {
                float* src = x + (long)c * inPlane;
                if (shifted) new ReadOnlySpan<float>(src, inPlane).CopyTo(new Span<float>(copy + border, inPlane));
                for (int t = 0; t < kk; t++)
                {
                    float* dst = col + (long)(c * kk + t) * ld;
                    int* row = table + t * padded;
                    int p = 0;
                    if (shifted)
                    {
                        float* from = copy + border + shifts[t];
                        for (; p + 8 <= plane; p += 8)
                            Masked(from + p, Avx.LoadVector256(row + p)).Store(dst + p);
                        if (p < plane)
                        {
                            var last = Masked(from + p, Avx.LoadVector256(row + p));
                            if (whole) last.Store(dst + p);
                            else Avx.MaskStore(dst + p, tail, last);
                        }
                        continue;
                    }
                    for (; p + 8 <= plane; p += 8)
                        GatherValid(src, Avx.LoadVector256(row + p)).Store(dst + p);
                    if (p < plane)
                    {
                        var last = GatherValid(src, Avx.LoadVector256(row + p));
                        if (whole) last.Store(dst + p);
                        else Avx.MaskStore(dst + p, tail, last);
                    }
                }
            }
        }
    }

    /// <summary>Whether <see cref="Fold"/> applies: <see cref="Supports"/> and a "same" stride-1 geometry (OW = W, so OH·OW = H·W).</summary>
    public static bool SupportsFold(in ConvGeometry g) => Supports(g) && g.Stride == 1 && g.OutWidth == g.Width && g.OutHeight == g.Height;

    /// <summary>
    /// From the unfold table, fold[t·P + q] = the output position p whose tap t reads pixel q, or −1 (P = H·W rounded up to 8).
    /// </summary>
    public static void BuildFoldTable(in ConvGeometry g, ReadOnlySpan<int> unfoldTable, Span<int> foldTable)
    {
        int kk = g.Kernel * g.Kernel, padded = Padded(g.OutPlane);
        foldTable.Slice(0, kk * padded).Fill(-1);
        for (int t = 0; t < kk; t++)
            for (int p = 0; p < g.OutPlane; p++)
                if (unfoldTable[t * padded + p] is var q and >= 0) foldTable[t * padded + q] = p;
    }

    /// <summary>
    /// The adjoint of <see cref="Unfold"/> for a "same" stride-1 geometry (<see cref="SupportsFold"/>): overwrites
    /// <paramref name="image"/> (C, H, W) with, for each pixel, the sum in tap order (as <see cref="Im2Col.Fold"/>) of the
    /// column entries copied from it. The image's row r starts at <paramref name="columns"/>[<paramref name="offset"/> + r·ld].
    /// Pixel q of tap t's row sits at q − shift: the row is loaded at that offset and masked by the fold table, reading
    /// (and discarding) up to P·W + P + 7 neighbouring floats on each side; rows too near either end of
    /// <paramref name="columns"/> for that are copied into a zero-bordered buffer first. The columns are only read.
    /// </summary>
    public static void Fold(ReadOnlySpan<float> columns, int offset, int ld, in ConvGeometry g, ReadOnlySpan<int> foldTable, Span<float> image)
    {
        if (!SupportsFold(g)) throw new ArgumentException($"Im2ColGather.Fold needs a same-size stride-1 geometry on a small map; found {g}. Use Im2Col.Fold.");
        int kk = g.Kernel * g.Kernel, plane = g.OutPlane, padded = Padded(plane), border = g.Padding * g.Width + g.Padding;
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), $"Im2ColGather.Fold: offset must be ≥ 0; found {offset}.");
        Check(g, image.Length, foldTable.Length, kk * padded, columns.Length - offset, ld, plane);
        var tail = TailMask(plane);
        Span<float> bordered = stackalloc float[2 * border + padded];
        Span<float> sums = stackalloc float[padded];
        bordered.Clear();
        Span<int> shifts = stackalloc int[kk];
        Shifts(g, shifts);
        // Each channel's last vector may be stored whole into the next channel's plane, written after it (not past the image).
        bool whole = padded - plane <= plane;
        fixed (float* dx = image, col = columns, copy = bordered, sum = sums)
        fixed (int* table = foldTable)
        {
            for (int c = 0; c < g.InChannels; c++)
            {
                for (int q = 0; q < padded; q += 8) Vector256<float>.Zero.Store(sum + q);
                for (int t = 0; t < kk; t++)
                {
                    long start = offset + (long)(c * kk + t) * ld;
                    float* from;
                    if (start >= border && start + padded + border <= columns.Length) from = col + start - shifts[t];
                    else
                    {
                        new ReadOnlySpan<float>(col + start, plane).CopyTo(new Span<float>(copy + border, plane));
                        from = copy + border - shifts[t];
                    }
                    int* row = table + t * padded;
                    for (int q = 0; q < padded; q += 8)
                        (Avx.LoadVector256(sum + q) + Masked(from + q, Avx.LoadVector256(row + q))).Store(sum + q);
                }
                float* dst = dx + (long)c * plane;
                int v = 0;
                for (; v + 8 <= plane; v += 8) Avx.LoadVector256(sum + v).Store(dst + v);
                if (v < plane)
                {
                    if (whole && c < g.InChannels - 1) Avx.LoadVector256(sum + v).Store(dst + v);
                    else Avx.MaskStore(dst + v, tail, Avx.LoadVector256(sum + v));
                }
            }
        }
    }

    /// <summary>shifts[kh·K + kw] = (kh − P)·W + kw − P: where tap (kh, kw) of output position p reads, p + shift, on a same-size map.</summary>
    private static void Shifts(in ConvGeometry g, Span<int> shifts)
    {
        for (int t = 0; t < g.Kernel * g.Kernel; t++) shifts[t] = (t / g.Kernel - g.Padding) * g.Width + t % g.Kernel - g.Padding;
    }

    /// <summary>Eight floats from <paramref name="source"/>, zeroed in the lanes whose index is −1 (padding).</summary>
    private static Vector256<float> Masked(float* source, Vector256<int> index) =>
        Avx.LoadVector256(source) & Avx2.CompareGreaterThan(index, Vector256.Create(-1)).AsSingle();

    /// <summary>Lanes with index ≥ 0 load source[index]; the others are 0 and read nothing.</summary>
    private static Vector256<float> GatherValid(float* source, Vector256<int> index) =>
        Avx2.GatherMaskVector256(Vector256<float>.Zero, source, index, Avx2.CompareGreaterThan(index, Vector256.Create(-1)).AsSingle(), 4);

    /// <summary>Lanes below length mod 8 set (all when it is a multiple of 8): the last, partial vector's store mask.</summary>
    private static Vector256<float> TailMask(int length)
    {
        int rest = length % 8 == 0 ? 8 : length % 8;
        return Avx2.CompareGreaterThan(Vector256.Create(rest), Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7)).AsSingle();
    }

    /// <param name="written">Floats written or read from the start of each row: OH·OW, or more with overrun.</param>
    private static void Check(in ConvGeometry g, int imageLength, int tableLength, int tableNeeded, int columnsLength, int ld, int written)
    {
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("Im2ColGather needs AVX2; use Im2Col.");
        if (imageLength < g.InChannels * g.InPlane || tableLength < tableNeeded || ld < g.OutPlane
            || columnsLength < (long)(g.ColumnRows - 1) * ld + written)
            throw new ArgumentException($"Im2ColGather: spans too short for {g}: image {imageLength}, table {tableLength} (needs {tableNeeded}), columns {columnsLength} with ld {ld}.");
    }
}
