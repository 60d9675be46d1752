// Parameter: a trainable tensor and its gradient.
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>A trainable tensor with a gradient of the same shape; Backward passes accumulate (+=) into <see cref="Grad"/>.</summary>
public sealed class Parameter(string name, params int[] shape)
{
    /// <summary>Local name inside its module, PyTorch's spelling ("weight", "bias").</summary>
    public string Name { get; } = name;
    public Tensor Value { get; } = new(shape);
    public Tensor Grad { get; } = new(shape);
    public int[] Shape => Value.Shape;
    public int Length => Value.Length;
    public override string ToString() => $"{Name}{Tensor.Format(Shape)}";
}
