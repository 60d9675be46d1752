using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using DigitLab.Reports;
using DigitLab.Tests.Data;
using DigitLab.IO;

namespace DigitLab.Tests.IO;

public class PngTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = (byte)((i * 31 + seed * 17 + (i >> 3) * 7) % 256);
        return bytes;
    }

    [Theory]
    [InlineData(1, 28, 28)]
    [InlineData(2, 5, 3)]
    [InlineData(3, 17, 9)]
    [InlineData(4, 1, 1)]
    public void WriteThenReadGivesThePixelsBack(int channels, int width, int height)
    {
        var pixels = Pattern(width * height * channels, channels);
        var image = PngReader.Decode(PngWriter.Encode(width, height, channels, pixels));
        Assert.Equal((width, height, channels), (image.Width, image.Height, image.Channels));
        Assert.Equal(pixels, image.Pixels);
    }

    [Fact]
    public void FileHasSignatureChunksAndValidCrcs()
    {
        using var dir = new SyntheticData.TempDir();
        PngWriter.WriteGrey(dir.File("g.png"), 3, 2, [0, 1, 2, 3, 4, 5]);
        var bytes = File.ReadAllBytes(dir.File("g.png"));
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        var types = new List<string>();
        int pos = 8;
        while (pos < bytes.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(pos));
            types.Add(Encoding.ASCII.GetString(bytes, pos + 4, 4));
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(pos + 8 + length));
            Assert.Equal(PngCrc32.Compute(bytes.AsSpan(pos + 4, 4 + length)), crc);
            pos += 12 + length;
        }
        Assert.Equal(["IHDR", "IDAT", "IEND"], types);
        Assert.Equal(0xAE426082u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bytes.Length - 4))); // IEND's CRC is fixed
    }

    [Fact]
    public void Crc32MatchesTheStandardCheckValue()
    {
        Assert.Equal(0xCBF43926u, PngCrc32.Compute("123456789"u8)); // the CRC-32 check value
    }

    [Fact]
    public void CorruptChunkIsRejectedWithItsName()
    {
        var bytes = PngWriter.Encode(4, 4, 1, new byte[16]);
        bytes[8 + 8 + 2] ^= 0x40; // inside IHDR data
        var ex = Assert.Throws<InvalidDataException>(() => PngReader.Decode(bytes, "x.png"));
        Assert.Contains("x.png", ex.Message);
        Assert.Contains("IHDR", ex.Message);
        Assert.Contains("CRC", ex.Message);
    }

    [Fact]
    public void TruncatedAndNonPngAreRejected()
    {
        var bytes = PngWriter.Encode(4, 4, 1, new byte[16]);
        Assert.Throws<InvalidDataException>(() => PngReader.Decode(bytes.AsSpan(0, bytes.Length - 10)));
        var ex = Assert.Throws<InvalidDataException>(() => PngReader.Decode("GIF89a.."u8));
        Assert.Contains("PNG signature", ex.Message);
    }

    [Fact]
    public void ShortHeaderChunkIsACorruptFileNotAnIndexError()
    {
        // A 5-byte IHDR with a valid CRC: the reader must say so, not read past the chunk.
        var bytes = PngWriter.Encode(4, 4, 1, new byte[16]);
        var header = bytes.AsSpan(8 + 8, 13).ToArray();
        using var png = new MemoryStream();
        png.Write(bytes.AsSpan(0, 8));
        WriteChunk(png, "IHDR", header[..5]);
        png.Write(bytes.AsSpan(8 + 25)); // the original IDAT and IEND
        var ex = Assert.Throws<InvalidDataException>(() => PngReader.Decode(png.ToArray(), "short.png"));
        Assert.Contains("short.png", ex.Message);
        Assert.Contains("IHDR", ex.Message);
        Assert.Contains("13", ex.Message);
    }

    [Fact]
    public void EveryTruncationAndEveryBitFlipWithARepairedCrcIsRejectedCleanlyOrDecoded()
    {
        // Bit flips get their chunk's CRC recomputed, so they reach the header, palette, zlib and filter checks;
        // the only acceptable failure is InvalidDataException (a message for people), never an index or range error.
        var rows = new byte[] { 0, 0, 1, 2, 1, 2, 1, 0, 4, 1, 1, 1 }; // 3x3 palette image, filters 0, 1, 4
        var valid = HandMade(3, 3, 3, rows, plte: [255, 0, 0, 0, 255, 0, 0, 0, 255], trns: [255, 128]);
        int rejected = 0;
        for (int length = 0; length < valid.Length; length++)
            rejected += Outcome(valid.AsSpan(0, length).ToArray(), $"truncated to {length} bytes");
        Assert.Equal(valid.Length, rejected); // every truncation loses IEND at least
        for (int i = 8; i < valid.Length; i++)
            for (int bit = 0; bit < 8; bit++)
            {
                var bytes = (byte[])valid.Clone();
                bytes[i] ^= (byte)(1 << bit);
                RepairCrcs(bytes);
                Outcome(bytes, $"byte {i} bit {bit} flipped");
            }

        static int Outcome(byte[] bytes, string what)
        {
            try { PngReader.Decode(bytes); return 0; }
            catch (InvalidDataException) { return 1; }
            catch (Exception e) { Assert.Fail($"{what}: {e.GetType().Name}: {e.Message}"); return 0; }
        }
    }

    /// <summary>Recomputes the CRC of every chunk whose length still fits the data (flips in a length field break the walk).</summary>
    private static void RepairCrcs(byte[] bytes)
    {
        int pos = 8;
        while (pos + 12 <= bytes.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(pos));
            if (length < 0 || pos + 12L + length > bytes.Length) return;
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(pos + 8 + length), PngCrc32.Compute(bytes.AsSpan(pos + 4, 4 + length)));
            pos += 12 + length;
        }
    }

    private static void WriteChunk(Stream png, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, 0, 4, header, 4);
        png.Write(header);
        png.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, PngCrc32.Compute(header[4..].Concat(data).ToArray()));
        png.Write(crc);
    }

    /// <summary>Builds a PNG by hand with a chosen colour type, filter per row and optional palette, as other encoders do.</summary>
    private static byte[] HandMade(int width, int height, byte colourType, byte[] filteredRows, byte[]? plte = null, byte[]? trns = null)
    {
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        void Chunk(string type, byte[] data)
        {
            var header = new byte[8];
            BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
            Encoding.ASCII.GetBytes(type, 0, 4, header, 4);
            png.Write(header);
            png.Write(data);
            var crcInput = header[4..].Concat(data).ToArray();
            var crc = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(crc, PngCrc32.Compute(crcInput));
            png.Write(crc);
        }
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = colourType;
        Chunk("IHDR", ihdr);
        if (plte is not null) Chunk("PLTE", plte);
        if (trns is not null) Chunk("tRNS", trns);
        using var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Optimal, leaveOpen: true)) zs.Write(filteredRows);
        var idat = z.ToArray();
        Chunk("IDAT", idat[..(idat.Length / 2)]); // split across two IDAT chunks
        Chunk("IDAT", idat[(idat.Length / 2)..]);
        Chunk("IEND", []);
        return png.ToArray();
    }

    [Fact]
    public void DecodesEveryFilterType()
    {
        // Grey 4x5, one row per filter type 0..4, each encoded by its definition from known pixels.
        const int W = 4;
        var pixels = new byte[] { 10, 20, 30, 40, 50, 45, 40, 35, 200, 210, 220, 230, 5, 250, 5, 250, 90, 91, 100, 80 };
        var rows = new List<byte>();
        for (int y = 0; y < 5; y++)
        {
            rows.Add((byte)y);
            for (int x = 0; x < W; x++)
            {
                int a = x > 0 ? pixels[y * W + x - 1] : 0, b = y > 0 ? pixels[(y - 1) * W + x] : 0, c = x > 0 && y > 0 ? pixels[(y - 1) * W + x - 1] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
                int predictor = y switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, _ => paeth };
                rows.Add((byte)(pixels[y * W + x] - predictor));
            }
        }
        var image = PngReader.Decode(HandMade(W, 5, 0, rows.ToArray()));
        Assert.Equal(pixels, image.Pixels);
    }

    [Fact]
    public void DecodesPaletteWithTransparency()
    {
        var plte = new byte[] { 255, 0, 0, 0, 255, 0, 0, 0, 255 };
        var trns = new byte[] { 255, 128 };
        var rows = new byte[] { 0, 0, 1, 2, 0, 2, 1, 0 }; // 3x2, filter 0
        var image = PngReader.Decode(HandMade(3, 2, 3, rows, plte, trns));
        Assert.Equal(4, image.Channels);
        Assert.Equal(new byte[] { 255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 255 }, image.Pixels[..12]);
    }

    [Fact]
    public void ReadsBinaryAndAsciiPgm()
    {
        var ascii = PgmReader.Decode("P2\n# a comment\n3 2\n15\n0 5 10\n15 0 3\n"u8);
        Assert.Equal((3, 2, 1), (ascii.Width, ascii.Height, ascii.Channels));
        Assert.Equal(new byte[] { 0, 85, 170, 255, 0, 51 }, ascii.Pixels);

        var binary = Encoding.ASCII.GetBytes("P5 2 2 255\n").Concat(new byte[] { 1, 2, 3, 250 }).ToArray();
        Assert.Equal(new byte[] { 1, 2, 3, 250 }, ImageFile.Decode(binary).Pixels);

        var ex = Assert.Throws<InvalidDataException>(() => PgmReader.Decode(binary.AsSpan(0, binary.Length - 1), "t.pgm"));
        Assert.Contains("t.pgm", ex.Message);
        Assert.Contains("truncated", ex.Message);
    }

    [Fact]
    public void ToGreyUsesLuma()
    {
        var rgb = new RasterImage(2, 1, 3, [255, 0, 0, 0, 0, 255]);
        Assert.Equal(new byte[] { 76, 29 }, rgb.ToGrey());
    }
}
