// DropoutMask: the seeded keep/drop mask of inverted dropout, and applying it.
// Its own reference: one draw per element, then an element-wise product.
using System.Numerics.Tensors;
using DigitLab.Tensors;

namespace DigitLab.Kernels;

/// <summary>
/// Inverted dropout: each element is kept with probability 1 − p and then scaled by 1/(1 − p), so
/// the expected output equals the input and evaluation needs no rescaling (PyTorch's convention).
/// </summary>
public static class DropoutMask
{
    /// <summary>
    /// Fills <paramref name="mask"/> with 1/(1 − p) (kept) or 0 (dropped), one <see cref="Rng.NextFloat"/>
    /// per element in order: the same Rng state gives the same mask whatever the thread count.
    /// </summary>
    public static void Fill(Span<float> mask, float p, Rng rng)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1].");
        if (p == 1f) { mask.Clear(); return; }
        float scale = 1f / (1f - p);
        rng.NextFloats(mask); // the draws first, in one tight loop; then each becomes 0 or the scale
        for (int i = 0; i < mask.Length; i++) mask[i] = mask[i] < p ? 0f : scale;
    }

    /// <summary>y = x ⊙ mask (forward), and equally dx = dy ⊙ mask (backward).</summary>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> mask, Span<float> y)
    {
        Activations.CheckLengths(x.Length, mask.Length, "Dropout");
        if (x.Length > 0) TensorPrimitives.Multiply(x, mask, y);
    }
}
