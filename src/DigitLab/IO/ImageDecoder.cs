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
/// found and the size allowed, not downscaled silently.</para>
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
        if (PgmReader.IsPgm(bytes)) return PgmReader.Decode(bytes, name, MaxPixels);
        return DecodeWithSkia(bytes, name);
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
