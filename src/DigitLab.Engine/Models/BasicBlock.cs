// BasicBlock: torchvision's ResNet basic block, conv-bn-relu-conv-bn plus a shortcut, then ReLU.
using DigitLab.Kernels;
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
    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public readonly Tensor Output = new(0);     // (N, C_out, H', W'): relu(body + shortcut)
        public readonly Tensor SumGrad = new(0);    // (N, C_out, H', W'): dL/d(body + shortcut)
        public readonly Tensor InputGrad = new(0);  // (N, C_in, H, W)
    }

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

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var ws = workspace;
        var body = Bn2.Forward(Conv2.Forward(Relu.Forward(Bn1.Forward(Conv1.Forward(input, ws), ws), ws), ws), ws);
        var shortcut = Downsample?.Forward(input, ws) ?? input;
        body.RequireShape(shortcut.Shape, "residual sum (body vs shortcut)");
        var output = ws.StateOf<State>(this).Output;
        output.Resize(body.Shape);
        Elementwise.AddRelu(body.ReadOnlySpan, shortcut.ReadOnlySpan, output.Span); // relu(body + shortcut) in one pass
        return output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var ws = workspace;
        var state = ws.FindState<State>(this) ?? throw new InvalidOperationException($"{this}.Backward was called before Forward; run Forward on the batch first.");
        outputGrad.RequireShape(state.Output.Shape, "BasicBlock output gradient");
        var sumGrad = state.SumGrad;
        sumGrad.Resize(state.Output.Shape);
        // The final ReLU's derivative, read from its output: vector masks (a scalar branch per element mispredicted
        // about half the time: 0.5 ms per step on layer1's 200k elements, one thread).
        Activations.ReluBackward(state.Output.ReadOnlySpan, outputGrad.ReadOnlySpan, sumGrad.Span);
        var bodyGrad = Conv1.Backward(Bn1.Backward(Relu.Backward(Conv2.Backward(Bn2.Backward(sumGrad, ws), ws), ws), ws), ws);
        var shortcutGrad = Downsample?.Backward(sumGrad, ws) ?? sumGrad;
        // body + shortcut straight into this block's own tensor (conv1's input gradient stays conv1's).
        var inputGrad = state.InputGrad;
        inputGrad.Resize(bodyGrad.Shape);
        Elementwise.Add(bodyGrad.ReadOnlySpan, shortcutGrad.ReadOnlySpan, inputGrad.Span);
        return inputGrad;
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
