// TrialExecution: runs one sweep trial or ensemble member on this machine, exactly as the single-process commands do.
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Reports;
using DigitLab.Training;
using DigitLab.IO;
using DigitLab.Experiments;

namespace DigitLab.Cluster;

/// <summary>An ensemble member's recipe (<see cref="TrainerOptions.ToConfig"/>'s strings) and its dataset.</summary>
public sealed record MemberSpec(TrainerOptions Recipe, string Dataset);

/// <summary>The training and test sets of a dataset ("mnist", "fashion") on this machine.</summary>
public interface ITrialData
{
    (MnistDataset Train, MnistDataset Test) Get(string dataset);
}

/// <summary>
/// Reads each dataset once through the <see cref="DatasetStore"/>, which fetches it when missing and verifies every
/// file's SHA-256: each worker checks its own copy, no shared filesystem is assumed.
/// </summary>
public sealed class StoreTrialData(string? dataDir) : ITrialData
{
    private readonly Dictionary<string, (MnistDataset, MnistDataset)> _loaded = [];
    private readonly Lock _gate = new();

    public (MnistDataset Train, MnistDataset Test) Get(string dataset)
    {
        lock (_gate)
        {
            if (_loaded.TryGetValue(dataset, out var sets)) return sets;
            if (!Enum.TryParse<DatasetKind>(dataset, ignoreCase: true, out var kind))
                throw new ArgumentException($"Unknown dataset '{dataset}': this worker knows {string.Join(", ", Enum.GetNames<DatasetKind>()).ToLowerInvariant()}.");
            var store = new DatasetStore(dataDir, kind);
            store.Ensure();
            sets = (store.ReadTrain(), store.ReadTest());
            _loaded[dataset] = sets;
            return sets;
        }
    }
}

/// <summary>Datasets already in memory (the embedded silo shares the submitter's).</summary>
public sealed class LoadedTrialData(string dataset, MnistDataset train, MnistDataset test, ITrialData? fallback = null) : ITrialData
{
    public (MnistDataset Train, MnistDataset Test) Get(string name) =>
        name == dataset ? (train, test) : (fallback ?? throw new ArgumentException($"Only the '{dataset}' dataset is loaded here, not '{name}'.")).Get(name);
}

/// <summary>What a finished trial brings back.</summary>
public sealed record TrialOutput(RunLog Log, byte[]? Checkpoint);

public static class TrialExecution
{
    /// <summary>
    /// The one place that decides a trial's kernel threads: the sweep's own count, else the worker's cores shared among
    /// its slots. Each trainer holds its own compute context, so trials with different counts can run side by side.
    /// </summary>
    public static int EffectiveThreads(int requested, int slots) => requested > 0 ? requested : Math.Max(1, Environment.ProcessorCount / Math.Max(1, slots));

    /// <summary>The sweep's recipe for <paramref name="t"/> (the fields a sweep varies; the rest are the defaults).</summary>
    public static TrainerOptions Recipe(SweepTrial t, int threads) => new()
    {
        Model = t.Model, LearningRate = t.LearningRate, BatchSize = t.BatchSize, Epochs = t.Epochs, Seed = t.Seed,
        Optimizer = RecipeChoices.Parse<OptimizerKind>(t.Optimizer, "the trial's optimizer"), ValidationCount = t.ValidationCount, Threads = threads,
    };

    /// <summary>
    /// Trains and tests <paramref name="trial"/> as `digitlab sweep` always has: the validation split drawn with the
    /// trial's seed, a stratified subset of what remains when <see cref="SweepTrial.TrainSize"/> is set.
    /// Returns null when cancelled part-way.
    /// </summary>
    public static TrialOutput? RunSweepTrial(SweepTrial trial, int threads, ITrialData data, bool wantCheckpoint, CancellationToken ct, string? tensorboard = null)
    {
        var (trainAll, test) = data.Get(trial.Dataset);
        var (train, validation) = trial.ValidationCount > 0 ? Split.Stratified(trainAll, trial.ValidationCount, trial.Seed) : (trainAll, null);
        if (trial.TrainSize is int size && size > train.Count)
            throw new ArgumentException($"train size {size:N0} is more than the {train.Count:N0} training images left after holding out {trial.ValidationCount:N0} for validation; use sizes up to that.");
        var subset = trial.TrainSize is int n && n < train.Count ? Split.Stratified(train, train.Count - n, trial.Seed).Train : train;
        var trainer = Trainer.Create(Recipe(trial, threads));
        trainer.Log.Dataset = trial.Dataset;
        using var board = Interop.TensorBoardRun.Open(tensorboard, trainer);
        var log = trainer.Train(subset, validation, board, ct);
        if (!log.Complete) { board?.Finish(null); return null; }
        trainer.Test(test);
        board?.Finish(test);
        return new TrialOutput(log, wantCheckpoint ? CheckpointBytes(trainer) : null);
    }

    /// <summary>Trains one ensemble member as `digitlab train --ensemble` does (common validation split, plain test evaluation).</summary>
    public static TrialOutput? RunMember(MemberSpec spec, int threads, ITrialData data, CancellationToken ct)
    {
        var options = spec.Recipe with { Threads = threads };
        var (trainAll, test) = data.Get(spec.Dataset);
        var (train, validation) = options.ValidationCount > 0 ? Split.Stratified(trainAll, options.ValidationCount, options.SplitSeed) : (trainAll, null);
        var trainer = Trainer.Create(options);
        trainer.Log.Dataset = spec.Dataset;
        var log = trainer.Train(train, validation, null, ct);
        if (!log.Complete) return null;
        trainer.Test(test, collectMisclassified: false);
        return new TrialOutput(log, CheckpointBytes(trainer));
    }

    /// <summary>Runs <paramref name="job"/> and returns what goes back to the submitter.</summary>
    public static TrialOutput? Run(TrialJob job, int threads, ITrialData data, CancellationToken ct) => job.Kind switch
    {
        TrialKind.SweepTrial => RunSweepTrial(JsonSerializer.Deserialize<SweepTrial>(job.Spec, DigitLabJson.Options)!, threads, data, job.WantCheckpoint, ct, job.TensorBoard),
        TrialKind.EnsembleMember => RunMember(JsonSerializer.Deserialize<MemberSpec>(job.Spec, DigitLabJson.Options)!, threads, data, ct),
        _ => throw new ArgumentException($"Unknown job kind {job.Kind}."),
    };

    private static byte[] CheckpointBytes(Trainer trainer)
    {
        // The checkpoint writer works on files; a private temporary one keeps the bytes identical to a local save.
        string path = Path.Combine(Path.GetTempPath(), $"digitlab-trial-{Guid.NewGuid():N}.safetensors");
        try
        {
            trainer.SaveCheckpoint(path);
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }
}
