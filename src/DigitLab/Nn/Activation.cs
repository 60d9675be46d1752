// Activation: the shared plumbing of the element-wise activation layers (ReLU, Sigmoid, Tanh).
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// An element-wise layer: any input shape, output of the same shape. The kernels run over
/// contiguous chunks split across <see cref="Threading.Threads"/> (each element is independent,
/// so the result does not depend on the split).
/// </summary>
public abstract class Activation : Module
{
    /// <summary>Below this many elements per thread, threads cost more than they save.</summary>
    private const int MinPerThread = 1 << 15;

    private readonly Tensor _output = new(0);    // same shape as the input
    private readonly Tensor _inputGrad = new(0); // same shape as the input
    private bool _forwarded;

    /// <summary>y = f(x) over one chunk.</summary>
    protected abstract void ForwardKernel(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>dx = f'(x)·dy over one chunk, from the forward output y.</summary>
    protected abstract void BackwardKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx);

    public override Tensor Forward(Tensor input)
    {
        _output.Resize(input.Shape);
        float[] x = input.Data, y = _output.Data;
        // Arguments passed as state to a static lambda: no closure allocated per call.
        Threading.For(input.Length, MinPerThread, (Layer: this, x, y),
            static (a, s, e) => a.Layer.ForwardKernel(a.x.AsSpan(s, e - s), a.y.AsSpan(s, e - s)));
        _forwarded = true;
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        if (!_forwarded) ShapeCheck.Forwarded<Tensor>(this, null);
        ShapeCheck.Grad(this, outputGrad, _output.Shape);
        _inputGrad.Resize(_output.Shape);
        float[] y = _output.Data, dy = outputGrad.Data, dx = _inputGrad.Data;
        Threading.For(_output.Length, MinPerThread, (Layer: this, y, dy, dx),
            static (a, s, e) => a.Layer.BackwardKernel(a.y.AsSpan(s, e - s), a.dy.AsSpan(s, e - s), a.dx.AsSpan(s, e - s)));
        return _inputGrad;
    }

    public override int[] OutputShape(int[] inputShape) => (int[])inputShape.Clone();

    public override string ToString() => GetType().Name + "()";
}
