// DropoutMask: the seeded keep/drop mask of inverted dropout, and applying it.
// Its own reference: one draw per element, then an element-wise product.
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
    /// <remarks>
    /// The draws are compared as integers (<see cref="Rng.NextDropMask"/>): u = k·2⁻²⁴ &lt; p exactly when k &lt; ⌈p·2²⁴⌉,
    /// so the mask is bit for bit <see cref="FillReference"/>'s, in one loop with no float conversion (1 ms → 0.3 ms
    /// for net3's first dropout, 204,800 elements).
    /// </remarks>
    public static void Fill(Span<float> mask, float p, Rng rng)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be in [0, 1].");
        if (p == 1f) { mask.Clear(); return; }
        rng.NextDropMask(mask, (uint)Math.Ceiling(p * (double)(1 << 24)), 1f / (1f - p));
    }

    /// <summary>Reference: readable, not fast. One <see cref="Rng.NextFloat"/> per element, 0 where it is below p.</summary>
    public static void FillReference(Span<float> mask, float p, Rng rng)
    {
        if (p == 1f) { mask.Clear(); return; }
        float scale = 1f / (1f - p);
        for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextFloat() < p ? 0f : scale;
    }

    /// <summary>y = x ⊙ mask (forward), and equally dx = dy ⊙ mask (backward).</summary>
    public static void Apply(ReadOnlySpan<float> x, ReadOnlySpan<float> mask, Span<float> y)
    {
        Activations.CheckLengths(x.Length, mask.Length, "Dropout");
        Elementwise.Multiply(x, mask, y);
    }
}
