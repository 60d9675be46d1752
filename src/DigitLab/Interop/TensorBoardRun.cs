// TensorBoardRun: one training run written to TensorBoard as it trains, fed by the trainer's progress reports and run log.
using System.Globalization;
using DigitLab.Data;
using DigitLab.Reports;
using DigitLab.Training;

using DigitLab.IO;
using DigitLab.Evaluation;

namespace DigitLab.Interop;

/// <summary>
/// Writes a <see cref="Trainer"/>'s run into one TensorBoard run folder (one event file per process; a resumed run adds
/// a file and continues the steps). Everything written comes from the run log, so the curves equal what
/// <c>digitlab train</c> prints and saves:
/// <list type="bullet">
/// <item><c>loss/train_batch</c>: the mean loss of each block of <see cref="RunLog.BatchLossInterval"/> batches, at step = batches trained;</item>
/// <item>per epoch, at step = epoch (1-based): <c>loss/train</c>, <c>accuracy/train</c>, <c>loss/validation</c>,
/// <c>accuracy/validation</c> (with a validation set), <c>learning_rate</c> (at the epoch's end), <c>epoch_seconds</c>;
/// and histograms <c>weights/NAME</c> and <c>gradients/NAME</c> of every parameter (the gradient of the epoch's last batch);</item>
/// <item>at the end, at step = the last epoch: <c>loss/test</c>, <c>accuracy/test</c> and the image <c>misclassified/test</c>
/// (up to <see cref="GridImages"/> misclassified test digits, the true class in green and the predicted in red beneath each);</item>
/// <item>the recipe as hyperparameters (the HParams plugin's session start and end), so TensorBoard's HParams tab
/// lists the runs of a sweep or comparison with their metrics.</item>
/// </list>
/// </summary>
/// <remarks>
/// Call <see cref="Report"/> from the trainer's progress callback and <see cref="Finish"/> after training.
/// </remarks>
public sealed class TensorBoardRun : IDisposable, IProgress<TrainingProgress>
{
    /// <summary>Misclassified test images in the grid, at most.</summary>
    public const int GridImages = 64;
    private const int GridColumns = 8;

    private readonly Trainer _trainer;
    private int _batchLossesWritten, _epochsWritten;

    public EventFileWriter Writer { get; }

    /// <summary>Opens an event file in <paramref name="runDirectory"/> and records the recipe as the run's hyperparameters.</summary>
    public TensorBoardRun(string runDirectory, Trainer trainer)
    {
        _trainer = trainer;
        _batchLossesWritten = trainer.Log.BatchLosses.Count; // a resumed run has written these before
        _epochsWritten = trainer.Log.Epochs.Count;
        Writer = new EventFileWriter(runDirectory);
        Writer.AddSessionStart(HParams(trainer.Log));
    }

    /// <summary>A run for <paramref name="trainer"/> in <paramref name="directory"/>, or null when no directory is given.</summary>
    public static TensorBoardRun? Open(string? directory, Trainer trainer) =>
        string.IsNullOrEmpty(directory) ? null : new TensorBoardRun(directory, trainer);

    /// <summary>
    /// The recipe as hyperparameters, named as the run log's JSON names them: numbers as numbers, booleans as booleans,
    /// choices by name ("onecycle"); fields without a value (no validation seed) are left out. Plus the model's name.
    /// </summary>
    public static Dictionary<string, object> HParams(RunLog log)
    {
        var values = new Dictionary<string, object>(StringComparer.Ordinal) { ["model"] = log.Model };
        if (log.Recipe is null) return values;
        foreach (var field in System.Text.Json.JsonSerializer.SerializeToElement(log.Recipe, DigitLabJson.Options).EnumerateObject())
        {
            switch (field.Value.ValueKind)
            {
                case System.Text.Json.JsonValueKind.Number: values[field.Name] = field.Value.GetDouble(); break;
                case System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False: values[field.Name] = field.Value.GetBoolean(); break;
                case System.Text.Json.JsonValueKind.String: values[field.Name] = field.Value.GetString()!; break;
            }
        }
        return values;
    }

    /// <summary>
    /// The trainer's per-batch progress: writes the batch losses and epoch records the run log has gained, and at an
    /// epoch's last batch the weight and gradient histograms (weights after its last step, that step's gradients).
    /// </summary>
    public void Report(TrainingProgress progress)
    {
        WriteNewRecords();
        if (progress.Batch == progress.Batches)
            foreach (var (name, parameter) in _trainer.Model.NamedParameters())
            {
                Writer.AddHistogram("weights/" + name, parameter.Value.ReadOnlySpan, progress.Epoch);
                Writer.AddHistogram("gradients/" + name, parameter.Grad.ReadOnlySpan, progress.Epoch);
            }
    }

    /// <summary>
    /// After training: the last epoch's records, the test figures and misclassified grid when <see cref="RunLog.Test"/>
    /// is set (with <paramref name="test"/> the images it was measured on), and the session's end (success when the run
    /// log is complete). Flushes.
    /// </summary>
    public void Finish(MnistDataset? test)
    {
        WriteNewRecords();
        var log = _trainer.Log;
        long step = log.Epochs.Count;
        if (log.Test is { } result)
        {
            Writer.AddScalar("loss/test", result.Loss, step);
            Writer.AddScalar("accuracy/test", result.Accuracy, step);
            if (test is not null && result.Misclassified.Count > 0)
            {
                var (png, width, height, shown) = MisclassifiedGrid(test, result.Misclassified);
                Writer.AddImage("misclassified/test", png, width, height, 3, step,
                    $"{shown} of {result.Misclassified.Count} misclassified test images (of {result.Count}); beneath each, the true class (green) and the prediction (red).");
            }
        }
        Writer.AddSessionEnd(log.Complete);
        Writer.Flush();
    }

    private void WriteNewRecords()
    {
        var log = _trainer.Log;
        for (; _batchLossesWritten < log.BatchLosses.Count; _batchLossesWritten++)
            Writer.AddScalar("loss/train_batch", log.BatchLosses[_batchLossesWritten], (long)(_batchLossesWritten + 1) * log.BatchLossInterval);
        for (; _epochsWritten < log.Epochs.Count; _epochsWritten++)
        {
            var e = log.Epochs[_epochsWritten];
            Writer.AddScalar("loss/train", e.TrainLoss, e.Epoch);
            Writer.AddScalar("accuracy/train", e.TrainAccuracy, e.Epoch);
            if (e.ValidationLoss is double vl) Writer.AddScalar("loss/validation", vl, e.Epoch);
            if (e.ValidationAccuracy is double va) Writer.AddScalar("accuracy/validation", va, e.Epoch);
            Writer.AddScalar("learning_rate", e.LearningRate, e.Epoch);
            Writer.AddScalar("epoch_seconds", e.Seconds, e.Epoch);
        }
    }

    /// <summary>
    /// The first <see cref="GridImages"/> misclassified images, <see cref="GridColumns"/> to a row, each 28×28 (ink white on
    /// black, as MNIST stores it) over a strip with the true class in green on the left and the predicted class in red on the right.
    /// </summary>
    internal static (byte[] Png, int Width, int Height, int Shown) MisclassifiedGrid(MnistDataset data, IReadOnlyList<Misclassified> wrong)
    {
        const int Cell = 28, Strip = DigitFont.GlyphHeight + 2, Gap = 2;
        int shown = Math.Min(GridImages, wrong.Count);
        int columns = Math.Min(GridColumns, shown), rows = (shown + columns - 1) / columns;
        int width = columns * (Cell + Gap) + Gap, height = rows * (Cell + Strip + Gap) + Gap;
        var rgb = new byte[width * height * 3];
        Array.Fill(rgb, (byte)64); // grey lines between cells
        for (int i = 0; i < shown; i++)
        {
            int left = Gap + i % columns * (Cell + Gap), top = Gap + i / columns * (Cell + Strip + Gap);
            var image = data.Image(wrong[i].Index);
            for (int y = 0; y < Cell; y++)
                for (int x = 0; x < Cell; x++)
                {
                    byte v = image[y * Cell + x];
                    Set(left + x, top + y, v, v, v);
                }
            for (int y = 0; y < Strip; y++)
                for (int x = 0; x < Cell; x++) Set(left + x, top + Cell + y, 0, 0, 0);
            Glyph(wrong[i].True, left + 4, top + Cell + 1, 0, 220, 0);
            Glyph(wrong[i].Predicted, left + Cell - 4 - DigitFont.GlyphWidth, top + Cell + 1, 255, 60, 60);
        }
        return (PngWriter.Encode(width, height, 3, rgb), width, height, shown);

        void Set(int x, int y, byte r, byte g, byte b)
        {
            int o = (y * width + x) * 3;
            (rgb[o], rgb[o + 1], rgb[o + 2]) = (r, g, b);
        }

        void Glyph(int digit, int x0, int y0, byte r, byte g, byte b)
        {
            for (int y = 0; y < DigitFont.GlyphHeight; y++)
                for (int x = 0; x < DigitFont.GlyphWidth; x++)
                    if (DigitFont.Ink(digit, x, y)) Set(x0 + x, y0 + y, r, g, b);
        }
    }

    public void Dispose() => Writer.Dispose();
}
