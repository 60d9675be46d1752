// GlobalAvgPool: the mean of each (H, W) plane, i.e. adaptive average pooling to 1×1, and its backward.
// Its own reference: one TensorPrimitives.Sum (resp. Fill) per plane.
using System.Numerics.Tensors;

namespace DigitLab.Kernels;

/// <summary>(N, C, H, W) → (N, C) plane means, as PyTorch's <c>AdaptiveAvgPool2d(1)</c> (then viewed as (N, C, 1, 1)).</summary>
public static class GlobalAvgPool
{
    /// <summary>output[p] = mean of input plane p, for <paramref name="output"/>.Length planes of <paramref name="planeSize"/> values.</summary>
    public static void Forward(ReadOnlySpan<float> input, int planeSize, Span<float> output)
    {
        Check(input.Length, planeSize, output.Length);
        if (planeSize == 0) { output.Clear(); return; }
        for (int p = 0; p < output.Length; p++) output[p] = TensorPrimitives.Sum(input.Slice(p * planeSize, planeSize)) / planeSize;
    }

    /// <summary>Overwrites <paramref name="inputGrad"/>: every value of plane p gets outputGrad[p] / planeSize.</summary>
    public static void Backward(ReadOnlySpan<float> outputGrad, int planeSize, Span<float> inputGrad)
    {
        Check(inputGrad.Length, planeSize, outputGrad.Length);
        for (int p = 0; p < outputGrad.Length; p++) inputGrad.Slice(p * planeSize, planeSize).Fill(outputGrad[p] / planeSize);
    }

    private static void Check(int inputLength, int planeSize, int planes)
    {
        if ((long)planes * planeSize != inputLength)
            throw new ArgumentException($"Global average pooling: {planes} planes of {planeSize} values need {(long)planes * planeSize} inputs, found {inputLength}.");
    }
}
