// HostileImages: PNG files that declare more than they hold, as an attacker would send them (shared by the decoder and CLI tests).
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using DigitLab.Reports;
using DigitLab.IO;

namespace DigitLab.Tests.IO;

internal static class HostileImages
{
    public static void Chunk(Stream png, string type, ReadOnlySpan<byte> data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, 0, 4, header, 4);
        png.Write(header);
        png.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, PngCrc32.Compute([.. header[4..], .. data]));
        png.Write(crc);
    }

    public static byte[] Ihdr(int width, int height)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // grey, 8 bits
        return ihdr;
    }

    /// <summary>A grey PNG declaring <paramref name="width"/>×<paramref name="height"/> whose IDAT holds <paramref name="rows"/> zero rows (cheap to build).</summary>
    public static byte[] DeclaredPng(int width, int height, int rows, params (string Type, byte[] Data)[] before)
    {
        using var png = new MemoryStream();
        png.Write(PngWriter.Signature);
        foreach (var (type, data) in before) Chunk(png, type, data);
        Chunk(png, "IHDR", Ihdr(width, height));
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true))
            zs.Write(new byte[(long)rows * (width + 1)]);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }
}
