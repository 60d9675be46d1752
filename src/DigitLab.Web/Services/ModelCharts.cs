// ModelCharts: the SVG charts the Models page shows, drawn on the server.
using System.Globalization;
using System.Text;
using DigitLab.Training;

namespace DigitLab.Web.Services;

public static class ModelCharts
{
    /// <summary>Loss and accuracy per epoch (training, and validation where recorded); null when no epoch finished.</summary>
    public static string? LearningCurves(RunLog log)
    {
        if (log.Epochs.Count == 0) return null;
        var x = log.Epochs.Select(e => (double)e.Epoch).ToArray();
        var series = new List<(string, double[], string)>
        {
            ("train loss", log.Epochs.Select(e => e.TrainLoss).ToArray(), "#1f77b4"),
        };
        if (log.Epochs.All(e => e.ValidationLoss is not null))
            series.Add(("validation loss", log.Epochs.Select(e => e.ValidationLoss!.Value).ToArray(), "#ff7f0e"));
        return Lines($"{log.Model}: loss per epoch", x, series);
    }

    /// <summary>The test confusion matrix (rows: true digit, columns: predicted); null when not tested.</summary>
    public static string? Confusion(EvaluationResult? test)
    {
        if (test is null || test.Confusion.Length != 10) return null;
        const int cell = 34, left = 60, top = 50;
        int max = Math.Max(1, test.Confusion.SelectMany(r => r).Max());
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {left + 10 * cell + 20} {top + 10 * cell + 20}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + 5 * cell}\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">Confusion matrix, test accuracy {test.Accuracy:P2}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + 5 * cell}\" y=\"38\" text-anchor=\"middle\">predicted</text>");
        for (int r = 0; r < 10; r++)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 8}\" y=\"{top + r * cell + cell / 2 + 4}\" text-anchor=\"end\">{r}</text>");
            for (int c = 0; c < 10; c++)
            {
                int n = test.Confusion[r][c];
                double t = Math.Sqrt(n / (double)max);
                int shade = (int)Math.Round(255 - 200 * t);
                string fill = $"rgb({shade},{Math.Min(255, shade + 20)},255)";
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left + c * cell}\" y=\"{top + r * cell}\" width=\"{cell}\" height=\"{cell}\" fill=\"{fill}\" stroke=\"#fff\"/>");
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + c * cell + cell / 2}\" y=\"{top + r * cell + cell / 2 + 4}\" text-anchor=\"middle\" fill=\"{(t > 0.6 ? "#fff" : "#222")}\">{n}</text>");
            }
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static string Lines(string title, double[] x, List<(string Name, double[] Y, string Color)> series)
    {
        const double width = 560, height = 300, left = 56, right = 20, top = 36, bottom = 40;
        double xMin = x.Min(), xMax = Math.Max(x.Max(), xMin + 1);
        double yMax = series.SelectMany(s => s.Y).Where(double.IsFinite).DefaultIfEmpty(1).Max() * 1.05, yMin = 0;
        double Px(double v) => left + (v - xMin) / (xMax - xMin) * (width - left - right);
        double Py(double v) => height - bottom - (v - yMin) / (yMax - yMin) * (height - top - bottom);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{width / 2}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{System.Net.WebUtility.HtmlEncode(title)}</text>");
        for (int i = 0; i <= 4; i++)
        {
            double v = yMin + (yMax - yMin) * i / 4;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{Py(v):F1}\" y2=\"{Py(v):F1}\" stroke=\"#ddd\"/><text x=\"{left - 6}\" y=\"{Py(v) + 4:F1}\" text-anchor=\"end\">{v:G3}</text>");
        }
        foreach (var xv in x)
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Px(xv):F1}\" y=\"{height - bottom + 16}\" text-anchor=\"middle\">{xv:G4}</text>");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{(left + width - right) / 2}\" y=\"{height - 6}\" text-anchor=\"middle\">epoch</text>");
        int legend = 0;
        foreach (var (name, y, color) in series)
        {
            var points = string.Join(' ', x.Select((xv, i) => string.Create(CultureInfo.InvariantCulture, $"{Px(xv):F1},{Py(y[i]):F1}")));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{points}\"/>");
            foreach (var (xv, i) in x.Select((xv, i) => (xv, i)))
                svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Px(xv):F1}\" cy=\"{Py(y[i]):F1}\" r=\"3\" fill=\"{color}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{width - right - 130}\" y=\"{top + legend * 16}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{width - right - 115}\" y=\"{top + legend * 16 + 9}\">{name}</text>");
            legend++;
        }
        svg.Append("</svg>");
        return svg.ToString();
    }
}
