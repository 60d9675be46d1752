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

    private Tensor? _input;                 // (N, in), the caller's tensor, read again by Backward
    private readonly Tensor _output = new(0); // (N, out)
    private readonly Tensor _inputGrad = new(0); // (N, in)

    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear needs positive sizes, found in={inFeatures}, out={outFeatures}.");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = new Parameter("weight", outFeatures, inFeatures);
        Bias = bias ? new Parameter("bias", outFeatures) : null;
    }

    public override Tensor Forward(Tensor input)
    {
        OutputShape(input.Shape);
        int n = input.Shape[0];
        _input = input;
        _output.Resize(n, OutFeatures);
        // (N, out) = (N, in) · (out, in)ᵀ
        Gemm.Multiply(false, true, n, OutFeatures, InFeatures, input.ReadOnlySpan, InFeatures,
            Weight.Value.ReadOnlySpan, InFeatures, _output.Span, OutFeatures, accumulate: false);
        if (Bias is not null) Kernels.Bias.AddToRows(_output.Span, Bias.Value.ReadOnlySpan);
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        var input = ShapeCheck.Forwarded(this, _input);
        ShapeCheck.Grad(this, outputGrad, _output.Shape);
        int n = input.Shape[0];
        // dW (out, in) += dYᵀ (out, N) · X (N, in)
        Gemm.Multiply(true, false, OutFeatures, InFeatures, n, outputGrad.ReadOnlySpan, OutFeatures,
            input.ReadOnlySpan, InFeatures, Weight.Grad.Span, InFeatures, accumulate: true);
        if (Bias is not null) Kernels.Bias.AccumulateRowSums(outputGrad.ReadOnlySpan, Bias.Grad.Span);
        // dX (N, in) = dY (N, out) · W (out, in)
        _inputGrad.Resize(input.Shape);
        Gemm.Multiply(false, false, n, InFeatures, OutFeatures, outputGrad.ReadOnlySpan, OutFeatures,
            Weight.Value.ReadOnlySpan, InFeatures, _inputGrad.Span, InFeatures, accumulate: false);
        return _inputGrad;
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
