// IdxReader: reads and validates the IDX files of MNIST-style datasets (raw or gzip).
using System.IO.Compression;

namespace DigitLab.IO;

/// <summary>A file that is not the IDX file it should be: names the file, what was expected and what was found.</summary>
public sealed class IdxFormatException(string message) : IOException(message);

/// <summary>
/// Reader for the IDX format of LeCun's MNIST files: a big-endian header (magic, then one int32 per
/// dimension) followed by unsigned bytes. Images have magic 2051 (0x00000803) and dimensions
/// (count, 28, 28); labels have magic 2049 (0x00000801) and dimension (count).
/// </summary>
/// <remarks>
/// Files may be raw or gzip (detected by the gzip magic 1f 8b, not by the name). Every check throws
/// <see cref="IdxFormatException"/> naming the file, the expected and the found value: wrong magic,
/// wrong image size, a length that disagrees with the header (truncated or trailing bytes), labels
/// outside 0..9, and an HTML page saved under an IDX name (what a failed download often leaves).
/// </remarks>
public static class IdxReader
{
    public const int ImagesMagic = 2051;
    public const int LabelsMagic = 2049;
    public const int Rows = 28, Cols = 28, Pixels = Rows * Cols;
    public const int Classes = 10;

    /// <summary>Reads a file's bytes, decompressing when it starts with the gzip magic.</summary>
    public static byte[] ReadAllBytes(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"{path}: file not found.", path);
        }
        return Decode(bytes, path);
    }

    /// <summary>Returns <paramref name="bytes"/> decompressed if gzip, as is if raw; rejects HTML pages.</summary>
    /// <param name="expectedBytes">The decompressed size the file must have (from its <see cref="DatasetFile"/>); decompression stops
    /// one byte past it, so a small gzip that would expand to gigabytes costs nothing. Null: <see cref="MaxDecompressedBytes"/>.</param>
    public static byte[] Decode(byte[] bytes, string name, long? expectedBytes = null)
    {
        if (LooksLikeHtml(bytes))
            throw new IdxFormatException($"{name}: expected an IDX file (raw or gzip), found an HTML page " +
                $"(starts with \"{Printable(bytes, 40)}\"); the download returned an error page. Delete the file and fetch again.");
        if (!IsGzip(bytes)) return bytes;
        try
        {
            using var input = new MemoryStream(bytes);
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            long limit = expectedBytes ?? MaxDecompressedBytes;
            using var output = new MemoryStream((int)Math.Min(limit + 1, Math.Max(bytes.Length * 4L, 1 << 16)));
            var chunk = new byte[81920];
            int read;
            while ((read = gzip.Read(chunk)) > 0)
            {
                output.Write(chunk, 0, read);
                if (output.Length > limit)
                    throw new IdxFormatException($"{name}: the gzip stream expands past {limit:N0} bytes, {(expectedBytes is null ? "more than any dataset file DigitLab reads" : "the size this file must have")}; " +
                        "it is not the expected file (a decompression bomb, or another file under this name). Delete it and fetch again.");
            }
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new IdxFormatException($"{name}: expected a complete gzip stream, found a corrupt or truncated one ({e.Message}). Delete the file and fetch again.");
        }
        catch (EndOfStreamException)
        {
            throw new IdxFormatException($"{name}: expected a complete gzip stream, found a truncated one. Delete the file and fetch again.");
        }
    }

    /// <summary>Decompression limit when the expected size is unknown: above the largest file of MNIST or Fashion-MNIST (47,040,016 bytes).</summary>
    public const long MaxDecompressedBytes = 64L * 1024 * 1024;

    public static bool IsGzip(ReadOnlySpan<byte> bytes) => bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;

    /// <summary>True when the bytes start (after whitespace) with '&lt;' and an HTML/XML word: an error page, not data.</summary>
    public static bool LooksLikeHtml(ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        while (i < bytes.Length && i < 512 && (bytes[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0xEF or 0xBB or 0xBF)) i++;
        if (i >= bytes.Length || bytes[i] != (byte)'<') return false;
        var head = System.Text.Encoding.ASCII.GetString(bytes.Slice(i, Math.Min(64, bytes.Length - i))).ToLowerInvariant();
        return head.StartsWith("<!doctype") || head.StartsWith("<html") || head.StartsWith("<?xml") || head.StartsWith("<head") || head.StartsWith("<body") || head.StartsWith("<error");
    }

    /// <summary>Reads an image file: returns pixels (count × 784, row-major 28×28) and the count.</summary>
    public static byte[] ReadImages(string path, out int count) => ParseImages(ReadAllBytes(path), path, out count);

    /// <summary>Reads a label file: one byte 0..9 per image.</summary>
    public static byte[] ReadLabels(string path) => ParseLabels(ReadAllBytes(path), path);

    /// <summary>Validates decompressed image-file bytes; <paramref name="name"/> names the file in errors.</summary>
    public static byte[] ParseImages(ReadOnlySpan<byte> bytes, string name, out int count)
    {
        RequireHeader(bytes, 16, name, "image");
        int magic = ReadInt32BigEndian(bytes, 0);
        if (magic != ImagesMagic)
            throw new IdxFormatException($"{name}: expected IDX image magic {ImagesMagic} (0x{ImagesMagic:X8}), found {magic} (0x{magic:X8}){MagicHint(magic)}.");
        count = ReadInt32BigEndian(bytes, 4);
        int rows = ReadInt32BigEndian(bytes, 8), cols = ReadInt32BigEndian(bytes, 12);
        if (rows != Rows || cols != Cols)
            throw new IdxFormatException($"{name}: expected {Rows}x{Cols} images, found {rows}x{cols}.");
        if (count < 0)
            throw new IdxFormatException($"{name}: expected a non-negative image count, found {count}.");
        long expected = 16L + (long)count * Pixels;
        if (bytes.Length != expected)
            throw new IdxFormatException($"{name}: expected {expected} bytes for {count} images of {Rows}x{Cols} (header says so), found {bytes.Length} " +
                $"({(bytes.Length < expected ? "truncated" : "trailing bytes")}). Delete the file and fetch again.");
        return bytes.Slice(16).ToArray();
    }

    /// <summary>Validates decompressed label-file bytes; every label must be in 0..9.</summary>
    public static byte[] ParseLabels(ReadOnlySpan<byte> bytes, string name)
    {
        RequireHeader(bytes, 8, name, "label");
        int magic = ReadInt32BigEndian(bytes, 0);
        if (magic != LabelsMagic)
            throw new IdxFormatException($"{name}: expected IDX label magic {LabelsMagic} (0x{LabelsMagic:X8}), found {magic} (0x{magic:X8}){MagicHint(magic)}.");
        int count = ReadInt32BigEndian(bytes, 4);
        if (count < 0)
            throw new IdxFormatException($"{name}: expected a non-negative label count, found {count}.");
        long expected = 8L + count;
        if (bytes.Length != expected)
            throw new IdxFormatException($"{name}: expected {expected} bytes for {count} labels (header says so), found {bytes.Length} " +
                $"({(bytes.Length < expected ? "truncated" : "trailing bytes")}). Delete the file and fetch again.");
        var labels = bytes.Slice(8).ToArray();
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= Classes)
                throw new IdxFormatException($"{name}: expected labels 0..{Classes - 1}, found {labels[i]} at index {i}.");
        return labels;
    }

    private static void RequireHeader(ReadOnlySpan<byte> bytes, int headerLength, string name, string kind)
    {
        if (bytes.Length < headerLength)
            throw new IdxFormatException($"{name}: expected an IDX {kind} file with a {headerLength}-byte header, found only {bytes.Length} bytes (truncated or empty).");
    }

    private static string MagicHint(int magic) => magic switch
    {
        ImagesMagic => " — this is an image file, not a label file",
        LabelsMagic => " — this is a label file, not an image file",
        _ => " — not an IDX file of unsigned bytes",
    };

    private static int ReadInt32BigEndian(ReadOnlySpan<byte> b, int offset) =>
        System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(b.Slice(offset, 4));

    private static string Printable(ReadOnlySpan<byte> bytes, int max)
    {
        var chars = new char[Math.Min(max, bytes.Length)];
        for (int i = 0; i < chars.Length; i++) chars[i] = bytes[i] is >= 32 and < 127 ? (char)bytes[i] : ' ';
        return new string(chars).Trim();
    }

    /// <summary>Writes an IDX image file (raw) — used by tests and tools to make synthetic files.</summary>
    public static byte[] EncodeImages(ReadOnlySpan<byte> pixels, int count)
    {
        var bytes = new byte[16 + pixels.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, ImagesMagic);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), count);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), Rows);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), Cols);
        pixels.CopyTo(bytes.AsSpan(16));
        return bytes;
    }

    /// <summary>Writes an IDX label file (raw).</summary>
    public static byte[] EncodeLabels(ReadOnlySpan<byte> labels)
    {
        var bytes = new byte[8 + labels.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, LabelsMagic);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), labels.Length);
        labels.CopyTo(bytes.AsSpan(8));
        return bytes;
    }
}
