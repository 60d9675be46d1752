// ImageFolder: a dataset from a folder per class (PATH/0 … PATH/9, optionally under train/ and test/), any image format, preprocessed as predict does, cached.
using DigitLab.IO;

namespace DigitLab.Data;

/// <summary>An image of a folder that was not used, and why (unreadable, damaged, too large, no digit in it).</summary>
public sealed record SkippedImage(string Path, string Reason);

/// <summary>How far <see cref="ImageFolder.Load"/> is: images done of the total (decoded or found in the cache).</summary>
public sealed record ImageFolderProgress(int Done, int Total);

/// <summary>What <see cref="ImageFolder.Load"/> read: the sets, the file of each image (same order), and the files skipped.</summary>
public sealed class ImageFolderData
{
    /// <summary>The images of PATH/d/ (no split) or PATH/train/d/, sorted by class then by ordinal path.</summary>
    public required MnistDataset Train { get; init; }

    /// <summary>The images of PATH/test/d/, or null when the folder has no test/ part.</summary>
    public MnistDataset? Test { get; init; }

    /// <summary>Full path of each image of <see cref="Train"/>, index for index.</summary>
    public required IReadOnlyList<string> TrainPaths { get; init; }

    /// <summary>Full path of each image of <see cref="Test"/>, index for index; null with <see cref="Test"/>.</summary>
    public IReadOnlyList<string>? TestPaths { get; init; }

    /// <summary>Files that could not be used, with the reason, in path order.</summary>
    public required IReadOnlyList<SkippedImage> Skipped { get; init; }

    /// <summary>Files decoded and preprocessed by this load (the rest came from the cache): 0 on a second load of an unchanged folder.</summary>
    public int Decoded { get; init; }

    /// <summary>The folder's full path.</summary>
    public required string Root { get; init; }
}

/// <summary>
/// Decoded, preprocessed images of image folders, keyed by full path, file length and last write time, kept in one file
/// so that a second load of an unchanged folder decodes nothing.
/// </summary>
/// <remarks>
/// The cache file is binary: a header naming the format and the preprocessing version (a change of either discards
/// the file), then one entry per image: path, length, write time (UTC ticks), and either the 784 preprocessed bytes or the
/// reason the file was skipped. It is written atomically after a load that decoded anything; a file that cannot be read
/// back (damaged, cut short, another version) is ignored and rebuilt, never an error.
/// </remarks>
public sealed class ImageFolderCache
{
    /// <summary>Bumped whenever <see cref="Preprocess"/> changes what it makes of an image, so old entries are not reused.</summary>
    public const string PreprocessVersion = "preprocess-2 (photo cleanup)";

    private const string Magic = "DigitLab image-folder cache 1";

    /// <summary>The cache file.</summary>
    public string FilePath { get; }

    public ImageFolderCache(string filePath) => FilePath = Path.GetFullPath(filePath);

    /// <summary>The cache of folder <paramref name="root"/> in the data folder: DATA/folders/NAME-HASH.cache (one per folder, the folder itself untouched).</summary>
    public static ImageFolderCache InDataDir(string? dataDir, string root)
    {
        string full = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar);
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(full));
        string name = new string(Path.GetFileName(full).Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
        return new ImageFolderCache(Path.Combine(dataDir ?? DatasetStore.DefaultDataDir, "folders", $"{name}-{Convert.ToHexString(hash, 0, 8).ToLowerInvariant()}.cache"));
    }

    internal sealed record Entry(long Length, long WriteTicks, byte[]? Pixels, string? Reason);

    /// <summary>Reads the entries; an absent, damaged or outdated file gives none.</summary>
    internal Dictionary<string, Entry> Read()
    {
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        if (!File.Exists(FilePath)) return entries;
        try
        {
            using var reader = new BinaryReader(File.OpenRead(FilePath));
            if (reader.ReadString() != Magic || reader.ReadString() != PreprocessVersion) return new(StringComparer.Ordinal);
            int count = reader.ReadInt32();
            if (count < 0) return new(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string path = reader.ReadString();
                long length = reader.ReadInt64(), ticks = reader.ReadInt64();
                bool ok = reader.ReadBoolean();
                byte[]? pixels = ok ? reader.ReadBytes(MnistDataset.Pixels) : null;
                if (pixels is not null && pixels.Length != MnistDataset.Pixels) return new(StringComparer.Ordinal);
                entries[path] = new Entry(length, ticks, pixels, ok ? null : reader.ReadString());
            }
            return reader.BaseStream.Position == reader.BaseStream.Length ? entries : new(StringComparer.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            return new(StringComparer.Ordinal); // damaged: rebuilt by this load
        }
    }

    internal void Write(IReadOnlyDictionary<string, Entry> entries)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        AtomicFile.Write(FilePath, stream =>
        {
            using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(Magic);
            writer.Write(PreprocessVersion);
            writer.Write(entries.Count);
            foreach (var (path, e) in entries.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.Write(path);
                writer.Write(e.Length);
                writer.Write(e.WriteTicks);
                writer.Write(e.Pixels is not null);
                if (e.Pixels is not null) writer.Write(e.Pixels);
                else writer.Write(e.Reason ?? "");
            }
        });
    }
}

/// <summary>
/// Datasets from folders of images, the ImageFolder convention: <c>PATH/0/*.png … PATH/9/*.jpg</c> (every image is a
/// training image), or <c>PATH/train/d/…</c> and <c>PATH/test/d/…</c>.
/// </summary>
/// <remarks>
/// Any file <see cref="ImageDecoder"/> reads (PNG, JPEG, WebP, GIF, BMP, PGM), any size, grey or colour, either
/// polarity, preprocessed by <see cref="Preprocess.FromImage"/> exactly as <c>digitlab predict</c> does (a 28×28 image is
/// taken as it is, so a folder of MNIST PNGs gives MNIST's bytes). Class folders are searched recursively; names that
/// start with '.' are ignored. A file that cannot be used is listed in <see cref="ImageFolderData.Skipped"/> with its
/// reason and the load goes on; a missing folder, a folder without class folders, or a class folder holding no usable
/// image is an error naming the path. Order: by class, then by ordinal full path, so loads are deterministic.
/// </remarks>
public static class ImageFolder
{
    /// <summary>Loads the folder at <paramref name="root"/>, reusing and updating <paramref name="cache"/> when given.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No class folders, or an empty class folder (the message names it).</exception>
    public static ImageFolderData Load(string root, ImageFolderCache? cache = null, IProgress<ImageFolderProgress>? progress = null)
    {
        string full = Path.GetFullPath(root);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"Image folder '{root}' does not exist. Give a folder holding one folder per digit (0 … 9) of images, or train/ and test/ folders laid out so.");
        string train = Path.Combine(full, "train"), test = Path.Combine(full, "test");
        bool split = Directory.Exists(train);
        if (!split && Directory.Exists(test))
            throw new InvalidDataException($"Image folder '{full}' has test/ but no train/: put the training images in {train}/0 … {train}/9 (or all images in {full}/0 … {full}/9).");
        var trainFiles = ClassFiles(split ? train : full);
        var testFiles = split && Directory.Exists(test) ? ClassFiles(test) : null;

        var all = trainFiles.Concat(testFiles ?? []).ToList();
        var cached = cache?.Read() ?? new Dictionary<string, ImageFolderCache.Entry>(StringComparer.Ordinal);
        var results = new (byte[]? Pixels, string? Reason, ImageFolderCache.Entry Entry)[all.Count];
        var toDecode = new List<int>();
        for (int i = 0; i < all.Count; i++)
        {
            var info = new FileInfo(all[i].Path);
            long length = info.Length, ticks = info.LastWriteTimeUtc.Ticks;
            if (cached.TryGetValue(all[i].Path, out var hit) && hit.Length == length && hit.WriteTicks == ticks)
                results[i] = (hit.Pixels, hit.Reason, hit);
            else
            {
                results[i] = (null, null, new ImageFolderCache.Entry(length, ticks, null, null));
                toDecode.Add(i);
            }
        }
        int done = all.Count - toDecode.Count;
        progress?.Report(new ImageFolderProgress(done, all.Count));
        Parallel.For(0, toDecode.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, k =>
        {
            int i = toDecode[k];
            var (pixels, reason) = Prepare(all[i].Path);
            results[i] = (pixels, reason, results[i].Entry with { Pixels = pixels, Reason = reason });
            int now = Interlocked.Increment(ref done);
            if (now % 256 == 0 || now == all.Count) progress?.Report(new ImageFolderProgress(now, all.Count));
        });
        if (cache is not null && (toDecode.Count > 0 || cached.Count != all.Count))
            cache.Write(Enumerable.Range(0, all.Count).ToDictionary(i => all[i].Path, i => results[i].Entry, StringComparer.Ordinal));

        var skipped = new List<SkippedImage>();
        MnistDataset Build(int start, int count, string setRoot, string name, out List<string> paths)
        {
            var used = new List<int>();
            var perClass = new int[MnistDataset.Classes];
            for (int i = start; i < start + count; i++)
            {
                if (results[i].Pixels is null) skipped.Add(new SkippedImage(all[i].Path, results[i].Reason ?? "not readable"));
                else { used.Add(i); perClass[all[i].Label]++; }
            }
            foreach (int label in all.Skip(start).Take(count).Select(f => f.Label).Distinct())
                if (perClass[label] == 0)
                    throw new InvalidDataException($"Class folder '{Path.Combine(setRoot, label.ToString())}' holds no usable image ({skipped.Count(s => s.Path.StartsWith(Path.Combine(setRoot, label.ToString()) + Path.DirectorySeparatorChar, StringComparison.Ordinal))} skipped). Add images of the digit {label}, or remove the folder.");
            var images = new byte[used.Count * MnistDataset.Pixels];
            var labels = new byte[used.Count];
            paths = new List<string>(used.Count);
            for (int j = 0; j < used.Count; j++)
            {
                results[used[j]].Pixels!.CopyTo(images, j * MnistDataset.Pixels);
                labels[j] = (byte)all[used[j]].Label;
                paths.Add(all[used[j]].Path);
            }
            return new MnistDataset(images, labels, name);
        }
        string baseName = Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar));
        var trainSet = Build(0, trainFiles.Count, split ? train : full, $"{baseName}/train", out var trainPaths);
        List<string>? testPaths = null;
        var testSet = testFiles is null ? null : Build(trainFiles.Count, testFiles.Count, test, $"{baseName}/test", out testPaths);
        return new ImageFolderData
        {
            Train = trainSet, Test = testSet, TrainPaths = trainPaths, TestPaths = testPaths,
            Skipped = skipped, Decoded = toDecode.Count, Root = full,
        };
    }

    /// <summary>
    /// Writes <paramref name="pixels784"/> (28×28, white ink on black) as a grey PNG at ROOT/LABEL/FILENAME, atomically,
    /// creating the class folder. <paramref name="fileName"/> is a bare file name (".png" added when it has no extension).
    /// </summary>
    /// <returns>The full path written.</returns>
    public static string WriteImage(string root, int label, string fileName, ReadOnlySpan<byte> pixels784)
    {
        if (label is < 0 or > 9) throw new ArgumentOutOfRangeException(nameof(label), label, $"A digit image's label must be 0..9, found {label}.");
        if (pixels784.Length != MnistDataset.Pixels)
            throw new ArgumentException($"ImageFolder.WriteImage needs 784 bytes (28×28), found {pixels784.Length}.", nameof(pixels784));
        if (string.IsNullOrWhiteSpace(fileName) || fileName != Path.GetFileName(fileName) || fileName.StartsWith('.'))
            throw new ArgumentException($"ImageFolder.WriteImage needs a plain file name such as 'digit-001.png', found '{fileName}'.", nameof(fileName));
        if (!Path.HasExtension(fileName)) fileName += ".png";
        string folder = Path.Combine(Path.GetFullPath(root), label.ToString());
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, fileName);
        AtomicFile.WriteAllBytes(path, PngWriter.Encode(MnistDataset.Cols, MnistDataset.Rows, 1, pixels784));
        return path;
    }

    /// <summary>Decodes and preprocesses one file: its 784 bytes, or the reason it cannot be used.</summary>
    public static (byte[]? Pixels, string? Reason) Prepare(string path)
    {
        try
        {
            var image = ImageDecoder.Read(path);
            return Preprocess.TryFromImage(image, out var result, out var problem) ? (result!.Pixels, null) : (null, problem);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            string message = e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message[path.Length..].TrimStart(':', ' ') : e.Message;
            return (null, message);
        }
    }

    /// <summary>The image files of the class folders 0..9 under <paramref name="setRoot"/>: (label, full path), by class then ordinal path.</summary>
    private static List<(int Label, string Path)> ClassFiles(string setRoot)
    {
        var classes = Directory.EnumerateDirectories(setRoot)
            .Select(d => (Dir: d, Name: Path.GetFileName(d)))
            .Where(d => d.Name.Length == 1 && d.Name[0] is >= '0' and <= '9')
            .OrderBy(d => d.Name, StringComparer.Ordinal)
            .ToList();
        if (classes.Count == 0)
            throw new InvalidDataException($"Image folder '{setRoot}' has no class folders: expected {Path.Combine(setRoot, "0")} … {Path.Combine(setRoot, "9")}, each holding images of that digit.");
        var files = new List<(int, string)>();
        foreach (var (dir, name) in classes)
        {
            var found = Directory.EnumerateFiles(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden })
                .Where(f => !Path.GetRelativePath(dir, f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
                .Where(f => !f.Contains(AtomicFile.TempMarker, StringComparison.Ordinal))
                .OrderBy(f => f, StringComparer.Ordinal)
                .ToList();
            if (found.Count == 0)
                throw new InvalidDataException($"Class folder '{dir}' is empty. Add images of the digit {name}, or remove the folder.");
            files.AddRange(found.Select(f => (name[0] - '0', f)));
        }
        return files;
    }
}
