// Activation: the shared plumbing of the element-wise activation layers (ReLU, Sigmoid, Tanh).
using DigitLab.Tensors;
using DigitLab.Runtime;

namespace DigitLab.Nn;

/// <summary>
/// An element-wise layer: any input shape, output of the same shape. The kernels run over
/// contiguous chunks split across <see cref="ComputeContext.Threads"/> (each element is independent,
/// so the result does not depend on the split).
/// </summary>
public abstract class Activation : Module
{
    /// <summary>Below this many elements per thread, threads cost more than they save.</summary>
    private const int MinPerThread = 1 << 15;

    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public readonly Tensor Output = new(0);     // same shape as the input
        public readonly Tensor InputGrad = new(0);  // same shape as the input
    }

    /// <summary>y = f(x) over one chunk.</summary>
    protected abstract void ForwardKernel(ReadOnlySpan<float> x, Span<float> y);

    /// <summary>dx = f'(x)·dy over one chunk, from the forward output y.</summary>
    protected abstract void BackwardKernel(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx);

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(input.Shape);
        float[] x = input.Data, y = state.Output.Data;
        // Arguments passed as state to a static lambda: no closure allocated per call.
        workspace.Compute.For(input.Length, MinPerThread, (Layer: this, x, y),
            static (a, s, e) => a.Layer.ForwardKernel(a.x.AsSpan(s, e - s), a.y.AsSpan(s, e - s)));
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var output = state.Output;
        ShapeCheck.Grad(this, outputGrad, output.Shape);
        state.InputGrad.Resize(output.Shape);
        float[] y = output.Data, dy = outputGrad.Data, dx = state.InputGrad.Data;
        workspace.Compute.For(output.Length, MinPerThread, (Layer: this, y, dy, dx),
            static (a, s, e) => a.Layer.BackwardKernel(a.y.AsSpan(s, e - s), a.dy.AsSpan(s, e - s), a.dx.AsSpan(s, e - s)));
        return state.InputGrad;
    }

    public override int[] OutputShape(int[] inputShape) => (int[])inputShape.Clone();

    public override string ToString() => GetType().Name + "()";
}
