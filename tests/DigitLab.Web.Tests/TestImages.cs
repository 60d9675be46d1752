// TestImages: PNG encoding and small drawings for the tests.
using System.Buffers.Binary;
using System.IO.Compression;

namespace DigitLab.Web.Tests;

internal static class TestImages
{
    /// <summary>An 8-bit greyscale PNG (filter 0 on every row).</summary>
    public static byte[] GreyPng(byte[] grey, int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; header[9] = 0;
        Chunk(png, "IHDR", header);
        using var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0);
                z.Write(grey, y * width, width);
            }
        Chunk(png, "IDAT", raw.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>A grey PNG whose (valid) header declares <paramref name="width"/>×<paramref name="height"/> but whose data holds one row: cheap to build at any declared size.</summary>
    public static byte[] DeclaredPng(int width, int height)
    {
        var real = GreyPng(new byte[width], width, 1);
        using var png = new MemoryStream();
        png.Write(real.AsSpan(0, 8));
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;
        Chunk(png, "IHDR", header);
        png.Write(real.AsSpan(8 + 25)); // the real IHDR chunk is 4 + 4 + 13 + 4 bytes
        return png.ToArray();
    }

    /// <summary>
    /// The attack from issue 13: a grey PNG of <paramref name="width"/>×<paramref name="height"/> with a decoy IHDR (28×28)
    /// first, where a size check reading bytes 16–23 looks, and the real header after it.
    /// </summary>
    public static byte[] DecoyPng(byte[] grey, int width, int height)
    {
        var real = GreyPng(grey, width, height);
        using var png = new MemoryStream();
        png.Write(real.AsSpan(0, 8));
        var decoy = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(decoy, 28);
        BinaryPrimitives.WriteInt32BigEndian(decoy.AsSpan(4), 28);
        decoy[8] = 8;
        Chunk(png, "IHDR", decoy);
        png.Write(real.AsSpan(8));
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var buffer = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(buffer, data.Length);
        s.Write(buffer);
        var typeAndData = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(buffer, Crc32(typeAndData));
        s.Write(buffer);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>A <paramref name="size"/>² canvas with a filled rectangle of ink (255) at the given place.</summary>
    public static byte[] Rectangle(int size, int left, int top, int width, int height, byte ink = 255)
    {
        var grey = new byte[size * size];
        for (int y = top; y < top + height; y++)
            for (int x = left; x < left + width; x++) grey[y * size + x] = ink;
        return grey;
    }

    /// <summary>Centre of mass (x, y) of a 28×28 image in pixel-index coordinates (MNIST's convention: a digit is centred when this is within half a pixel of 14).</summary>
    public static (double X, double Y) CentreOfMass(ReadOnlySpan<byte> image)
    {
        double mass = 0, mx = 0, my = 0;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++)
            {
                double v = image[y * 28 + x];
                mass += v; mx += x * v; my += y * v;
            }
        return (mx / mass, my / mass);
    }
}
