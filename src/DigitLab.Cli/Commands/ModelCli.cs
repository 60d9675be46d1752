// ModelCli: options and helpers shared by the model commands (train, compare, evaluate, predict, summary).
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Training;
using Spectre.Console;
using DigitLab.Evaluation;
using DigitLab.IO;

using DigitLab.Runtime;

namespace DigitLab.Cli.Commands;

/// <summary>The training-recipe options, each with its default shown in --help, and their conversion to <see cref="TrainerOptions"/>.</summary>
internal sealed class RecipeOptions
{
    private static readonly TrainerOptions D = new();

    public Option<string> Optimizer { get; } = new("--optimizer") { Description = "Optimizer: adam or sgd", DefaultValueFactory = _ => RecipeChoices.Name(D.Optimizer) };
    public Option<double> LearningRate { get; } = new("--lr") { Description = "Learning rate (the peak rate for --schedule onecycle)", DefaultValueFactory = _ => D.LearningRate };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Images per batch", DefaultValueFactory = _ => D.BatchSize };
    public Option<int> Epochs { get; } = new("--epochs") { Description = "Passes over the training set", DefaultValueFactory = _ => D.Epochs };
    public Option<string> Schedule { get; } = new("--schedule") { Description = "Learning-rate schedule: none, step, cosine or onecycle (per batch)", DefaultValueFactory = _ => RecipeChoices.Name(D.Schedule) };
    public Option<double> StepGamma { get; } = new("--step-gamma") { Description = "--schedule step: multiply the rate by this", DefaultValueFactory = _ => D.StepGamma };
    public Option<int> StepEpochs { get; } = new("--step-epochs") { Description = "--schedule step: every this many epochs", DefaultValueFactory = _ => D.StepEpochs };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "L2 weight decay", DefaultValueFactory = _ => D.WeightDecay };
    public Option<double> Momentum { get; } = new("--momentum") { Description = "SGD momentum (sgd only)", DefaultValueFactory = _ => D.Momentum };
    public Option<string> Dropout { get; } = new("--dropout") { Description = "Dropout on or off, for models that have it (cnn-dropout, net3)", DefaultValueFactory = _ => "on" };
    public Option<string> Augment { get; } = new("--augment") { Description = "Training augmentation: none, affine, elastic, affine+elastic or robust (affine plus, on half the images, noise, speckles, blur, uneven lighting, clutter strokes or stroke width)", DefaultValueFactory = _ => RecipeChoices.Name(D.Augmentation) };
    public Option<double?> Perturb { get; } = new("--perturb") { Description = "--augment robust: the share of images perturbed, in [0, 1] (default 0.5)" };
    public Option<double> LabelSmoothing { get; } = new("--label-smoothing") { Description = "Label smoothing in [0, 1)", DefaultValueFactory = _ => D.LabelSmoothing };
    public Option<int> Validation { get; } = new("--validation") { Description = "Training images held out for validation (stratified); 0 for none", DefaultValueFactory = _ => D.ValidationCount };
    public Option<ulong> Seed { get; } = new("--seed") { Description = "Seed for initialisation, shuffling, augmentation and dropout", DefaultValueFactory = _ => D.Seed };
    public Option<ulong?> ValidationSeed { get; } = new("--validation-seed") { Description = "Seed of the validation split (default: --seed; an --ensemble's members all hold out the first seed's split)" };
    public Option<int> Threads { get; } = new("--threads") { Description = "Kernel threads; 0 = all cores", DefaultValueFactory = _ => D.Threads };
    public Option<string> Normalization { get; } = new("--normalization") { Description = "Pixel normalisation: mnist (0.1307/0.3081) or half (0.5/0.5)", DefaultValueFactory = _ => RecipeChoices.Name(D.Normalization) };
    public Option<double> ClipNorm { get; } = new("--clip-norm") { Description = "Clip the gradient norm to this; 0 = off", DefaultValueFactory = _ => D.ClipNorm };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Optimizer, LearningRate, BatchSize, Epochs, Schedule, StepGamma, StepEpochs, WeightDecay, Momentum,
                     Dropout, Augment, Perturb, LabelSmoothing, Validation, Seed, ValidationSeed, Threads, Normalization, ClipNorm })
            command.Options.Add(o);
    }

    /// <summary>
    /// The recipe from the command line; options not given take <paramref name="model"/>'s own defaults (<see cref="TrainerOptions.ForModel"/>).
    /// Every value is checked here, before any data is loaded, and a bad one is reported under the option's own name.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range or names something unknown; the message names the option.</exception>
    public TrainerOptions Read(ParseResult r, string model, bool modelDefaults = true, string modelOption = "--model")
    {
        string name = model.Trim().ToLowerInvariant();
        if (!ModelZoo.Exists(name))
            throw new ArgumentException($"{modelOption} '{model}' is not a known model; use one of {string.Join(", ", ModelZoo.Names)}.");
        var m = modelDefaults ? TrainerOptions.ForModel(name) : new TrainerOptions { Model = name };
        T Get<T>(Option<T> option, T modelDefault) => r.GetResult(option) is { Implicit: false } ? r.GetValue(option)! : modelDefault;
        T Choice<T>(Option<string> option, T modelDefault) where T : struct, Enum =>
            r.GetResult(option) is { Implicit: false } ? RecipeChoices.Parse<T>(r.GetValue(option), option.Name) : modelDefault;
        bool OnOff(Option<string> option, bool modelDefault)
        {
            if (r.GetResult(option) is not { Implicit: false }) return modelDefault;
            string value = (r.GetValue(option) ?? "").Trim().ToLowerInvariant();
            return value switch
            {
                "on" => true,
                "off" => false,
                _ => throw new ArgumentException($"{option.Name} must be one of on, off, found '{value}'."),
            };
        }
        int AtLeast(Option<int> option, int modelDefault, int min, string? note = null)
        {
            int value = Get(option, modelDefault);
            if (value < min) throw new ArgumentException($"{option.Name} must be at least {min}{note}, found {value}.");
            return value;
        }
        double Range(Option<double> option, double modelDefault, string rule, Func<double, bool> ok)
        {
            double value = Get(option, modelDefault);
            if (!double.IsFinite(value) || !ok(value))
                throw new ArgumentException($"{option.Name} must be {rule}, found {value.ToString(CultureInfo.InvariantCulture)}.");
            return value;
        }

        int Threads_(int value) => value >= 0 && value <= ComputeContext.MaxThreads ? value
            : throw new ArgumentException($"{Threads.Name} must be 0 (all cores) or 1..{ComputeContext.MaxThreads} (4 per core on this machine's {Environment.ProcessorCount}: more only adds switching), found {value}.");

        var options = m with
        {
            Optimizer = Choice(Optimizer, m.Optimizer),
            LearningRate = Range(LearningRate, m.LearningRate, "a positive number (e.g. 0.001)", v => v > 0),
            BatchSize = AtLeast(BatchSize, m.BatchSize, 1),
            Epochs = AtLeast(Epochs, m.Epochs, 1),
            Schedule = Choice(Schedule, m.Schedule),
            StepGamma = Range(StepGamma, m.StepGamma, "a positive number", v => v > 0),
            StepEpochs = AtLeast(StepEpochs, m.StepEpochs, 1),
            WeightDecay = Range(WeightDecay, m.WeightDecay, ">= 0", v => v >= 0),
            Momentum = Range(Momentum, m.Momentum, "in [0, 1)", v => v is >= 0 and < 1),
            Dropout = OnOff(Dropout, m.Dropout),
            Augmentation = Choice(Augment, m.Augmentation),
            PerturbationProbability = r.GetValue(Perturb) is { } p ? (p is >= 0 and <= 1 ? p : throw new ArgumentException($"--perturb must be in [0, 1] (the share of images perturbed), found {p}.")) : m.PerturbationProbability,
            LabelSmoothing = Range(LabelSmoothing, m.LabelSmoothing, "in [0, 1)", v => v is >= 0 and < 1),
            ValidationCount = AtLeast(Validation, m.ValidationCount, 0, " (0 = no validation set)"),
            Seed = Get(Seed, m.Seed),
            ValidationSeed = Get(ValidationSeed, m.ValidationSeed),
            Threads = Threads_(Get(Threads, m.Threads)),
            Normalization = Choice(Normalization, m.Normalization),
            ClipNorm = Range(ClipNorm, m.ClipNorm, ">= 0 (0 = off)", v => v >= 0),
        };
        options.Validate(); // everything is checked above under the option's name; this only guards the record's own rules
        return options;
    }

    /// <summary>--validation against the loaded training set, whose size is known only once it is loaded (before any training).</summary>
    public static void CheckValidation(TrainerOptions options, MnistDataset trainAll)
    {
        if (options.ValidationCount >= trainAll.Count)
            throw new ArgumentException($"--validation must be less than the {trainAll.Count:N0} training images of {trainAll.Name}, found {options.ValidationCount}.");
    }
}

/// <summary>Where the data comes from: --data-dir and --dataset (the data commands' own options, from <see cref="CliCommon"/>).</summary>
/// <param name="folders">Whether --dataset accepts folder:PATH (train, evaluate, compare, sweep, report).</param>
internal sealed class DataOptions(bool folders = false)
{
    public Option<string> DataDir { get; } = CliCommon.DataDirOption();
    public Option<string> Dataset { get; } = CliCommon.DatasetOption(folders);

    public void AddTo(Command command)
    {
        command.Options.Add(DataDir);
        command.Options.Add(Dataset);
    }

    public DatasetKind Kind(ParseResult r) => CliCommon.Kind(r, Dataset);

    /// <summary>The --dataset value as a source (mnist, fashion or folder:PATH).</summary>
    public DatasetSource Source(ParseResult r) => DatasetSource.Parse(r.GetValue(Dataset) ?? "mnist");

    /// <summary>
    /// Both sets of <paramref name="source"/>: MNIST or Fashion as <see cref="Load(ParseResult, DatasetKind, bool)"/>; an image
    /// folder's train and test parts (Test null when it has no test/), skipped files reported on stderr.
    /// </summary>
    public (MnistDataset Train, MnistDataset? Test) Load(ParseResult r, DatasetSource source, bool quiet)
    {
        if (!source.IsFolder) return Load(r, source.IdxKind, quiet);
        var data = CliCommon.LoadFolder(r.GetValue(DataDir), source, quiet);
        LoadedFolder = data;
        return (data.Train, data.Test);
    }

    /// <summary>The image folder the last <see cref="Load(ParseResult, DatasetSource, bool)"/> read (its file paths, in dataset order); null for MNIST or Fashion.</summary>
    public ImageFolderData? LoadedFolder { get; private set; }

    /// <summary>
    /// What training tests on: the test set, or, for an image folder without test/, the validation split (held out from
    /// training, and never used to choose anything), so the figure is still on unseen images.
    /// </summary>
    /// <exception cref="ArgumentException">A folder without test/ and --validation 0: nothing is held out.</exception>
    public static MnistDataset HeldOut(MnistDataset? test, MnistDataset? validation, DatasetSource source)
    {
        if (test is not null) return test;
        if (validation is not null)
        {
            Console.Error.WriteLine($"{source} has no test/ folder: the test figures are on the {validation.Count:N0} validation images held out from training.");
            return validation;
        }
        throw new ArgumentException($"{source} has no test/ folder and --validation is 0, so no image is held out to test on: " +
                                    "give --validation N, or put test images in PATH/test/0 … PATH/test/9 (and training ones in PATH/train/…).");
    }

    /// <summary>Both sets of <paramref name="kind"/>, fetched into the data folder when missing (progress on the console unless quiet).</summary>
    public (MnistDataset Train, MnistDataset Test) Load(ParseResult r, DatasetKind kind, bool quiet)
    {
        var loaded = CliCommon.LoadDataAsync(r.GetValue(DataDir), kind, quiet, CancellationToken.None).GetAwaiter().GetResult();
        return (loaded.Train, loaded.Test);
    }
}

internal static class ModelCli
{
    public static string Percent(double fraction, int decimals = 2) => (fraction * 100).ToString("F" + decimals, CultureInfo.InvariantCulture) + "%";

    public static string F(double value, string format = "F4") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>
    /// Runs a synchronous command body through <see cref="CliCommon.RunAsync"/>, the one error handler every command shares:
    /// the errors people cause (bad option, missing or damaged file, no data) become "error: ..." and exit code 1.
    /// </summary>
    public static int Run(Func<int> body) => CliCommon.RunAsync(() => Task.FromResult(body())).GetAwaiter().GetResult();

    /// <summary>
    /// Loads the checkpoint that <paramref name="argument"/> (CHECKPOINT, --resume) names. A missing path is reported under
    /// that name; a damaged file keeps <see cref="Checkpoint.Load"/>'s message, which names the file and what is wrong.
    /// </summary>
    public static LoadedCheckpoint LoadCheckpoint(string path, string argument)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ArgumentException($"{argument} needs a checkpoint path (a .safetensors file written by `digitlab train`).");
        if (!File.Exists(path))
            throw new FileNotFoundException($"{argument} '{path}' does not exist{(Directory.Exists(path) ? " as a file (it is a folder)" : "")}. Give a .safetensors file written by `digitlab train`.", path);
        return Checkpoint.Load(path);
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
