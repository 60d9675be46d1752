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
                        float* from = copy + border + (t / g.Kernel - g.Padding) * g.Width + t % g.Kernel - g.Padding;
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
