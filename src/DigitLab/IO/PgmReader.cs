// PgmReader: reads binary (P5) and ASCII (P2) PGM grey images, and dispatches PNG/PGM by content.
using System.Text;

namespace DigitLab.IO;

/// <summary>
/// Netpbm grey maps: P5 (binary) and P2 (ASCII), with '#' comments, maxval up to 65535 (scaled to 0..255).
/// </summary>
public static class PgmReader
{
    /// <summary>Reads a PGM file.</summary>
    public static RasterImage Read(string path) => Decode(File.ReadAllBytes(path), path);

    /// <summary>True when <paramref name="bytes"/> starts with "P2" or "P5".</summary>
    public static bool IsPgm(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] == 'P' && (bytes[1] == '2' || bytes[1] == '5');

    /// <summary>Decodes PGM bytes to a one-channel <see cref="RasterImage"/>; larger than <paramref name="maxPixels"/> is refused before allocating.</summary>
    public static RasterImage Decode(ReadOnlySpan<byte> bytes, string name = "PGM data", long maxPixels = DigitLab.IO.ImageDecoder.MaxPixels)
    {
        if (!IsPgm(bytes))
            throw new InvalidDataException($"{name}: expected a PGM header \"P2\" or \"P5\", found \"{Encoding.ASCII.GetString(bytes[..Math.Min(2, bytes.Length)])}\".");
        bool binary = bytes[1] == '5';
        int pos = 2;
        int width = ReadNumber(bytes, ref pos, name, "width");
        int height = ReadNumber(bytes, ref pos, name, "height");
        int maxValue = ReadNumber(bytes, ref pos, name, "maxval");
        DigitLab.IO.ImageDecoder.CheckSize(width, height, name, maxPixels);
        if (maxValue is < 1 or > 65535)
            throw new InvalidDataException($"{name}: expected maxval 1..65535, found {maxValue}.");
        int n = width * height;
        var pixels = new byte[n];
        if (binary)
        {
            pos++; // exactly one whitespace byte after maxval
            int bytesPerSample = maxValue > 255 ? 2 : 1;
            if (bytes.Length - pos < (long)n * bytesPerSample)
                throw new InvalidDataException($"{name}: expected {(long)n * bytesPerSample} bytes of pixels for {width}x{height}, found {bytes.Length - pos} (truncated).");
            for (int i = 0; i < n; i++)
            {
                int value = bytesPerSample == 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
                pixels[i] = Scale(value, maxValue);
            }
        }
        else
        {
            for (int i = 0; i < n; i++)
            {
                int value = ReadNumber(bytes, ref pos, name, $"pixel {i} of {n}");
                if (value > maxValue) throw new InvalidDataException($"{name}: pixel {i} is {value}, above maxval {maxValue}.");
                pixels[i] = Scale(value, maxValue);
            }
        }
        return new RasterImage(width, height, 1, pixels);
    }

    private static byte Scale(int value, int maxValue) =>
        maxValue == 255 ? (byte)value : (byte)Math.Min(255, (value * 255 + maxValue / 2) / maxValue);

    private static int ReadNumber(ReadOnlySpan<byte> bytes, ref int pos, string name, string what)
    {
        while (pos < bytes.Length)
        {
            if (bytes[pos] == '#') { while (pos < bytes.Length && bytes[pos] != '\n') pos++; }
            else if (char.IsWhiteSpace((char)bytes[pos])) pos++;
            else break;
        }
        long value = 0;
        int start = pos;
        while (pos < bytes.Length && bytes[pos] is >= (byte)'0' and <= (byte)'9' && value < int.MaxValue)
            value = value * 10 + (bytes[pos++] - '0');
        if (pos == start)
            throw new InvalidDataException($"{name}: expected a number for the {what}, found {(pos < bytes.Length ? $"'{(char)bytes[pos]}'" : "the end of the file")} at byte {pos}.");
        return (int)Math.Min(value, int.MaxValue);
    }
}

/// <summary>Reads any accepted image (PNG, JPEG, WebP, GIF, BMP, PGM) through <see cref="DigitLab.IO.ImageDecoder"/>.</summary>
public static class ImageFile
{
    // Untrusted bytes go through the one decoder with the size limit (IO/ImageDecoder).
    public static RasterImage Read(string path) => DigitLab.IO.ImageDecoder.Read(path);

    public static RasterImage Decode(ReadOnlySpan<byte> bytes, string name = "image") => DigitLab.IO.ImageDecoder.Decode(bytes, name);
}
