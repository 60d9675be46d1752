// SyntheticData: small fake MNIST-format datasets and files for tests that must not need the real data.
using System.IO.Compression;
using DigitLab.Data;
using DigitLab.Tensors;
using DigitLab.IO;

namespace DigitLab.Tests.Data;

internal static class SyntheticData
{
    /// <summary>A dataset of <paramref name="count"/> images; image i has label i % 10 (or as given) and a bright square whose position depends on i.</summary>
    public static MnistDataset Dataset(int count, string name = "synthetic", Func<int, byte>? label = null)
    {
        var images = new byte[count * MnistDataset.Pixels];
        var labels = new byte[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = label?.Invoke(i) ?? (byte)(i % 10);
            int x0 = 6 + i % 11, y0 = 6 + (i / 11) % 11;
            for (int y = y0; y < y0 + 6; y++)
                for (int x = x0; x < x0 + 6; x++)
                    images[i * MnistDataset.Pixels + y * 28 + x] = (byte)(128 + (i * 7 + x + y) % 128);
        }
        return new MnistDataset(images, labels, name);
    }

    /// <summary>A digit-like image: a thick ring ("0") of radius <paramref name="radius"/> centred at (cx, cy).</summary>
    public static byte[] Ring(int size = 28, double cx = 13.5, double cy = 13.5, double radius = 6, double thickness = 2)
    {
        var image = new byte[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                double d = Math.Abs(Math.Sqrt((x - cx) * (x - cx) + (y - cy) * (y - cy)) - radius);
                image[y * size + x] = (byte)Math.Clamp(255 * (1 - (d - thickness / 2)), 0, 255);
            }
        return image;
    }

    public static byte[] Gzip(byte[] raw)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return output.ToArray();
    }

    /// <summary>A fresh temporary directory, deleted on dispose.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "digitlab-test-" + Guid.NewGuid().ToString("N"));
        public TempDir() => Directory.CreateDirectory(Path);
        public string File(string name) => System.IO.Path.Combine(Path, name);
        public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
    }

    /// <summary>Four IDX files (raw bytes) of a small dataset and a spec whose checksums match them.</summary>
    public static (DatasetSpec Spec, Dictionary<string, byte[]> Files) SpecWithFiles(int trainCount = 50, int testCount = 20)
    {
        var train = Dataset(trainCount);
        var test = Dataset(testCount);
        var files = new Dictionary<string, byte[]>
        {
            ["train-images-idx3-ubyte"] = IdxReader.EncodeImages(train.Images, train.Count),
            ["train-labels-idx1-ubyte"] = IdxReader.EncodeLabels(train.Labels),
            ["t10k-images-idx3-ubyte"] = IdxReader.EncodeImages(test.Images, test.Count),
            ["t10k-labels-idx1-ubyte"] = IdxReader.EncodeLabels(test.Labels),
        };
        DatasetFile F(string n) => new(n, DatasetStore.Sha256Hex(files[n]));
        var spec = new DatasetSpec("synthetic", "Synthetic",
            F("train-images-idx3-ubyte"), F("train-labels-idx1-ubyte"), F("t10k-images-idx3-ubyte"), F("t10k-labels-idx1-ubyte"),
            [], [], null, Enumerable.Range(0, 10).Select(i => i.ToString()).ToArray());
        return (spec, files);
    }
}
