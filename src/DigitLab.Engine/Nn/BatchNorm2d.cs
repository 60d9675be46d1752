// BatchNorm2d: batch normalisation of image channels (N, C, H, W).
namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)</c>: input (N, C, H, W), output
/// of the same shape; statistics per channel over N, H and W. See <see cref="BatchNorm"/>.
/// </summary>
public sealed class BatchNorm2d(int channels, float eps = 1e-5f, float momentum = 0.1f) : BatchNorm(channels, eps, momentum)
{
    protected override (int N, int S) Layout(int[] inputShape)
    {
        OutputShape(inputShape);
        return (inputShape[0], inputShape[2] * inputShape[3]);
    }

    public override int[] OutputShape(int[] inputShape)
    {
        string expected = $"(N, {Features}, H, W)";
        ShapeCheck.Rank(this, inputShape, 4, expected, inputShape.Length == 2 ? "Use BatchNorm1d for features." : "");
        ShapeCheck.Dim(this, inputShape, 1, Features, expected);
        return (int[])inputShape.Clone();
    }

    public override string ToString() => Describe("BatchNorm2d");
}
