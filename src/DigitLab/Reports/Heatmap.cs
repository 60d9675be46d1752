// Heatmap: a matrix of coloured cells with the numbers written in them and a colour scale bar (confusion matrices).
using System.Globalization;

namespace DigitLab.Reports;

/// <summary>
/// A heatmap on the sequential "Blues" scale. Cell text is dark on light cells and white on dark ones.
/// Rows run top to bottom, columns left to right (a confusion matrix: rows = true, columns = predicted).
/// </summary>
public sealed class Heatmap
{
    public string? Title { get; init; }
    public string? XLabel { get; init; }
    public string? YLabel { get; init; }
    public IReadOnlyList<string> RowLabels { get; init; } = [];
    public IReadOnlyList<string> ColumnLabels { get; init; } = [];
    /// <summary>Values[row][column].</summary>
    public IReadOnlyList<IReadOnlyList<double>> Values { get; init; } = [];
    /// <summary>Format of the numbers in cells ("N0" for counts, "F2" for probabilities); null hides them.</summary>
    public string? CellFormat { get; init; } = "G3";
    /// <summary>Colour scale limits; default the data's min and max.</summary>
    public double? ColorMin { get; init; }
    public double? ColorMax { get; init; }
    public string? ScaleLabel { get; init; }
    public double CellSize { get; init; } = 38;
    /// <summary>
    /// Colour by log(1 + value) so small counts stay visible beside a large diagonal (confusion counts);
    /// the scale bar is labelled in the original values.
    /// </summary>
    public bool LogColor { get; init; }

    /// <exception cref="ArgumentException">An empty or ragged matrix, labels of the wrong count, or a NaN/infinite value.</exception>
    public string ToSvg()
    {
        int rows = Values.Count;
        if (rows == 0 || Values[0].Count == 0) throw new ArgumentException($"Heatmap '{Title}' has no cells.");
        int cols = Values[0].Count;
        for (int r = 0; r < rows; r++)
        {
            if (Values[r].Count != cols)
                throw new ArgumentException($"Heatmap '{Title}' row {r} has {Values[r].Count} values, row 0 has {cols}; rows must be equally long.");
            ChartFrame.RequireFinite(Values[r], $"Heatmap '{Title}' row {r}");
        }
        if (RowLabels.Count != 0 && RowLabels.Count != rows) throw new ArgumentException($"Heatmap '{Title}': {RowLabels.Count} row labels for {rows} rows.");
        if (ColumnLabels.Count != 0 && ColumnLabels.Count != cols) throw new ArgumentException($"Heatmap '{Title}': {ColumnLabels.Count} column labels for {cols} columns.");

        double lo = ColorMin ?? Values.Min(r => r.Min()), hi = ColorMax ?? Values.Max(r => r.Max());
        if (hi <= lo) hi = lo + 1; // all equal: every cell gets the light end of the scale

        if (LogColor && lo < 0) throw new ArgumentException($"Heatmap '{Title}' uses a log colour scale but has a negative value ({lo}).");
        double Norm(double v) => LogColor ? Math.Log10(1 + v - lo) / Math.Log10(1 + hi - lo) : (v - lo) / (hi - lo);
        double rowLabelWidth = RowLabels.Count == 0 ? 0 : RowLabels.Max(l => SvgDocument.TextWidth(l, ChartFrame.TickSize)) + 10;
        double left = 30 + rowLabelWidth, top = (string.IsNullOrEmpty(Title) ? 12 : 40) + (ColumnLabels.Count == 0 ? 0 : 20);
        double cs = CellSize, gridW = cols * cs, gridH = rows * cs;
        double barX = left + gridW + 22, barW = 14;
        var barScale = Scale.Linear(lo, hi, top + gridH, top, 5, exact: true);
        if (LogColor)
        {
            var ticks = new List<double> { lo };
            for (double t = 1; t <= hi - lo; t *= 10) ticks.Add(lo + t);
            barScale = barScale.WithTicks(ticks);
        }
        double barLabelWidth = barScale.Ticks.Max(t => SvgDocument.TextWidth(barScale.Format(t), ChartFrame.TickSize));
        double width = barX + barW + 10 + barLabelWidth + (string.IsNullOrEmpty(ScaleLabel) ? 8 : 28);
        double height = top + gridH + (string.IsNullOrEmpty(XLabel) ? 12 : 40);

        var svg = new SvgDocument(Math.Max(width, SvgDocument.TextWidth(Title ?? "", ChartFrame.TitleSize) + 20), height);
        ChartFrame.Title(svg, Title, left + gridW / 2);
        double fontSize = Math.Clamp(cs * 0.3, 8, 13);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                double v = Values[r][c];
                var rgb = Palette.Blues(Norm(v));
                double x = left + c * cs, yy = top + r * cs;
                string rowName = RowLabels.Count > 0 ? RowLabels[r] : r.ToString(CultureInfo.InvariantCulture);
                string colName = ColumnLabels.Count > 0 ? ColumnLabels[c] : c.ToString(CultureInfo.InvariantCulture);
                string text = CellFormat is null ? v.ToString("G4", CultureInfo.InvariantCulture) : v.ToString(CellFormat, CultureInfo.InvariantCulture);
                svg.Rect(x, yy, cs, cs, Palette.Hex(rgb), "#ffffff", 1, tooltip: $"{YLabel ?? "row"} {rowName}, {XLabel ?? "column"} {colName}: {text}");
                if (CellFormat is not null)
                    svg.Text(x + cs / 2, yy + cs / 2 + fontSize * 0.36, text, fontSize, "middle",
                        Palette.Luminance(rgb) <= 0.4 ? "#ffffff" : v == 0 ? "#aaaaaa" : Palette.Text); // zeros recede
            }
            if (RowLabels.Count > 0) svg.Text(left - 6, top + r * cs + cs / 2 + 4, RowLabels[r], ChartFrame.TickSize, "end", Palette.Axis);
        }
        for (int c = 0; c < ColumnLabels.Count; c++)
            svg.Text(left + c * cs + cs / 2, top - 7, ColumnLabels[c], ChartFrame.TickSize, "middle", Palette.Axis);
        if (!string.IsNullOrEmpty(XLabel)) svg.Text(left + gridW / 2, top + gridH + 26, XLabel, ChartFrame.LabelSize, "middle");
        if (!string.IsNullOrEmpty(YLabel)) svg.Text(14, top + gridH / 2, YLabel, ChartFrame.LabelSize, "middle", rotate: -90);

        // Colour scale bar: a vertical gradient from the light (low) to the dark (high) end.
        string gradId = SvgDocument.NextId("grad");
        svg.Raw($"<defs><linearGradient id=\"{gradId}\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
        for (int i = 0; i <= 8; i++)
            svg.Raw($"<stop offset=\"{SvgDocument.N(i / 8.0)}\" stop-color=\"{Palette.Hex(Palette.Blues(i / 8.0))}\"/>");
        svg.Raw("</linearGradient></defs>");
        svg.Rect(barX, top, barW, gridH, $"url(#{gradId})", Palette.Axis, 0.5);
        foreach (double t in barScale.Ticks)
        {
            double py = top + gridH - Norm(t) * gridH;
            svg.Line(barX + barW, py, barX + barW + 4, py, Palette.Axis);
            svg.Text(barX + barW + 7, py + 4, barScale.Format(t), ChartFrame.TickSize, "start", Palette.Axis);
        }
        if (!string.IsNullOrEmpty(ScaleLabel))
            svg.Text(barX + barW + 14 + barLabelWidth + 8, top + gridH / 2, ScaleLabel, ChartFrame.LabelSize - 1, "middle", rotate: 90);
        return svg.ToSvg(Title);
    }
}
