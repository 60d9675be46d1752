// BatchNorm1d: batch normalisation of features (N, C) or sequences (N, C, L).
namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.BatchNorm1d(features, eps=1e-5, momentum=0.1)</c>: input (N, C) or (N, C, L),
/// output of the same shape; statistics per feature over N (and L). See <see cref="BatchNorm"/>.
/// </summary>
public sealed class BatchNorm1d(int features, float eps = 1e-5f, float momentum = 0.1f) : BatchNorm(features, eps, momentum)
{
    protected override (int N, int S) Layout(int[] inputShape)
    {
        OutputShape(inputShape);
        return (inputShape[0], inputShape.Length == 3 ? inputShape[2] : 1);
    }

    public override int[] OutputShape(int[] inputShape)
    {
        string expected = $"(N, {Features}) or (N, {Features}, L)";
        if (inputShape.Length is not (2 or 3)) ShapeCheck.Fail(this, inputShape, expected, inputShape.Length == 4 ? "Use BatchNorm2d for images." : "");
        ShapeCheck.Dim(this, inputShape, 1, Features, expected);
        return (int[])inputShape.Clone();
    }

    public override string ToString() => Describe("BatchNorm1d");
}
