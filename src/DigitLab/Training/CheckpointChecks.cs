// CheckpointChecks: what Checkpoint.Load verifies beyond tensor names and shapes: finite weights and normalisation, a run log whose recipe parses, and a resume state that can be resumed.
using System.Globalization;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Training;

/// <summary>
/// Checks a just-read checkpoint so that damage is reported at load time, naming the file and the field, instead of as a
/// KeyNotFoundException, an OverflowException or a NaN answer later (after training has started, or in a prediction).
/// </summary>
public static class CheckpointChecks
{
    private static readonly string[] IntKeys = ["batch_size", "epochs", "step_epochs", "validation", "threads", "batch_loss_interval"];
    private static readonly string[] DoubleKeys = ["lr", "step_gamma", "weight_decay", "momentum", "label_smoothing", "clip_norm"];
    private static readonly string[] WholeKeys = ["seed", "validation_split_seed"];

    /// <param name="bad">Wraps a finding into the message naming the file ("'x' is not a usable DigitLab checkpoint: ...").</param>
    public static void Validate(CheckpointInfo info, Module model, IReadOnlyDictionary<string, Tensor> optimizerState, Func<string, string> bad)
    {
        if (!float.IsFinite(info.NormalizationMean))
            throw new InvalidDataException(bad($"normalization mean is {info.NormalizationMean}, not a finite number"));
        if (!float.IsFinite(info.NormalizationStd))
            throw new InvalidDataException(bad($"normalization std is {info.NormalizationStd}, not a finite number"));
        FiniteCheck.Tensors(model.StateTensors(), bad);
        FiniteCheck.Tensors(optimizerState.Select(kv => (kv.Key, kv.Value)), s => bad("optimizer " + s));
        if (info.Log is { } log)
        {
            var options = Recipe(log.Config, bad);
            if (info.Resume is { } resume) Resume(resume, options, bad);
        }
    }

    /// <summary>The run log's recipe, each stored value checked first so a bad one is named (TrainerOptions.FromConfig would throw without saying which).</summary>
    public static TrainerOptions Recipe(IReadOnlyDictionary<string, string> config, Func<string, string> bad)
    {
        var ci = CultureInfo.InvariantCulture;
        foreach (var key in IntKeys)
            if (config.TryGetValue(key, out var v) && !int.TryParse(v, NumberStyles.Integer, ci, out _))
                throw new InvalidDataException(bad($"run log field config.{key} is \"{v}\", expected a whole number from {int.MinValue} to {int.MaxValue}"));
        foreach (var key in DoubleKeys)
            if (config.TryGetValue(key, out var v) && !(double.TryParse(v, NumberStyles.Float, ci, out double d) && double.IsFinite(d)))
                throw new InvalidDataException(bad($"run log field config.{key} is \"{v}\", expected a finite number"));
        foreach (var key in WholeKeys)
            if (config.TryGetValue(key, out var v) && !ulong.TryParse(v, NumberStyles.None, ci, out _))
                throw new InvalidDataException(bad($"run log field config.{key} is \"{v}\", expected a whole number from 0 to {ulong.MaxValue}"));
        return TrainerOptions.FromConfig(config);
    }

    /// <summary>A paused run's position and generators, checked against its recipe.</summary>
    public static void Resume(ResumeState s, TrainerOptions options, Func<string, string> bad)
    {
        try { options.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException(bad($"the run log's recipe cannot be resumed: {e.Message}")); }
        foreach (var name in new[] { "shuffle", "augment" })
        {
            if (!s.Rngs.TryGetValue(name, out var words))
                throw new InvalidDataException(bad($"resume field Rngs.{name} is missing (the data order cannot be restored)"));
            Checkpoint.ParseState(words, name, what => bad($"resume field Rngs.{name}: {what}"));
        }
        void Range(string field, double value, double min, double max)
        {
            if (!(value >= min && value <= max))
                throw new InvalidDataException(bad($"resume field {field} is {value}, expected {min} to {max}"));
        }
        Range(nameof(s.CompletedEpochs), s.CompletedEpochs, 0, options.Epochs);
        Range(nameof(s.CompletedBatches), s.CompletedBatches, 0, int.MaxValue);
        Range(nameof(s.OptimizerStep), s.OptimizerStep, 0, long.MaxValue);
        Range(nameof(s.BatcherEpoch), s.BatcherEpoch, 0, int.MaxValue);
        Range(nameof(s.BatcherPosition), s.BatcherPosition, 0, int.MaxValue);
        Range(nameof(s.EpochSeen), s.EpochSeen, 0, long.MaxValue);
        Range(nameof(s.EpochCorrect), s.EpochCorrect, 0, s.EpochSeen);
        Range(nameof(s.BlockCount), s.BlockCount, 0, int.MaxValue);
        Range(nameof(s.EpochLossSum), s.EpochLossSum, 0, double.MaxValue);
        Range(nameof(s.EpochSeconds), s.EpochSeconds, 0, double.MaxValue);
        Range(nameof(s.BlockLossSum), s.BlockLossSum, 0, double.MaxValue);
    }
}
