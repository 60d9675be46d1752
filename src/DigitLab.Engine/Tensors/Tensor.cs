// Tensor: a float32, contiguous, row-major array with a shape (NCHW for images).
namespace DigitLab.Tensors;

/// <summary>
/// A dense float32 tensor stored contiguously in row-major order; images are (N, C, H, W).
/// </summary>
/// <remarks>
/// The backing array may be longer than <see cref="Length"/> so that layers can reuse one buffer
/// across batches of different sizes; always go through <see cref="Span"/>, never <c>Data.Length</c>.
/// Shape mismatches throw <see cref="ArgumentException"/> naming both shapes.
/// </remarks>
public sealed class Tensor
{
    /// <summary>Backing storage; only the first <see cref="Length"/> elements belong to this tensor.</summary>
    public float[] Data { get; private set; }

    /// <summary>The dimensions, outermost first.</summary>
    public int[] Shape { get; private set; }

    /// <summary>Number of elements: the product of <see cref="Shape"/>.</summary>
    public int Length { get; private set; }

    public Tensor(params int[] shape)
    {
        Shape = (int[])shape.Clone();
        Length = CheckedProduct(Shape);
        Data = new float[Length];
    }

    /// <summary>Wraps <paramref name="data"/> (not copied) with the given shape.</summary>
    public Tensor(float[] data, params int[] shape)
    {
        Shape = (int[])shape.Clone();
        Length = CheckedProduct(Shape);
        if (data.Length < Length)
            throw new ArgumentException($"Tensor of shape {Format(shape)} needs {Length} values but the array has {data.Length}.");
        Data = data;
    }

    public Span<float> Span => Data.AsSpan(0, Length);
    public ReadOnlySpan<float> ReadOnlySpan => Data.AsSpan(0, Length);
    public int Rank => Shape.Length;
    public int this[int dim] => Shape[dim];

    public float this[params int[] index]
    {
        get => Data[Offset(index)];
        set => Data[Offset(index)] = value;
    }

    private int Offset(int[] index)
    {
        if (index.Length != Shape.Length)
            throw new ArgumentException($"Index of rank {index.Length} for a tensor of shape {Format(Shape)}.");
        int offset = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)Shape[i])
                throw new IndexOutOfRangeException($"Index {index[i]} out of range for dimension {i} of shape {Format(Shape)}.");
            offset = offset * Shape[i] + index[i];
        }
        return offset;
    }

    /// <summary>
    /// Gives this tensor a new shape, keeping the backing array when it is large enough
    /// (no allocation in steady state) and growing it otherwise. Contents are unspecified afterwards.
    /// </summary>
    public void Resize(params int[] shape)
    {
        int length = CheckedProduct(shape);
        if (Data.Length < length) Data = new float[length];
        if (!SameShape(Shape, shape)) Shape = (int[])shape.Clone();
        Length = length;
    }

    /// <summary>A tensor sharing this one's storage with another shape of the same length.</summary>
    public Tensor View(params int[] shape)
    {
        int length = CheckedProduct(shape);
        if (length != Length)
            throw new ArgumentException($"Cannot view a tensor of shape {Format(Shape)} ({Length} values) as {Format(shape)} ({length} values).");
        return new Tensor(Data, shape);
    }

    public Tensor Clone()
    {
        var t = new Tensor(Shape);
        ReadOnlySpan.CopyTo(t.Span);
        return t;
    }

    public void Zero() => Span.Clear();

    public void CopyFrom(Tensor other)
    {
        RequireShape(other.Shape, "copy source");
        other.ReadOnlySpan.CopyTo(Span);
    }

    /// <summary>Throws unless this tensor has exactly <paramref name="expected"/> as its shape.</summary>
    public void RequireShape(int[] expected, string what)
    {
        if (!SameShape(Shape, expected))
            throw new ArgumentException($"Shape mismatch for {what}: expected {Format(expected)}, found {Format(Shape)}.");
    }

    public static bool SameShape(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    public static string Format(ReadOnlySpan<int> shape) => "(" + string.Join(", ", shape.ToArray()) + ")";

    public override string ToString() => $"Tensor{Format(Shape)}";

    private static int CheckedProduct(ReadOnlySpan<int> shape)
    {
        long product = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {Format(shape)}.");
            product *= d;
            if (product > int.MaxValue) throw new ArgumentException($"Shape {Format(shape)} has more than {int.MaxValue} elements.");
        }
        return (int)product;
    }
}
