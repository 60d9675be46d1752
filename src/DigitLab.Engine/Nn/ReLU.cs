// ReLU: max(x, 0), element-wise.
using DigitLab.Kernels;

namespace DigitLab.Nn;

/// <summary>Rectified linear unit, PyTorch's <c>nn.ReLU</c>: y = max(x, 0); any shape. The gradient at 0 is 0.</summary>
public sealed class ReLU : Activation
{
    protected override void ForwardKernel(ReadOnlySpan<float> x, Span<float> y) => Activations.ReluForward(x, y);

    protected override void BackwardKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) => Activations.ReluBackward(y, dy, dx);
}
