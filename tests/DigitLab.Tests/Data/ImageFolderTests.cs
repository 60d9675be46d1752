// ImageFolderTests: folder datasets built here from MNIST test images (PNG, JPEG, inverted, colour, photo-like, unreadable files): counts, order, bytes, skipped files, cache reuse, errors.
using DigitLab.Data;
using DigitLab.IO;
using DigitLab.Tests.Training;

namespace DigitLab.Tests.Data;

[Collection("mnist")]
public class ImageFolderTests(MnistFixture mnist)
{
    /// <summary>Images 0..n-1 of the MNIST test set, in the folder's order (by class, then index): the expected dataset.</summary>
    private MnistDataset ExpectedOrder(int n) =>
        mnist.Test.Subset(Enumerable.Range(0, n).OrderBy(i => mnist.Test.Labels[i]).ThenBy(i => i).ToArray(), "expected");

    [Fact]
    public void CleanPngFolderGivesExactlyTheMnistBytesInClassThenPathOrder()
    {
        using var dir = new SyntheticData.TempDir();
        const int N = 60;
        FolderGenerator.Write(mnist.Test, dir.Path, N, FolderStyle.Clean);
        var data = ImageFolder.Load(dir.Path);
        var expected = ExpectedOrder(N);
        Assert.Null(data.Test);
        Assert.Null(data.TestPaths);
        Assert.Empty(data.Skipped);
        Assert.Equal(expected.Labels, data.Train.Labels);
        Assert.Equal(expected.Images, data.Train.Images);
        Assert.Equal(N, data.TrainPaths.Count);
        Assert.Equal(data.TrainPaths.OrderBy(p => p, StringComparer.Ordinal), data.TrainPaths); // classes are 0..9, names NNNNN
    }

    [Fact]
    public void MixedFormatsInvertedColourAndPhotosAreReadAndBadFilesSkippedWithReasons()
    {
        using var dir = new SyntheticData.TempDir();
        string Class(int d) { string f = Path.Combine(dir.Path, d.ToString()); Directory.CreateDirectory(f); return f; }
        var test = mnist.Test;
        int written = 0;
        for (int i = 0; i < 40; i++)
        {
            var digit = test.Image(i).ToArray();
            string folder = Class(test.Labels[i]);
            switch (i % 4)
            {
                case 0: // dark ink on white, grey PNG
                    PngWriter.WriteGrey(Path.Combine(folder, $"{i:D3}-inverted.png"), 28, 28, digit.Select(b => (byte)(255 - b)).ToArray());
                    break;
                case 1: // an RGB PNG (grey content, so its luma is MNIST's bytes)
                    var rgb = new byte[784 * 3];
                    for (int p = 0; p < 784; p++) rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = digit[p];
                    PngWriter.WriteRgb(Path.Combine(folder, $"{i:D3}-colour.png"), 28, 28, rgb);
                    break;
                case 2: // a photo of paper, JPEG
                    File.WriteAllBytes(Path.Combine(folder, $"{i:D3}-photo.jpg"), PhotoLike.Encode(PhotoLike.Render(digit, new Tensors.Rng((ulong)i), colour: true), PhotoFormat.Jpeg));
                    break;
                default: // MNIST itself, JPEG
                    File.WriteAllBytes(Path.Combine(folder, $"{i:D3}-clean.jpg"), PhotoLike.Encode(new RasterImage(28, 28, 1, digit), PhotoFormat.Jpeg, 95));
                    break;
            }
            written++;
        }
        string text = Path.Combine(Class(3), "notes.png");
        File.WriteAllText(text, "not an image");
        string truncated = Path.Combine(Class(5), "cut.png");
        File.WriteAllBytes(truncated, PngWriter.Encode(28, 28, 1, test.Image(0))[..40]);
        string blank = Path.Combine(Class(7), "blank.png");
        PngWriter.WriteGrey(blank, 64, 64, Enumerable.Repeat((byte)255, 64 * 64).ToArray());
        File.WriteAllText(Path.Combine(Class(1), ".hidden.png"), "ignored: hidden");

        var data = ImageFolder.Load(dir.Path);
        Assert.Equal(written, data.Train.Count);
        Assert.Equal(new[] { text, truncated, blank }.OrderBy(p => p, StringComparer.Ordinal), data.Skipped.Select(s => s.Path));
        Assert.Contains("not a readable", data.Skipped.Single(s => s.Path == text).Reason);
        Assert.Contains("truncated", data.Skipped.Single(s => s.Path == truncated).Reason);
        Assert.Contains("empty", data.Skipped.Single(s => s.Path == blank).Reason);
        for (int k = 0; k < data.Train.Count; k++)
        {
            string name = Path.GetFileName(data.TrainPaths[k]);
            int i = int.Parse(name[..3]);
            Assert.Equal(test.Labels[i], data.Train.Labels[k]);
            if (name.EndsWith("-inverted.png") || name.EndsWith("-colour.png"))
                Assert.Equal(test.Image(i).ToArray(), data.Train.Image(k).ToArray()); // 28×28 taken as is, whatever the polarity or colour
        }
    }

    [Fact]
    public void ASecondLoadDecodesNothingAndAChangedFileIsDecodedAgain()
    {
        using var dir = new SyntheticData.TempDir();
        using var dataDir = new SyntheticData.TempDir();
        const int N = 30;
        var paths = FolderGenerator.Write(mnist.Test, dir.Path, N, FolderStyle.Photo, seed: 3);
        var cache = ImageFolderCache.InDataDir(dataDir.Path, dir.Path);
        var first = ImageFolder.Load(dir.Path, cache);
        Assert.Equal(N, first.Decoded);
        Assert.True(File.Exists(cache.FilePath));
        Assert.StartsWith(dataDir.Path, cache.FilePath);

        var second = ImageFolder.Load(dir.Path, cache);
        Assert.Equal(0, second.Decoded);
        Assert.Equal(first.Train.Images, second.Train.Images);
        Assert.Equal(first.TrainPaths, second.TrainPaths);

        // One file replaced by another image: only it is decoded again, and its new pixels are used.
        File.WriteAllBytes(paths[0], PngWriter.Encode(28, 28, 1, mnist.Test.Image(1)));
        File.SetLastWriteTimeUtc(paths[0], DateTime.UtcNow.AddMinutes(1));
        var third = ImageFolder.Load(dir.Path, cache);
        Assert.Equal(1, third.Decoded);
        int k = third.TrainPaths.ToList().IndexOf(paths[0]);
        Assert.Equal(mnist.Test.Image(1).ToArray(), third.Train.Image(k).ToArray());

        // A damaged cache is ignored and rebuilt.
        File.WriteAllBytes(cache.FilePath, new byte[] { 1, 2, 3, 4, 5 });
        var fourth = ImageFolder.Load(dir.Path, cache);
        Assert.Equal(N, fourth.Decoded);
        Assert.Equal(third.Train.Images, fourth.Train.Images);
        Assert.Equal(0, ImageFolder.Load(dir.Path, cache).Decoded);
    }

    [Fact]
    public void TrainAndTestSplitsAreLoadedApart()
    {
        using var dir = new SyntheticData.TempDir();
        FolderGenerator.Write(mnist.Test, dir.Path, 40, FolderStyle.Clean, split: "train");
        FolderGenerator.Write(mnist.Test, dir.Path, 20, FolderStyle.Clean, split: "test");
        var data = ImageFolder.Load(dir.Path);
        Assert.Equal(40, data.Train.Count);
        Assert.NotNull(data.Test);
        Assert.Equal(ExpectedOrder(20).Images, data.Test!.Images);
        Assert.All(data.TestPaths!, p => Assert.StartsWith(Path.Combine(dir.Path, "test") + Path.DirectorySeparatorChar, p));
    }

    [Fact]
    public void EmptyClassMissingFolderAndNoClassFoldersAreClearErrors()
    {
        using var dir = new SyntheticData.TempDir();
        var missing = Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Load(Path.Combine(dir.Path, "absent")));
        Assert.Contains("absent' does not exist", missing.Message);

        var none = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(dir.Path));
        Assert.Contains("no class folders", none.Message);

        FolderGenerator.Write(mnist.Test, dir.Path, 20, FolderStyle.Clean);
        string empty = Path.Combine(dir.Path, "4");
        foreach (var f in Directory.GetFiles(empty)) File.Delete(f);
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(dir.Path));
        Assert.Contains($"'{empty}' is empty", e.Message);

        File.WriteAllText(Path.Combine(empty, "broken.png"), "nope");
        e = Assert.Throws<InvalidDataException>(() => ImageFolder.Load(dir.Path));
        Assert.Contains($"'{empty}' holds no usable image (1 skipped)", e.Message);
    }

    [Fact]
    public void WrittenImagesLoadBackExactly()
    {
        using var dir = new SyntheticData.TempDir();
        for (int i = 0; i < 10; i++) ImageFolder.WriteImage(dir.Path, mnist.Test.Labels[i], $"mine-{i:D2}", mnist.Test.Image(i));
        Assert.True(File.Exists(Path.Combine(dir.Path, mnist.Test.Labels[0].ToString(), "mine-00.png")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*" + AtomicFile.TempMarker + "*", SearchOption.AllDirectories));
        Assert.Equal(ExpectedOrder(10).Images, ImageFolder.Load(dir.Path).Train.Images);
        Assert.Throws<ArgumentException>(() => ImageFolder.WriteImage(dir.Path, 1, "../escape.png", mnist.Test.Image(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageFolder.WriteImage(dir.Path, 10, "x.png", mnist.Test.Image(0)));
    }
}
