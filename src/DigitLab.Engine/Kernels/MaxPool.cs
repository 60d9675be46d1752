// MaxPool: 2-D max pooling forward (recording each window's argmax) and backward. Reference: MaxPoolReference.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DigitLab.Tensors;
using DigitLab.Runtime;

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
    public static void Forward(ComputeContext compute, ConvGeometry g, float[] input, float[] output, int[] argmax)
    {
        Check(g, input.Length, output.Length, argmax.Length);
        int planes = g.Batch * g.InChannels, inPlane = g.InPlane, outPlane = g.OutPlane;
        // Arguments passed as state to a static lambda: no closure allocated per call.
        compute.For(planes, MinPlanesPerThread, (g, input, output, argmax, inPlane, outPlane), static (a, s, e) =>
        {
            var (g, input, output, argmax, inPlane, outPlane) = a;
            if (g is { Kernel: 2, Stride: 2, Padding: 0 })
            {
                for (int p = s; p < e; p++)
                    Plane2x2(input.AsSpan(p * inPlane, inPlane), g.Width, g.OutHeight, g.OutWidth,
                        output.AsSpan(p * outPlane, outPlane), argmax.AsSpan(p * outPlane, outPlane));
            }
            else if (Avx2.IsSupported && GatherTableLength(g) <= MaxGatherTable) PlanesGathered(g, input, output, argmax, s, e);
            else if (g.Height * g.OutWidth <= MaxSeparableScratch) PlanesSeparable(g, input, output, argmax, s, e);
            else
            {
                for (int p = s; p < e; p++)
                    PlaneGeneral(input.AsSpan(p * inPlane, inPlane), g, output.AsSpan(p * outPlane, outPlane), argmax.AsSpan(p * outPlane, outPlane));
            }
        });
    }

    /// <summary>Largest tap table of <see cref="PlanesGathered"/>, in ints (16 KiB of stack).</summary>
    private const int MaxGatherTable = 4096;

    /// <summary>K·K taps by OH·OW outputs rounded up to the 8 lanes of a gather.</summary>
    private static long GatherTableLength(in ConvGeometry g) => (long)g.Kernel * g.Kernel * ((g.OutPlane + 7) / 8 * 8);

    /// <summary>
    /// Planes [first, last) of any window geometry, eight outputs at a time, branch-free: a table gives, for each
    /// tap in row-major order and each output, the plane index it reads; taps in the padding read the window's
    /// first valid value again instead. A repeated value never wins (it is not greater than the running maximum,
    /// and if it is NaN the maximum already is), so padding never competes, and the first valid value starts the
    /// maximum, as in the reference. The taps are gathered, compared with masks (greater wins, NaN wins over a
    /// number) and selected. The table depends only on the geometry; it is rebuilt per call on the stack.
    /// </summary>
    private static unsafe void PlanesGathered(in ConvGeometry g, float[] input, float[] output, int[] argmax, int first, int last)
    {
        int taps = g.Kernel * g.Kernel, outPlane = g.OutPlane, vectors = (outPlane + 7) / 8, padded = vectors * 8;
        Span<int> table = stackalloc int[taps * padded]; // (K·K, OH·OW rounded up): plane index each tap reads
        BuildGatherTable(g, table, padded);
        Span<float> tailValues = stackalloc float[8];
        Span<int> tailIndices = stackalloc int[8];
        fixed (float* inputBase = input)
        fixed (int* t = table)
        {
            for (int p = first; p < last; p++)
            {
                float* x = inputBase + (long)p * g.InPlane;
                var y = output.AsSpan(p * outPlane, outPlane);
                var idx = argmax.AsSpan(p * outPlane, outPlane);
                for (int v = 0; v < vectors; v++)
                {
                    var best = Avx.LoadVector256(t + 8 * v);
                    var m = Avx2.GatherVector256(x, best, 4);
                    for (int tap = 1; tap < taps; tap++)
                    {
                        var index = Avx.LoadVector256(t + tap * padded + 8 * v);
                        Take(Avx2.GatherVector256(x, index, 4), index, ref m, ref best);
                    }
                    int at = 8 * v;
                    if (at + 8 <= outPlane)
                    {
                        m.CopyTo(y.Slice(at, 8));
                        best.CopyTo(idx.Slice(at, 8));
                    }
                    else
                    {
                        m.CopyTo(tailValues);
                        best.CopyTo(tailIndices);
                        tailValues[..(outPlane - at)].CopyTo(y[at..]);
                        tailIndices[..(outPlane - at)].CopyTo(idx[at..]);
                    }
                }
            }
        }
    }

    /// <summary>table[tap·<paramref name="padded"/> + output]: see <see cref="PlanesGathered"/>; lanes past OH·OW read index 0.</summary>
    private static void BuildGatherTable(in ConvGeometry g, Span<int> table, int padded)
    {
        int k = g.Kernel, ow = g.OutWidth;
        table.Clear();
        for (int o = 0; o < g.OutPlane; o++)
        {
            int y0 = o / ow * g.Stride - g.Padding, x0 = o % ow * g.Stride - g.Padding;
            // The window's first valid value: its top-left corner clipped to the image.
            int firstValid = Math.Max(y0, 0) * g.Width + Math.Max(x0, 0);
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++)
                {
                    int iy = y0 + ky, ix = x0 + kx;
                    bool inside = (uint)iy < (uint)g.Height && (uint)ix < (uint)g.Width;
                    table[(ky * k + kx) * padded + o] = inside ? iy * g.Width + ix : firstValid;
                }
        }
    }

    /// <summary>Largest H·OW whose row maxima fit the stack scratch of <see cref="PlanesSeparable"/> (16 KiB of values and indices).</summary>
    private const int MaxSeparableScratch = 2048;

    /// <summary>
    /// Planes [first, last) of any window geometry, branch-free, in two passes: the maximum over each
    /// window's columns in every input row (H, OW), then over each window's rows of those maxima. Taking the
    /// first maximum of each row, then the first row holding the overall maximum, is the first maximum in
    /// row-major order; likewise for the first NaN. Windows are clipped to the image, so padding (−∞) never
    /// competes, and each window's first valid value starts its maximum, as in the reference.
    /// </summary>
    private static void PlanesSeparable(in ConvGeometry g, float[] input, float[] output, int[] argmax, int first, int last)
    {
        int h = g.Height, w = g.Width, oh = g.OutHeight, ow = g.OutWidth, k = g.Kernel, s = g.Stride, pad = g.Padding;
        Span<float> rowMax = stackalloc float[h * ow]; // (H, OW): each input row's maximum over each window's columns
        Span<int> rowArg = stackalloc int[h * ow];     // (H, OW): its index iy·W + ix in the plane
        for (int p = first; p < last; p++)
        {
            var x = input.AsSpan(p * g.InPlane, g.InPlane);
            for (int iy = 0; iy < h; iy++)
            {
                var src = x.Slice(iy * w, w);
                for (int c = 0; c < ow; c++)
                {
                    int x0 = c * s - pad, x1 = Math.Min(x0 + k, w);
                    x0 = Math.Max(x0, 0);
                    float m = src[x0];
                    int at = x0;
                    for (int ix = x0 + 1; ix < x1; ix++)
                    {
                        float v = src[ix];
                        bool wins = v > m | (float.IsNaN(v) & !float.IsNaN(m));
                        m = SelectFloat(wins, v, m);
                        at = Select(wins, ix, at);
                    }
                    rowMax[iy * ow + c] = m;
                    rowArg[iy * ow + c] = iy * w + at;
                }
            }
            var y = output.AsSpan(p * g.OutPlane, g.OutPlane);
            var idx = argmax.AsSpan(p * g.OutPlane, g.OutPlane);
            for (int r = 0; r < oh; r++)
            {
                int y0 = r * s - pad, y1 = Math.Min(y0 + k, h);
                y0 = Math.Max(y0, 0);
                var yRow = y.Slice(r * ow, ow);
                var iRow = idx.Slice(r * ow, ow);
                rowMax.Slice(y0 * ow, ow).CopyTo(yRow);
                rowArg.Slice(y0 * ow, ow).CopyTo(iRow);
                for (int iy = y0 + 1; iy < y1; iy++)
                    MergeRow(rowMax.Slice(iy * ow, ow), rowArg.Slice(iy * ow, ow), yRow, iRow);
            }
        }
    }

    /// <summary>m, best = the later candidate row (v, vIndex) where it wins over m (greater, or NaN over a number), elementwise.</summary>
    private static void MergeRow(ReadOnlySpan<float> v, ReadOnlySpan<int> vIndex, Span<float> m, Span<int> best)
    {
        int c = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; c <= m.Length - 8; c += 8)
            {
                var mv = Vector256.Create(m.Slice(c, 8));
                var bv = Vector256.Create(best.Slice(c, 8));
                Take(Vector256.Create(v.Slice(c, 8)), Vector256.Create(vIndex.Slice(c, 8)), ref mv, ref bv);
                mv.CopyTo(m.Slice(c, 8));
                bv.CopyTo(best.Slice(c, 8));
            }
        if (Vector128.IsHardwareAccelerated)
            for (; c <= m.Length - 4; c += 4)
            {
                var mv = Vector128.Create(m.Slice(c, 4));
                var bv = Vector128.Create(best.Slice(c, 4));
                Take(Vector128.Create(v.Slice(c, 4)), Vector128.Create(vIndex.Slice(c, 4)), ref mv, ref bv);
                mv.CopyTo(m.Slice(c, 4));
                bv.CopyTo(best.Slice(c, 4));
            }
        for (; c < m.Length; c++)
        {
            float a = v[c], b = m[c];
            bool wins = a > b | (float.IsNaN(a) & !float.IsNaN(b));
            m[c] = SelectFloat(wins, a, b);
            best[c] = Select(wins, vIndex[c], best[c]);
        }
    }

    /// <summary>condition ? ifTrue : ifFalse for floats without a branch (through their bits, so −0 and NaN payloads are kept).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static float SelectFloat(bool condition, float ifTrue, float ifFalse) =>
        BitConverter.Int32BitsToSingle(Select(condition, BitConverter.SingleToInt32Bits(ifTrue), BitConverter.SingleToInt32Bits(ifFalse)));

    /// <summary>Overwrites <paramref name="inputGrad"/> (N, C, H, W): each output gradient goes to its window's argmax.</summary>
    public static void Backward(ComputeContext compute, ConvGeometry g, float[] outputGrad, int[] argmax, float[] inputGrad)
    {
        Check(g, inputGrad.Length, outputGrad.Length, argmax.Length);
        int planes = g.Batch * g.InChannels, inPlane = g.InPlane, outPlane = g.OutPlane;
        compute.For(planes, MinPlanesPerThread, (outputGrad, argmax, inputGrad, inPlane, outPlane), static (a, s, e) =>
        {
            var (outputGrad, argmax, inputGrad, inPlane, outPlane) = a;
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

    // The common 2×2 / stride 2 case, branch-free: the maximum by MathF.Max (NaN-propagating, as
    // PyTorch), then the index of its first occurrence by integer selects. With a branch per
    // comparison, random data mispredicts about half of them and the loop ran ten times slower.
    private static void Plane2x2(ReadOnlySpan<float> x, int w, int oh, int ow, Span<float> y, Span<int> idx)
    {
        for (int r = 0; r < oh; r++)
        {
            int topIndex = 2 * r * w;
            var top = x.Slice(topIndex, 2 * ow);
            var bottom = x.Slice(topIndex + w, 2 * ow);
            var yRow = y.Slice(r * ow, ow);
            var iRow = idx.Slice(r * ow, ow);
            int c = Avx2.IsSupported ? Row2x2Vector(top, bottom, topIndex, w, yRow, iRow) : 0;
            for (; c < ow; c++)
            {
                float a = top[2 * c], b = top[2 * c + 1], d = bottom[2 * c], e = bottom[2 * c + 1];
                float m = MathF.Max(MathF.Max(a, b), MathF.Max(d, e));
                int i0 = topIndex + 2 * c;
                // From the last candidate to the first, so the first maximum (or first NaN) wins.
                int best = i0 + w + 1;
                best = Select(d == m | float.IsNaN(d), i0 + w, best);
                best = Select(b == m | float.IsNaN(b), i0 + 1, best);
                best = Select(a == m | float.IsNaN(a), i0, best);
                yRow[c] = m;
                iRow[c] = best;
            }
        }
    }

    /// <summary>
    /// Eight (then four) outputs at a time: the four window corners are de-interleaved from 16 top and 16 bottom
    /// values, compared with masks (first maximum wins, NaN wins over numbers) and selected, all in
    /// registers. Returns how many outputs of the row it did (a multiple of 4).
    /// </summary>
    private static int Row2x2Vector(ReadOnlySpan<float> top, ReadOnlySpan<float> bottom, int topIndex, int w, Span<float> y, Span<int> idx)
    {
        // Avx.Shuffle de-interleaves within 128-bit lanes, so the outputs come out in the order
        // 0 1 4 5 2 3 6 7; indices are built in that order and both vectors are put right at the end.
        var laneOffsets = Vector256.Create(0, 2, 8, 10, 4, 6, 12, 14);
        ref float t = ref MemoryMarshal.GetReference(top);
        ref float b = ref MemoryMarshal.GetReference(bottom);
        int c = 0;
        for (; 2 * c + 16 <= top.Length; c += 8)
        {
            var t0 = Vector256.LoadUnsafe(ref t, (nuint)(2 * c));
            var t1 = Vector256.LoadUnsafe(ref t, (nuint)(2 * c + 8));
            var b0 = Vector256.LoadUnsafe(ref b, (nuint)(2 * c));
            var b1 = Vector256.LoadUnsafe(ref b, (nuint)(2 * c + 8));
            var index = Vector256.Create(topIndex + 2 * c) + laneOffsets;
            var m = Avx.Shuffle(t0, t1, 0b10_00_10_00);
            var best = index;
            Take(Avx.Shuffle(t0, t1, 0b11_01_11_01), index + Vector256<int>.One, ref m, ref best);
            Take(Avx.Shuffle(b0, b1, 0b10_00_10_00), index + Vector256.Create(w), ref m, ref best);
            Take(Avx.Shuffle(b0, b1, 0b11_01_11_01), index + Vector256.Create(w + 1), ref m, ref best);
            Avx2.Permute4x64(m.AsDouble(), 0b11_01_10_00).AsSingle().StoreUnsafe(ref MemoryMarshal.GetReference(y), (nuint)c);
            Avx2.Permute4x64(best.AsDouble(), 0b11_01_10_00).AsInt32().StoreUnsafe(ref MemoryMarshal.GetReference(idx), (nuint)c);
        }
        if (Sse.IsSupported)
        {
            // Four more outputs with 128-bit vectors, where de-interleaving keeps the order.
            for (; 2 * c + 8 <= top.Length; c += 4)
            {
                var t0 = Vector128.LoadUnsafe(ref t, (nuint)(2 * c));
                var t1 = Vector128.LoadUnsafe(ref t, (nuint)(2 * c + 4));
                var b0 = Vector128.LoadUnsafe(ref b, (nuint)(2 * c));
                var b1 = Vector128.LoadUnsafe(ref b, (nuint)(2 * c + 4));
                var index = Vector128.Create(topIndex + 2 * c) + Vector128.Create(0, 2, 4, 6);
                var m = Sse.Shuffle(t0, t1, 0b10_00_10_00);
                var best = index;
                Take(Sse.Shuffle(t0, t1, 0b11_01_11_01), index + Vector128<int>.One, ref m, ref best);
                Take(Sse.Shuffle(b0, b1, 0b10_00_10_00), index + Vector128.Create(w), ref m, ref best);
                Take(Sse.Shuffle(b0, b1, 0b11_01_11_01), index + Vector128.Create(w + 1), ref m, ref best);
                m.StoreUnsafe(ref MemoryMarshal.GetReference(y), (nuint)c);
                best.StoreUnsafe(ref MemoryMarshal.GetReference(idx), (nuint)c);
            }
        }
        return c;
    }

    private static void Take(Vector128<float> v, Vector128<int> vIndex, ref Vector128<float> m, ref Vector128<int> best)
    {
        var wins = Vector128.GreaterThan(v, m) | Vector128.AndNot(~Vector128.Equals(v, v), ~Vector128.Equals(m, m));
        m = Vector128.ConditionalSelect(wins, v, m);
        best = Vector128.ConditionalSelect(wins.AsInt32(), vIndex, best);
    }

    private static void Take(Vector256<float> v, Vector256<int> vIndex, ref Vector256<float> m, ref Vector256<int> best)
    {
        var vNaN = ~Vector256.Equals(v, v);
        var mNaN = ~Vector256.Equals(m, m);
        var wins = Vector256.GreaterThan(v, m) | Vector256.AndNot(vNaN, mNaN);
        m = Vector256.ConditionalSelect(wins, v, m);
        best = Vector256.ConditionalSelect(wins.AsInt32(), vIndex, best);
    }

    /// <summary>condition ? ifTrue : ifFalse without a branch.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static int Select(bool condition, int ifTrue, int ifFalse)
    {
        int mask = -System.Runtime.CompilerServices.Unsafe.As<bool, byte>(ref condition);
        return ifFalse ^ ((ifFalse ^ ifTrue) & mask);
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
