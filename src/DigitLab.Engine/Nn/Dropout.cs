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

    /// <summary>One caller's mask and activations, in its workspace.</summary>
    private sealed class State
    {
        public readonly Tensor Mask = new(0);       // input's shape: 0 or 1/(1 − p)
        public readonly Tensor Output = new(0);     // input's shape
        public readonly Tensor InputGrad = new(0);  // input's shape
        public bool Identity;                       // the last Forward was in eval mode (or p = 0)
    }

    public Dropout(float p = 0.5f)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1], e.g. 0.5.");
        P = p;
    }

    /// <remarks>A training pass draws its mask from the module's generator (training owns the model); evaluation is the identity.</remarks>
    public override Tensor Forward(Tensor input, Workspace workspace)
    {
        var state = workspace.StateOf<State>(this);
        state.Identity = !workspace.Training || P == 0f;
        state.Mask.Resize(input.Shape); // in eval mode only the shape, for Backward's check
        if (state.Identity) return input;
        DropoutMask.Fill(state.Mask.Span, P, _rng);
        state.Output.Resize(input.Shape);
        DropoutMask.Apply(input.ReadOnlySpan, state.Mask.ReadOnlySpan, state.Output.Span);
        return state.Output;
    }

    public override Tensor Backward(Tensor outputGrad, Workspace workspace)
    {
        var state = ShapeCheck.Forwarded(this, workspace.FindState<State>(this));
        ShapeCheck.Grad(this, outputGrad, state.Mask.Shape);
        if (state.Identity) return outputGrad;
        state.InputGrad.Resize(state.Mask.Shape);
        DropoutMask.Apply(outputGrad.ReadOnlySpan, state.Mask.ReadOnlySpan, state.InputGrad.Span);
        return state.InputGrad;
    }

    public override int[] OutputShape(int[] inputShape) => (int[])inputShape.Clone();

    public override IEnumerable<(string Name, Rng Rng)> OwnRngs() => [("rng", _rng)];

    /// <summary>Dropout has no parameters: this only reseeds the mask generator from <paramref name="rng"/>.</summary>
    public override void ResetParameters(Rng rng) => _rng.SetState(new Rng(rng.NextUInt64()).GetState());

    public override string ToString() => $"Dropout(p={P.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
}
