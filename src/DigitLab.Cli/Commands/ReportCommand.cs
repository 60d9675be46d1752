// ReportCommand: `digitlab report` turns the runs that compare and sweep wrote into one self-contained HTML report plus files.
using System.CommandLine;
using System.Globalization;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Reports;
using Spectre.Console;

using DigitLab.Runtime;

namespace DigitLab.Cli.Commands;

internal static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Option<string[]>("--runs")
        {
            Description = "Folder(s) with run logs and checkpoints (from `digitlab compare --out DIR`) and/or sweep trials (from `digitlab sweep --out DIR`)",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string?>("--out") { Description = "Folder for index.html, figures/ and data/ (default: <first runs folder>/report)" };
        var tsnePoints = new Option<string>("--tsne-points") { Description = "Sizes of the t-SNE maps of test images, comma-separated; 0 for none", DefaultValueFactory = _ => "1000,10000" };
        var tsneIterations = new Option<int>("--tsne-iterations") { Description = "t-SNE gradient steps", DefaultValueFactory = _ => 1000 };
        var noFeatures = new Option<bool>("--no-feature-maps") { Description = "Map only raw pixels, not each model's penultimate-layer features" };
        var seed = new Option<ulong>("--seed") { Description = "Seed for the t-SNE subsets and initialisation", DefaultValueFactory = _ => 1UL };
        var title = new Option<string>("--title") { Description = "Report title", DefaultValueFactory = _ => "DigitLab report" };
        var data = new DataOptions(folders: true);

        var command = new Command("report", "Write an HTML report (learning curves, confusion matrices, per-class F1, misclassified gallery, t-SNE maps, sweeps, dataset) with every figure as SVG/PNG and every number as CSV/JSON")
        {
            runs, output, tsnePoints, tsneIterations, noFeatures, seed, title,
        };
        data.AddTo(command);
        command.SetAction(r => ModelCli.Run(() =>
        {
            using var compute = new ComputeContext();
            var dirs = r.GetValue(runs)!;
            var points = ParseList(r.GetValue(tsnePoints)!, "--tsne-points", int.Parse).Where(p => p != 0).ToList();
            if (points.FirstOrDefault(p => p < 10) is int bad and not 0)
                throw new ArgumentException($"--tsne-points: each map needs at least 10 points (or 0 for none), found {bad}.");
            var options = new ReportOptions
            {
                RunDirectories = dirs,
                OutputDirectory = r.GetValue(output) ?? Path.Combine(dirs[0], "report"),
                TsnePoints = points,
                TsneIterations = r.GetValue(tsneIterations),
                TsneFeatures = !r.GetValue(noFeatures),
                Seed = r.GetValue(seed),
                Title = r.GetValue(title)!,
            };
            if (options.TsneIterations < 1) throw new ArgumentException($"--tsne-iterations must be at least 1, found {options.TsneIterations}.");

            MnistDataset? train = null, test = null;
            try
            {
                // A folder without test/ shows its images in the gallery and maps in place of a test set (no accuracy is computed from them here).
                var (loadedTrain, loadedTest) = data.Load(r, data.Source(r), quiet: false);
                (train, test) = (loadedTrain, loadedTest ?? loadedTrain);
            }
            catch (DatasetUnavailableException e)
            {
                AnsiConsole.MarkupLine($"[yellow]No dataset ({Markup.Escape(e.Message)}); the report leaves out the gallery, t-SNE maps and dataset page.[/]");
            }

            var models = new Dictionary<string, Module?>();
            Module? ModelOf(RunEntry run)
            {
                if (models.TryGetValue(run.Name, out var cached)) return cached;
                Module? model = null;
                try
                {
                    model = ModelFeatures.LoadModel(run.SourcePath is null ? null : ModelFeatures.CheckpointFor(run.SourcePath));
                }
                catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException)
                {
                    AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(run.Name)}: checkpoint not usable ({Markup.Escape(e.Message)})[/]");
                }
                models[run.Name] = model;
                return model;
            }
            IReadOnlyList<SummaryRow>? Summarise(RunEntry run)
            {
                var model = ModelOf(run) ?? (ModelZoo.Exists(run.Log.Model) ? ModelZoo.Create(run.Log.Model, 0) : null);
                return model is null ? null : ModelFeatures.Summary(model);
            }
            (float[], int)? Features(RunEntry run, float[] pixels, int count)
            {
                var model = ModelOf(run);
                if (model is null || ModelFeatures.PenultimateChain(model) is null) return null;
                return ModelFeatures.Penultimate(model, pixels, count, compute);
            }

            var (index, files, report) = ReportPipeline.Run(options, compute, train, test, Summarise, Features,
                line => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]"));
            AnsiConsole.MarkupLine($"Report: [bold]{Markup.Escape(index)}[/] ({report.Runs.Count} runs, {report.Sweep.Count} sweep trials, {report.TsneMaps.Count} t-SNE maps; {files.Count} files)");
            return 0;
        }));
        return command;
    }

    /// <summary>Parses "a,b,c" with <paramref name="parse"/>, naming the option and the bad item on failure.</summary>
    internal static List<T> ParseList<T>(string text, string option, Func<string, IFormatProvider, T> parse)
    {
        var items = new List<T>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try { items.Add(parse(part, CultureInfo.InvariantCulture)); }
            catch (FormatException) { throw new ArgumentException($"{option}: '{part}' is not a valid value; give a comma-separated list such as {option} 1000,10000."); }
        }
        return items;
    }
}
