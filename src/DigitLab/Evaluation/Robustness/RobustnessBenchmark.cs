// RobustnessBenchmark: a model's error on the clean test set, on each MNIST-C corruption and along each severity sweep, with MNIST-C's summary figures.
using DigitLab.Data;

namespace DigitLab.Evaluation;

/// <summary>A model's error on one corrupted set.</summary>
/// <param name="Error">Fraction of the images misclassified.</param>
/// <param name="Relative">Error divided by the clean error (how many times the clean error; MNIST-C's relative error).</param>
public sealed record CorruptionError(string Corruption, double Error, double Relative);

/// <summary>Error at each level of a severity sweep.</summary>
public sealed record SweepResult(string Name, string Knob, IReadOnlyList<double> Levels, IReadOnlyList<double> Errors);

/// <summary>A few corrupted images with the model's answers, for the report's example grid.</summary>
public sealed record CorruptionExample(string Corruption, int Index, int Label, int Predicted, byte[] Pixels);

/// <summary>One model's robustness figures.</summary>
/// <param name="CleanError">Error on the uncorrupted images.</param>
/// <param name="MeanCorruptionError">Mean of the 15 corruption errors (MNIST-C's headline figure).</param>
/// <param name="RelativeMeanError">Mean corruption error divided by the clean error.</param>
public sealed record RobustnessResult(string Model, string Checkpoint, int Images, double CleanError, IReadOnlyList<CorruptionError> Corruptions,
    double MeanCorruptionError, double RelativeMeanError, IReadOnlyList<SweepResult> Sweeps, IReadOnlyList<CorruptionExample> Examples);

/// <summary>
/// The corrupted test sets, built once (seeded) and shared by every model measured. Corruptions follow MNIST-C
/// (<see cref="Corruptions.All"/>); sweeps are <see cref="SeveritySweeps.All"/>.
/// </summary>
public sealed class RobustnessBenchmark
{
    /// <summary>Images per corruption shown in the report's example grid.</summary>
    public const int ExamplesPerCorruption = 6;

    private readonly Dictionary<string, MnistDataset> _sets = new();

    public MnistDataset Clean { get; }
    public ulong Seed { get; }
    public bool IncludeSweeps { get; }

    public RobustnessBenchmark(MnistDataset clean, ulong seed, bool includeSweeps = true)
    {
        Clean = clean;
        Seed = seed;
        IncludeSweeps = includeSweeps;
    }

    /// <summary>The corrupted copy of the clean set (built on first use, then cached).</summary>
    public MnistDataset Set(Corruption corruption)
    {
        lock (_sets)
        {
            if (!_sets.TryGetValue(corruption.Name, out var set))
                _sets[corruption.Name] = set = CorruptedSet.Apply(corruption, Clean, Seed);
            return set;
        }
    }

    /// <summary>Measures one model: clean error, the 15 corruptions, the sweeps (if included) and example answers.</summary>
    public RobustnessResult Measure(ModelRunner runner, string model, string checkpoint, IProgress<string>? progress = null)
    {
        double clean = runner.Evaluate(Clean).Misclassified.Count / (double)Clean.Count;
        var errors = new List<CorruptionError>();
        var examples = new List<CorruptionExample>();
        foreach (var c in Corruptions.All)
        {
            progress?.Report($"{model}: {c.Name}");
            var set = Set(c);
            double e = runner.Evaluate(set).Misclassified.Count / (double)set.Count;
            errors.Add(new CorruptionError(c.Name, e, Relative(e, clean)));
            var shown = Enumerable.Range(0, Math.Min(ExamplesPerCorruption, set.Count)).Select(i => set.Image(i).ToArray()).ToList();
            var answers = runner.ProbabilitiesBatch(shown);
            for (int i = 0; i < shown.Count; i++)
                examples.Add(new CorruptionExample(c.Name, i, set.Labels[i], Metrics.ArgMax(answers[i]), shown[i]));
        }
        var sweeps = new List<SweepResult>();
        if (IncludeSweeps)
            foreach (var sweep in SeveritySweeps.All)
            {
                progress?.Report($"{model}: sweep {sweep.Name}");
                var errs = sweep.Levels.Select(level =>
                {
                    var set = Set(sweep.At(level));
                    return runner.Evaluate(set).Misclassified.Count / (double)set.Count;
                }).ToList();
                sweeps.Add(new SweepResult(sweep.Name, sweep.Knob, sweep.Levels, errs));
            }
        double mean = errors.Average(e => e.Error);
        return new RobustnessResult(model, checkpoint, Clean.Count, clean, errors, mean, Relative(mean, clean), sweeps, examples);
    }

    /// <summary>error / clean error; infinity when the clean error is 0 and the corrupted one is not, 1 when both are 0.</summary>
    public static double Relative(double error, double clean) =>
        clean > 0 ? error / clean : error > 0 ? double.PositiveInfinity : 1;
}
