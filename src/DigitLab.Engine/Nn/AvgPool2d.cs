// AvgPool2d: 2-D average pooling; Backward spreads each gradient evenly over its window.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.AvgPool2d(kernel_size, stride=kernel_size)</c>: input (N, C, H, W), output
/// (N, C, OH, OW) with OH = ⌊(H − kernel)/stride⌋ + 1; each output is the mean of its K×K window.
/// </summary>
public sealed class AvgPool2d : Module
{
    public int KernelSize { get; }
    public int Stride { get; }

    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public readonly Tensor Output = new(0);     // (N, C, OH, OW)
        public readonly Tensor InputGrad = new(0);  // (N, C, H, W)
        public ConvGeometry Geometry;
    }

    public AvgPool2d(int kernelSize, int? stride = null)
    {
        if (kernelSize <= 0 || stride is <= 0)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), $"AvgPool2d needs kernel ≥ 1 and stride ≥ 1; found kernel={kernelSize}, stride={stride}.");
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var shape = OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(shape);
        var s = input.Shape;
        var g = new ConvGeometry(s[0], s[1], s[2], s[3], s[1], KernelSize, Stride, 0);
        AvgPool.Forward(workspace.Compute, g, input.Data, state.Output.Data);
        state.Geometry = g;
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var g = state.Geometry;
        ShapeCheck.Grad(this, outputGrad, state.Output.Shape);
        state.InputGrad.Resize(g.Batch, g.InChannels, g.Height, g.Width);
        AvgPool.Backward(workspace.Compute, g, outputGrad.Data, state.InputGrad.Data);
        return state.InputGrad;
    }

    public override int[] OutputShape(int[] inputShape) => PoolShape.Output(this, inputShape, KernelSize, Stride, 0);

    public override string ToString() => $"AvgPool2d(k={KernelSize}, s={Stride})";
}
