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

    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public readonly Tensor Output = new(0);     // (N, ...) body's output shape
        public readonly Tensor SumGrad = new(0);    // (N, ...) dL/d(body(x) + s(x))
        public readonly Tensor InputGrad = new(0);  // input's shape
    }

    public Residual(Module body, Module? shortcut = null, bool reluAfter = true)
    {
        Body = body ?? throw new ArgumentNullException(nameof(body));
        Shortcut = shortcut;
        ReluAfter = reluAfter;
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var main = Body.Forward(input, workspace);
        var skip = Shortcut?.Forward(input, workspace) ?? input;
        CheckSameShape(main.Shape, skip.Shape);
        var state = workspace.StateOf<State>(this);
        state.Output.Resize(main.Shape);
        ResidualAdd.Forward(main.ReadOnlySpan, skip.ReadOnlySpan, state.Output.Span, ReluAfter);
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        ShapeCheck.Grad(this, outputGrad, state.Output.Shape);
        var sumGrad = state.SumGrad;
        sumGrad.Resize(state.Output.Shape);
        if (ReluAfter) Activations.ReluBackward(state.Output.ReadOnlySpan, outputGrad.ReadOnlySpan, sumGrad.Span);
        else outputGrad.ReadOnlySpan.CopyTo(sumGrad.Span);
        var bodyGrad = Body.Backward(sumGrad, workspace);
        var skipGrad = Shortcut?.Backward(sumGrad, workspace) ?? sumGrad;
        state.InputGrad.Resize(bodyGrad.Shape);
        Elementwise.Add(bodyGrad.ReadOnlySpan, skipGrad.ReadOnlySpan, state.InputGrad.Span);
        return state.InputGrad;
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
