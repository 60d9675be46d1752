// BasicBlock: torchvision's ResNet basic block, conv-bn-relu-conv-bn plus a shortcut, then ReLU.
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Models;

/// <summary>
/// out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), with 3x3 convolutions without bias and, when the
/// stride or channel count changes, a 1x1 convolution + batch norm projection as the shortcut ("downsample").
/// Input (N, inChannels, H, W), output (N, outChannels, H/stride, W/stride).
/// </summary>
/// <remarks>Children carry torchvision's names (conv1, bn1, relu, conv2, bn2, downsample.0, downsample.1) so state dicts match.</remarks>
public sealed class BasicBlock : Module
{
    public Conv2d Conv1 { get; }
    public BatchNorm2d Bn1 { get; }
    public ReLU Relu { get; } = new();
    public Conv2d Conv2 { get; }
    public BatchNorm2d Bn2 { get; }
    public Sequential? Downsample { get; }

    private readonly int _in, _out, _stride;
    private readonly Tensor _output = new(0);     // (N, C_out, H', W'): relu(body + shortcut)
    private readonly Tensor _sumGrad = new(0);    // (N, C_out, H', W'): dL/d(body + shortcut)
    private readonly Tensor _inputGrad = new(0);  // (N, C_in, H, W)

    public BasicBlock(int inChannels, int outChannels, int stride = 1)
    {
        (_in, _out, _stride) = (inChannels, outChannels, stride);
        Conv1 = new Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false);
        Bn1 = new BatchNorm2d(outChannels);
        Conv2 = new Conv2d(outChannels, outChannels, 3, stride: 1, padding: 1, bias: false);
        Bn2 = new BatchNorm2d(outChannels);
        if (stride != 1 || inChannels != outChannels)
            Downsample = new Sequential(new Conv2d(inChannels, outChannels, 1, stride: stride, bias: false), new BatchNorm2d(outChannels));
    }

    public override Tensor Forward(Tensor input)
    {
        var body = Bn2.Forward(Conv2.Forward(Relu.Forward(Bn1.Forward(Conv1.Forward(input)))));
        var shortcut = Downsample?.Forward(input) ?? input;
        body.RequireShape(shortcut.Shape, "residual sum (body vs shortcut)");
        _output.Resize(body.Shape);
        TensorPrimitives.Add(body.ReadOnlySpan, shortcut.ReadOnlySpan, _output.Span);
        TensorPrimitives.Max(_output.ReadOnlySpan, 0f, _output.Span);
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        outputGrad.RequireShape(_output.Shape, "BasicBlock output gradient");
        _sumGrad.Resize(_output.Shape);
        ReluMask(_output.ReadOnlySpan, outputGrad.ReadOnlySpan, _sumGrad.Span);
        var bodyGrad = Conv1.Backward(Bn1.Backward(Relu.Backward(Conv2.Backward(Bn2.Backward(_sumGrad)))));
        _inputGrad.Resize(bodyGrad.Shape);
        bodyGrad.ReadOnlySpan.CopyTo(_inputGrad.Span);
        var shortcutGrad = Downsample?.Backward(_sumGrad) ?? _sumGrad;
        TensorPrimitives.Add(_inputGrad.ReadOnlySpan, shortcutGrad.ReadOnlySpan, _inputGrad.Span);
        return _inputGrad;
    }

    /// <summary>grad * (output &gt; 0): the derivative of the final ReLU, read from its output.</summary>
    private static void ReluMask(ReadOnlySpan<float> output, ReadOnlySpan<float> grad, Span<float> result)
    {
        for (int i = 0; i < output.Length; i++) result[i] = output[i] > 0 ? grad[i] : 0f;
    }

    public override int[] OutputShape(int[] inputShape) =>
        Bn2.OutputShape(Conv2.OutputShape(Conv1.OutputShape(inputShape)));

    public override IEnumerable<(string Name, Module Module)> Children()
    {
        yield return ("conv1", Conv1);
        yield return ("bn1", Bn1);
        yield return ("relu", Relu);
        yield return ("conv2", Conv2);
        yield return ("bn2", Bn2);
        if (Downsample is not null) yield return ("downsample", Downsample);
    }

    public override string ToString() => $"BasicBlock({_in} -> {_out}, s={_stride})";
}
