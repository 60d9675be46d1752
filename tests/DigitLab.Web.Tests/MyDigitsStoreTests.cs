// MyDigitsStoreTests: the store on its own: export as an image folder that the library's ImageFolder reads back as the
// same dataset, import of a folder with unreadable files, and a store whose folder does not exist yet.
using DigitLab.Data;
using DigitLab.Web.Services;

namespace DigitLab.Web.Tests;

public sealed class MyDigitsStoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "digitlab-mydigits-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools(); // pooled connections keep the file open
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>A 28×28 image with a bar whose column depends on <paramref name="seed"/>, so images differ.</summary>
    private static byte[] Digit(int seed)
    {
        var pixels = new byte[784];
        for (int y = 5; y < 23; y++) pixels[y * 28 + 8 + seed % 12] = (byte)(200 + seed % 50);
        return pixels;
    }

    [Fact]
    public void ExportFolder_IsReadByImageFolder_AsTheSameDataset_AndImportsBack()
    {
        var store = MyDigitsStore.InModelsDirectory(Path.Combine(_dir, "models-not-yet-there"));
        for (int i = 0; i < 12; i++) store.Add(i % 10, Digit(i), null, null, null, null);
        string folder = Path.Combine(_dir, "export");
        Assert.Equal(12, store.ExportFolder(folder));

        var read = ImageFolder.Load(folder);
        var mine = store.ToDataset();
        Assert.Empty(read.Skipped);
        Assert.Equal(mine.ClassCounts(), read.Train.ClassCounts());
        // Same images per label (the folder orders by class, then path; the store by id).
        var expected = Enumerable.Range(0, mine.Count).Select(i => (mine.Labels[i], Convert.ToHexString(mine.Image(i)))).Order();
        var actual = Enumerable.Range(0, read.Train.Count).Select(i => (read.Train.Labels[i], Convert.ToHexString(read.Train.Image(i)))).Order();
        Assert.Equal(expected, actual);

        File.WriteAllText(Path.Combine(folder, "3", "notes.png"), "not an image");
        var other = new MyDigitsStore(Path.Combine(_dir, "other.db"));
        var report = other.ImportFolder(folder);
        Assert.Equal(12, report.Added);
        Assert.Equal(mine.ClassCounts(), report.Counts);
        var skipped = Assert.Single(report.Skipped);
        Assert.EndsWith("notes.png", skipped.Path);
        Assert.False(string.IsNullOrWhiteSpace(skipped.Reason));
        Assert.StartsWith("import: ", other.List()[0].Model);
    }

    [Fact]
    public void ImportFolder_Missing_NamesThePath()
    {
        var store = new MyDigitsStore(Path.Combine(_dir, "a.db"));
        var e = Assert.Throws<DirectoryNotFoundException>(() => store.ImportFolder(Path.Combine(_dir, "nowhere")));
        Assert.Contains("nowhere", e.Message);
        Assert.Equal(0, store.Counts().Sum());
    }

    [Fact]
    public void Add_RefusesBadLabelsAndSizes_BeforeTouchingTheDatabase()
    {
        var store = new MyDigitsStore(Path.Combine(_dir, "b.db"));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Add(10, Digit(1), null, null, null, null));
        Assert.Throws<ArgumentException>(() => store.Add(1, new byte[783], null, null, null, null));
        Assert.Equal(0, store.Counts().Sum());
    }
}
