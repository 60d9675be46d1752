// BatchNorm: batch normalisation forward (training and inference) and backward, per channel. Reference: BatchNormReference.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Batch normalisation of x viewed as (N, C, S): S = H·W for images, S = 1 for features.
/// Training: mean and biased variance over the N·S values of each channel normalise the batch,
/// and the running averages move by <c>momentum</c> towards the mean and the <em>unbiased</em>
/// variance (as PyTorch does). Inference: the running averages normalise.
/// y = γ·(x − mean)/√(var + eps) + β.
/// </summary>
/// <remarks>
/// Arrays rather than spans because channels are split across threads; each channel's statistics
/// are computed by one thread, in a fixed order, with double accumulators, so results do not depend
/// on the thread count. The per-channel mean and 1/√(var + eps) used are saved for Backward.
/// </remarks>
public static class BatchNorm
{
    /// <summary>Training-mode forward; updates the running statistics and fills <paramref name="savedMean"/>, <paramref name="savedInvStd"/> (C).</summary>
    public static void ForwardTraining(ComputeContext compute, int n, int c, int s, float[] x, float[] gamma, float[] beta, float eps, float momentum,
        float[] runningMean, float[] runningVar, float[] savedMean, float[] savedInvStd, float[] y)
    {
        long count = (long)n * s;
        if (count <= 1)
            throw new ArgumentException($"Batch norm in training mode needs more than one value per channel, found {count} (batch {n}, {s} per sample); use a larger batch or evaluation mode.");
        // Arguments passed as state to a static lambda: no closure allocated per call.
        compute.For(c, 1, (n, c, s, x, gamma, beta, eps, momentum, runningMean, runningVar, savedMean, savedInvStd, y, count), static (args, c0, c1) =>
        {
            var (n, c, s, x, gamma, beta, eps, momentum, runningMean, runningVar, savedMean, savedInvStd, y, count) = args;
            if (s < NarrowPlane)
            {
                for (int b0 = c0; b0 < c1; b0 += NarrowBlock / s)
                    ForwardTrainingNarrow(n, c, s, b0, Math.Min(c1, b0 + NarrowBlock / s), x, gamma, beta, eps, momentum,
                        runningMean, runningVar, savedMean, savedInvStd, y);
                return;
            }
            for (int ch = c0; ch < c1; ch++)
            {
                double sum = 0;
                for (int i = 0; i < n; i++) sum += SumPlane(Plane(x, i, ch, c, s));
                double mean = sum / count;
                double squares = 0;
                for (int i = 0; i < n; i++) squares += SumSquaredDeviations(Plane(x, i, ch, c, s), (float)mean);
                double variance = squares / count;
                double invStd = 1.0 / Math.Sqrt(variance + eps);
                savedMean[ch] = (float)mean;
                savedInvStd[ch] = (float)invStd;
                runningMean[ch] = (float)((1.0 - momentum) * runningMean[ch] + momentum * mean);
                runningVar[ch] = (float)((1.0 - momentum) * runningVar[ch] + momentum * squares / (count - 1));
                Normalize(x, y, n, ch, c, s, gamma[ch] * invStd, beta[ch] - mean * gamma[ch] * invStd);
            }
        });
    }

    /// <summary>Inference-mode forward with the running statistics; fills <paramref name="savedMean"/>, <paramref name="savedInvStd"/> from them.</summary>
    public static void ForwardInference(ComputeContext compute, int n, int c, int s, float[] x, float[] gamma, float[] beta, float eps,
        float[] runningMean, float[] runningVar, float[] savedMean, float[] savedInvStd, float[] y)
    {
        compute.For(c, 1, (n, c, s, x, gamma, beta, eps, runningMean, runningVar, savedMean, savedInvStd, y), static (args, c0, c1) =>
        {
            var (n, c, s, x, gamma, beta, eps, runningMean, runningVar, savedMean, savedInvStd, y) = args;
            for (int ch = c0; ch < c1; ch++)
            {
                double invStd = 1.0 / Math.Sqrt(runningVar[ch] + (double)eps);
                savedMean[ch] = runningMean[ch];
                savedInvStd[ch] = (float)invStd;
                if (s >= NarrowPlane) Normalize(x, y, n, ch, c, s, gamma[ch] * invStd, beta[ch] - runningMean[ch] * gamma[ch] * invStd);
            }
            if (s < NarrowPlane)
            {
                // Short planes: y = x·scale + shift by rows of channel blocks, as in the narrow training path.
                // One pair of block-sized buffers for all blocks (a stackalloc per block would grow the stack).
                Span<float> scaleBlock = stackalloc float[NarrowBlock], shiftBlock = stackalloc float[NarrowBlock];
                for (int b0 = c0; b0 < c1; b0 += NarrowBlock / s)
                {
                    int b1 = Math.Min(c1, b0 + NarrowBlock / s), width = (b1 - b0) * s;
                    Span<float> scale = scaleBlock[..width], shift = shiftBlock[..width];
                    for (int ch = b0; ch < b1; ch++)
                        for (int j = 0; j < s; j++)
                        {
                            scale[(ch - b0) * s + j] = (float)(gamma[ch] * (double)savedInvStd[ch]);
                            shift[(ch - b0) * s + j] = (float)(beta[ch] - runningMean[ch] * gamma[ch] * (double)savedInvStd[ch]);
                        }
                    for (int i = 0; i < n; i++)
                        Elementwise.FusedMultiplyAdd(x.AsSpan(i * c * s + b0 * s, width), scale, shift, y.AsSpan(i * c * s + b0 * s, width));
                }
            }
        });
    }

    /// <summary>
    /// Overwrites <paramref name="inputGrad"/> (N, C, S) and accumulates γ and β gradients (C).
    /// With <paramref name="batchStatistics"/> the mean and variance were functions of the batch
    /// (training mode), which adds their terms: dx = γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    /// </summary>
    public static void Backward(ComputeContext compute, int n, int c, int s, float[] x, float[] outputGrad, float[] gamma,
        float[] savedMean, float[] savedInvStd, bool batchStatistics, float[] inputGrad, float[] gammaGrad, float[] betaGrad)
    {
        long count = (long)n * s;
        compute.For(c, 1, (n, c, s, x, outputGrad, gamma, savedMean, savedInvStd, batchStatistics, inputGrad, gammaGrad, betaGrad, count), static (args, c0, c1) =>
        {
            var (n, c, s, x, outputGrad, gamma, savedMean, savedInvStd, batchStatistics, inputGrad, gammaGrad, betaGrad, count) = args;
            if (s < NarrowPlane)
            {
                for (int b0 = c0; b0 < c1; b0 += NarrowBlock / s)
                    BackwardNarrow(n, c, s, b0, Math.Min(c1, b0 + NarrowBlock / s), x, outputGrad, gamma, savedMean, savedInvStd,
                        batchStatistics, inputGrad, gammaGrad, betaGrad);
                return;
            }
            for (int ch = c0; ch < c1; ch++)
            {
                float mean = savedMean[ch];
                double invStd = savedInvStd[ch];
                double sumDy = 0, sumDyCentered = 0;
                for (int i = 0; i < n; i++)
                {
                    var (plain, centered) = SumAndDotCentered(Plane(x, i, ch, c, s), mean, Plane(outputGrad, i, ch, c, s));
                    sumDy += plain;
                    sumDyCentered += centered;
                }
                gammaGrad[ch] += (float)(sumDyCentered * invStd);
                betaGrad[ch] += (float)sumDy;
                double a = gamma[ch] * invStd;
                // dx = k1·dy + k2·x + k3 (k2 = k3 = 0 with fixed statistics)
                double k2 = batchStatistics ? -a * invStd * invStd * sumDyCentered / count : 0;
                double k3 = batchStatistics ? -a * sumDy / count - k2 * mean : 0;
                for (int i = 0; i < n; i++)
                {
                    InputGradient(Plane(x, i, ch, c, s), Plane(outputGrad, i, ch, c, s), (float)a, (float)k2, (float)k3, Plane(inputGrad, i, ch, c, s));
                }
            }
        });
    }

    /// <summary>Planes smaller than this (deep layers' 2×2 and 1×1 maps, features) take the narrow path.</summary>
    private const int NarrowPlane = 8;

    /// <summary>Columns (channels × S) of one narrow block: its per-column sums fit the stack.</summary>
    private const int NarrowBlock = 256;

    // The narrow path: with S < 8 a channel's N planes are N runs of S values, too short to vectorise one by one.
    // Channels [c0, c1) are instead seen as a (N, (c1 − c0)·S) block of columns inside the (N, C·S) rows, summed
    // down the batch a vector of columns at a time in double (each column's sum runs over i in order, so the result
    // does not depend on the thread split), then each channel adds its S column sums in order.

    /// <summary>Training forward of channels [c0, c1) when S &lt; <see cref="NarrowPlane"/>; see the narrow path note.</summary>
    private static void ForwardTrainingNarrow(int n, int c, int s, int c0, int c1, float[] x, float[] gamma, float[] beta, float eps,
        float momentum, float[] runningMean, float[] runningVar, float[] savedMean, float[] savedInvStd, float[] y)
    {
        int width = (c1 - c0) * s, rowLength = c * s, first = c0 * s;
        long count = (long)n * s;
        Span<double> columnSums = stackalloc double[width];
        Span<float> columnMean = stackalloc float[width], scale = stackalloc float[width], shift = stackalloc float[width];
        SumColumns(x, n, rowLength, first, columnSums);
        for (int ch = c0; ch < c1; ch++)
        {
            double sum = 0;
            for (int j = 0; j < s; j++) sum += columnSums[(ch - c0) * s + j];
            float mean = (float)(sum / count);
            for (int j = 0; j < s; j++) columnMean[(ch - c0) * s + j] = mean;
        }
        SumSquaredColumnDeviations(x, n, rowLength, first, columnMean, columnSums);
        for (int ch = c0; ch < c1; ch++)
        {
            double squares = 0;
            for (int j = 0; j < s; j++) squares += columnSums[(ch - c0) * s + j];
            double mean = columnMean[(ch - c0) * s], variance = squares / count, invStd = 1.0 / Math.Sqrt(variance + eps);
            savedMean[ch] = (float)mean;
            savedInvStd[ch] = (float)invStd;
            runningMean[ch] = (float)((1.0 - momentum) * runningMean[ch] + momentum * mean);
            runningVar[ch] = (float)((1.0 - momentum) * runningVar[ch] + momentum * squares / (count - 1));
            for (int j = 0; j < s; j++)
            {
                scale[(ch - c0) * s + j] = (float)(gamma[ch] * invStd);
                shift[(ch - c0) * s + j] = (float)(beta[ch] - mean * gamma[ch] * invStd);
            }
        }
        for (int i = 0; i < n; i++)
        {
            var xRow = x.AsSpan(i * rowLength + first, width);
            var yRow = y.AsSpan(i * rowLength + first, width);
            Elementwise.FusedMultiplyAdd(xRow, scale, shift, yRow);
        }
    }

    /// <summary>Backward of channels [c0, c1) when S &lt; <see cref="NarrowPlane"/>; see the narrow path note.</summary>
    private static void BackwardNarrow(int n, int c, int s, int c0, int c1, float[] x, float[] outputGrad, float[] gamma,
        float[] savedMean, float[] savedInvStd, bool batchStatistics, float[] inputGrad, float[] gammaGrad, float[] betaGrad)
    {
        int width = (c1 - c0) * s, rowLength = c * s, first = c0 * s;
        long count = (long)n * s;
        Span<double> sumDy = stackalloc double[width], sumDyCentered = stackalloc double[width];
        Span<float> columnMean = stackalloc float[width], k1 = stackalloc float[width], k2 = stackalloc float[width], k3 = stackalloc float[width];
        for (int ch = c0; ch < c1; ch++)
            for (int j = 0; j < s; j++) columnMean[(ch - c0) * s + j] = savedMean[ch];
        SumColumnsAndDotCentered(x, outputGrad, n, rowLength, first, columnMean, sumDy, sumDyCentered);
        for (int ch = c0; ch < c1; ch++)
        {
            double plain = 0, centered = 0;
            for (int j = 0; j < s; j++)
            {
                plain += sumDy[(ch - c0) * s + j];
                centered += sumDyCentered[(ch - c0) * s + j];
            }
            float mean = savedMean[ch];
            double invStd = savedInvStd[ch];
            gammaGrad[ch] += (float)(centered * invStd);
            betaGrad[ch] += (float)plain;
            double a = gamma[ch] * invStd;
            double b = batchStatistics ? -a * invStd * invStd * centered / count : 0;
            double d = batchStatistics ? -a * plain / count - b * mean : 0;
            for (int j = 0; j < s; j++)
            {
                k1[(ch - c0) * s + j] = (float)a;
                k2[(ch - c0) * s + j] = (float)b;
                k3[(ch - c0) * s + j] = (float)d;
            }
        }
        for (int i = 0; i < n; i++)
        {
            int at = i * rowLength + first;
            InputGradientColumns(x.AsSpan(at, width), outputGrad.AsSpan(at, width), k1, k2, k3, inputGrad.AsSpan(at, width));
        }
    }

    /// <summary>sums[k] = Σ_i x[i·rowLength + first + k] in double, i in order.</summary>
    private static void SumColumns(float[] x, int n, int rowLength, int first, Span<double> sums)
    {
        sums.Clear();
        int width = sums.Length;
        ref double acc = ref MemoryMarshal.GetReference(sums);
        for (int i = 0; i < n; i++)
        {
            ref float row = ref x[i * rowLength + first];
            int k = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; k <= width - 4; k += 4)
                {
                    var v = Vector256.WidenLower(Vector256.Create(Vector128.LoadUnsafe(ref row, (nuint)k), Vector128<float>.Zero));
                    (Vector256.LoadUnsafe(ref acc, (nuint)k) + v).StoreUnsafe(ref acc, (nuint)k);
                }
            for (; k < width; k++) sums[k] += System.Runtime.CompilerServices.Unsafe.Add(ref row, k);
        }
    }

    /// <summary>sums[k] = Σ_i (x[i·rowLength + first + k] − mean[k])², the difference in float, squares summed in double.</summary>
    private static void SumSquaredColumnDeviations(float[] x, int n, int rowLength, int first, ReadOnlySpan<float> mean, Span<double> sums)
    {
        sums.Clear();
        int width = sums.Length;
        ref double acc = ref MemoryMarshal.GetReference(sums);
        ref float m = ref MemoryMarshal.GetReference(mean);
        for (int i = 0; i < n; i++)
        {
            ref float row = ref x[i * rowLength + first];
            int k = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; k <= width - 4; k += 4)
                {
                    var d = Vector128.LoadUnsafe(ref row, (nuint)k) - Vector128.LoadUnsafe(ref m, (nuint)k);
                    var wide = Vector256.WidenLower(Vector256.Create(d, Vector128<float>.Zero));
                    (Vector256.LoadUnsafe(ref acc, (nuint)k) + wide * wide).StoreUnsafe(ref acc, (nuint)k);
                }
            for (; k < width; k++)
            {
                double d = System.Runtime.CompilerServices.Unsafe.Add(ref row, k) - mean[k];
                sums[k] += d * d;
            }
        }
    }

    /// <summary>plain[k] = Σ_i dy, centered[k] = Σ_i (x − mean[k])·dy over column k, the difference in float, sums in double.</summary>
    private static void SumColumnsAndDotCentered(float[] x, float[] dy, int n, int rowLength, int first, ReadOnlySpan<float> mean,
        Span<double> plain, Span<double> centered)
    {
        plain.Clear();
        centered.Clear();
        int width = plain.Length;
        ref double p = ref MemoryMarshal.GetReference(plain);
        ref double q = ref MemoryMarshal.GetReference(centered);
        ref float m = ref MemoryMarshal.GetReference(mean);
        for (int i = 0; i < n; i++)
        {
            ref float xRow = ref x[i * rowLength + first];
            ref float dRow = ref dy[i * rowLength + first];
            int k = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; k <= width - 4; k += 4)
                {
                    var dv = Vector256.WidenLower(Vector256.Create(Vector128.LoadUnsafe(ref dRow, (nuint)k), Vector128<float>.Zero));
                    var xc = Vector128.LoadUnsafe(ref xRow, (nuint)k) - Vector128.LoadUnsafe(ref m, (nuint)k);
                    var xw = Vector256.WidenLower(Vector256.Create(xc, Vector128<float>.Zero));
                    (Vector256.LoadUnsafe(ref p, (nuint)k) + dv).StoreUnsafe(ref p, (nuint)k);
                    (Vector256.LoadUnsafe(ref q, (nuint)k) + xw * dv).StoreUnsafe(ref q, (nuint)k);
                }
            for (; k < width; k++)
            {
                float d = System.Runtime.CompilerServices.Unsafe.Add(ref dRow, k);
                plain[k] += d;
                centered[k] += (double)(System.Runtime.CompilerServices.Unsafe.Add(ref xRow, k) - mean[k]) * d;
            }
        }
    }

    /// <summary>dx = dy·k1 + (x·k2 + k3) with per-column coefficients, vectorised.</summary>
    private static void InputGradientColumns(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> k1, ReadOnlySpan<float> k2,
        ReadOnlySpan<float> k3, Span<float> dx)
    {
        int i = 0, length = x.Length;
        if (dy.Length < length || k1.Length < length || k2.Length < length || k3.Length < length || dx.Length < length)
            throw new ArgumentException("BatchNorm: column spans of unequal lengths.");
        ref float xr = ref MemoryMarshal.GetReference(x), dr = ref MemoryMarshal.GetReference(dy), outr = ref MemoryMarshal.GetReference(dx);
        ref float a = ref MemoryMarshal.GetReference(k1), b = ref MemoryMarshal.GetReference(k2), c = ref MemoryMarshal.GetReference(k3);
        if (Vector256.IsHardwareAccelerated)
            for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                nuint at = (nuint)i;
                (Vector256.LoadUnsafe(ref dr, at) * Vector256.LoadUnsafe(ref a, at)
                    + (Vector256.LoadUnsafe(ref xr, at) * Vector256.LoadUnsafe(ref b, at) + Vector256.LoadUnsafe(ref c, at))).StoreUnsafe(ref outr, at);
            }
        for (; i < length; i++) dx[i] = dy[i] * k1[i] + (x[i] * k2[i] + k3[i]);
    }

    private static Span<float> Plane(float[] data, int sample, int channel, int channels, int s) =>
        data.AsSpan((sample * channels + channel) * s, s);

    // y = x·scale + shift over the channel's N planes.
    private static void Normalize(float[] x, float[] y, int n, int ch, int c, int s, double scale, double shift)
    {
        for (int i = 0; i < n; i++) ScaleShift(Plane(x, i, ch, c, s), (float)scale, (float)shift, Plane(y, i, ch, c, s));
    }

    /// <summary>y = x·scale + shift, vectorised.</summary>
    internal static void ScaleShift(ReadOnlySpan<float> x, float scale, float shift, Span<float> y)
    {
        int i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(scale);
            var b = Vector256.Create(shift);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref xr, (nuint)i) * a + b).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] = x[i] * scale + shift;
    }

    /// <summary>
    /// Σ x, vectorised, in float within the plane (as <see cref="SumSquaredDeviations"/>) and double across planes.
    /// Inline: on the small planes of deep layers (4×4, 7×7) TensorPrimitives.Sum's call costs more than the sum.
    /// </summary>
    internal static double SumPlane(ReadOnlySpan<float> x)
    {
        int i = 0;
        double total = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<float>.Count)
        {
            var acc = Vector256<float>.Zero;
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count) acc += Vector256.LoadUnsafe(ref r, (nuint)i);
            total = Vector256.Sum(acc);
        }
        for (; i < x.Length; i++) total += x[i];
        return total;
    }

    /// <summary>Σ (x − mean)², vectorised; two-pass statistics stay accurate when |mean| ≫ std.</summary>
    internal static double SumSquaredDeviations(ReadOnlySpan<float> x, float mean)
    {
        int i = 0;
        double total = 0;
        ref float r = ref MemoryMarshal.GetReference(x);
        if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<float>.Count)
        {
            var acc = Vector256<float>.Zero;
            var m = Vector256.Create(mean);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var d = Vector256.LoadUnsafe(ref r, (nuint)i) - m;
                acc += d * d;
            }
            total = Vector256.Sum(acc);
        }
        for (; i < x.Length; i++) { double d = x[i] - mean; total += d * d; }
        return total;
    }

    /// <summary>(Σ dy, Σ (x − mean)·dy) in one vectorised pass.</summary>
    internal static (double SumDy, double SumDyCentered) SumAndDotCentered(ReadOnlySpan<float> x, float mean, ReadOnlySpan<float> dy)
    {
        int i = 0;
        double plain = 0, centered = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float dr = ref MemoryMarshal.GetReference(dy);
        if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<float>.Count)
        {
            var accPlain = Vector256<float>.Zero;
            var accCentered = Vector256<float>.Zero;
            var m = Vector256.Create(mean);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var d = Vector256.LoadUnsafe(ref dr, (nuint)i);
                accPlain += d;
                accCentered += (Vector256.LoadUnsafe(ref xr, (nuint)i) - m) * d;
            }
            plain = Vector256.Sum(accPlain);
            centered = Vector256.Sum(accCentered);
        }
        for (; i < x.Length; i++) { plain += dy[i]; centered += (double)(x[i] - mean) * dy[i]; }
        return (plain, centered);
    }

    /// <summary>dx = dy·k1 + x·k2 + k3 in one vectorised pass.</summary>
    internal static void InputGradient(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, float k1, float k2, float k3, Span<float> dx)
    {
        int i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float dr = ref MemoryMarshal.GetReference(dy);
        ref float outr = ref MemoryMarshal.GetReference(dx);
        if (Vector256.IsHardwareAccelerated)
        {
            var v1 = Vector256.Create(k1);
            var v2 = Vector256.Create(k2);
            var v3 = Vector256.Create(k3);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
                (Vector256.LoadUnsafe(ref dr, (nuint)i) * v1 + (Vector256.LoadUnsafe(ref xr, (nuint)i) * v2 + v3)).StoreUnsafe(ref outr, (nuint)i);
        }
        for (; i < x.Length; i++) dx[i] = dy[i] * k1 + (x[i] * k2 + k3);
    }
}
