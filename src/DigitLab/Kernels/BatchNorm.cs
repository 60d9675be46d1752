// BatchNorm: batch normalisation forward (training and inference) and backward, per channel. Reference: BatchNormReference.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DigitLab.Tensors;

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
    public static void ForwardTraining(int n, int c, int s, float[] x, float[] gamma, float[] beta, float eps, float momentum,
        float[] runningMean, float[] runningVar, float[] savedMean, float[] savedInvStd, float[] y)
    {
        long count = (long)n * s;
        if (count <= 1)
            throw new ArgumentException($"Batch norm in training mode needs more than one value per channel, found {count} (batch {n}, {s} per sample); use a larger batch or evaluation mode.");
        // Arguments passed as state to a static lambda: no closure allocated per call.
        Threading.For(c, 1, (n, c, s, x, gamma, beta, eps, momentum, runningMean, runningVar, savedMean, savedInvStd, y, count), static (args, c0, c1) =>
        {
            var (n, c, s, x, gamma, beta, eps, momentum, runningMean, runningVar, savedMean, savedInvStd, y, count) = args;
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
    public static void ForwardInference(int n, int c, int s, float[] x, float[] gamma, float[] beta, float eps,
        float[] runningMean, float[] runningVar, float[] savedMean, float[] savedInvStd, float[] y)
    {
        Threading.For(c, 1, (n, c, s, x, gamma, beta, eps, runningMean, runningVar, savedMean, savedInvStd, y), static (args, c0, c1) =>
        {
            var (n, c, s, x, gamma, beta, eps, runningMean, runningVar, savedMean, savedInvStd, y) = args;
            for (int ch = c0; ch < c1; ch++)
            {
                double invStd = 1.0 / Math.Sqrt(runningVar[ch] + (double)eps);
                savedMean[ch] = runningMean[ch];
                savedInvStd[ch] = (float)invStd;
                Normalize(x, y, n, ch, c, s, gamma[ch] * invStd, beta[ch] - runningMean[ch] * gamma[ch] * invStd);
            }
        });
    }

    /// <summary>
    /// Overwrites <paramref name="inputGrad"/> (N, C, S) and accumulates γ and β gradients (C).
    /// With <paramref name="batchStatistics"/> the mean and variance were functions of the batch
    /// (training mode), which adds their terms: dx = γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    /// </summary>
    public static void Backward(int n, int c, int s, float[] x, float[] outputGrad, float[] gamma,
        float[] savedMean, float[] savedInvStd, bool batchStatistics, float[] inputGrad, float[] gammaGrad, float[] betaGrad)
    {
        long count = (long)n * s;
        Threading.For(c, 1, (n, c, s, x, outputGrad, gamma, savedMean, savedInvStd, batchStatistics, inputGrad, gammaGrad, betaGrad, count), static (args, c0, c1) =>
        {
            var (n, c, s, x, outputGrad, gamma, savedMean, savedInvStd, batchStatistics, inputGrad, gammaGrad, betaGrad, count) = args;
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
