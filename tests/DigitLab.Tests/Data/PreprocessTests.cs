using DigitLab.Data;
using DigitLab.Reports;
using DigitLab.IO;

namespace DigitLab.Tests.Data;

public class PreprocessTests
{
    /// <summary>A dark ellipse outline (a drawn "0", twice as tall as wide) on a light canvas, off-centre.</summary>
    private static byte[] DrawnZero(int width, int height, double cx, double cy, double rx, double ry, double pen)
    {
        var image = new byte[width * height];
        Array.Fill(image, (byte)240); // paper, slightly grey
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double r = Math.Sqrt((x - cx) * (x - cx) / (rx * rx) + (y - cy) * (y - cy) / (ry * ry));
                double d = Math.Abs(r - 1) * Math.Min(rx, ry);
                if (d < pen) image[y * width + x] = 20; // ink
            }
        return image;
    }

    private static (int X0, int Y0, int X1, int Y1) InkBox(byte[] mnist, int threshold = 25)
    {
        int x0 = 28, y0 = 28, x1 = -1, y1 = -1;
        for (int i = 0; i < 784; i++)
            if (mnist[i] > threshold) { x0 = Math.Min(x0, i % 28); x1 = Math.Max(x1, i % 28); y0 = Math.Min(y0, i / 28); y1 = Math.Max(y1, i / 28); }
        return (x0, y0, x1, y1);
    }

    [Fact]
    public void DrawnDigitIsInvertedScaledInto20x20KeepingAspectAndCentredByMass()
    {
        const int W = 300, H = 200;
        var image = DrawnZero(W, H, cx: 220, cy: 90, rx: 30, ry: 60, pen: 6);
        var result = Preprocess.Run(image, W, H);
        Assert.True(result.Inverted);
        Assert.Equal(20, result.ScaledHeight);
        const int SizeTolerance = 1; // rounding of the scaled box
        // The ink box is 72 px wide and 144 tall (pen included): 20 tall means 10 wide.
        Assert.InRange(result.ScaledWidth, 10 - SizeTolerance, 10 + SizeTolerance);

        var pixels = result.Pixels;
        var (x0, y0, x1, y1) = InkBox(pixels);
        Assert.InRange(y1 - y0 + 1, 20 - SizeTolerance, 20);
        Assert.True(pixels.Max() > 200, "ink should be bright after inversion");
        Assert.Equal(0, pixels[0]); // background black
        var (cx, cy, _) = AugmenterTests.CentreOfMass(pixels.Select(b => (float)b).ToArray());
        const double CentreTolerance = 0.5; // integer placement; MNIST's centres of mass lie in [13.5, 14.5)
        Assert.Equal(14, cx, CentreTolerance);
        Assert.Equal(14, cy, CentreTolerance);
    }

    [Fact]
    public void WhiteOnBlackNeedsNoInversionAndGivesTheSameResult()
    {
        const int W = 120, H = 90;
        var dark = DrawnZero(W, H, 50, 45, 15, 30, 4);
        var light = dark.Select(b => (byte)(255 - b)).ToArray();
        var a = Preprocess.Run(dark, W, H);
        var b = Preprocess.Run(light, W, H);
        Assert.True(a.Inverted);
        Assert.False(b.Inverted);
        Assert.Equal(a.Pixels, b.Pixels);
    }

    [Fact]
    public void TransparentCanvasWithBlackStrokesMatchesTheGreyImage()
    {
        const int W = 100, H = 100;
        var grey = DrawnZero(W, H, 50, 50, 20, 35, 5);
        // A web canvas: transparent background (0,0,0,0), opaque black strokes.
        var rgba = new byte[W * H * 4];
        for (int i = 0; i < W * H; i++)
            if (grey[i] < 128) rgba[i * 4 + 3] = 255;
        var canvas = Preprocess.ToMnist(new RasterImage(W, H, 4, rgba));
        var pure = grey.Select(v => v < 128 ? (byte)0 : (byte)255).ToArray();
        Assert.Equal(Preprocess.ToMnist(pure, W, H), canvas);
    }

    [Fact]
    public void EmptyOrFaintImageIsReported()
    {
        var blank = new byte[64 * 64];
        Array.Fill(blank, (byte)255);
        var ex = Assert.Throws<EmptyImageException>(() => Preprocess.ToMnist(blank, 64, 64));
        Assert.Contains("empty", ex.Message);
        Assert.False(Preprocess.TryRun(blank, 64, 64, out _, out var problem));
        Assert.Contains("Draw a digit", problem);

        var faint = (byte[])blank.Clone();
        faint[32 * 64 + 32] = 250;
        ex = Assert.Throws<EmptyImageException>(() => Preprocess.ToMnist(faint, 64, 64));
        Assert.Contains("no clear digit", ex.Message);
    }

    [Fact]
    public void SmallImagesAreEnlarged()
    {
        // A 10x10 drawing (smaller than the 20x20 box) is scaled up, not left small.
        var small = DrawnZero(10, 10, 4.5, 4.5, 3, 3.5, 1);
        var (x0, y0, x1, y1) = InkBox(Preprocess.ToMnist(small, 10, 10));
        Assert.InRange(Math.Max(x1 - x0, y1 - y0) + 1, 18, 20);
    }

    [Fact]
    public void ResampleWeightsRowsSumToOne()
    {
        foreach (var (src, dst) in new[] { (100, 20), (7, 20), (20, 20), (33, 7), (1, 5), (5, 1) })
        {
            var w = Preprocess.ResampleWeights(src, dst);
            for (int i = 0; i < dst; i++) Assert.Equal(1f, w.AsSpan(i * src, src).ToArray().Sum(), 4);
        }
    }
}
