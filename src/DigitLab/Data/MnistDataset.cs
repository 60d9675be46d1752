// MnistDataset: the one labelled image set type: 28×28 grey images held as bytes in memory (MNIST train is 47 MB),
// whatever they came from (MNIST, Fashion-MNIST, the web app's store, a report's test set).
using DigitLab.IO;
namespace DigitLab.Data;

/// <summary>
/// Images and labels of an MNIST-format dataset. <see cref="Images"/> is Count × 784 bytes, each image
/// row-major 28×28 with 0 = background and 255 = ink; <see cref="Labels"/> holds one class 0..9 per image.
/// </summary>
public sealed class MnistDataset
{
    public const int Rows = 28, Cols = 28, Pixels = Rows * Cols, Classes = 10;

    /// <summary>Pixels, (Count, 28, 28) row-major, 0..255.</summary>
    public byte[] Images { get; }

    /// <summary>Classes 0..9, (Count).</summary>
    public byte[] Labels { get; }

    public int Count { get; }

    /// <summary>A readable name such as "mnist/train" or "mnist/train[validation]".</summary>
    public string Name { get; }

    /// <summary>Image width and height and bytes per image (28, 28, 784), for code that draws images of any size.</summary>
    public int Width => Cols;
    public int Height => Rows;
    public int PixelsPerImage => Pixels;

    /// <summary>Wraps the arrays (not copied). Throws when their lengths disagree or a label is outside 0..9.</summary>
    public MnistDataset(byte[] images, byte[] labels, string name)
    {
        if (images.Length != labels.Length * Pixels)
            throw new ArgumentException($"Dataset {name}: expected {labels.Length} × {Pixels} = {(long)labels.Length * Pixels} pixel bytes for {labels.Length} labels, found {images.Length}.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= Classes)
                throw new ArgumentException($"Dataset {name}: expected labels 0..{Classes - 1}, found {labels[i]} at index {i}.");
        Images = images;
        Labels = labels;
        Count = labels.Length;
        Name = name;
    }

    /// <summary>The 784 pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Dataset {Name} has {Count} images.");
        return Images.AsSpan(index * Pixels, Pixels);
    }

    /// <summary>Number of images of each class 0..9.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[Classes];
        foreach (byte label in Labels) counts[label]++;
        return counts;
    }

    /// <summary>Mean of all pixels scaled to [0, 1] (MNIST train: 0.1307).</summary>
    public double PixelMean()
    {
        long sum = 0;
        foreach (byte p in Images) sum += p;
        return Count == 0 ? 0 : sum / 255.0 / Images.Length;
    }

    /// <summary>Population standard deviation of all pixels scaled to [0, 1] (MNIST train: 0.3081).</summary>
    public double PixelStd()
    {
        if (Count == 0) return 0;
        // Exact integer sums: 47 M pixels × 255² fits easily in a long.
        long sum = 0, sumSquares = 0;
        foreach (byte p in Images) { sum += p; sumSquares += p * p; }
        double n = Images.Length, mean = sum / n;
        return Math.Sqrt(Math.Max(0, sumSquares / n - mean * mean)) / 255.0;
    }

    /// <summary>A new dataset holding copies of the given images, in the given order.</summary>
    public MnistDataset Subset(ReadOnlySpan<int> indices, string name)
    {
        var images = new byte[indices.Length * Pixels];
        var labels = new byte[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            Image(indices[i]).CopyTo(images.AsSpan(i * Pixels, Pixels));
            labels[i] = Labels[indices[i]];
        }
        return new MnistDataset(images, labels, name);
    }

    /// <summary>Indices of the images of class <paramref name="digit"/>, in dataset order.</summary>
    public int[] IndicesOf(int digit)
    {
        var list = new List<int>();
        for (int i = 0; i < Count; i++) if (Labels[i] == digit) list.Add(i);
        return list.ToArray();
    }

    public override string ToString() => $"{Name} ({Count} images)";

    /// <summary>Reads an image file and its label file into a dataset, checking the counts agree.</summary>
    public static MnistDataset ReadIdx(string imagesPath, string labelsPath, string name)
    {
        var images = IdxReader.ReadImages(imagesPath, out int count);
        var labels = IdxReader.ReadLabels(labelsPath);
        return FromIdxArrays(images, count, labels, name, imagesPath, labelsPath);
    }

    internal static MnistDataset FromIdxArrays(byte[] images, int count, byte[] labels, string name, string imagesName, string labelsName)
    {
        if (labels.Length != count)
            throw new IdxFormatException($"{labelsName}: expected {count} labels (as many as images in {imagesName}), found {labels.Length}.");
        return new MnistDataset(images, labels, name);
    }
}
