// ModelCli: options and helpers shared by the model commands (train, compare, evaluate, predict, summary).
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Training;
using Spectre.Console;

namespace DigitLab.Cli.Commands;

/// <summary>The training-recipe options, each with its default shown in --help, and their conversion to <see cref="TrainerOptions"/>.</summary>
internal sealed class RecipeOptions
{
    private static readonly TrainerOptions D = new();

    public Option<string> Optimizer { get; } = new("--optimizer") { Description = "Optimizer: adam or sgd", DefaultValueFactory = _ => D.Optimizer };
    public Option<double> LearningRate { get; } = new("--lr") { Description = "Learning rate (the peak rate for --schedule onecycle)", DefaultValueFactory = _ => D.LearningRate };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Images per batch", DefaultValueFactory = _ => D.BatchSize };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Passes over the training set", DefaultValueFactory = _ => D.Epochs };
    public Option<string> Schedule { get; } = new("--schedule") { Description = "Learning-rate schedule: none, step, cosine or onecycle (per batch)", DefaultValueFactory = _ => D.Schedule };
    public Option<double> StepGamma { get; } = new("--step-gamma") { Description = "--schedule step: multiply the rate by this", DefaultValueFactory = _ => D.StepGamma };
    public Option<int> StepEpochs { get; } = new("--step-epochs") { Description = "--schedule step: every this many epochs", DefaultValueFactory = _ => D.StepEpochs };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "L2 weight decay", DefaultValueFactory = _ => D.WeightDecay };
    public Option<double> Momentum { get; } = new("--momentum") { Description = "SGD momentum (sgd only)", DefaultValueFactory = _ => D.Momentum };
    public Option<string> Dropout { get; } = new("--dropout") { Description = "Dropout on or off, for models that have it (cnn-dropout, net3)", DefaultValueFactory = _ => "on" };
    public Option<string> Augment { get; } = new("--augment") { Description = "Training augmentation: none, affine, elastic or affine+elastic", DefaultValueFactory = _ => D.Augmentation };
    public Option<double> LabelSmoothing { get; } = new("--label-smoothing") { Description = "Label smoothing in [0, 1)", DefaultValueFactory = _ => D.LabelSmoothing };
    public Option<int> Validation { get; } = new("--validation") { Description = "Training images held out for validation (stratified); 0 for none", DefaultValueFactory = _ => D.ValidationCount };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed for initialisation, shuffling, augmentation and dropout", DefaultValueFactory = _ => D.Seed };
    public Option<int> Threads { get; } = new("--threads") { Description = "Kernel threads; 0 = all cores", DefaultValueFactory = _ => D.Threads };
    public Option<string> Normalization { get; } = new("--normalization") { Description = "Pixel normalisation: mnist (0.1307/0.3081) or half (0.5/0.5)", DefaultValueFactory = _ => D.Normalization };
    public Option<double> ClipNorm { get; } = new("--clip-norm") { Description = "Clip the gradient norm to this; 0 = off", DefaultValueFactory = _ => D.ClipNorm };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Optimizer, LearningRate, BatchSize, Epochs, Schedule, StepGamma, StepEpochs, WeightDecay, Momentum,
                     Dropout, Augment, LabelSmoothing, Validation, Seed, Threads, Normalization, ClipNorm })
            command.Options.Add(o);
    }

    /// <summary>The recipe from the command line; options not given take <paramref name="model"/>'s own defaults (<see cref="TrainerOptions.ForModel"/>).</summary>
    public TrainerOptions Read(ParseResult r, string model, bool modelDefaults = true)
    {
        var m = modelDefaults ? TrainerOptions.ForModel(model) : new TrainerOptions { Model = model.Trim().ToLowerInvariant() };
        T Get<T>(Option<T> option, T modelDefault) => r.GetResult(option) is { Implicit: false } ? r.GetValue(option)! : modelDefault;
        string dropout = Get(Dropout, m.Dropout ? "on" : "off").Trim().ToLowerInvariant();
        if (dropout is not ("on" or "off")) throw new ArgumentException($"--dropout takes on or off, found '{dropout}'.");
        var options = m with
        {
            Optimizer = Get(Optimizer, m.Optimizer).Trim().ToLowerInvariant(),
            LearningRate = Get(LearningRate, m.LearningRate),
            BatchSize = Get(BatchSize, m.BatchSize),
            Epochs = Get(Epochs, m.Epochs),
            Schedule = Get(Schedule, m.Schedule).Trim().ToLowerInvariant(),
            StepGamma = Get(StepGamma, m.StepGamma),
            StepEpochs = Get(StepEpochs, m.StepEpochs),
            WeightDecay = Get(WeightDecay, m.WeightDecay),
            Momentum = Get(Momentum, m.Momentum),
            Dropout = dropout == "on",
            Augmentation = Get(Augment, m.Augmentation).Trim().ToLowerInvariant(),
            LabelSmoothing = Get(LabelSmoothing, m.LabelSmoothing),
            ValidationCount = Get(Validation, m.ValidationCount),
            Seed = Get(Seed, m.Seed),
            Threads = Get(Threads, m.Threads),
            Normalization = Get(Normalization, m.Normalization).Trim().ToLowerInvariant(),
            ClipNorm = Get(ClipNorm, m.ClipNorm),
        };
        options.Validate();
        AugmentationOptions.Parse(options.Augmentation); // throws a message naming the known ones
        Data.Normalization.Parse(options.Normalization);
        return options;
    }
}

/// <summary>Where the data comes from: --data-dir and --dataset (the data commands' own options, from <see cref="CliCommon"/>).</summary>
internal sealed class DataOptions
{
    public Option<string> DataDir { get; } = CliCommon.DataDirOption();
    public Option<string> Dataset { get; } = CliCommon.DatasetOption();

    public void AddTo(Command command)
    {
        command.Options.Add(DataDir);
        command.Options.Add(Dataset);
    }

    public DatasetKind Kind(ParseResult r) => CliCommon.Kind(r, Dataset);

    /// <summary>Both sets of <paramref name="kind"/>, fetched into the data folder when missing (progress on the console unless quiet).</summary>
    public (MnistDataset Train, MnistDataset Test) Load(ParseResult r, DatasetKind kind, bool quiet)
    {
        var loaded = CliCommon.LoadDataAsync(r.GetValue(DataDir), kind, quiet, CancellationToken.None).GetAwaiter().GetResult();
        return (loaded.Train, loaded.Test);
    }
}

internal static class ModelCli
{
    public static Option<bool> JsonOption() => new("--json") { Description = "Print machine-readable JSON instead of tables" };

    public static readonly JsonSerializerOptions Json = RunLog.JsonOptions;

    public static string Percent(double fraction, int decimals = 2) => (fraction * 100).ToString("F" + decimals, CultureInfo.InvariantCulture) + "%";

    public static string F(double value, string format = "F4") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>Runs a command body, turning the errors people cause (bad option, missing or damaged file, no data) into a message and exit code 1.</summary>
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException
                                       or DatasetUnavailableException or IOException or FormatException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>The per-class metrics as a Spectre table.</summary>
    public static Table MetricsTable(EvaluationResult r)
    {
        var t = new Table().Border(TableBorder.Rounded).Title("Per-class metrics");
        foreach (var h in new[] { "Class", "Precision", "Recall", "F1", "Support" }) t.AddColumn(new TableColumn(h).RightAligned());
        foreach (var m in r.PerClass) t.AddRow(m.Class.ToString(CultureInfo.InvariantCulture), F(m.Precision), F(m.Recall), F(m.F1), m.Support.ToString("N0", CultureInfo.InvariantCulture));
        t.AddEmptyRow();
        t.AddRow("macro", F(r.Macro.Precision), F(r.Macro.Recall), F(r.Macro.F1), r.Count.ToString("N0", CultureInfo.InvariantCulture));
        t.AddRow("weighted", F(r.Weighted.Precision), F(r.Weighted.Recall), F(r.Weighted.F1), r.Count.ToString("N0", CultureInfo.InvariantCulture));
        t.AddRow("micro", F(r.Micro.Precision), F(r.Micro.Recall), F(r.Micro.F1), r.Count.ToString("N0", CultureInfo.InvariantCulture));
        return t;
    }

    /// <summary>The confusion matrix (rows true, columns predicted) with the diagonal highlighted.</summary>
    public static Table ConfusionTable(EvaluationResult r)
    {
        var t = new Table().Border(TableBorder.Simple).Title("Confusion matrix (rows: true digit, columns: predicted)");
        t.AddColumn(new TableColumn("").RightAligned());
        for (int j = 0; j < r.Confusion.Length; j++) t.AddColumn(new TableColumn(j.ToString(CultureInfo.InvariantCulture)).RightAligned());
        for (int i = 0; i < r.Confusion.Length; i++)
        {
            var cells = new List<string> { $"[bold]{i}[/]" };
            for (int j = 0; j < r.Confusion[i].Length; j++)
            {
                int v = r.Confusion[i][j];
                cells.Add(i == j ? $"[green]{v}[/]" : v == 0 ? "[grey]0[/]" : $"[red]{v}[/]");
            }
            t.AddRow(cells.ToArray());
        }
        return t;
    }

    /// <summary>A default output path: runs/&lt;model&gt;-&lt;UTC timestamp&gt;.safetensors.</summary>
    public static string DefaultCheckpointPath(string model) =>
        Path.Combine("runs", $"{model}-{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}.safetensors");

    /// <summary>The RunLog JSON path beside a checkpoint.</summary>
    public static string RunLogPath(string checkpointPath) => Path.ChangeExtension(checkpointPath, ".json");
}

/// <summary>An <see cref="IProgress{T}"/> that calls back synchronously on the reporting thread (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
