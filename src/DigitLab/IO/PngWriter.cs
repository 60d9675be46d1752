// PngWriter: writes 8-bit grey, RGB and RGBA PNG files (zlib from System.IO.Compression, our own CRC-32).
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace DigitLab.IO;

/// <summary>
/// Minimal PNG encoder: signature, IHDR, one IDAT (zlib stream, filter "none" on every row), IEND,
/// each chunk with its CRC-32. Enough for dataset grids, saliency maps and test images.
/// </summary>
public static class PngWriter
{
    internal static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Writes a grey image: <paramref name="pixels"/> is height × width bytes, row-major.</summary>
    public static void WriteGrey(string path, int width, int height, ReadOnlySpan<byte> pixels) =>
        WriteFile(path, Encode(width, height, 1, pixels));

    /// <summary>Writes an RGB image: height × width × 3 bytes.</summary>
    public static void WriteRgb(string path, int width, int height, ReadOnlySpan<byte> pixels) =>
        WriteFile(path, Encode(width, height, 3, pixels));

    /// <summary>Writes an RGBA image: height × width × 4 bytes, not premultiplied.</summary>
    public static void WriteRgba(string path, int width, int height, ReadOnlySpan<byte> pixels) =>
        WriteFile(path, Encode(width, height, 4, pixels));

    /// <summary>Encodes an image with 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA) channels as PNG bytes.</summary>
    public static byte[] Encode(int width, int height, int channels, ReadOnlySpan<byte> pixels)
    {
        if (width < 1 || height < 1)
            throw new ArgumentException($"PNG size must be at least 1x1, found {width}x{height}.");
        byte colourType = channels switch
        {
            1 => 0, 2 => 4, 3 => 2, 4 => 6,
            _ => throw new ArgumentException($"PNG channels must be 1, 2, 3 or 4, found {channels}."),
        };
        long expected = (long)width * height * channels;
        if (pixels.Length != expected)
            throw new ArgumentException($"PNG {width}x{height} with {channels} channel(s) needs {expected} bytes, found {pixels.Length}.");

        using var png = new MemoryStream();
        png.Write(Signature);

        Span<byte> header = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header[4..], height);
        header[8] = 8;           // bit depth
        header[9] = colourType;
        header[10] = 0;          // compression: deflate
        header[11] = 0;          // filter method 0
        header[12] = 0;          // no interlace
        WriteChunk(png, "IHDR", header);

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            int stride = width * channels;
            for (int y = 0; y < height; y++)
            {
                zlib.WriteByte(0); // filter type: none
                zlib.Write(pixels.Slice(y * stride, stride));
            }
        }
        WriteChunk(png, "IDAT", compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream stream, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        Span<byte> typeBytes = stackalloc byte[4];
        Encoding.ASCII.GetBytes(type, typeBytes);
        stream.Write(typeBytes);
        stream.Write(data);
        uint crc = PngCrc32.Update(PngCrc32.Update(PngCrc32.Initial, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        stream.Write(word);
    }

    /// <summary>Writes atomically (<see cref="AtomicFile"/>), so a reader never sees half a PNG.</summary>
    private static void WriteFile(string path, byte[] bytes) => AtomicFile.WriteAllBytes(path, bytes);
}

/// <summary>CRC-32 (ISO-HDLC, polynomial 0xEDB88320) as PNG chunks use it. Reference: PNG spec, Annex D.</summary>
public static class PngCrc32
{
    public const uint Initial = 0xFFFFFFFFu;
    private static readonly uint[] Table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>Continues a running CRC (start with <see cref="Initial"/>, finish by xor with 0xFFFFFFFF).</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>The CRC-32 of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Update(Initial, data) ^ 0xFFFFFFFFu;
}
