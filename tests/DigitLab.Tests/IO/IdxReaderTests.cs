using System.Buffers.Binary;
using DigitLab.Data;
using DigitLab.IO;

using DigitLab.Tests.Data;

namespace DigitLab.Tests.IO;

public class IdxReaderTests
{
    private static (byte[] Images, byte[] Labels, MnistDataset Data) Files(int count = 12)
    {
        var data = SyntheticData.Dataset(count);
        return (IdxReader.EncodeImages(data.Images, data.Count), IdxReader.EncodeLabels(data.Labels), data);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsRawAndGzipFilesToTheSameDataset(bool gzip)
    {
        using var dir = new SyntheticData.TempDir();
        var (images, labels, expected) = Files();
        // Names without .gz on purpose: gzip is detected by its magic bytes, not the name.
        File.WriteAllBytes(dir.File("img"), gzip ? SyntheticData.Gzip(images) : images);
        File.WriteAllBytes(dir.File("lbl"), gzip ? SyntheticData.Gzip(labels) : labels);
        var data = MnistDataset.ReadIdx(dir.File("img"), dir.File("lbl"), "t");
        Assert.Equal(expected.Count, data.Count);
        Assert.Equal(expected.Images, data.Images);
        Assert.Equal(expected.Labels, data.Labels);
    }

    [Fact]
    public void TruncatedImageFileNamesFileExpectedAndFound()
    {
        var (images, _, _) = Files();
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ParseImages(images.AsSpan(0, images.Length - 5), "imgs.idx", out _));
        Assert.Contains("imgs.idx", ex.Message);
        Assert.Contains($"expected {images.Length} bytes", ex.Message);
        Assert.Contains($"found {images.Length - 5}", ex.Message);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void TruncatedGzipIsRejected()
    {
        using var dir = new SyntheticData.TempDir();
        var (images, _, _) = Files(200);
        var gz = SyntheticData.Gzip(images);
        File.WriteAllBytes(dir.File("img.gz"), gz.AsSpan(0, gz.Length / 2).ToArray());
        var ex = Assert.ThrowsAny<IOException>(() => IdxReader.ReadImages(dir.File("img.gz"), out _));
        Assert.Contains(dir.File("img.gz"), ex.Message);
    }

    [Fact]
    public void HeaderOnlyTruncationIsRejected()
    {
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ParseLabels(new byte[5], "l"));
        Assert.Contains("8-byte header", ex.Message);
        Assert.Contains("found only 5", ex.Message);
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        var (_, labels, _) = Files();
        var longer = labels.Concat(new byte[3]).ToArray();
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ParseLabels(longer, "l"));
        Assert.Contains("trailing", ex.Message);
    }

    [Fact]
    public void WrongMagicSaysWhichKindOfFileItIs()
    {
        var (images, labels, _) = Files();
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ParseImages(labels, "swapped", out _));
        Assert.Contains("expected IDX image magic 2051", ex.Message);
        Assert.Contains("found 2049", ex.Message);
        Assert.Contains("label file", ex.Message);

        var garbage = (byte[])images.Clone();
        BinaryPrimitives.WriteInt32BigEndian(garbage, 0x12345678);
        ex = Assert.Throws<IdxFormatException>(() => IdxReader.ParseImages(garbage, "g", out _));
        Assert.Contains("not an IDX file", ex.Message);
    }

    [Fact]
    public void WrongImageSizeIsRejected()
    {
        var (images, _, _) = Files();
        BinaryPrimitives.WriteInt32BigEndian(images.AsSpan(8), 32);
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ParseImages(images, "i", out _));
        Assert.Contains("expected 28x28", ex.Message);
        Assert.Contains("found 32x28", ex.Message);
    }

    [Fact]
    public void LabelOutOfRangeNamesValueAndIndex()
    {
        var (_, labels, _) = Files();
        labels[8 + 7] = 10;
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ParseLabels(labels, "l"));
        Assert.Contains("found 10 at index 7", ex.Message);
    }

    [Fact]
    public void CountsMustAgreeBetweenImagesAndLabels()
    {
        using var dir = new SyntheticData.TempDir();
        var (images, _, data) = Files(12);
        File.WriteAllBytes(dir.File("img"), images);
        File.WriteAllBytes(dir.File("lbl"), IdxReader.EncodeLabels(data.Labels.AsSpan(0, 11)));
        var ex = Assert.Throws<IdxFormatException>(() => MnistDataset.ReadIdx(dir.File("img"), dir.File("lbl"), "t"));
        Assert.Contains("expected 12 labels", ex.Message);
        Assert.Contains("found 11", ex.Message);
    }

    [Theory]
    [InlineData("<!DOCTYPE html><html><body>404 Not Found</body></html>")]
    [InlineData("\n  <html><head><title>Error</title></head></html>")]
    [InlineData("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code></Error>")]
    public void HtmlErrorPageSavedAsGzIsRejectedNotParsed(string page)
    {
        using var dir = new SyntheticData.TempDir();
        File.WriteAllText(dir.File("train-images-idx3-ubyte.gz"), page);
        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(dir.File("train-images-idx3-ubyte.gz"), out _));
        Assert.Contains("HTML page", ex.Message);
        Assert.Contains("train-images-idx3-ubyte.gz", ex.Message);
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => IdxReader.ReadLabels("/nonexistent/labels-idx1-ubyte"));
        Assert.Contains("/nonexistent/labels-idx1-ubyte", ex.Message);
    }
}
