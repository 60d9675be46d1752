// AdaptiveAvgPool2d: average each channel's feature map down to 1×1 (ResNet's last pooling).
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.AdaptiveAvgPool2d(1)</c> (output size 1×1 only): input (N, C, H, W), output
/// (N, C, 1, 1), each value the mean of its H×W plane.
/// </summary>
public sealed class AdaptiveAvgPool2d : Module
{
    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public readonly Tensor Output = new(0);     // (N, C, 1, 1)
        public readonly Tensor InputGrad = new(0);  // (N, C, H, W)
        public int[]? InputShape;
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var shape = OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(shape);
        GlobalAvgPool.Forward(input.ReadOnlySpan, input.Shape[2] * input.Shape[3], state.Output.Span);
        if (state.InputShape is null || !Tensor.SameShape(state.InputShape, input.Shape)) state.InputShape = (int[])input.Shape.Clone();
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var shape = ShapeCheck.Forwarded(this, state.InputShape);
        ShapeCheck.Grad(this, outputGrad, state.Output.Shape);
        state.InputGrad.Resize(shape);
        GlobalAvgPool.Backward(outputGrad.ReadOnlySpan, shape[2] * shape[3], state.InputGrad.Span);
        return state.InputGrad;
    }

    public override int[] OutputShape(int[] inputShape)
    {
        ShapeCheck.Rank(this, inputShape, 4, "(N, C, H, W)");
        return [inputShape[0], inputShape[1], 1, 1];
    }

    public override string ToString() => "AdaptiveAvgPool2d(1)";
}
