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
    /// <summary>One caller's views, in its workspace.</summary>
    private sealed class State
    {
        public Tensor? Output;      // (N, F), a view of the last input
        public Tensor? InputGrad;   // input's shape, a view of the last output gradient
        public int[] InputShape = [];
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        if (input.Rank < 1) ShapeCheck.Fail(this, input.Shape, "(N, ...)");
        var state = workspace.StateOf<State>(this);
        int n = input.Shape[0], features = n == 0 ? 0 : input.Length / n;
        if (!Tensor.SameShape(state.InputShape, input.Shape)) state.InputShape = (int[])input.Shape.Clone();
        state.Output = Reuse(state.Output, input, n, features);
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var output = ShapeCheck.Forwarded(this, state.Output);
        ShapeCheck.Grad(this, outputGrad, output.Shape);
        if (state.InputGrad is null || !ReferenceEquals(state.InputGrad.Data, outputGrad.Data) || !Tensor.SameShape(state.InputGrad.Shape, state.InputShape))
            state.InputGrad = new Tensor(outputGrad.Data, state.InputShape);
        return state.InputGrad;
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
