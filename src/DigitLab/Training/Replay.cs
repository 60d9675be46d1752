// Replay: mixes a sample of the original training set (MNIST) into the user's own digits, so that fine-tuning on a few
// hundred images does not make the model forget what it knew.
using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Training;

/// <summary>Rehearsal ("replay") mixes for fine-tuning.</summary>
public static class Replay
{
    /// <summary>
    /// All of <paramref name="own"/>'s images followed by round(n·f/(1−f)) images of <paramref name="replay"/>, sampled
    /// without replacement, so that replayed images are <paramref name="fraction"/> of the mix (n = own.Count). The same
    /// seed gives the same sample; the trainer shuffles the mix each epoch, so the order here does not matter.
    /// </summary>
    /// <param name="fraction">Share of the mix taken from <paramref name="replay"/>: 0 (none, <paramref name="own"/> returned as is) up to but not including 1.</param>
    /// <exception cref="ArgumentException">Fraction out of range, an empty own set, or a replay set too small for the fraction.</exception>
    public static MnistDataset Mix(MnistDataset own, MnistDataset replay, double fraction, ulong seed)
    {
        if (!(fraction >= 0 && fraction < 1))
            throw new ArgumentException($"The replay fraction must be at least 0 and below 1 (0.5 = half the images from {replay.Name}), found {fraction}.", nameof(fraction));
        if (own.Count == 0) throw new ArgumentException($"The own dataset {own.Name} has no images: add some digits before fine-tuning.", nameof(own));
        int count = ReplayCount(own.Count, fraction);
        if (count == 0) return own;
        if (count > replay.Count)
            throw new ArgumentException($"A replay fraction of {fraction} with {own.Count} own images needs {count} images of {replay.Name}, which has only {replay.Count}; lower the fraction.", nameof(fraction));

        // A partial Fisher–Yates shuffle: the first `count` positions are a uniform sample without replacement.
        var order = new int[replay.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        var rng = Rng.Derive(seed, "replay");
        for (int i = 0; i < count; i++)
        {
            int j = i + rng.NextInt(order.Length - i);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var sample = order.AsSpan(0, count);
        sample.Sort(); // keep the replay set's order within the sample: the mix does not depend on the shuffle's order

        const int P = MnistDataset.Pixels;
        var images = new byte[(own.Count + count) * P];
        var labels = new byte[own.Count + count];
        own.Images.CopyTo(images, 0);
        own.Labels.CopyTo(labels, 0);
        for (int k = 0; k < count; k++)
        {
            replay.Image(sample[k]).CopyTo(images.AsSpan((own.Count + k) * P, P));
            labels[own.Count + k] = replay.Labels[sample[k]];
        }
        return new MnistDataset(images, labels, $"{own.Name}+{replay.Name}[replay {count}]");
    }

    /// <summary>How many replay images make them <paramref name="fraction"/> of a mix with <paramref name="ownCount"/> own images.</summary>
    public static int ReplayCount(int ownCount, double fraction) =>
        (int)Math.Min(int.MaxValue, Math.Round(ownCount * fraction / (1 - fraction), MidpointRounding.AwayFromZero));
}
