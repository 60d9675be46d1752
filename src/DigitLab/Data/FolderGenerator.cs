// FolderGenerator: writes MNIST images as an image folder (clean PNGs, or photo-like PNG/JPEG), for tests, figures and `digitlab data folder`.
using DigitLab.IO;
using DigitLab.Tensors;

namespace DigitLab.Data;

/// <summary>What <see cref="FolderGenerator"/> writes: MNIST's own 28×28 bytes as PNG, or photos of paper (<see cref="PhotoLike"/>).</summary>
public enum FolderStyle { Clean, Photo }

/// <summary>Writes the first images of a dataset as an image folder in the ImageFolder convention (<see cref="ImageFolder"/>).</summary>
public static class FolderGenerator
{
    /// <summary>
    /// Writes images 0..<paramref name="count"/>−1 of <paramref name="source"/> to ROOT[/SPLIT]/LABEL/NNNNN.EXT (NNNNN the index
    /// in the source, so the folder's order is the source's order within each class), each file atomically.
    /// </summary>
    /// <remarks>
    /// Clean: a grey 28×28 PNG of the image's exact bytes. Photo: <see cref="PhotoLike.Render"/> with a generator seeded by
    /// <paramref name="seed"/>; every third image is in colour and every second one a JPEG (quality 80–95), the rest PNG.
    /// </remarks>
    /// <returns>The paths written, in source order.</returns>
    public static IReadOnlyList<string> Write(MnistDataset source, string root, int count, FolderStyle style, ulong seed = 1, string? split = null)
    {
        if (count < 1 || count > source.Count)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"--count must be 1..{source.Count:N0} (the images of {source.Name}), found {count}.");
        string setRoot = split is null ? root : Path.Combine(root, split);
        var rng = new Rng(seed);
        var paths = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            var digit = source.Image(i);
            string name = $"{i:D5}";
            string folder = Path.Combine(setRoot, source.Labels[i].ToString());
            Directory.CreateDirectory(folder);
            byte[] bytes;
            if (style == FolderStyle.Clean)
            {
                bytes = PngWriter.Encode(MnistDataset.Cols, MnistDataset.Rows, 1, digit);
                name += ".png";
            }
            else
            {
                var image = PhotoLike.Render(digit, rng, colour: i % 3 == 0);
                bool jpeg = i % 2 == 0;
                bytes = PhotoLike.Encode(image, jpeg ? PhotoFormat.Jpeg : PhotoFormat.Png, jpegQuality: 80 + rng.NextInt(16));
                name += jpeg ? ".jpg" : ".png";
            }
            string path = Path.Combine(folder, name);
            AtomicFile.WriteAllBytes(path, bytes);
            paths.Add(Path.GetFullPath(path));
        }
        return paths;
    }
}
