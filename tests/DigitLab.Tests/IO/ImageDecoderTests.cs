// ImageDecoderTests: every accepted format decodes, and hostile files (huge declared sizes, decoy headers, damage) are refused before pixel memory is spent.
using DigitLab.IO;
using DigitLab.Reports;
using SkiaSharp;

namespace DigitLab.Tests.IO;

public class ImageDecoderTests
{
    /// <summary>A 16×16 image: black left half, white right half.</summary>
    private static byte[] HalfAndHalf()
    {
        var grey = new byte[16 * 16];
        for (int y = 0; y < 16; y++) for (int x = 8; x < 16; x++) grey[y * 16 + x] = 255;
        return grey;
    }

    private static void AssertHalfAndHalf(RasterImage image, int tolerance)
    {
        Assert.Equal((16, 16), (image.Width, image.Height));
        var grey = image.ToGrey();
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++)
                Assert.InRange(Math.Abs(grey[y * 16 + x] - (x < 8 ? 0 : 255)), 0, tolerance);
    }

    private static byte[] SkiaEncode(SKEncodedImageFormat format, int quality)
    {
        var info = new SKImageInfo(16, 16, SKColorType.Gray8, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        HalfAndHalf().CopyTo(bitmap.GetPixelSpan());
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        Assert.NotNull(data);
        return data.ToArray();
    }

    [Fact]
    public void Png_FromOurWriter_DecodesExactly()
    {
        var grey = HalfAndHalf();
        AssertHalfAndHalf(ImageDecoder.Decode(PngWriter.Encode(16, 16, 1, grey)), tolerance: 0);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Jpeg, 12)] // lossy: a sharp edge rings by a few levels
    [InlineData(SKEncodedImageFormat.Webp, 12)]
    [InlineData(SKEncodedImageFormat.Png, 0)]
    public void SkiaEncodedFormats_Decode(SKEncodedImageFormat format, int tolerance) =>
        AssertHalfAndHalf(ImageDecoder.Decode(SkiaEncode(format, 100)), tolerance);

    [Fact]
    public void Bmp_Decodes()
    {
        // 24-bit BMP, rows bottom-up, each padded to 4 bytes (16·3 = 48 already is).
        var grey = HalfAndHalf();
        using var bmp = new MemoryStream();
        var w = new BinaryWriter(bmp);
        int rowBytes = 16 * 3, imageBytes = rowBytes * 16;
        w.Write("BM"u8); w.Write(14 + 40 + imageBytes); w.Write(0); w.Write(14 + 40);
        w.Write(40); w.Write(16); w.Write(16); w.Write((short)1); w.Write((short)24); w.Write(0); w.Write(imageBytes);
        w.Write(2835); w.Write(2835); w.Write(0); w.Write(0);
        for (int y = 15; y >= 0; y--)
            for (int x = 0; x < 16; x++) { byte v = grey[y * 16 + x]; w.Write(v); w.Write(v); w.Write(v); }
        w.Flush();
        AssertHalfAndHalf(ImageDecoder.Decode(bmp.ToArray(), "t.bmp"), tolerance: 0);
    }

    [Fact]
    public void Gif_Decodes()
    {
        // A 2×1 GIF89a, palette black and white, pixels (black, white): LZW minimum code size 2.
        byte[] gif =
        [
            .. "GIF89a"u8, 2, 0, 1, 0, 0x80, 0, 0, // logical screen 2×1, global colour table of 2
            0, 0, 0, 255, 255, 255,                 // palette: black, white
            0x2C, 0, 0, 0, 0, 2, 0, 1, 0, 0,        // image descriptor 2×1
            2, 2, 0x44, 0x0A, 0,                    // LZW, 3-bit codes packed from the low bit: clear (4), 0, 1, end (5)
            0x3B,
        ];
        var image = ImageDecoder.Decode(gif, "t.gif");
        Assert.Equal((2, 1), (image.Width, image.Height));
        Assert.Equal(new byte[] { 0, 255 }, image.ToGrey());
    }

    [Fact]
    public void Pgm_IsStillRead()
    {
        var image = ImageDecoder.Decode("P5 2 2 255\n"u8.ToArray().Concat(new byte[] { 1, 2, 3, 250 }).ToArray());
        Assert.Equal(new byte[] { 1, 2, 3, 250 }, image.Pixels);
    }

    [Fact]
    public void AtThePixelLimit_Decodes_OnePixelOver_IsRefusedNamingBothSizes()
    {
        var image = ImageDecoder.Decode(HostileImages.DeclaredPng(2048, 2048, 2048));
        Assert.Equal((ImageDecoder.WorkingSide, ImageDecoder.WorkingSide), (image.Width, image.Height)); // accepted, then area-averaged 4×4
        var ex = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(HostileImages.DeclaredPng(2049, 2048, 1), "big.png"));
        Assert.True(ImageDecoder.IsTooLarge(ex));
        Assert.Contains("big.png", ex.Message);
        Assert.Contains("2049×2048", ex.Message);
        Assert.Contains("4,194,304", ex.Message);
    }

    [Fact]
    public void HugeDeclaredSize_IsRefusedFromTheHeader_WithoutDecoding()
    {
        // 2^28 pixels declared, one row of data: a decoder that allocated first would need 1 GiB (4 GiB as RGBA).
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var ex = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(HostileImages.DeclaredPng(16384, 16384, 1), "huge.png"));
        Assert.True(ImageDecoder.IsTooLarge(ex), ex.Message);
        Assert.Contains("16384×16384", ex.Message);
        Assert.InRange(GC.GetTotalAllocatedBytes(precise: true) - before, 0, 16L << 20);
    }

    [Fact]
    public void DecoyHeader_IsRefused_EitherWay()
    {
        // The attack on the old decoder: a small IHDR first (what a size check reads), the real, huge one after it.
        var smallThenHuge = HostileImages.DeclaredPng(16384, 16384, 1, ("IHDR", HostileImages.Ihdr(28, 28)));
        Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(smallThenHuge, "decoy.png"));
        // And a harmless-looking chunk in IHDR's place, the huge header after it.
        var chunkThenHuge = HostileImages.DeclaredPng(16384, 16384, 1, ("tEXt", "Comment\0hello"u8.ToArray()));
        Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(chunkThenHuge, "decoy.png"));
    }

    [Fact]
    public void Pgm_OverTheLimit_IsRefusedFromItsHeader()
    {
        var ex = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode("P5 16384 16384 255\n"u8.ToArray(), "big.pgm"));
        Assert.True(ImageDecoder.IsTooLarge(ex), ex.Message);
        Assert.Contains("16384×16384", ex.Message);
    }

    [Fact]
    public void DamagedOrForeignBytes_AreRefusedWithAMessage()
    {
        var png = PngWriter.Encode(16, 16, 1, HalfAndHalf());
        var truncated = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(png[..40], "cut.png"));
        Assert.Contains("cut.png", truncated.Message);
        Assert.Contains("truncated", truncated.Message);
        var text = Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode("hello, not a picture"u8.ToArray(), "t.txt"));
        Assert.Contains("PNG, JPEG, WebP, GIF, BMP or PGM", text.Message);
        Assert.Contains("68656C6C", text.Message);
        Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode([], "empty.png"));
        Assert.False(ImageDecoder.IsTooLarge(text));
    }

    [Fact]
    public void LargeImage_IsAreaAveragedToTheWorkingSide_AndPreprocessesAsItsSmallCopy()
    {
        // A dark bar on white paper at 2048×2048 (aligned to 4-pixel blocks) and the same drawing at 512×512.
        var big = new byte[2048 * 2048];
        var small = new byte[512 * 512];
        Array.Fill(big, (byte)255);
        Array.Fill(small, (byte)255);
        for (int y = 400; y < 1600; y++) for (int x = 900; x < 1100; x++) big[y * 2048 + x] = 0;
        for (int y = 100; y < 400; y++) for (int x = 225; x < 275; x++) small[y * 512 + x] = 0;
        var decoded = ImageDecoder.Decode(PngWriter.Encode(2048, 2048, 1, big), "big.png");
        Assert.Equal((512, 512), (decoded.Width, decoded.Height));
        Assert.Equal(small, decoded.ToGrey());
        Assert.Equal(DigitLab.Data.Preprocess.ToMnist(small, 512, 512), DigitLab.Data.Preprocess.ToMnist(decoded));
        // An edge block that straddles the bar averages its pixels.
        var straddle = new byte[1030 * 4];
        Array.Fill(straddle, (byte)255);
        straddle[0] = 0; // one black pixel in the top-left 3×3 block
        var shrunk = ImageDecoder.Shrink(new RasterImage(1030, 4, 1, straddle), 512);
        Assert.Equal((344, 2), (shrunk.Width, shrunk.Height)); // k = ceil(1030/512) = 3: ceil(1030/3) × ceil(4/3)
        Assert.Equal((byte)((255 * 8 + 4) / 9), shrunk.Pixels[0]); // 8 white and 1 black of a 3×3 block
    }

    [Fact]
    public void Shrink_WeightsColourByAlpha()
    {
        // Two pixels side by side: opaque black ink, and a fully transparent "white" (its colour must not bleed in).
        var rgba = new byte[] { 0, 0, 0, 255, 255, 255, 255, 0 };
        var shrunk = ImageDecoder.Shrink(new RasterImage(2, 1, 4, rgba), 1);
        Assert.Equal(new byte[] { 0, 0, 0, 128 }, shrunk.Pixels);
    }
}
