// ModelCharts: the SVG charts of the Models page, drawn on the server with the library's Reports charts.
using DigitLab.Reports;
using DigitLab.Training;
using DigitLab.Evaluation;

namespace DigitLab.Web.Services;

public static class ModelCharts
{
    /// <summary>Loss per epoch, training and (where recorded) validation; null when no epoch finished.</summary>
    public static string? Loss(RunLog log) => Curves(log, "loss", e => e.TrainLoss, e => e.ValidationLoss, null);

    /// <summary>Accuracy per epoch in percent, training and (where recorded) validation; null when no epoch finished.</summary>
    public static string? Accuracy(RunLog log) => Curves(log, "accuracy (%)", e => 100 * e.TrainAccuracy, e => e.ValidationAccuracy * 100, 100);

    private static string? Curves(RunLog log, string what, Func<EpochRecord, double> train, Func<EpochRecord, double?> validation, double? yMax)
    {
        if (log.Epochs.Count == 0) return null;
        var x = log.Epochs.Select(e => (double)e.Epoch).ToArray();
        var series = new List<Series> { new("training", x, log.Epochs.Select(train).ToArray()) };
        if (log.Epochs.All(e => validation(e) is not null))
            series.Add(new Series("validation", x, log.Epochs.Select(e => validation(e)!.Value).ToArray(), Dashed: true));
        return new LineChart
        {
            Title = $"{log.Model}: {what} per epoch", XLabel = "epoch", YLabel = what, Series = series, YMax = yMax,
            XTicks = x.Length <= 12 ? x : null, Width = 560, Height = 340,
        }.ToSvg();
    }

    /// <summary>The test confusion matrix (rows: true digit, columns: predicted); null when the model was not tested.</summary>
    public static string? Confusion(EvaluationResult? test)
    {
        if (test is null || test.Confusion.Length == 0) return null;
        var labels = Enumerable.Range(0, test.Confusion.Length).Select(d => d.ToString()).ToArray();
        return new Heatmap
        {
            Title = $"Test confusion matrix (accuracy {test.Accuracy:P2})", XLabel = "predicted", YLabel = "true digit",
            RowLabels = labels, ColumnLabels = labels, CellFormat = "N0", LogColor = true, ScaleLabel = "images", CellSize = 34,
            Values = test.Confusion.Select(row => (IReadOnlyList<double>)row.Select(v => (double)v).ToArray()).ToArray(),
        }.ToSvg();
    }
}
