// FineTuneData: the data of a fine-tuning job: my digits split into trained and held-out drawings, and MNIST images
// mixed in ("replay") so the model does not forget MNIST.
using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Web.Services;

/// <summary>Splitting the user's drawings and mixing MNIST into them for fine-tuning.</summary>
/// <remarks>The library's own fine-tuning API (issue 14's <c>Replay.Mix</c>) may replace <see cref="Replay"/> and <see cref="Concat"/> once it lands.</remarks>
public static class FineTuneData
{
    /// <summary>Drawings needed to fine-tune: at least one to train on and one held out to measure.</summary>
    public const int MinDrawings = 2;
    /// <summary>Share of the drawings held out (stratified by digit; at least one).</summary>
    public const double HeldOutShare = 0.2;
    /// <summary>Largest replay fraction: at 0.95 the mix is already 19 MNIST images per drawing.</summary>
    public const double MaxReplayFraction = 0.95;

    /// <summary>Splits the drawings into (Train, HeldOut): a seeded stratified split holding out ~20 % (at least one).</summary>
    /// <exception cref="ArgumentException">Fewer than <see cref="MinDrawings"/> drawings.</exception>
    public static (MnistDataset Train, MnistDataset HeldOut) HoldOut(MnistDataset own, ulong seed = 1)
    {
        if (own.Count < MinDrawings)
            throw new ArgumentException($"Fine-tuning needs at least {MinDrawings} saved drawings (one to learn from, one to measure on); My digits holds {own.Count}. Draw and save some on the Recognise page.");
        int heldOut = Math.Clamp((int)Math.Round(own.Count * HeldOutShare), 1, own.Count - 1);
        var (train, validation) = Split.Stratified(own, heldOut, seed);
        return (train, validation);
    }

    /// <summary>
    /// A seeded random sample of <paramref name="mnist"/> sized so it makes up <paramref name="fraction"/> of the mix with
    /// <paramref name="ownCount"/> drawings: round(ownCount · f / (1 − f)) images, at most all of MNIST.
    /// </summary>
    public static MnistDataset Replay(MnistDataset mnist, int ownCount, double fraction, ulong seed)
    {
        if (!double.IsFinite(fraction) || fraction < 0 || fraction > MaxReplayFraction)
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, $"The replay fraction must be in [0, {MaxReplayFraction}], found {fraction}.");
        int count = Math.Min(mnist.Count, (int)Math.Round(ownCount * fraction / (1 - fraction)));
        var indices = Enumerable.Range(0, mnist.Count).ToArray();
        Rng.Derive(seed, "replay").Shuffle(indices.AsSpan());
        var chosen = indices.AsSpan(0, count).ToArray();
        Array.Sort(chosen);
        return mnist.Subset(chosen, $"{mnist.Name}[replay {count}]");
    }

    /// <summary>One dataset holding <paramref name="a"/>'s images then <paramref name="b"/>'s (the trainer shuffles).</summary>
    public static MnistDataset Concat(MnistDataset a, MnistDataset b, string name)
    {
        var images = new byte[a.Images.Length + b.Images.Length];
        a.Images.CopyTo(images, 0);
        b.Images.CopyTo(images, a.Images.Length);
        return new MnistDataset(images, [.. a.Labels, .. b.Labels], name);
    }
}
