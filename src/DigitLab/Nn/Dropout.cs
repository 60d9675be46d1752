// Dropout: inverted dropout with its own seeded generator; the identity in evaluation mode.
using DigitLab.Kernels;
using DigitLab.Tensors;

namespace DigitLab.Nn;

/// <summary>
/// PyTorch's <c>nn.Dropout(p)</c>: in training, each element is zeroed with probability p and the
/// rest are scaled by 1/(1 − p); in evaluation it returns its input unchanged. Any shape.
/// </summary>
/// <remarks>
/// The mask comes from this module's own <see cref="Rng"/>, seeded by <see cref="ResetParameters"/>
/// from the model's init generator and listed by <see cref="OwnRngs"/> as "rng" so checkpoints
/// can save and restore it: the same seed gives the same masks.
/// </remarks>
public sealed class Dropout : Module
{
    public float P { get; }

    private readonly Rng _rng = new(0);
    private readonly Tensor _mask = new(0);      // input's shape: 0 or 1/(1 − p)
    private readonly Tensor _output = new(0);    // input's shape
    private readonly Tensor _inputGrad = new(0); // input's shape
    private bool _identity;                      // the last Forward was in eval mode (or p = 0)
    private bool _forwarded;

    public Dropout(float p = 0.5f)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1], e.g. 0.5.");
        P = p;
    }

    public override Tensor Forward(Tensor input)
    {
        _forwarded = true;
        _identity = !IsTraining || P == 0f;
        if (_identity)
        {
            _mask.Resize(input.Shape); // remember the shape for Backward's check
            return input;
        }
        _mask.Resize(input.Shape);
        DropoutMask.Fill(_mask.Span, P, _rng);
        _output.Resize(input.Shape);
        DropoutMask.Apply(input.ReadOnlySpan, _mask.ReadOnlySpan, _output.Span);
        return _output;
    }

    public override Tensor Backward(Tensor outputGrad)
    {
        if (!_forwarded) ShapeCheck.Forwarded<Tensor>(this, null);
        ShapeCheck.Grad(this, outputGrad, _mask.Shape);
        if (_identity) return outputGrad;
        _inputGrad.Resize(_mask.Shape);
        DropoutMask.Apply(outputGrad.ReadOnlySpan, _mask.ReadOnlySpan, _inputGrad.Span);
        return _inputGrad;
    }

    public override int[] OutputShape(int[] inputShape) => (int[])inputShape.Clone();

    public override IEnumerable<(string Name, Rng Rng)> OwnRngs() => [("rng", _rng)];

    /// <summary>Dropout has no parameters: this only reseeds the mask generator from <paramref name="rng"/>.</summary>
    public override void ResetParameters(Rng rng) => _rng.SetState(new Rng(rng.NextUInt64()).GetState());

    public override string ToString() => $"Dropout(p={P.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
}
