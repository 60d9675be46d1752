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
    private readonly Tensor _output = new(0);    // (N, C, 1, 1)
    private readonly Tensor _inputGrad = new(0); // (N, C, H, W)
    private int[]? _inputShape;

    public override Tensor Forward(Tensor input)
    {
        _output.Resize(OutputShape(input.Shape));
        GlobalAvgPool.Forward(input.ReadOnlySpan, input.Shape[2] * input.Shape[3], _output.Span);
        if (_inputShape is null || !Tensor.SameShape(_inputShape, input.Shape)) _inputShape = (int[])input.Shape.Clone();
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        var shape = ShapeCheck.Forwarded(this, _inputShape);
        ShapeCheck.Grad(this, outputGrad, _output.Shape);
        _inputGrad.Resize(shape);
        GlobalAvgPool.Backward(outputGrad.ReadOnlySpan, shape[2] * shape[3], _inputGrad.Span);
        return _inputGrad;
    }

    public override int[] OutputShape(int[] inputShape)
    {
        ShapeCheck.Rank(this, inputShape, 4, "(N, C, H, W)");
        return [inputShape[0], inputShape[1], 1, 1];
    }

    public override string ToString() => "AdaptiveAvgPool2d(1)";
}
