// ChartFrame: what every chart with axes shares: title, plot area, grid, ticks, axis labels, legend, input checks.
namespace DigitLab.Reports;

/// <summary>A legend entry: a name, its colour, and whether it is drawn as a line, a box or a dot.</summary>
public sealed record LegendItem(string Name, string Color, LegendMark Mark = LegendMark.Line, bool Dashed = false);

public enum LegendMark { Line, Box, Dot }

/// <summary>Layout and decoration helpers shared by the charts (not a chart itself).</summary>
public static class ChartFrame
{
    public const double TitleSize = 15;
    public const double LabelSize = 13;
    public const double TickSize = 11;
    public const double LegendSize = 12;

    /// <summary>Width a legend of these names needs when drawn as a column.</summary>
    public static double LegendWidth(IEnumerable<string> names) =>
        names.Select(n => SvgDocument.TextWidth(n, LegendSize)).DefaultIfEmpty(0).Max() + 34;

    public static void Title(SvgDocument svg, string? title, double centreX)
    {
        if (!string.IsNullOrEmpty(title)) svg.Text(centreX, 22, title, TitleSize, "middle", weight: "600");
    }

    /// <summary>Horizontal grid lines and y tick labels at the left edge of the plot area.</summary>
    public static void YAxis(SvgDocument svg, Scale y, double left, double right, string? label, bool grid = true)
    {
        foreach (double t in y.Ticks)
        {
            double py = y.Map(t);
            if (grid) svg.Line(left, py, right, py, Palette.Grid);
            svg.Line(left - 4, py, left, py, Palette.Axis);
            svg.Text(left - 7, py + 4, y.Format(t), TickSize, "end", Palette.Axis);
        }
        svg.Line(left, y.PixelStart, left, y.PixelEnd, Palette.Axis);
        if (!string.IsNullOrEmpty(label))
        {
            double widest = y.Ticks.Select(t => SvgDocument.TextWidth(y.Format(t), TickSize)).DefaultIfEmpty(0).Max();
            double x = left - widest - 16;
            svg.Text(x, (y.PixelStart + y.PixelEnd) / 2, label, LabelSize, "middle", rotate: -90);
        }
    }

    /// <summary>Vertical grid lines and x tick labels below the plot area.</summary>
    public static void XAxis(SvgDocument svg, Scale x, double top, double bottom, string? label, bool grid = true)
    {
        foreach (double t in x.Ticks)
        {
            double px = x.Map(t);
            if (grid) svg.Line(px, top, px, bottom, Palette.Grid);
            svg.Line(px, bottom, px, bottom + 4, Palette.Axis);
            svg.Text(px, bottom + 17, x.Format(t), TickSize, "middle", Palette.Axis);
        }
        svg.Line(x.PixelStart, bottom, x.PixelEnd, bottom, Palette.Axis);
        if (!string.IsNullOrEmpty(label))
            svg.Text((x.PixelStart + x.PixelEnd) / 2, bottom + 38, label, LabelSize, "middle");
    }

    /// <summary>Draws a legend column with its top-left corner at (x, y).</summary>
    public static void Legend(SvgDocument svg, IReadOnlyList<LegendItem> items, double x, double y)
    {
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            double cy = y + i * 20 + 8;
            switch (item.Mark)
            {
                case LegendMark.Line:
                    svg.Line(x, cy, x + 22, cy, item.Color, 2.5, item.Dashed ? "6 3" : null);
                    break;
                case LegendMark.Box:
                    svg.Rect(x + 4, cy - 6, 14, 12, item.Color);
                    break;
                case LegendMark.Dot:
                    svg.Circle(x + 11, cy, 5, item.Color);
                    break;
            }
            svg.Text(x + 28, cy + 4, item.Name, LegendSize);
        }
    }

    /// <summary>Throws a clear error when any value is NaN or infinite (a chart would silently lie otherwise).</summary>
    public static void RequireFinite(IReadOnlyList<double> values, string what)
    {
        for (int i = 0; i < values.Count; i++)
            if (!double.IsFinite(values[i]))
                throw new ArgumentException(
                    $"{what}[{i}] is {values[i]}; charts need finite numbers. Filter out NaN/infinite values (e.g. a diverged run's loss) before charting.");
    }
}
