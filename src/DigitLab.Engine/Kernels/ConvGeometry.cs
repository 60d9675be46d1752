// ConvGeometry: the sizes of one 2-D convolution or pooling over a batch, and the output size rule.
namespace DigitLab.Kernels;

/// <summary>
/// Sizes of a square-kernel 2-D convolution over a batch: input (N, C, H, W), weight (O, C, K, K),
/// output (N, O, OH, OW) with OH = ⌊(H + 2P − K)/S⌋ + 1 (PyTorch's rule, no ceil mode).
/// Pooling uses the same geometry with O = C.
/// </summary>
public readonly record struct ConvGeometry(int Batch, int InChannels, int Height, int Width,
    int OutChannels, int Kernel, int Stride, int Padding)
{
    public int OutHeight => (Height + 2 * Padding - Kernel) / Stride + 1;
    public int OutWidth => (Width + 2 * Padding - Kernel) / Stride + 1;
    /// <summary>H·W, one input plane.</summary>
    public int InPlane => Height * Width;
    /// <summary>OH·OW, one output plane (the columns im2col makes per image).</summary>
    public int OutPlane => OutHeight * OutWidth;
    /// <summary>C·K·K, the rows of an im2col matrix (the GEMM's inner dimension).</summary>
    public int ColumnRows => InChannels * Kernel * Kernel;
    public int InputLength => Batch * InChannels * InPlane;
    public int OutputLength => Batch * OutChannels * OutPlane;
    public int WeightLength => OutChannels * ColumnRows;

    /// <summary>Throws unless the sizes make a non-empty output.</summary>
    public void Validate()
    {
        if (Batch < 0 || InChannels <= 0 || OutChannels <= 0 || Kernel <= 0 || Stride <= 0 || Padding < 0)
            throw new ArgumentException($"Invalid convolution sizes: {this}.");
        if (Height + 2 * Padding < Kernel || Width + 2 * Padding < Kernel)
            throw new ArgumentException(
                $"Input {Height}×{Width} with padding {Padding} is smaller than the {Kernel}×{Kernel} kernel; use a larger input or more padding.");
    }

    /// <summary>
    /// Kernel offsets [first, last) that some output line reads inside [0, <paramref name="size"/>): the taps outside
    /// read only padding for every output, so inference kernels leave them out of their packed weights.
    /// </summary>
    public static (int First, int Last) LiveRange(int kernel, int stride, int padding, int size, int outSize)
    {
        int first = kernel, last = 0;
        for (int o = 0; o < outSize; o++)
            for (int k = 0; k < kernel; k++)
            {
                int i = o * stride - padding + k;
                if (i >= 0 && i < size) { first = Math.Min(first, k); last = Math.Max(last, k + 1); }
            }
        return (first, last);
    }
}
