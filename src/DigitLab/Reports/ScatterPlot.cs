// ScatterPlot: points coloured by class (ten digits → tab10), legend at the right; used for t-SNE maps.
namespace DigitLab.Reports;

/// <summary>
/// A scatter plot of points with an integer class each. Axes are drawn without ticks when
/// <see cref="ShowAxes"/> is false (t-SNE coordinates have no units).
/// </summary>
public sealed class ScatterPlot
{
    public string? Title { get; init; }
    public string? XLabel { get; init; }
    public string? YLabel { get; init; }
    public IReadOnlyList<double> X { get; init; } = [];
    public IReadOnlyList<double> Y { get; init; } = [];
    /// <summary>Class of each point, 0..ClassNames.Count-1.</summary>
    public IReadOnlyList<int> Classes { get; init; } = [];
    public IReadOnlyList<string> ClassNames { get; init; } = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    public bool ShowAxes { get; init; } = true;
    /// <summary>Point radius; default shrinks with the number of points.</summary>
    public double? PointRadius { get; init; }
    public double Width { get; init; } = 560;
    public double Height { get; init; } = 500;

    /// <exception cref="ArgumentException">Mismatched lengths, no points, a class out of range, or a NaN/infinite coordinate.</exception>
    public string ToSvg()
    {
        int n = X.Count;
        if (n == 0) throw new ArgumentException($"Scatter plot '{Title}' has no points.");
        if (Y.Count != n || Classes.Count != n)
            throw new ArgumentException($"Scatter plot '{Title}': {n} x, {Y.Count} y and {Classes.Count} classes; give one of each per point.");
        ChartFrame.RequireFinite(X, $"Scatter '{Title}' x");
        ChartFrame.RequireFinite(Y, $"Scatter '{Title}' y");
        for (int i = 0; i < n; i++)
            if ((uint)Classes[i] >= (uint)ClassNames.Count)
                throw new ArgumentException($"Scatter '{Title}' point {i} has class {Classes[i]}; expected 0..{ClassNames.Count - 1}.");

        double legendWidth = ChartFrame.LegendWidth(ClassNames);
        double left = ShowAxes ? 64 : 16, right = Width - 14 - legendWidth, top = string.IsNullOrEmpty(Title) ? 14 : 40;
        double bottom = Height - (ShowAxes ? 50 : 16);
        var x = Scale.Linear(X.Min(), X.Max(), left, right, 6, exact: !ShowAxes);
        var y = Scale.Linear(Y.Min(), Y.Max(), bottom, top, 6, exact: !ShowAxes);
        if (!ShowAxes)
        {
            // Pad by 3% so the outermost points are not cut by the frame.
            double px = (x.Max - x.Min) * 0.03, py = (y.Max - y.Min) * 0.03;
            x = Scale.Linear(x.Min - px, x.Max + px, left, right, 6, exact: true);
            y = Scale.Linear(y.Min - py, y.Max + py, bottom, top, 6, exact: true);
        }

        var svg = new SvgDocument(Width, Height);
        ChartFrame.Title(svg, Title, (left + right) / 2);
        if (ShowAxes)
        {
            ChartFrame.YAxis(svg, y, left, right, YLabel);
            ChartFrame.XAxis(svg, x, top, bottom, XLabel);
        }
        else svg.Rect(left, top, right - left, bottom - top, "none", Palette.Grid);

        double r = PointRadius ?? (n <= 300 ? 3.5 : n <= 2000 ? 2.4 : 1.5);
        double opacity = n <= 2000 ? 0.8 : 0.6;
        // One <g> per class keeps the file small (fill given once) and lets a browser toggle a class.
        for (int cls = 0; cls < ClassNames.Count; cls++)
        {
            svg.Raw($"<g fill=\"{Palette.Series(cls)}\" fill-opacity=\"{SvgDocument.N(opacity)}\" data-class=\"{SvgDocument.Escape(ClassNames[cls])}\">");
            for (int i = 0; i < n; i++)
                if (Classes[i] == cls)
                    svg.Raw($"<circle cx=\"{SvgDocument.N(x.Map(X[i]))}\" cy=\"{SvgDocument.N(y.Map(Y[i]))}\" r=\"{SvgDocument.N(r)}\"/>");
            svg.Raw("</g>");
        }
        ChartFrame.Legend(svg, ClassNames.Select((c, i) => new LegendItem(c, Palette.Series(i), LegendMark.Dot)).ToList(), right + 14, top);
        return svg.ToSvg(Title);
    }
}
