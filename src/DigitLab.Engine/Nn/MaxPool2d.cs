// MaxPool2d: 2-D max pooling; Backward routes each gradient to its window's maximum.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.MaxPool2d(kernel_size, stride=kernel_size, padding=0)</c>: input (N, C, H, W),
/// output (N, C, OH, OW) with OH = ⌊(H + 2·padding − kernel)/stride⌋ + 1. Padding counts as −∞.
/// </summary>
public sealed class MaxPool2d : Module
{
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }

    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public readonly Tensor Output = new(0);     // (N, C, OH, OW)
        public readonly Tensor InputGrad = new(0);  // (N, C, H, W)
        public int[] ArgMax = [];                   // (N, C, OH, OW): index h·W + w of each maximum in its plane
        public ConvGeometry Geometry;
    }

    public MaxPool2d(int kernelSize, int? stride = null, int padding = 0)
    {
        if (kernelSize <= 0 || stride is <= 0 || padding < 0 || 2 * padding > kernelSize)
            throw new ArgumentOutOfRangeException(nameof(kernelSize),
                $"MaxPool2d needs kernel ≥ 1, stride ≥ 1 and 0 ≤ padding ≤ kernel/2; found kernel={kernelSize}, stride={stride}, padding={padding}.");
        KernelSize = kernelSize;
        Stride = stride ?? kernelSize;
        Padding = padding;
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var shape = OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        var g = Geometry(input.Shape);
        state.Output.Resize(shape);
        if (state.ArgMax.Length < state.Output.Length) state.ArgMax = new int[state.Output.Length];
        MaxPool.Forward(workspace.Compute, g, input.Data, state.Output.Data, state.ArgMax);
        state.Geometry = g;
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var g = state.Geometry;
        ShapeCheck.Grad(this, outputGrad, state.Output.Shape);
        state.InputGrad.Resize(g.Batch, g.InChannels, g.Height, g.Width);
        MaxPool.Backward(workspace.Compute, g, outputGrad.Data, state.ArgMax, state.InputGrad.Data);
        return state.InputGrad;
    }

    private ConvGeometry Geometry(int[] s) => new(s[0], s[1], s[2], s[3], s[1], KernelSize, Stride, Padding);

    public override int[] OutputShape(int[] inputShape) => PoolShape.Output(this, inputShape, KernelSize, Stride, Padding);

    public override string ToString() =>
        $"MaxPool2d(k={KernelSize}, s={Stride}{(Padding != 0 ? $", p={Padding}" : "")})";
}

/// <summary>The output-shape rule and shape errors shared by the pooling and convolution layers.</summary>
internal static class PoolShape
{
    public static int[] Output(Module module, int[] s, int kernel, int stride, int padding, int? channels = null, int? outChannels = null)
    {
        string expected = channels is { } c ? $"(N, {c}, H, W)" : "(N, C, H, W)";
        ShapeCheck.Rank(module, s, 4, expected, s.Length == 2 ? "Images must be 4-D (N, C, H, W); reshape flat input first." : "");
        if (channels is { } ch) ShapeCheck.Dim(module, s, 1, ch, expected);
        if (s[2] + 2 * padding < kernel || s[3] + 2 * padding < kernel)
            ShapeCheck.Fail(module, s, $"(N, C, H, W) with H, W ≥ {kernel - 2 * padding}",
                "The feature map is smaller than the kernel; use larger input images or fewer downsampling layers.");
        return [s[0], outChannels ?? s[1], (s[2] + 2 * padding - kernel) / stride + 1, (s[3] + 2 * padding - kernel) / stride + 1];
    }
}
