// CheckpointChecks: what Checkpoint.Load verifies beyond tensor names and shapes: finite weights and normalisation, a run log whose recipe parses, and a resume state that can be resumed.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Training;

/// <summary>
/// Checks a just-read checkpoint so that damage is reported at load time, naming the file and the field, instead of as a
/// KeyNotFoundException, an OverflowException or a NaN answer later (after training has started, or in a prediction).
/// </summary>
public static class CheckpointChecks
{
    /// <param name="bad">Wraps a finding into the message naming the file ("'x' is not a usable DigitLab checkpoint: ...").</param>
    public static void Validate(CheckpointInfo info, Module model, IReadOnlyDictionary<string, Tensor> optimizerState, Func<string, string> bad)
    {
        if (!float.IsFinite(info.NormalizationMean))
            throw new InvalidDataException(bad($"normalization mean is {info.NormalizationMean}, not a finite number"));
        if (!float.IsFinite(info.NormalizationStd))
            throw new InvalidDataException(bad($"normalization std is {info.NormalizationStd}, not a finite number"));
        FiniteCheck.Tensors(model.StateTensors(), bad);
        FiniteCheck.Tensors(optimizerState.Select(kv => (kv.Key, kv.Value)), s => bad("optimizer " + s));
        // The recipe itself was checked as it was read (a value that does not parse names its field then); a paused run
        // also needs one, and a position and generators that fit it.
        if (info.Resume is { } resume)
            Resume(resume, info.Log?.Recipe ?? throw new InvalidDataException(bad("it holds a paused run but no run log with a recipe")), bad);
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
