// InferencePointwise: the prepared model's sigmoid and average pooling, compiled fully optimised on first call.
// References: TensorPrimitives.Sigmoid (Activations.SigmoidForward) and AvgPoolReference.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using DigitLab.Runtime;

namespace DigitLab.Kernels;

/// <summary>
/// Sigmoid and average pooling for inference, with their own exp and loops instead of TensorPrimitives: a method of that
/// library first called late in a process (a benchmark's fifth model, a server's first LeNet request) ran its tier-0 code
/// for hundreds of calls (lenet5's single image 0.50–0.56 ms at one thread instead of 0.026 ms with tiering off, two
/// thirds of it in the first sigmoid). These methods are marked for full optimisation at their first call.
/// </summary>
public static unsafe class InferencePointwise
{
    /// <summary>Least values per thread (below it a hand-off costs more than the work).</summary>
    private const int MinPerThread = 1 << 15;

    /// <summary>y = 1 / (1 + e^−x) over <paramref name="length"/> values; NaN stays NaN. Within 4 ulp (5e-7 relative) of TensorPrimitives.Sigmoid.</summary>
    public static void Sigmoid(ComputeContext compute, float[] x, float[] y, int length)
    {
        if (x.Length < length || y.Length < length) throw new ArgumentException($"Sigmoid over {length} values needs arrays that long (input {x.Length}, output {y.Length}).");
        compute.For(length, MinPerThread, (X: x, Y: y), static (c, s, e) => SigmoidRange(c.X, c.Y, s, e));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SigmoidRange(float[] input, float[] output, int start, int end)
    {
        fixed (float* x = input, y = output)
        {
            int i = start;
            for (; i + 16 <= end; i += 16) SigmoidVector(Vector512.Load(x + i)).Store(y + i);
            if (i < end)
            {
                // The tail through a buffer: whole-vector arithmetic, only the live values copied.
                float* buffer = stackalloc float[16];
                new Span<float>(x + i, end - i).CopyTo(new Span<float>(buffer, 16));
                SigmoidVector(Vector512.Load(buffer)).Store(buffer);
                new Span<float>(buffer, end - i).CopyTo(new Span<float>(y + i, end - i));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SigmoidVector(Vector512<float> x) =>
        Vector512<float>.One / (Vector512<float>.One + Exp(-x)); // NaN in, NaN out: Vector512.Min/Max propagate it

    /// <summary>
    /// e^x (Cephes' expf): x clamped to [−87.3, 88.7], n = round(x·log2 e), r = x − n·ln 2 in two parts, e^r by a degree-6
    /// polynomial, times 2^n built in the exponent bits.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.3f)), Vector512.Create(88.7f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = x - n * Vector512.Create(0.693359375f) - n * Vector512.Create(-2.12194440e-4f);
        var p = Vector512.Create(1.9875691500e-4f);
        p = p * r + Vector512.Create(1.3981999507e-3f);
        p = p * r + Vector512.Create(8.3334519073e-3f);
        p = p * r + Vector512.Create(4.1665795894e-2f);
        p = p * r + Vector512.Create(1.6666665459e-1f);
        p = p * r + Vector512.Create(5.0000001201e-1f);
        p = p * r * r + r + Vector512<float>.One;
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return p * scale;
    }

    /// <summary>
    /// y (N, C, OH, OW) = the mean of each K×K window of x (N, C, H, W) at the given stride, no padding (AvgPool2d):
    /// the training kernel's own planes (<see cref="Kernels.AvgPool.ForwardPlanes"/>), split over threads by values rather than planes.
    /// </summary>
    public static void AvgPool(ComputeContext compute, in ConvGeometry g, float[] input, float[] output)
    {
        g.Validate();
        if (g.Padding != 0) throw new ArgumentException($"AvgPool here takes no padding; {g} has {g.Padding}.");
        if (input.Length < g.InputLength) throw new ArgumentException($"Input has {input.Length} floats; {g} needs {g.InputLength}.");
        if (output.Length < g.OutputLength) throw new ArgumentException($"Output has {output.Length} floats; {g} needs {g.OutputLength}.");
        int perThread = Math.Max(1, MinPerThread / Math.Max(1, g.OutPlane));
        compute.For(g.Batch * g.InChannels, perThread, (G: g, X: input, Y: output), static (c, s, e) => Kernels.AvgPool.ForwardPlanes(c.G, c.X, c.Y, s, e));
    }
}
