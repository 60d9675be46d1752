// ResidualAdd: y = a + b, optionally through ReLU, for residual blocks. Its own reference: one
// element-wise call (Elementwise, tested against TensorPrimitives); the ReLU backward is Activations.ReluBackward.
namespace DigitLab.Kernels;

public static class ResidualAdd
{
    /// <summary>y = a + b, then max(y, 0) when <paramref name="relu"/>.</summary>
    public static void Forward(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, bool relu)
    {
        Activations.CheckLengths(a.Length, b.Length, "Residual add");
        Activations.CheckLengths(a.Length, y.Length, "Residual add");
        if (a.Length == 0) return;
        if (relu) Elementwise.AddRelu(a, b, y); // one pass: the same bits as the sum, then the max
        else Elementwise.Add(a, b, y);
    }
}
