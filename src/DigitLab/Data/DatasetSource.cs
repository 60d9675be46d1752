// DatasetSource: which data a command uses: MNIST, Fashion-MNIST or an image folder ("folder:PATH"), as --dataset spells it and the run log records it.
namespace DigitLab.Data;

/// <summary>The kinds of <see cref="DatasetSource"/>.</summary>
public enum DatasetSourceKind { Mnist, Fashion, Folder }

/// <summary>
/// A dataset named on the command line or in a run log: <c>mnist</c>, <c>fashion</c>, or <c>folder:PATH</c> (an image folder,
/// <see cref="ImageFolder"/>). <see cref="ToString"/> gives the canonical spelling ("folder:" followed by the absolute path),
/// which is what the run log's Dataset field records, so a checkpoint names the folder it was trained on.
/// </summary>
public sealed record DatasetSource(DatasetSourceKind Kind, string? FolderPath = null)
{
    public static DatasetSource Mnist { get; } = new(DatasetSourceKind.Mnist);
    public static DatasetSource Fashion { get; } = new(DatasetSourceKind.Fashion);

    /// <summary>"mnist", "fashion" (or "fashion-mnist"), or "folder:PATH" (PATH made absolute, not checked here).</summary>
    /// <exception cref="ArgumentException">Anything else, or "folder:" without a path.</exception>
    public static DatasetSource Parse(string text)
    {
        string value = (text ?? "").Trim();
        if (value.StartsWith("folder:", StringComparison.OrdinalIgnoreCase))
        {
            string path = value["folder:".Length..].Trim();
            if (path.Length == 0) throw new ArgumentException("--dataset folder: needs a path, e.g. folder:my-digits (a folder holding 0/ … 9/, or train/ and test/).");
            return new DatasetSource(DatasetSourceKind.Folder, Path.GetFullPath(path));
        }
        return value.ToLowerInvariant() switch
        {
            "mnist" => Mnist,
            "fashion" or "fashion-mnist" or "fashionmnist" => Fashion,
            _ => throw new ArgumentException($"Unknown dataset \"{text}\": expected mnist, fashion or folder:PATH (a folder of images, one folder per digit)."),
        };
    }

    /// <summary>The IDX dataset kind of an MNIST or Fashion source.</summary>
    /// <exception cref="InvalidOperationException">For a folder.</exception>
    public DatasetKind IdxKind => Kind switch
    {
        DatasetSourceKind.Mnist => DatasetKind.Mnist,
        DatasetSourceKind.Fashion => DatasetKind.Fashion,
        _ => throw new InvalidOperationException($"{this} is an image folder, not an IDX dataset."),
    };

    public bool IsFolder => Kind == DatasetSourceKind.Folder;

    public override string ToString() => Kind switch
    {
        DatasetSourceKind.Mnist => "mnist",
        DatasetSourceKind.Fashion => "fashion",
        _ => "folder:" + FolderPath,
    };
}
