// Tanh: the hyperbolic tangent, element-wise.
using DigitLab.Kernels;

namespace DigitLab.Nn;

/// <summary>Hyperbolic tangent, PyTorch's <c>nn.Tanh</c>: y = tanh(x); any shape.</summary>
public sealed class Tanh : Activation
{
    protected override void ForwardKernel(ReadOnlySpan<float> x, Span<float> y) => Activations.TanhForward(x, y);

    protected override void BackwardKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) => Activations.TanhBackward(y, dy, dx);
}
