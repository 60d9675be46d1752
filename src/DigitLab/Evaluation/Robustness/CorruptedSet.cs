// CorruptedSet: applies one corruption to every image of a dataset, one seeded random stream per image.
using DigitLab.Data;
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

public static class CorruptedSet
{
    /// <summary>
    /// The random stream of image <paramref name="index"/> under corruption <paramref name="name"/> and <paramref name="seed"/>:
    /// independent of every other image, so each corrupted image is reproducible alone and the set can be built in parallel.
    /// </summary>
    public static Rng StreamFor(ulong seed, string name, int index) =>
        new(Rng.Derive(seed, name).NextUInt64() + (ulong)index * 0x9E3779B97F4A7C15UL);

    /// <summary>One corrupted image: bytes -> [0, 1] -> corruption -> bytes (rounded, clamped).</summary>
    public static byte[] Apply(Corruption corruption, ReadOnlySpan<byte> image784, Rng rng)
    {
        if (image784.Length != ImageOps.Pixels)
            throw new ArgumentException($"A corruption works on {ImageOps.Pixels} pixels (28x28), found {image784.Length}.");
        Span<float> x = stackalloc float[ImageOps.Pixels], y = stackalloc float[ImageOps.Pixels];
        for (int i = 0; i < x.Length; i++) x[i] = image784[i] / 255f;
        corruption.Apply(x, y, rng);
        var result = new byte[ImageOps.Pixels];
        for (int i = 0; i < y.Length; i++) result[i] = (byte)Math.Clamp(MathF.Round(y[i] * 255f), 0f, 255f);
        return result;
    }

    /// <summary>Every image of <paramref name="data"/> corrupted (labels kept), in parallel, identical for a given seed whatever the thread count.</summary>
    public static MnistDataset Apply(Corruption corruption, MnistDataset data, ulong seed)
    {
        var images = new byte[data.Images.Length];
        Parallel.For(0, data.Count, i =>
        {
            var corrupted = Apply(corruption, data.Image(i), StreamFor(seed, corruption.Name, i));
            corrupted.CopyTo(images.AsSpan(i * ImageOps.Pixels, ImageOps.Pixels));
        });
        return new MnistDataset(images, (byte[])data.Labels.Clone(), $"{data.Name} + {corruption.Name}");
    }
}
