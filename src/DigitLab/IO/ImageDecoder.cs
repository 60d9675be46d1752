// ImageDecoder: the one entry point that turns untrusted image bytes (PNG, JPEG, WebP, GIF, BMP, PGM) into a RasterImage, with one size limit checked before any pixel memory is allocated.
using DigitLab.Reports;
using SkiaSharp;

namespace DigitLab.IO;

/// <summary>
/// Decodes an image of one digit from bytes nobody vouches for (a web upload, a file named on the command line).
/// </summary>
/// <remarks>
/// <para>What a digit image may cost: at most <see cref="MaxPixels"/> pixels (2048×2048 = 4 megapixels) and
/// <see cref="MaxFileBytes"/> bytes of file. The dimensions are read from the header first (Skia's
/// <c>SKCodec.Info</c>, or our PGM header parse) and the limit is enforced before any pixel buffer exists, so a
/// small file that declares a huge image costs nothing. At the limit a decode holds 16 MiB of RGBA, then 4 MiB of
/// grey and 16 MiB of floats in preprocessing: about 40 MiB for the moment of one request. MNIST digits are 28×28
/// and a phone photo of a digit scaled for upload is well under the limit; larger images are refused with the size
/// found and the size allowed. An accepted image larger than <see cref="WorkingSide"/> per side is area-averaged
/// down to it (<see cref="Shrink"/>): the digit ends up 20×20 pixels, so the grey conversion and preprocessing need not
/// run on 4 megapixels.</para>
/// <para>PNG, JPEG, WebP, GIF (first frame) and BMP are decoded by Skia (SkiaSharp: libpng, libjpeg-turbo, libwebp,
/// Skia's own GIF and BMP readers), which is fuzzed and maintained for browsers; PGM (P2/P5), which Skia does not
/// read, by our <see cref="PgmReader"/> under the same limit. Every failure is an <see cref="InvalidDataException"/>
/// naming the source, what was found and what is accepted.</para>
/// </remarks>
public static class ImageDecoder
{
    /// <summary>Largest image accepted, in pixels (width × height): 2048×2048.</summary>
    public const long MaxPixels = 2048L * 2048;

    /// <summary>Largest image file accepted: an ASCII PGM at the pixel limit fits; any compressed format fits easily.</summary>
    public const long MaxFileBytes = 32L * 1024 * 1024;

    /// <summary>
    /// Longest side of what <see cref="Decode"/> returns: a larger image is area-averaged by a whole factor until it fits.
    /// The digit is scaled into 20×20 pixels anyway; this keeps the grey conversion and preprocessing of a 4-megapixel
    /// upload at the cost of a 512×512 one.
    /// </summary>
    public const int WorkingSide = 512;

    /// <summary>The formats accepted, for messages.</summary>
    public const string Formats = "PNG, JPEG, WebP, GIF, BMP or PGM";

    /// <summary>Reads and decodes an image file; refuses files over <see cref="MaxFileBytes"/> before reading them.</summary>
    /// <exception cref="InvalidDataException">Not an accepted image, damaged, or too large.</exception>
    public static RasterImage Read(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
            throw TooLarge($"{path}: the file is {length:N0} bytes; an image of one digit may be at most {MaxFileBytes:N0} bytes. Crop or scale it down.");
        return Decode(File.ReadAllBytes(path), path);
    }

    /// <summary>
    /// Decodes <paramref name="bytes"/> to an 8-bit image: one channel for PGM, four (RGBA, not premultiplied) for the rest.
    /// <paramref name="name"/> names the source in errors.
    /// </summary>
    /// <exception cref="InvalidDataException">Not an accepted image, damaged, or larger than <see cref="MaxPixels"/>.</exception>
    public static RasterImage Decode(ReadOnlySpan<byte> bytes, string name = "image")
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{name}: the image is empty (0 bytes). Give a {Formats} file.");
        if (bytes.Length > MaxFileBytes)
            throw TooLarge($"{name}: the image is {bytes.Length:N0} bytes; at most {MaxFileBytes:N0} are accepted.");
        var image = PgmReader.IsPgm(bytes) ? PgmReader.Decode(bytes, name, MaxPixels) : DecodeWithSkia(bytes, name);
        return Shrink(image, WorkingSide);
    }

    /// <summary>
    /// Averages k×k blocks (k the smallest whole factor bringing the longest side to <paramref name="maxSide"/> or less;
    /// edge blocks average the pixels they have). Colour is weighted by alpha, as premultiplied averaging does, so
    /// transparent pixels lend no colour to a stroke's edge. Returns <paramref name="image"/> itself when it fits.
    /// </summary>
    public static RasterImage Shrink(RasterImage image, int maxSide)
    {
        int k = (Math.Max(image.Width, image.Height) + maxSide - 1) / maxSide;
        if (k <= 1) return image;
        int channels = image.Channels, colours = channels is 2 or 4 ? channels - 1 : channels;
        bool hasAlpha = channels is 2 or 4;
        int width = (image.Width + k - 1) / k, height = (image.Height + k - 1) / k;
        var source = image.Pixels;
        var result = new byte[width * height * channels];
        var sums = new long[width * channels];   // per output column of this block row: alpha-weighted colour sums, then alpha
        var counts = new int[width];
        for (int by = 0; by < height; by++)
        {
            Array.Clear(sums);
            Array.Clear(counts);
            for (int y = by * k; y < Math.Min(image.Height, (by + 1) * k); y++)
            {
                int row = y * image.Width * channels;
                for (int x = 0; x < image.Width; x++)
                {
                    int o = row + x * channels, s = x / k * channels;
                    long a = hasAlpha ? source[o + channels - 1] : 1;
                    for (int c = 0; c < colours; c++) sums[s + c] += source[o + c] * a;
                    if (hasAlpha) sums[s + channels - 1] += a;
                    counts[x / k]++;
                }
            }
            for (int bx = 0; bx < width; bx++)
            {
                int s = bx * channels, o = (by * width + bx) * channels;
                long weight = hasAlpha ? sums[s + channels - 1] : counts[bx];
                for (int c = 0; c < colours; c++) result[o + c] = weight > 0 ? (byte)((sums[s + c] + weight / 2) / weight) : (byte)0;
                if (hasAlpha) result[o + channels - 1] = (byte)((weight + counts[bx] / 2) / counts[bx]);
            }
        }
        return new RasterImage(width, height, channels, result);
    }

    /// <summary>True when <paramref name="error"/> is a refusal for size (pixels or bytes), not for damage: the web answers it as such.</summary>
    public static bool IsTooLarge(Exception error) => error.Data.Contains(TooLargeKey);

    private const string TooLargeKey = "DigitLab.ImageTooLarge";

    // InvalidDataException is sealed, so the kind of refusal travels in Data; callers catching InvalidDataException still see every failure.
    private static InvalidDataException TooLarge(string message)
    {
        var e = new InvalidDataException(message);
        e.Data[TooLargeKey] = true;
        return e;
    }

    /// <summary>Refuses a width × height over the limit (or not positive), naming both.</summary>
    public static void CheckSize(long width, long height, string name, long maxPixels = MaxPixels)
    {
        if (width < 1 || height < 1)
            throw new InvalidDataException($"{name}: the image declares {width}×{height} pixels; width and height must be at least 1.");
        if (width * height > maxPixels)
            throw TooLarge($"{name}: the image is {width}×{height} pixels ({width * height:N0}); at most {maxPixels:N0} pixels are accepted for one digit (2048×2048). Scale it down.");
    }

    private static RasterImage DecodeWithSkia(ReadOnlySpan<byte> bytes, string name)
    {
        using var data = SKData.CreateCopy(bytes);
        // The codec takes ownership of the stream (and frees it itself when it cannot read it).
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var created);
        if (codec is null)
        {
            string first = Convert.ToHexString(bytes[..Math.Min(8, bytes.Length)]);
            string found = created switch
            {
                SKCodecResult.IncompleteInput => $"the start of an image that is cut short (truncated; first bytes {first})",
                SKCodecResult.Unimplemented => $"no image format it knows (first bytes {first})",
                _ => $"a damaged or invalid image header ({created}; first bytes {first})",
            };
            throw new InvalidDataException($"{name}: not a readable {Formats} image: found {found}.");
        }
        var info = codec.Info;
        CheckSize(info.Width, info.Height, name); // before the pixel buffer exists
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var pixels = new byte[target.BytesSize64];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = pixels) result = codec.GetPixels(target, (IntPtr)p);
        }
        if (result != SKCodecResult.Success)
        {
            string why = result switch
            {
                SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => "the data is damaged or truncated",
                SKCodecResult.InvalidInput => "the data is invalid",
                _ => $"the decoder answered {result}",
            };
            throw new InvalidDataException($"{name}: the {codec.EncodedFormat} image ({info.Width}×{info.Height}) could not be decoded: {why}. Give an undamaged {Formats} file.");
        }
        return new RasterImage(info.Width, info.Height, 4, pixels);
    }
}
