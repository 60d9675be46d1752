// Sigmoid: 1 / (1 + e^-x), element-wise.
using DigitLab.Kernels;

namespace DigitLab.Nn;

/// <summary>Logistic sigmoid, PyTorch's <c>nn.Sigmoid</c>: y = 1 / (1 + e^−x); any shape.</summary>
public sealed class Sigmoid : Activation
{
    protected override void ForwardKernel(ReadOnlySpan<float> x, Span<float> y) => Activations.SigmoidForward(x, y);

    protected override void BackwardKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx) => Activations.SigmoidBackward(y, dy, dx);
}
