// Flatten: (N, d1, d2, ...) -> (N, d1·d2·...), a view, no copy.
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.Flatten()</c> (start_dim = 1): input (N, *), output (N, product of *).
/// Forward and Backward return views sharing the storage of their argument, re-created only
/// when that storage or the shape changes, so steady state allocates nothing.
/// </summary>
public sealed class Flatten : Module
{
    private Tensor? _output;    // (N, F), a view of the last input
    private Tensor? _inputGrad; // input's shape, a view of the last output gradient
    private int[] _inputShape = [];

    public override Tensor Forward(Tensor input)
    {
        if (input.Rank < 1) ShapeCheck.Fail(this, input.Shape, "(N, ...)");
        int n = input.Shape[0], features = n == 0 ? 0 : input.Length / n;
        if (!Tensor.SameShape(_inputShape, input.Shape)) _inputShape = (int[])input.Shape.Clone();
        _output = Reuse(_output, input, n, features);
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        var output = ShapeCheck.Forwarded(this, _output);
        ShapeCheck.Grad(this, outputGrad, output.Shape);
        if (_inputGrad is null || !ReferenceEquals(_inputGrad.Data, outputGrad.Data) || !Tensor.SameShape(_inputGrad.Shape, _inputShape))
            _inputGrad = new Tensor(outputGrad.Data, _inputShape);
        return _inputGrad;
    }

    private static Tensor Reuse(Tensor? view, Tensor source, int n, int features) =>
        view is not null && ReferenceEquals(view.Data, source.Data) && view.Shape[0] == n && view.Shape[1] == features
            ? view
            : new Tensor(source.Data, n, features);

    public override int[] OutputShape(int[] inputShape)
    {
        if (inputShape.Length < 1) ShapeCheck.Fail(this, inputShape, "(N, ...)");
        long features = 1;
        for (int i = 1; i < inputShape.Length; i++) features *= inputShape[i];
        return [inputShape[0], (int)features];
    }

    public override string ToString() => "Flatten()";
}
