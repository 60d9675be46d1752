// PngDecoder: reads an uploaded PNG into grey bytes (8/16-bit grey, grey+alpha, RGB, RGBA, palette; not interlaced).
// Transparent pixels are composited over white, as an image viewer shows them.
using System.Buffers.Binary;
using System.IO.Compression;

namespace DigitLab.Web.Services;

public static class PngDecoder
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Decodes <paramref name="png"/> to row-major grey bytes; false with a message for people when it cannot.</summary>
    public static bool TryDecodeGrey(byte[] png, out byte[] grey, out int width, out int height, out string? error)
    {
        grey = []; width = height = 0;
        try
        {
            error = Decode(png, out grey, out width, out height);
        }
        catch (Exception e) when (e is InvalidDataException or IndexOutOfRangeException or ArgumentException or OverflowException)
        {
            error = $"The PNG is damaged and could not be decoded ({e.Message}).";
        }
        return error is null;
    }

    private static string? Decode(byte[] png, out byte[] grey, out int width, out int height)
    {
        grey = []; width = height = 0;
        if (png.Length < 8 || !png.AsSpan(0, 8).SequenceEqual(Signature))
        {
            string head = Convert.ToHexString(png.AsSpan(0, Math.Min(8, png.Length)));
            return $"The upload is not a PNG image (its first bytes are {(head.Length == 0 ? "missing: the upload is empty" : head)}). Upload a PNG file.";
        }
        int bitDepth = 0, colorType = 0, interlace = 0;
        byte[]? palette = null, paletteAlpha = null;
        using var idat = new MemoryStream();
        int pos = 8;
        bool sawHeader = false;
        while (pos + 8 <= png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            if (length < 0 || pos + 12 + (long)length > png.Length) return "The PNG is truncated: a chunk runs past the end of the file.";
            var data = png.AsSpan(pos + 8, length);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                    bitDepth = data[8]; colorType = data[9]; interlace = data[12];
                    sawHeader = true;
                    break;
                case "PLTE": palette = data.ToArray(); break;
                case "tRNS": paletteAlpha = data.ToArray(); break;
                case "IDAT": idat.Write(data); break;
            }
            pos += 12 + length;
            if (type == "IEND") break;
        }
        if (!sawHeader) return "The PNG has no IHDR header chunk.";
        if (width <= 0 || height <= 0 || (long)width * height > 4096L * 4096) return $"The PNG is {width}×{height}; at most 4096×4096 is accepted.";
        if (interlace != 0) return "Interlaced PNGs are not supported: save the image without interlacing.";
        int channels = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        if (channels == 0) return $"PNG colour type {colorType} is not valid.";
        if (bitDepth != 8 && bitDepth != 16) return $"PNG bit depth {bitDepth} is not supported: save it with 8 bits per channel.";
        if (colorType == 3 && palette is null) return "The palette PNG has no PLTE chunk.";
        int bytesPerPixel = channels * bitDepth / 8;
        int stride = width * bytesPerPixel;
        var raw = new byte[(long)(stride + 1) * height];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress))
        {
            int read = 0;
            while (read < raw.Length)
            {
                int n = z.Read(raw, read, raw.Length - read);
                if (n == 0) return "The PNG's image data is shorter than its size says.";
                read += n;
            }
        }
        var previous = new byte[stride];
        var current = new byte[stride];
        grey = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            int rowStart = y * (stride + 1);
            byte filter = raw[rowStart];
            Array.Copy(raw, rowStart + 1, current, 0, stride);
            Unfilter(filter, current, previous, bytesPerPixel);
            for (int x = 0; x < width; x++)
            {
                int p = x * bytesPerPixel, step = bitDepth / 8; // 16-bit: take the high byte
                double r, g, b, a = 255;
                if (colorType == 3)
                {
                    int index = current[p];
                    if (index * 3 + 2 >= palette!.Length) return "A palette index points past the palette.";
                    r = palette[index * 3]; g = palette[index * 3 + 1]; b = palette[index * 3 + 2];
                    if (paletteAlpha is not null && index < paletteAlpha.Length) a = paletteAlpha[index];
                }
                else if (channels <= 2)
                {
                    r = g = b = current[p];
                    if (channels == 2) a = current[p + step];
                }
                else
                {
                    r = current[p]; g = current[p + step]; b = current[p + 2 * step];
                    if (channels == 4) a = current[p + 3 * step];
                }
                double luminance = 0.299 * r + 0.587 * g + 0.114 * b;
                double over = (luminance * a + 255 * (255 - a)) / 255;
                grey[y * width + x] = (byte)Math.Clamp(Math.Round(over), 0, 255);
            }
            (previous, current) = (current, previous);
        }
        return null;
    }

    private static void Unfilter(byte filter, byte[] row, byte[] above, int bpp)
    {
        for (int i = 0; i < row.Length; i++)
        {
            int left = i >= bpp ? row[i - bpp] : 0, up = above[i], upLeft = i >= bpp ? above[i - bpp] : 0;
            row[i] = filter switch
            {
                0 => row[i],
                1 => (byte)(row[i] + left),
                2 => (byte)(row[i] + up),
                3 => (byte)(row[i] + ((left + up) >> 1)),
                4 => (byte)(row[i] + Paeth(left, up, upLeft)),
                _ => throw new InvalidDataException($"unknown row filter {filter}"),
            };
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
