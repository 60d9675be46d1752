// PngReader: decodes non-interlaced 8-bit PNG (grey, grey+alpha, RGB, RGBA, palette) into a RasterImage.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace DigitLab.IO;

/// <summary>
/// An 8-bit image: <see cref="Pixels"/> is Height × Width × Channels bytes, row-major; channels are
/// 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
/// </summary>
public sealed class RasterImage
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }

    public RasterImage(int width, int height, int channels, byte[] pixels)
    {
        if (channels is < 1 or > 4) throw new ArgumentException($"Channels must be 1..4, found {channels}.");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"A {width}x{height} image with {channels} channel(s) needs {(long)width * height * channels} bytes, found {pixels.Length}.");
        (Width, Height, Channels, Pixels) = (width, height, channels, pixels);
    }

    /// <summary>
    /// One grey byte per pixel (luma 0.299 R + 0.587 G + 0.114 B). Transparent pixels are composited
    /// onto a background chosen to contrast with the opaque ones: white behind dark ink, black behind
    /// light ink — so a canvas stroke on a transparent background survives either way.
    /// </summary>
    public byte[] ToGrey()
    {
        int n = Width * Height;
        if (Channels == 1) return (byte[])Pixels.Clone();
        var grey = new byte[n];
        var alpha = new byte[n];
        bool colour = Channels >= 3, hasAlpha = Channels is 2 or 4;
        double opaqueSum = 0, opaqueWeight = 0;
        for (int i = 0; i < n; i++)
        {
            int o = i * Channels;
            double luma = colour ? 0.299 * Pixels[o] + 0.587 * Pixels[o + 1] + 0.114 * Pixels[o + 2] : Pixels[o];
            grey[i] = (byte)Math.Clamp((int)Math.Round(luma), 0, 255);
            alpha[i] = hasAlpha ? Pixels[o + Channels - 1] : (byte)255;
            opaqueSum += luma * alpha[i];
            opaqueWeight += alpha[i];
        }
        if (!hasAlpha) return grey;
        // Background opposite to the (alpha-weighted) mean colour of what is drawn.
        double background = opaqueWeight > 0 && opaqueSum / opaqueWeight < 128 ? 255 : 0;
        for (int i = 0; i < n; i++)
        {
            double a = alpha[i] / 255.0;
            grey[i] = (byte)Math.Clamp((int)Math.Round(grey[i] * a + background * (1 - a)), 0, 255);
        }
        return grey;
    }
}

/// <summary>
/// PNG decoder for what DigitLab meets: bit depth 8, colour types grey (0), RGB (2), palette (3, with
/// tRNS alpha), grey+alpha (4) and RGBA (6), no interlacing. Chunk CRCs are checked. Anything else is
/// refused with a message naming the file, what is supported and what was found.
/// </summary>
public static class PngReader
{
    /// <summary>Reads a PNG file.</summary>
    public static RasterImage Read(string path) => Decode(File.ReadAllBytes(path), path);

    /// <summary>True when <paramref name="bytes"/> starts with the PNG signature.</summary>
    public static bool IsPng(ReadOnlySpan<byte> bytes) => bytes.Length >= 8 && bytes[..8].SequenceEqual(PngWriter.Signature);

    /// <summary>Decodes PNG bytes; <paramref name="name"/> names the source in errors.</summary>
    public static RasterImage Decode(ReadOnlySpan<byte> bytes, string name = "PNG data")
    {
        if (!IsPng(bytes))
            throw new InvalidDataException($"{name}: expected the PNG signature 89 50 4E 47 0D 0A 1A 0A, found {Convert.ToHexString(bytes[..Math.Min(8, bytes.Length)])}.");
        int pos = 8;
        int width = 0, height = 0, colourType = -1;
        byte[]? palette = null, paletteAlpha = null;
        using var idat = new MemoryStream();
        bool sawEnd = false;
        while (!sawEnd)
        {
            if (pos + 8 > bytes.Length)
                throw new InvalidDataException($"{name}: expected another chunk header at byte {pos}, found the end of the data (truncated; no IEND).");
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes[pos..]);
            string type = Encoding.ASCII.GetString(bytes.Slice(pos + 4, 4));
            if (length < 0 || pos + 12L + length > bytes.Length)
                throw new InvalidDataException($"{name}: chunk {type} at byte {pos} claims {length} bytes but only {bytes.Length - pos - 12} remain (truncated).");
            var data = bytes.Slice(pos + 8, length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(bytes[(pos + 8 + length)..]);
            uint actual = PngCrc32.Update(PngCrc32.Update(PngCrc32.Initial, bytes.Slice(pos + 4, 4)), data) ^ 0xFFFFFFFFu;
            if (stored != actual)
                throw new InvalidDataException($"{name}: chunk {type} at byte {pos} has CRC {stored:X8}, expected {actual:X8} (corrupt file).");
            switch (type)
            {
                case "IHDR":
                    if (length != 13)
                        throw new InvalidDataException($"{name}: chunk IHDR at byte {pos} has {length} bytes, expected 13 (corrupt file).");
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    int depth = data[8];
                    colourType = data[9];
                    int interlace = data[12];
                    if (depth != 8)
                        throw new InvalidDataException($"{name}: only 8-bit PNG is supported, found bit depth {depth}; re-save it as 8-bit.");
                    if (colourType is not (0 or 2 or 3 or 4 or 6))
                        throw new InvalidDataException($"{name}: unknown PNG colour type {colourType}.");
                    if (interlace != 0)
                        throw new InvalidDataException($"{name}: interlaced PNG is not supported; re-save it without interlacing.");
                    if (width < 1 || height < 1 || (long)width * height > 1L << 28)
                        throw new InvalidDataException($"{name}: image size {width}x{height} is not supported (1x1 up to 2^28 pixels).");
                    break;
                case "PLTE":
                    palette = data.ToArray();
                    break;
                case "tRNS":
                    paletteAlpha = data.ToArray();
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    sawEnd = true;
                    break;
            }
            pos += 12 + length;
        }
        if (colourType < 0) throw new InvalidDataException($"{name}: no IHDR chunk.");
        if (colourType == 3 && palette is null) throw new InvalidDataException($"{name}: palette image without a PLTE chunk.");

        int channels = colourType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int stride = width * channels;
        var raw = new byte[(long)height * (stride + 1)];
        idat.Position = 0;
        try
        {
            using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
            zlib.ReadExactly(raw);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new InvalidDataException($"{name}: expected {raw.Length} bytes of image data, found a corrupt or short zlib stream ({e.Message}).");
        }
        var pixels = Unfilter(raw, height, stride, channels, name);

        if (colourType != 3) return new RasterImage(width, height, channels, pixels);
        // Expand the palette to RGB, or RGBA when tRNS gives alpha.
        bool alpha = paletteAlpha is not null;
        int outChannels = alpha ? 4 : 3;
        var expanded = new byte[width * height * outChannels];
        int entries = palette!.Length / 3;
        for (int i = 0; i < width * height; i++)
        {
            int index = pixels[i];
            if (index >= entries) throw new InvalidDataException($"{name}: palette index {index} at pixel {i}, but the palette has {entries} entries.");
            expanded[i * outChannels] = palette[index * 3];
            expanded[i * outChannels + 1] = palette[index * 3 + 1];
            expanded[i * outChannels + 2] = palette[index * 3 + 2];
            if (alpha) expanded[i * outChannels + 3] = index < paletteAlpha!.Length ? paletteAlpha[index] : (byte)255;
        }
        return new RasterImage(width, height, outChannels, expanded);
    }

    /// <summary>Undoes the per-row filters (none, sub, up, average, Paeth); bpp is bytes per pixel.</summary>
    private static byte[] Unfilter(byte[] raw, int height, int stride, int bpp, string name)
    {
        var output = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            var current = output.AsSpan(y * stride, stride);
            var previous = y > 0 ? output.AsSpan((y - 1) * stride, stride) : Span<byte>.Empty;
            for (int x = 0; x < stride; x++)
            {
                int a = x >= bpp ? current[x - bpp] : 0;
                int b = y > 0 ? previous[x] : 0;
                int c = x >= bpp && y > 0 ? previous[x - bpp] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) >> 1,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"{name}: row {y} has filter type {filter}, expected 0..4 (corrupt file)."),
                };
                current[x] = (byte)(line[x] + predictor);
            }
        }
        return output;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
