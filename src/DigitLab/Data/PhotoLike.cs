// PhotoLike: renders an MNIST digit as if written with a pen on paper and photographed (shaded paper, shadow, noise, tilt), for test folders.
using DigitLab.IO;
using DigitLab.Tensors;
using SkiaSharp;

namespace DigitLab.Data;

/// <summary>How <see cref="PhotoLike"/> stores one rendered image.</summary>
public enum PhotoFormat { Png, Jpeg }

/// <summary>
/// Synthesises "photos of paper" from MNIST digits, so tests and the closing figures can check the photo path of
/// <see cref="Preprocess"/> against known labels without real photos.
/// </summary>
/// <remarks>
/// One image: a side of 96–160 pixels; the digit enlarged to about 70 % of it, rotated by up to ±12°, shifted by up
/// to 8 % of the side; dark ink multiplying a grey paper (level 140–225) lit by a linear gradient (up to 35 % darker
/// across the sheet) and a soft-edged shadow (25–45 % darker over part of the sheet); Gaussian sensor noise
/// (σ 3–9 levels). Colour images tint the paper warm and the ink blue. Everything is drawn from <see cref="Rng"/>,
/// so a seed gives the same images.
/// </remarks>
public static class PhotoLike
{
    /// <summary>Renders the 784 MNIST bytes (white ink on black) as a photo of dark ink on paper: 1 channel, or 3 (RGB) when <paramref name="colour"/>.</summary>
    public static RasterImage Render(ReadOnlySpan<byte> mnist, Rng rng, bool colour)
    {
        if (mnist.Length != MnistDataset.Pixels)
            throw new ArgumentException($"PhotoLike.Render needs 784 MNIST bytes (28×28), found {mnist.Length}.");
        int side = 96 + rng.NextInt(65);
        double scale = side * rng.Uniform(0.62f, 0.78f) / 20.0; // MNIST's digit box is 20 of its 28 pixels
        double angle = rng.Uniform(-12, 12) * Math.PI / 180;
        double shiftX = rng.Uniform(-0.08f, 0.08f) * side, shiftY = rng.Uniform(-0.08f, 0.08f) * side;
        double paper = rng.Uniform(140, 225);
        double gradient = rng.Uniform(0, 0.35f), gradientAngle = rng.Uniform(0, (float)(2 * Math.PI));
        double shadow = rng.Uniform(0.25f, 0.45f), shadowAngle = rng.Uniform(0, (float)(2 * Math.PI));
        double shadowOffset = rng.Uniform(0.15f, 0.45f) * side, shadowSoftness = rng.Uniform(0.05f, 0.15f) * side;
        double noise = rng.Uniform(3, 9), inkDarkness = rng.Uniform(0.7f, 0.9f);
        double cos = Math.Cos(angle), sin = Math.Sin(angle), centre = (side - 1) / 2.0;
        double gx = Math.Cos(gradientAngle), gy = Math.Sin(gradientAngle), sx = Math.Cos(shadowAngle), sy = Math.Sin(shadowAngle);

        int channels = colour ? 3 : 1;
        var pixels = new byte[side * side * channels];
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                // Where this pixel falls in the 28×28 digit: undo shift, rotation and scale about the centres.
                double dx = x - centre - shiftX, dy = y - centre - shiftY;
                double u = (cos * dx + sin * dy) / scale + 13.5, v = (-sin * dx + cos * dy) / scale + 13.5;
                double ink = Bilinear(mnist, u, v) / 255.0;
                // Light: a linear gradient across the sheet and a shadow over the part beyond a soft edge.
                double along = ((x - centre) * gx + (y - centre) * gy) / side; // -0.7..0.7
                double light = 1 - gradient * (0.5 + along);
                double edge = ((x - centre) * sx + (y - centre) * sy - shadowOffset) / shadowSoftness;
                light *= 1 - shadow / (1 + Math.Exp(-edge));
                double value = paper * light * (1 - inkDarkness * ink);
                if (colour)
                {
                    double n = noise * rng.Normal();
                    int o = (y * side + x) * 3;
                    // Warm paper (more red than blue), blue ink (its red and green drop more than its blue).
                    pixels[o] = Byte(value * (1.04 - 0.25 * ink) + n);
                    pixels[o + 1] = Byte(value * (1.0 - 0.1 * ink) + n);
                    pixels[o + 2] = Byte(value * (0.88 + 0.5 * ink) + n);
                }
                else pixels[y * side + x] = Byte(value + noise * rng.Normal());
            }
        return new RasterImage(side, side, channels, pixels);
    }

    /// <summary>Encodes a 1- or 3-channel image as PNG (lossless) or JPEG (quality 80–95, as a phone would).</summary>
    public static byte[] Encode(RasterImage image, PhotoFormat format, int jpegQuality = 88)
    {
        if (format == PhotoFormat.Png) return PngWriter.Encode(image.Width, image.Height, image.Channels, image.Pixels);
        if (image.Channels is not (1 or 3)) throw new ArgumentException($"PhotoLike.Encode takes grey or RGB images, found {image.Channels} channels.");
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0; i < image.Width * image.Height; i++)
        {
            for (int c = 0; c < 3; c++) rgba[i * 4 + c] = image.Pixels[i * image.Channels + (image.Channels == 1 ? 0 : c)];
            rgba[i * 4 + 3] = 255;
        }
        using var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        rgba.CopyTo(bitmap.GetPixelSpan());
        using var skImage = SKImage.FromBitmap(bitmap);
        using var encoded = skImage.Encode(SKEncodedImageFormat.Jpeg, jpegQuality)
            ?? throw new InvalidOperationException("Skia could not encode a JPEG.");
        return encoded.ToArray();
    }

    private static double Bilinear(ReadOnlySpan<byte> image, double u, double v)
    {
        if (u < -1 || v < -1 || u > 28 || v > 28) return 0;
        int x0 = (int)Math.Floor(u), y0 = (int)Math.Floor(v);
        double fx = u - x0, fy = v - y0;
        return (At(image, x0, y0) * (1 - fx) + At(image, x0 + 1, y0) * fx) * (1 - fy)
             + (At(image, x0, y0 + 1) * (1 - fx) + At(image, x0 + 1, y0 + 1) * fx) * fy;
    }

    private static double At(ReadOnlySpan<byte> image, int x, int y) => x < 0 || y < 0 || x >= 28 || y >= 28 ? 0 : image[y * 28 + x];

    private static byte Byte(double value) => (byte)Math.Clamp((int)Math.Round(value), 0, 255);
}
