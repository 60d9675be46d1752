// SweepTable: a sweep's results as the studies' table, one row per trial.
using DigitLab.Experiments;

namespace DigitLab.Reports;

public static class SweepTable
{
    /// <summary>The studies' table: one row per trial with its settings and final train / validation / test accuracy.</summary>
    public static ReportTable Create(IEnumerable<SweepTrialResult> results, string id = "sweep")
    {
        var table = new ReportTable(id, "Sweep results (accuracy after the last epoch)",
            new("model"), new("lr", ColumnFormat.Scientific), new("batch size", ColumnFormat.Integer), new("train size", ColumnFormat.Integer),
            new("epochs", ColumnFormat.Integer), new("train acc", ColumnFormat.Percent), new("val acc", ColumnFormat.Percent),
            new("test acc", ColumnFormat.Percent), new("test loss", ColumnFormat.Fixed4), new("time", ColumnFormat.Seconds));
        foreach (var r in results.OrderBy(r => r.Trial.Model, StringComparer.Ordinal).ThenBy(r => r.Trial.TrainSize ?? int.MaxValue)
                     .ThenBy(r => r.Trial.BatchSize).ThenByDescending(r => r.Trial.LearningRate))
        {
            var last = r.Run.Epochs.LastOrDefault();
            table.Add(r.Trial.Model, r.Trial.LearningRate, r.Trial.BatchSize, (object?)r.Trial.TrainSize ?? "all", r.Trial.Epochs,
                last?.TrainAccuracy, last?.ValidationAccuracy, r.Run.Test?.Accuracy, r.Run.Test?.Loss, r.Run.TrainSeconds);
        }
        return table;
    }
}
