// Sweep: the studies' grids (learning rate, batch size, training-set size per model), one file per finished trial.
using System.Globalization;
using System.Text.Json;
using DigitLab.Training;
using DigitLab.IO;


namespace DigitLab.Experiments;

/// <summary>
/// One cell of a sweep grid. <see cref="TrainSize"/> null means the full training set (less the
/// <see cref="ValidationCount"/> images held out); <see cref="Dataset"/> is "mnist" or "fashion".
/// </summary>
public sealed record SweepTrial(string Model, double LearningRate, int BatchSize, int? TrainSize, int Epochs, ulong Seed,
    string Optimizer = "adam", int ValidationCount = SweepTrial.DefaultValidationCount, string Dataset = SweepTrial.DefaultDataset)
{
    public const int DefaultValidationCount = 5000;
    public const string DefaultDataset = "mnist";

    /// <summary>
    /// A file-safe key naming every setting, e.g. "lenet5_adam_lr0.01_bs64_nall_e10_s1"; a validation count or
    /// dataset other than the defaults adds "_v1000" or "_fashion", so a sweep rerun with them never takes
    /// another recipe's results as its own (and the default keys stay those of earlier sweeps).
    /// </summary>
    public string Key => string.Create(CultureInfo.InvariantCulture,
        $"{Sanitize(Model)}_{Sanitize(Optimizer)}_lr{LearningRate:R}_bs{BatchSize}_n{(TrainSize?.ToString(CultureInfo.InvariantCulture) ?? "all")}_e{Epochs}_s{Seed}")
        + (ValidationCount == DefaultValidationCount ? "" : string.Create(CultureInfo.InvariantCulture, $"_v{ValidationCount}"))
        + (Dataset == DefaultDataset ? "" : "_" + Sanitize(Dataset));

    private static string Sanitize(string s) => new(s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '-').ToArray());
}

/// <summary>A finished trial as saved on disk: its settings and the run's log.</summary>
public sealed class SweepTrialResult
{
    public SweepTrial Trial { get; set; } = new("", 0, 0, null, 0, 0);
    public RunLog Run { get; set; } = new();
}

/// <summary>The cross product of the values to try.</summary>
public sealed record SweepPlan(
    IReadOnlyList<string> Models,
    IReadOnlyList<double> LearningRates,
    IReadOnlyList<int> BatchSizes,
    IReadOnlyList<int?> TrainSizes,
    int Epochs,
    ulong Seed,
    string Optimizer = "adam",
    int ValidationCount = SweepTrial.DefaultValidationCount,
    string Dataset = SweepTrial.DefaultDataset)
{
    public IEnumerable<SweepTrial> Trials()
    {
        foreach (var model in Models)
            foreach (var lr in LearningRates)
                foreach (var bs in BatchSizes)
                    foreach (var n in TrainSizes)
                        yield return new SweepTrial(model, lr, bs, n, Epochs, Seed, Optimizer, ValidationCount, Dataset);
    }
}

/// <summary>Runs a sweep so that an interrupted one resumes: every finished trial is its own file and is not run again.</summary>
public static class SweepRunner
{
    public static string TrialPath(string directory, SweepTrial trial) => Path.Combine(directory, $"trial-{trial.Key}.json");

    /// <summary>The saved result of <paramref name="trial"/>, or null when it has not finished (no file, or an unreadable one).</summary>
    public static SweepTrialResult? TryLoad(string directory, SweepTrial trial)
    {
        string path = TrialPath(directory, trial);
        if (!File.Exists(path)) return null;
        try
        {
            var result = JsonSerializer.Deserialize<SweepTrialResult>(File.ReadAllText(path), DigitLabJson.Options);
            return result is not null && result.Trial == trial ? result : null;
        }
        catch (JsonException)
        {
            return null; // a damaged file counts as unfinished; the trial runs again and overwrites it
        }
    }

    /// <summary>
    /// Runs each trial of <paramref name="trials"/> that has no saved result, saving each as soon as it finishes.
    /// <paramref name="runTrial"/> returns the trial's log, or null when it was cancelled part-way (nothing is saved then).
    /// <paramref name="onTrial"/> hears (trial, skipped) before each trial.
    /// </summary>
    public static List<SweepTrialResult> Run(IEnumerable<SweepTrial> trials, string directory,
        Func<SweepTrial, CancellationToken, RunLog?> runTrial, Action<SweepTrial, bool>? onTrial = null,
        CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(directory);
        var results = new List<SweepTrialResult>();
        foreach (var trial in trials)
        {
            var saved = TryLoad(directory, trial);
            onTrial?.Invoke(trial, saved is not null);
            if (saved is not null) { results.Add(saved); continue; }
            if (cancellationToken.IsCancellationRequested) break;
            var log = runTrial(trial, cancellationToken);
            if (log is null || cancellationToken.IsCancellationRequested) break;
            var result = new SweepTrialResult { Trial = trial, Run = log };
            AtomicFile.WriteAllText(TrialPath(directory, trial), JsonSerializer.Serialize(result, DigitLabJson.Options));
            results.Add(result);
        }
        return results;
    }
}
