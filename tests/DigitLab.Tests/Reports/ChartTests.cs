using System.Xml.Linq;
using DigitLab.Reports;

namespace DigitLab.Tests.Reports;

public class ChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>Parses the SVG (throws on malformed XML) and checks the root has a positive size.</summary>
    internal static XDocument ParseSvg(string svg)
    {
        var doc = XDocument.Parse(svg);
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        Assert.True(double.Parse(doc.Root.Attribute("width")!.Value) > 0);
        Assert.True(double.Parse(doc.Root.Attribute("height")!.Value) > 0);
        return doc;
    }

    private static IEnumerable<string> Texts(XDocument doc) => doc.Descendants(Svg + "text").Select(t => t.Value);

    [Fact]
    public void LineChartHasEverySeriesInLegendAndValidXml()
    {
        var chart = new LineChart
        {
            Title = "Loss <per> epoch & more",
            XLabel = "epoch",
            YLabel = "loss",
            Series =
            [
                new Series("mlp", [1, 2, 3], [0.5, 0.3, 0.2]),
                new Series("lenet5 \"v2\"", [1, 2, 3], [0.4, 0.2, 0.1], Dashed: true),
            ],
        };
        var doc = ParseSvg(chart.ToSvg());
        var texts = Texts(doc).ToList();
        Assert.Contains("mlp", texts);
        Assert.Contains("lenet5 \"v2\"", texts);
        Assert.Contains("Loss <per> epoch & more", texts);
        Assert.Equal(2, doc.Descendants(Svg + "polyline").Count());
    }

    [Fact]
    public void SinglePointAndAllEqualValuesRender()
    {
        ParseSvg(new LineChart { Series = [new Series("one", [3], [0.7])] }.ToSvg());
        var flat = ParseSvg(new LineChart { Series = [new Series("flat", [1, 2, 3], [2, 2, 2])] }.ToSvg());
        Assert.Contains("2.0", Texts(flat)); // the constant value is inside a labelled range
        ParseSvg(new BarChart { Categories = ["a", "b"], Series = [new BarSeries("s", [1, 1])] }.ToSvg());
        ParseSvg(new Heatmap { Values = [[5.0, 5.0], [5.0, 5.0]], CellFormat = "N0" }.ToSvg());
        ParseSvg(new ScatterPlot { X = [1], Y = [1], Classes = [3] }.ToSvg());
    }

    [Fact]
    public void NaNIsRejectedWithTheSeriesNameAndIndex()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LineChart { Series = [new Series("lenet5", [1, 2], [0.1, double.NaN])] }.ToSvg());
        Assert.Contains("lenet5", ex.Message);
        Assert.Contains("[1]", ex.Message);
        Assert.Contains("NaN", ex.Message);
        Assert.Throws<ArgumentException>(() => new BarChart { Categories = ["a"], Series = [new BarSeries("s", [double.PositiveInfinity])] }.ToSvg());
        Assert.Throws<ArgumentException>(() => new Heatmap { Values = [[1.0, double.NaN]] }.ToSvg());
        Assert.Throws<ArgumentException>(() => new ScatterPlot { X = [double.NaN], Y = [1], Classes = [0] }.ToSvg());
    }

    [Fact]
    public void MismatchedLengthsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new LineChart { Series = [new Series("s", [1, 2], [1])] }.ToSvg());
        Assert.Throws<ArgumentException>(() => new BarChart { Categories = ["a", "b"], Series = [new BarSeries("s", [1])] }.ToSvg());
        Assert.Throws<ArgumentException>(() => new Heatmap { Values = [[1.0, 2.0], [1.0]] }.ToSvg());
        Assert.Throws<ArgumentException>(() => new ImageGrid { Images = [new GridImage(new byte[10])] }.ToSvg());
    }

    [Fact]
    public void ZoomedAxisTicksAreNiceAndLabelledWithTwoDecimals()
    {
        var s = Scale.Linear(0.95, 1.0, 300, 0, 6, exact: true);
        Assert.Equal(6, s.Ticks.Length);
        Assert.Equal(["0.95", "0.96", "0.97", "0.98", "0.99", "1.00"], s.Ticks.Select(s.Format).ToArray());
        var wide = Scale.Linear(0.13, 2.71, 0, 100);
        Assert.Equal(0, wide.Min);
        Assert.Equal(3, wide.Max);
        Assert.Equal(0.0, wide.Map(0));
        Assert.Equal(100.0, wide.Map(3));
    }

    [Fact]
    public void LogAxisCoversLearningRatesWithDecadesAndMinorTicks()
    {
        var s = Scale.Log(1e-4, 0.02, 0, 300);
        Assert.True(s.Min < 1e-4 && s.Max > 0.02);
        Assert.Equal(new[] { 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2 }, s.Ticks, (a, b) => Math.Abs(a - b) < 1e-15);
        Assert.Equal(["10⁻⁴", "0.0002", "0.0005", "10⁻³", "0.002", "0.005", "10⁻²", "0.02"], s.Ticks.Select(s.Format).ToArray());
        Assert.Equal(s.Map(1e-3) - s.Map(1e-4), s.Map(1e-2) - s.Map(1e-3), 9); // equal decades
        var wide = Scale.Log(1e-6, 1, 0, 300);
        Assert.Equal(new[] { 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1 }, wide.Ticks, (a, b) => Math.Abs(a - b) < 1e-15);
        Assert.Throws<ArgumentException>(() => Scale.Log(0, 1, 0, 1));
    }

    [Fact]
    public void HeatmapTextIsLightOnDarkCellsAndDarkOnLightCells()
    {
        var doc = ParseSvg(new Heatmap { Values = [[1.0, 100.0]], CellFormat = "N0" }.ToSvg());
        var texts = doc.Descendants(Svg + "text").Where(t => t.Attribute("fill")!.Value != Palette.Axis).ToDictionary(t => t.Value, t => t.Attribute("fill")!.Value);
        Assert.Equal("#ffffff", texts["100"]);
        Assert.Equal(Palette.Text, texts["1"]);
    }

    [Fact]
    public void BarsBelowAZoomedAxisAreMarked()
    {
        var doc = ParseSvg(new BarChart
        {
            Categories = ["0", "1"],
            Series = [new BarSeries("m", [0.90, 0.99])],
            YMin = 0.95, YMax = 1.0,
        }.ToSvg());
        Assert.Single(Texts(doc), t => t == "▼");
    }

    [Fact]
    public void ScatterDrawsEveryPointInItsClassGroup()
    {
        var doc = ParseSvg(new ScatterPlot { X = [0, 1, 2, 3], Y = [0, 1, 0, 1], Classes = [0, 9, 9, 4], ShowAxes = false }.ToSvg());
        var groups = doc.Descendants(Svg + "g").Where(g => g.Attribute("data-class") is not null).ToList();
        Assert.Equal(10, groups.Count);
        Assert.Equal(2, groups.Single(g => g.Attribute("data-class")!.Value == "9").Elements(Svg + "circle").Count());
        Assert.Throws<ArgumentException>(() => new ScatterPlot { X = [0], Y = [0], Classes = [10] }.ToSvg());
    }

    [Fact]
    public void ImageGridEmbedsPngsWhenAnEncoderIsGivenAndRectsOtherwise()
    {
        var pixels = new byte[28 * 28];
        pixels[14 * 28 + 14] = 255;
        var rects = ParseSvg(new ImageGrid { Images = [new GridImage(pixels, "7 → 1")] }.ToSvg());
        Assert.Contains(rects.Descendants(Svg + "rect"), r => r.Attribute("fill")!.Value == "#000000"); // the ink pixel, inverted
        var encoded = new List<int>();
        var png = ParseSvg(new ImageGrid
        {
            Images = [new GridImage(pixels), new GridImage(pixels)],
            PngEncoder = (g, w, h) => { encoded.Add(g.Length); return [0x89, 0x50, 0x4E, 0x47]; },
        }.ToSvg());
        Assert.Equal(2, png.Descendants(Svg + "image").Count());
        Assert.Equal([784, 784], encoded);
        Assert.StartsWith("data:image/png;base64,iVBORw", png.Descendants(Svg + "image").First().Attribute("href")!.Value);
    }

    [Fact]
    public void IntegerAxesTickOnlyAtWholeNumbers()
    {
        var one = Scale.Linear(1, 1, 0, 100, integer: true);
        Assert.Equal([0.0, 1, 2], one.Ticks);
        var ten = Scale.Linear(1, 10, 0, 100, 7, integer: true);
        Assert.All(ten.Ticks, t => Assert.Equal(Math.Round(t), t));
        Assert.Contains(10.0, ten.Ticks);
    }
}
