// RobustnessReport: the report section of `digitlab robustness`: table, heatmap model × corruption, error-against-severity charts and corrupted examples with the models' answers.
using DigitLab.Reports;
using DigitLab.IO;

namespace DigitLab.Evaluation;

public static class RobustnessReport
{
    /// <summary>Adds a "Robustness" section to <paramref name="report"/> for one or more measured models.</summary>
    public static void AddTo(HtmlReport report, IReadOnlyList<RobustnessResult> results, ulong seed)
    {
        if (results.Count == 0) throw new ArgumentException("The robustness section needs at least one measured model.");
        var section = report.Section("robustness", "Robustness (MNIST-C corruptions)");
        section.Paragraph($"{results[0].Images:N0} test images, each corruption applied with seed {seed} (one random stream per image). " +
                          "Mean corruption error = the mean of the 15 corruption errors; relative = error / clean error.");
        var names = Corruptions.All.Select(c => c.Name).ToList();
        var table = new ReportTable("robustness", "Test error (%) per corruption",
            [new ReportColumn("model"), new ReportColumn("clean", ColumnFormat.Percent), .. names.Select(n => new ReportColumn(n, ColumnFormat.Percent)),
             new ReportColumn("mean corruption error", ColumnFormat.Percent), new ReportColumn("relative", ColumnFormat.Fixed3)]);
        foreach (var r in results)
            table.Add([r.Model, r.CleanError, .. r.Corruptions.Select(c => (object?)c.Error), r.MeanCorruptionError, Finite(r.RelativeMeanError)]);
        section.Table(table);

        section.Figure("robustness-heatmap", new Heatmap
        {
            Title = "Test error (%) by model and corruption",
            XLabel = "corruption", YLabel = "model",
            RowLabels = results.Select(r => r.Model).ToList(),
            ColumnLabels = ["clean", .. names, "mean"],
            Values = results.Select(r => (IReadOnlyList<double>)[r.CleanError * 100, .. r.Corruptions.Select(c => c.Error * 100), r.MeanCorruptionError * 100]).ToList(),
            CellFormat = "F1", ScaleLabel = "error %", ColorMin = 0,
        }.ToSvg());

        if (results.Any(r => r.Sweeps.Count > 0))
        {
            section.BeginRow();
            foreach (var sweep in results.First(r => r.Sweeps.Count > 0).Sweeps)
            {
                var series = results.Where(r => r.Sweeps.Count > 0)
                    .Select(r => r.Sweeps.First(s => s.Name == sweep.Name))
                    .Zip(results.Where(r => r.Sweeps.Count > 0), (s, r) => new Series(r.Model, s.Levels, s.Errors.Select(e => e * 100).ToList()))
                    .ToList();
                section.Figure($"robustness-sweep-{sweep.Name}", new LineChart
                {
                    Title = $"Error against {sweep.Name}", XLabel = sweep.Knob, YLabel = "test error (%)", Series = series, YMin = 0, Width = 480, Height = 300,
                }.ToSvg());
            }
            section.EndRow();
        }

        Func<byte[], int, int, byte[]> png = (pixels, w, h) => PngWriter.Encode(w, h, 1, pixels);
        foreach (var r in results)
        {
            var grid = new ImageGrid
            {
                Title = $"{r.Model}: corrupted test images, label → answer",
                Images = r.Examples.Select(e => new GridImage(e.Pixels, $"{e.Label}→{e.Predicted}{(e.Label == e.Predicted ? "" : " ✗")}", $"{e.Corruption} #{e.Index}")).ToList(),
                Columns = RobustnessBenchmark.ExamplesPerCorruption,
                RowLabels = names,
                PngEncoder = png,
            };
            section.Figure($"robustness-examples-{Slug(r.Model)}", grid.ToSvg());
        }
    }

    private static object? Finite(double v) => double.IsFinite(v) ? v : null;

    private static string Slug(string s) => new(s.Select(ch => char.IsLetterOrDigit(ch) ? char.ToLowerInvariant(ch) : '-').ToArray());
}
