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

    private readonly Tensor _output = new(0);    // (N, C, OH, OW)
    private readonly Tensor _inputGrad = new(0); // (N, C, H, W)
    private ConvGeometry? _geometry;

    public AvgPool2d(int kernelSize, int? stride = null)
    {
        if (kernelSize <= 0 || stride is <= 0)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), $"AvgPool2d needs kernel ≥ 1 and stride ≥ 1; found kernel={kernelSize}, stride={stride}.");
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
    }

    public override Tensor Forward(Tensor input)
    {
        _output.Resize(OutputShape(input.Shape));
        var s = input.Shape;
        var g = new ConvGeometry(s[0], s[1], s[2], s[3], s[1], KernelSize, Stride, 0);
        AvgPool.Forward(g, input.Data, _output.Data);
        _geometry = g;
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        if (_geometry is not { } g) { ShapeCheck.Forwarded<Tensor>(this, null); return null!; }
        ShapeCheck.Grad(this, outputGrad, _output.Shape);
        _inputGrad.Resize(g.Batch, g.InChannels, g.Height, g.Width);
        AvgPool.Backward(g, outputGrad.Data, _inputGrad.Data);
        return _inputGrad;
    }

    public override int[] OutputShape(int[] inputShape) => PoolShape.Output(this, inputShape, KernelSize, Stride, 0);

    public override string ToString() => $"AvgPool2d(k={KernelSize}, s={Stride})";
}
