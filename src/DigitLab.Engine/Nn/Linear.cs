// Linear: the dense layer y = x·Wᵀ + b, on Gemm.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// Fully connected layer, PyTorch's <c>nn.Linear</c>: y = x·Wᵀ + b.
/// Input (N, in), output (N, out); weight (out, in), bias (out).
/// </summary>
/// <remarks>
/// Initialisation (PyTorch's default): weight and bias ~ U(−1/√in, 1/√in), which is
/// <c>kaiming_uniform_(a=√5)</c> for the weight (bound = gain·√(3/fan_in), gain = √(2/(1+5))).
/// </remarks>
public sealed class Linear : Module
{
    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }

    /// <summary>One caller's activations, in its workspace.</summary>
    private sealed class State
    {
        public Tensor? Input;                       // (N, in), the caller's tensor, read again by Backward
        public readonly Tensor Output = new(0);     // (N, out)
        public readonly Tensor InputGrad = new(0);  // (N, in)
    }

    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear needs positive sizes, found in={inFeatures}, out={outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter("weight", outFeatures, inFeatures);
        Bias = bias ? new Parameter("bias", outFeatures) : null;
    }

    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        OutputShape(input.Shape);
        var state = workspace.StateOf<State>(this);
        int n = input.Shape[0];
        state.Input = input;
        var output = state.Output;
        output.Resize(n, OutFeatures);
        // (N, out) = (N, in) · (out, in)ᵀ
        Gemm.Multiply(workspace.Compute, false, true, n, OutFeatures, InFeatures, input.ReadOnlySpan, InFeatures,
            Weight.Value.ReadOnlySpan, InFeatures, output.Span, OutFeatures, accumulate: false);
        if (Bias is not null) Kernels.Bias.AddToRows(output.Span, Bias.Value.ReadOnlySpan);
        return output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        var input = ShapeCheck.Forwarded(this, state.Input);
        ShapeCheck.Grad(this, outputGrad, state.Output.Shape);
        int n = input.Shape[0];
        // dW (out, in) += dYᵀ (out, N) · X (N, in)
        Gemm.Multiply(workspace.Compute, true, false, OutFeatures, InFeatures, n, outputGrad.ReadOnlySpan, OutFeatures,
            input.ReadOnlySpan, InFeatures, Weight.Grad.Span, InFeatures, accumulate: true);
        if (Bias is not null) Kernels.Bias.AccumulateRowSums(outputGrad.ReadOnlySpan, Bias.Grad.Span);
        // dX (N, in) = dY (N, out) · W (out, in)
        var inputGrad = state.InputGrad;
        inputGrad.Resize(input.Shape);
        Gemm.Multiply(workspace.Compute, false, false, n, InFeatures, OutFeatures, outputGrad.ReadOnlySpan, OutFeatures,
            Weight.Value.ReadOnlySpan, InFeatures, inputGrad.Span, InFeatures, accumulate: false);
        return inputGrad;
    }

    public override int[] OutputShape(int[] inputShape)
    {
        ShapeCheck.Rank(this, inputShape, 2, $"(N, {InFeatures})", inputShape.Length > 2 ? "Put a Flatten() before it." : "");
        ShapeCheck.Dim(this, inputShape, 1, InFeatures, $"(N, {InFeatures})");
        return [inputShape[0], OutFeatures];
    }

    public override IEnumerable<Parameter> OwnParameters() => Bias is null ? [Weight] : [Weight, Bias];

    public override void ResetParameters(Rng rng)
    {
        float bound = Init.DefaultBound(InFeatures);
        Init.Uniform(Weight.Value.Span, bound, rng);
        if (Bias is not null) Init.Uniform(Bias.Value.Span, bound, rng);
    }

    public override string ToString() => $"Linear({InFeatures} -> {OutFeatures}{(Bias is null ? ", bias=false" : "")})";
}
