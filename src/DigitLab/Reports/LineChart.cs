// LineChart: several named series on shared axes, optional log-x (learning-rate sweeps), legend at the right.
namespace DigitLab.Reports;

/// <summary>One line: x and y of equal length, a name for the legend, an optional colour and dash.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, string? Color = null, bool Dashed = false, bool Markers = true);

/// <summary>
/// A line chart. Axes get "nice" ticks; <see cref="YMin"/>/<see cref="YMax"/> fix the y range (values outside
/// are clipped to the plot area); <see cref="LogX"/> puts x on a base-10 log scale.
/// </summary>
public sealed class LineChart
{
    public string? Title { get; init; }
    public string? XLabel { get; init; }
    public string? YLabel { get; init; }
    public List<Series> Series { get; init; } = [];
    public bool LogX { get; init; }
    public double? YMin { get; init; }
    public double? YMax { get; init; }
    /// <summary>Explicit x tick positions (e.g. the learning rates of a sweep); null for automatic ticks.</summary>
    public IReadOnlyList<double>? XTicks { get; init; }
    public double Width { get; init; } = 640;
    public double Height { get; init; } = 380;

    /// <exception cref="ArgumentException">No series, a series with no points, unequal x/y lengths, or a NaN/infinite value.</exception>
    public string ToSvg()
    {
        if (Series.Count == 0) throw new ArgumentException($"Line chart '{Title}' has no series; add at least one.");
        foreach (var s in Series)
        {
            if (s.X.Count != s.Y.Count)
                throw new ArgumentException($"Series '{s.Name}' has {s.X.Count} x values but {s.Y.Count} y values; they must match.");
            if (s.X.Count == 0) throw new ArgumentException($"Series '{s.Name}' in '{Title}' has no points.");
            ChartFrame.RequireFinite(s.X, $"Series '{s.Name}' x");
            ChartFrame.RequireFinite(s.Y, $"Series '{s.Name}' y");
        }

        bool legend = Series.Count > 1 || !string.IsNullOrEmpty(Series[0].Name);
        double legendWidth = legend ? ChartFrame.LegendWidth(Series.Select(s => s.Name)) : 0;
        double left = 72, right = Width - 18 - legendWidth, top = string.IsNullOrEmpty(Title) ? 16 : 40, bottom = Height - 52;

        var xs = Series.SelectMany(s => s.X).ToArray();
        var ys = Series.SelectMany(s => s.Y).ToArray();
        bool integerX = xs.All(v => v == Math.Round(v)); // epochs, batch counts
        var x = LogX ? Scale.Log(xs.Min(), xs.Max(), left, right) : Scale.Linear(xs.Min(), xs.Max(), left, right, 7, integer: integerX);
        if (XTicks is { Count: > 0 }) x = x.WithTicks(XTicks);
        bool fixedY = YMin.HasValue && YMax.HasValue;
        var y = Scale.Linear(YMin ?? ys.Min(), YMax ?? ys.Max(), bottom, top, 6, exact: fixedY);

        var svg = new SvgDocument(Width, Height);
        ChartFrame.Title(svg, Title, (left + right) / 2);
        ChartFrame.YAxis(svg, y, left, right, YLabel);
        ChartFrame.XAxis(svg, x, top, bottom, XLabel);

        // Clip to the plot area plus a marker's radius, so lines outside a fixed y range are cut but edge markers are whole.
        string clipId = SvgDocument.NextId("clip");
        svg.Raw($"<defs><clipPath id=\"{clipId}\"><rect x=\"{SvgDocument.N(left - 5)}\" y=\"{SvgDocument.N(top - 5)}\" width=\"{SvgDocument.N(right - left + 10)}\" height=\"{SvgDocument.N(bottom - top + 10)}\"/></clipPath></defs>");
        svg.Raw($"<g clip-path=\"url(#{clipId})\">");
        for (int i = 0; i < Series.Count; i++)
        {
            var s = Series[i];
            string color = s.Color ?? Palette.Series(i);
            var points = Enumerable.Range(0, s.X.Count).Select(k => (x.Map(s.X[k]), y.Map(s.Y[k]))).ToList();
            if (points.Count > 1) svg.Polyline(points, color, 2, s.Dashed ? "6 3" : null);
            if (s.Markers && points.Count <= 60 || points.Count == 1)
                for (int k = 0; k < points.Count; k++)
                    svg.Circle(points[k].Item1, points[k].Item2, 3.2, color, tooltip: $"{s.Name}: x = {Fmt(s.X[k])}, y = {Fmt(s.Y[k])}");
        }
        svg.Raw("</g>");

        if (legend)
            ChartFrame.Legend(svg, Series.Select((s, i) => new LegendItem(s.Name, s.Color ?? Palette.Series(i), LegendMark.Line, s.Dashed)).ToList(),
                right + 14, top);
        return svg.ToSvg(Title);
    }

    private static string Fmt(double v) => v.ToString("G5", System.Globalization.CultureInfo.InvariantCulture);
}
