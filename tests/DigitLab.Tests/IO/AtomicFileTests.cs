// AtomicFileTests: the one writer leaves either the old file or the new one, never a half-written file or a temporary.
using DigitLab.IO;
using DigitLab.Tests.Data;

namespace DigitLab.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void AWriteReplacesTheFileAndLeavesNoTemporaryBehind()
    {
        using var dir = new SyntheticData.TempDir();
        string path = dir.File("a.json");
        AtomicFile.WriteAllText(path, "old");
        AtomicFile.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void AWriteThatFailsHalfwayKeepsTheOldFileAndRemovesItsTemporary()
    {
        using var dir = new SyntheticData.TempDir();
        string path = dir.File("model.safetensors");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        string? seenTemp = null;
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write([9, 9, 9, 9]);
            stream.Flush();
            // Mid-write, the bytes are in a temporary beside the target, named with the marker the tests look for.
            seenTemp = Directory.GetFiles(dir.Path, "*" + AtomicFile.TempMarker + "*").Single();
            throw new IOException("disk full");
        }));
        Assert.Equal("disk full", e.Message);
        Assert.StartsWith(path + AtomicFile.TempMarker, seenTemp);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }
}
