// BarChart: grouped bars (one group per category, one bar per series), with an optional zoomed value axis.
namespace DigitLab.Reports;

/// <summary>One set of bars: a value per category, a name for the legend.</summary>
public sealed record BarSeries(string Name, IReadOnlyList<double> Values, string? Color = null);

/// <summary>
/// A vertical grouped bar chart. With one series it is a plain bar chart. <see cref="YMin"/> zooms the axis
/// (e.g. 0.95–1.0 where per-class F1 differences live); a bar whose value is below the axis is drawn to the
/// axis with a ▼ mark so it is not mistaken for a value at the axis.
/// </summary>
public sealed class BarChart
{
    public string? Title { get; init; }
    public string? XLabel { get; init; }
    public string? YLabel { get; init; }
    public IReadOnlyList<string> Categories { get; init; } = [];
    public List<BarSeries> Series { get; init; } = [];
    public double? YMin { get; init; }
    public double? YMax { get; init; }
    /// <summary>Write each bar's value above it (readable up to a few dozen bars).</summary>
    public bool ValueLabels { get; init; }
    /// <summary>Format for value labels and tooltips, e.g. "F3", "N0", "0.0'%'".</summary>
    public string ValueFormat { get; init; } = "G4";
    /// <summary>With one series: a colour per category (so each model keeps its colour from the other figures).</summary>
    public IReadOnlyList<string>? CategoryColors { get; init; }
    /// <summary>A base-10 log value axis (bars rise from its bottom); for counts spanning decades such as parameters.</summary>
    public bool LogY { get; init; }
    public double Width { get; init; } = 640;
    public double Height { get; init; } = 380;

    /// <exception cref="ArgumentException">No categories or series, a series with the wrong count, or a NaN/infinite value.</exception>
    public string ToSvg()
    {
        if (Categories.Count == 0) throw new ArgumentException($"Bar chart '{Title}' has no categories.");
        if (Series.Count == 0) throw new ArgumentException($"Bar chart '{Title}' has no series.");
        foreach (var s in Series)
        {
            if (s.Values.Count != Categories.Count)
                throw new ArgumentException($"Bar series '{s.Name}' has {s.Values.Count} values for {Categories.Count} categories; give one value per category.");
            ChartFrame.RequireFinite(s.Values, $"Bar series '{s.Name}'");
        }

        bool legend = Series.Count > 1;
        double legendWidth = legend ? ChartFrame.LegendWidth(Series.Select(s => s.Name)) : 0;
        double left = 72, right = Width - 18 - legendWidth, top = string.IsNullOrEmpty(Title) ? 16 : 40, bottom = Height - 52;
        bool rotateLabels = Categories.Max(c => SvgDocument.TextWidth(c, ChartFrame.TickSize)) > (right - left) / Categories.Count - 6;
        if (rotateLabels) bottom = Height - 40 - Math.Min(90, Categories.Max(c => SvgDocument.TextWidth(c, ChartFrame.TickSize)) * 0.72);

        var all = Series.SelectMany(s => s.Values).ToArray();
        double lo = YMin ?? Math.Min(0, all.Min()), hi = YMax ?? Math.Max(0, all.Max());
        if (ValueLabels && YMax is null) hi += (hi - lo) * 0.06; // room for the labels above the tallest bar
        if (LogY && all.Any(v => v <= 0))
            throw new ArgumentException($"Bar chart '{Title}' has a log axis but a value ≤ 0; use a linear axis.");
        var y = LogY ? Scale.Log(all.Min() / 3, all.Max() * (ValueLabels ? 1.6 : 1.1), bottom, top)
            : Scale.Linear(lo, hi, bottom, top, 6, exact: YMin.HasValue && YMax.HasValue);

        var svg = new SvgDocument(Width, Height);
        ChartFrame.Title(svg, Title, (left + right) / 2);
        ChartFrame.YAxis(svg, y, left, right, YLabel);

        double band = (right - left) / Categories.Count;
        double groupWidth = band * 0.8, barWidth = groupWidth / Series.Count;
        double baseline = LogY ? bottom : y.Map(Math.Clamp(0, y.Min, y.Max));
        for (int c = 0; c < Categories.Count; c++)
        {
            double gx = left + c * band + (band - groupWidth) / 2;
            for (int s = 0; s < Series.Count; s++)
            {
                double v = Series[s].Values[c];
                string color = Series.Count == 1 && CategoryColors is { } cc && c < cc.Count ? cc[c] : Series[s].Color ?? Palette.Series(s);
                double vy = y.Map(Math.Clamp(v, y.Min, y.Max));
                double bx = gx + s * barWidth;
                string label = v.ToString(ValueFormat, System.Globalization.CultureInfo.InvariantCulture);
                svg.Rect(bx + 0.5, Math.Min(vy, baseline), barWidth - 1, Math.Abs(baseline - vy), color,
                    tooltip: $"{Series[s].Name} · {Categories[c]}: {label}");
                if (v < y.Min) svg.Text(bx + barWidth / 2, bottom - 3, "▼", 9, "middle", "#ffffff");
                if (ValueLabels)
                    svg.Text(bx + barWidth / 2, Math.Min(vy, baseline) - 4, label, Math.Min(10.5, barWidth * 0.45 + 4), "middle", Palette.Axis);
            }
            double cx = left + c * band + band / 2;
            if (rotateLabels) svg.Text(cx + 3, bottom + 12, Categories[c], ChartFrame.TickSize, "end", Palette.Axis, rotate: -35);
            else svg.Text(cx, bottom + 17, Categories[c], ChartFrame.TickSize, "middle", Palette.Axis);
        }
        svg.Line(left, bottom, right, bottom, Palette.Axis);
        if (!string.IsNullOrEmpty(XLabel)) svg.Text((left + right) / 2, Height - 10, XLabel, ChartFrame.LabelSize, "middle");
        if (legend)
            ChartFrame.Legend(svg, Series.Select((s, i) => new LegendItem(s.Name, s.Color ?? Palette.Series(i), LegendMark.Box)).ToList(), right + 14, top);
        return svg.ToSvg(Title);
    }
}
