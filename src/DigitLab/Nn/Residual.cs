// Residual: a residual block, relu(body(x) + shortcut(x)), the building block of ResNet.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// out = relu(body(x) + s(x)) where s is <see cref="Shortcut"/> (e.g. a strided 1×1 conv with batch
/// norm, when the shape changes) or the identity; without <c>reluAfter</c> the ReLU is left out.
/// Children are named "body" and "shortcut" (the latter only when present).
/// </summary>
public sealed class Residual : Module
{
    public Module Body { get; }
    public Module? Shortcut { get; }
    public bool ReluAfter { get; }

    private readonly Tensor _output = new(0);      // (N, ...) body's output shape
    private readonly Tensor _sumGrad = new(0);     // (N, ...) dL/d(body(x) + s(x))
    private readonly Tensor _inputGrad = new(0);   // input's shape
    private bool _forwarded;

    public Residual(Module body, Module? shortcut = null, bool reluAfter = true)
    {
        Body = body ?? throw new ArgumentNullException(nameof(body));
        Shortcut = shortcut;
        ReluAfter = reluAfter;
    }

    public override Tensor Forward(Tensor input)
    {
        var main = Body.Forward(input);
        var skip = Shortcut?.Forward(input) ?? input;
        CheckSameShape(main.Shape, skip.Shape);
        _output.Resize(main.Shape);
        ResidualAdd.Forward(main.ReadOnlySpan, skip.ReadOnlySpan, _output.Span, ReluAfter);
        _forwarded = true;
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        if (!_forwarded) ShapeCheck.Forwarded<Tensor>(this, null);
        ShapeCheck.Grad(this, outputGrad, _output.Shape);
        _sumGrad.Resize(_output.Shape);
        if (ReluAfter) Activations.ReluBackward(_output.ReadOnlySpan, outputGrad.ReadOnlySpan, _sumGrad.Span);
        else outputGrad.ReadOnlySpan.CopyTo(_sumGrad.Span);
        var bodyGrad = Body.Backward(_sumGrad);
        var skipGrad = Shortcut?.Backward(_sumGrad) ?? _sumGrad;
        _inputGrad.Resize(bodyGrad.Shape);
        System.Numerics.Tensors.TensorPrimitives.Add(bodyGrad.ReadOnlySpan, skipGrad.ReadOnlySpan, _inputGrad.Span);
        return _inputGrad;
    }

    public override int[] OutputShape(int[] inputShape)
    {
        var main = Body.OutputShape(inputShape);
        CheckSameShape(main, Shortcut?.OutputShape(inputShape) ?? inputShape);
        return main;
    }

    private void CheckSameShape(int[] main, int[] skip)
    {
        if (!Tensor.SameShape(main, skip))
            throw new ArgumentException($"Residual block: the body gives {Tensor.Format(main)} but the "
                + (Shortcut is null ? "identity shortcut" : "shortcut") + $" gives {Tensor.Format(skip)}; they must match. "
                + "Add a shortcut (e.g. a 1×1 Conv2d with the body's stride and channels) when the body changes the shape.");
    }

    public override IEnumerable<(string Name, Module Module)> Children() =>
        Shortcut is null ? [("body", Body)] : [("body", Body), ("shortcut", Shortcut)];

    public override string ToString()
    {
        string Indent(Module m) => m.ToString()!.Replace("\n", "\n  ");
        return "Residual(\n  (body): " + Indent(Body) + "\n"
            + (Shortcut is null ? "" : "  (shortcut): " + Indent(Shortcut) + "\n")
            + $"  relu_after={(ReluAfter ? "true" : "false")}\n)";
    }
}
