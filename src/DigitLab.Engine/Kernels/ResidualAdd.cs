// ResidualAdd: y = a + b, optionally through ReLU, for residual blocks. Its own reference: one
// TensorPrimitives call per step; the ReLU backward is Activations.ReluBackward.
using System.Numerics.Tensors;

namespace DigitLab.Kernels;

public static class ResidualAdd
{
    /// <summary>y = a + b, then max(y, 0) when <paramref name="relu"/>.</summary>
    public static void Forward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, bool relu)
    {
        Activations.CheckLengths(a.Length, b.Length, "Residual add");
        Activations.CheckLengths(a.Length, y.Length, "Residual add");
        if (a.Length == 0) return;
        TensorPrimitives.Add(a, b, y);
        if (relu) TensorPrimitives.Max(y, 0f, y);
    }
}
