// Activations: fast element-wise ReLU, Sigmoid and Tanh, forward and backward. Reference: ActivationsReference.
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DigitLab.Kernels;

/// <summary>
/// Element-wise activations over spans of equal length. Backward passes take the forward
/// <em>output</em> y (all three derivatives are cheap functions of it) and overwrite dx.
/// </summary>
public static class Activations
{
    /// <summary>y = max(x, 0).</summary>
    public static void ReluForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length, "ReLU forward");
        Elementwise.Max(x, 0f, y);
    }

    /// <summary>dx = dy where y &gt; 0, else 0 (PyTorch's convention: the gradient at 0 is 0).</summary>
    public static void ReluBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(y.Length, dy.Length, "ReLU backward");
        CheckLengths(y.Length, dx.Length, "ReLU backward");
        int n = y.Length, i = 0;
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float dyr = ref MemoryMarshal.GetReference(dy);
        ref float dxr = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var mask = Vector512.GreaterThan(Vector512.LoadUnsafe(ref yr, (nuint)i), Vector512<float>.Zero);
                Vector512.BitwiseAnd(Vector512.LoadUnsafe(ref dyr, (nuint)i), mask).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var mask = Vector256.GreaterThan(Vector256.LoadUnsafe(ref yr, (nuint)i), Vector256<float>.Zero);
                Vector256.BitwiseAnd(Vector256.LoadUnsafe(ref dyr, (nuint)i), mask).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref dxr, i) = Unsafe.Add(ref yr, i) > 0f ? Unsafe.Add(ref dyr, i) : 0f;
    }

    /// <summary>y = 1 / (1 + e^-x).</summary>
    public static void SigmoidForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length, "Sigmoid forward");
        if (x.Length > 0) TensorPrimitives.Sigmoid(x, y); // it rejects empty spans
    }

    /// <summary>dx = dy · y · (1 − y).</summary>
    public static void SigmoidBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(y.Length, dy.Length, "Sigmoid backward");
        CheckLengths(y.Length, dx.Length, "Sigmoid backward");
        int n = y.Length, i = 0;
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float dyr = ref MemoryMarshal.GetReference(dy);
        ref float dxr = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var yv = Vector512.LoadUnsafe(ref yr, (nuint)i);
                (Vector512.LoadUnsafe(ref dyr, (nuint)i) * yv * (Vector512<float>.One - yv)).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var yv = Vector256.LoadUnsafe(ref yr, (nuint)i);
                (Vector256.LoadUnsafe(ref dyr, (nuint)i) * yv * (Vector256<float>.One - yv)).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float yv = Unsafe.Add(ref yr, i);
            Unsafe.Add(ref dxr, i) = Unsafe.Add(ref dyr, i) * yv * (1f - yv);
        }
    }

    /// <summary>y = tanh(x).</summary>
    public static void TanhForward(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckLengths(x.Length, y.Length, "Tanh forward");
        TensorPrimitives.Tanh(x, y);
    }

    /// <summary>dx = dy · (1 − y²).</summary>
    public static void TanhBackward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        CheckLengths(y.Length, dy.Length, "Tanh backward");
        CheckLengths(y.Length, dx.Length, "Tanh backward");
        int n = y.Length, i = 0;
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float dyr = ref MemoryMarshal.GetReference(dy);
        ref float dxr = ref MemoryMarshal.GetReference(dx);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var yv = Vector512.LoadUnsafe(ref yr, (nuint)i);
                (Vector512.LoadUnsafe(ref dyr, (nuint)i) * (Vector512<float>.One - yv * yv)).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var yv = Vector256.LoadUnsafe(ref yr, (nuint)i);
                (Vector256.LoadUnsafe(ref dyr, (nuint)i) * (Vector256<float>.One - yv * yv)).StoreUnsafe(ref dxr, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float yv = Unsafe.Add(ref yr, i);
            Unsafe.Add(ref dxr, i) = Unsafe.Add(ref dyr, i) * (1f - yv * yv);
        }
    }

    internal static void CheckLengths(int expected, int found, string what)
    {
        if (expected != found)
            throw new ArgumentException($"{what}: spans must have equal lengths, expected {expected}, found {found}.");
    }
}
