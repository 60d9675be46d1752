// RobustnessCommand: `digitlab robustness CHECKPOINT...` measures each model on the 15 MNIST-C corruptions and the severity sweeps, prints the table or JSON, and optionally writes the report section and the corrupted image folder.
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Reports;
using Spectre.Console;

using DigitLab.Runtime;
using DigitLab.IO;

namespace DigitLab.Cli.Commands;

internal static class RobustnessCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string[]>("CHECKPOINT") { Description = "One or more .safetensors checkpoints written by digitlab train", Arity = ArgumentArity.OneOrMore };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the corruptions (one random stream per image and corruption)", DefaultValueFactory = _ => 1 };
        var limit = new Option<int>("--limit") { Description = "Use only the first N images of the split (0 = all: 10,000 test images)", DefaultValueFactory = _ => 0 };
        var sweeps = new Option<bool>("--sweeps") { Description = "Also run the severity sweeps (noise, rotation, blur, thickness, resolution, inversion)", DefaultValueFactory = _ => true };
        var outDir = new Option<string?>("--out") { Description = "Write the corrupted test set as an image folder: DIR/<corruption>/<label>/<index>.png" };
        var report = new Option<string?>("--report") { Description = "Write an HTML report (table, heatmap, severity charts, examples) into this folder" };
        var split = new Option<string>("--split")
        {
            Description = "test, or validation: the checkpoints' own validation split (rebuilt from the seed and size they trained with), " +
                          "to choose a recipe with corruptions of another --seed without looking at the test set",
            DefaultValueFactory = _ => "test",
        };
        split.AcceptOnlyFromAmong("test", "validation");
        var data = new DataOptions();
        var json = CliCommon.JsonOption();
        var command = new Command("robustness", "Test error under the 15 MNIST-C corruptions (Mu & Gilmer 2019) and severity sweeps: clean error, error per corruption, mean corruption error, error relative to clean");
        command.Arguments.Add(checkpoint);
        foreach (var o in new Option[] { seed, limit, sweeps, outDir, report, split }) command.Options.Add(o);
        data.AddTo(command);
        command.Options.Add(json);
        command.SetAction(r => ModelCli.Run(() =>
        {
            using var compute = new ComputeContext();
            int n = r.GetValue(limit);
            if (n < 0) throw new ArgumentException($"--limit must be at least 0 (0 = every test image), found {n}.");
            bool quiet = r.GetValue(json);
            var loaded = r.GetValue(checkpoint)!.Select(p => (Path: p, Checkpoint: ModelCli.LoadCheckpoint(p, "CHECKPOINT"))).ToList();
            var (trainAll, test) = data.Load(r, data.Kind(r), quiet);
            if (r.GetValue(split) == "validation")
                test = EvaluateCommand.ValidationSplit(loaded.Select(l => l.Checkpoint).ToList(), loaded.Select(l => l.Path).ToList(), trainAll);
            if (n > 0 && n < test.Count) test = test.Subset(Enumerable.Range(0, n).ToArray(), $"{test.Name} (first {n})");
            var bench = new RobustnessBenchmark(test, r.GetValue(seed), r.GetValue(sweeps));
            var progress = new Progress<string>(m => { if (!quiet) Console.Error.WriteLine(m); });
            var results = new List<RobustnessResult>();
            foreach (var (path, c) in loaded)
            {
                var runner = new ModelRunner(c.Model, new Normalization(c.Info.NormalizationMean, c.Info.NormalizationStd), compute);
                string name = loaded.Count(l => l.Checkpoint.Info.Architecture == c.Info.Architecture) > 1 ? $"{c.Info.Architecture} ({Path.GetFileNameWithoutExtension(path)})" : c.Info.Architecture;
                results.Add(bench.Measure(runner, name, path, progress));
            }
            if (r.GetValue(outDir) is { } dir) WriteImageFolder(dir, bench);
            if (r.GetValue(report) is { } reportDir)
            {
                var html = new HtmlReport(reportDir, "DigitLab robustness");
                RobustnessReport.AddTo(html, results, bench.Seed);
                string index = html.Write();
                if (!quiet) Console.Error.WriteLine($"Report: {index}");
            }
            if (quiet)
            {
                var options = new JsonSerializerOptions(CliCommon.Json) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    seed = bench.Seed, images = test.Count,
                    corruptions = Corruptions.All.Select(c => new { c.Name, c.Description }),
                    models = results.Select(x => new { x.Model, x.Checkpoint, x.CleanError, x.MeanCorruptionError, x.RelativeMeanError, x.Corruptions, x.Sweeps }),
                }, options));
                return 0;
            }
            Print(results, test.Count, bench.Seed);
            return 0;
        }));
        return command;
    }

    private static void Print(IReadOnlyList<RobustnessResult> results, int images, ulong seed)
    {
        var t = new Table().Border(TableBorder.Simple).Title($"Test error (%) on {images:N0} images, MNIST-C corruptions, seed {seed}");
        t.AddColumn("corruption");
        foreach (var r in results) t.AddColumn(new TableColumn(Markup.Escape(r.Model)).RightAligned());
        t.AddRow(["clean", .. results.Select(r => ModelCli.Percent(r.CleanError))]);
        for (int i = 0; i < Corruptions.All.Count; i++)
            t.AddRow([Corruptions.All[i].Name, .. results.Select(r => $"{ModelCli.Percent(r.Corruptions[i].Error)} ({Times(r.Corruptions[i].Relative)})")]);
        t.AddRow(["[bold]mean corruption error[/]", .. results.Select(r => $"[bold]{ModelCli.Percent(r.MeanCorruptionError)}[/] ({Times(r.RelativeMeanError)})")]);
        AnsiConsole.Write(t);
        Console.WriteLine("(in brackets: error relative to clean)");
        foreach (var sweep in results[0].Sweeps)
        {
            var s = new Table().Border(TableBorder.Simple).Title($"{sweep.Name}: {sweep.Knob}");
            s.AddColumn("model");
            foreach (var level in sweep.Levels) s.AddColumn(new TableColumn(level.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture)).RightAligned());
            foreach (var r in results)
                s.AddRow([Markup.Escape(r.Model), .. r.Sweeps.First(x => x.Name == sweep.Name).Errors.Select(e => ModelCli.Percent(e))]);
            AnsiConsole.Write(s);
        }
    }

    private static string Times(double v) => double.IsFinite(v) ? v.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "×" : "∞";

    /// <summary>DIR/&lt;corruption&gt;/&lt;label&gt;/&lt;index&gt;.png for the 15 corruptions (index = position in the test set), each file written atomically.</summary>
    private static void WriteImageFolder(string dir, RobustnessBenchmark bench)
    {
        foreach (var c in Corruptions.All)
        {
            var set = bench.Set(c);
            for (int label = 0; label < MnistDataset.Classes; label++) Directory.CreateDirectory(Path.Combine(dir, c.Name, label.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Parallel.For(0, set.Count, i =>
                AtomicFile.WriteAllBytes(Path.Combine(dir, c.Name, set.Labels[i].ToString(System.Globalization.CultureInfo.InvariantCulture), $"{i}.png"),
                    PngWriter.Encode(ImageOps.Side, ImageOps.Side, 1, set.Image(i))));
        }
        Console.Error.WriteLine($"Wrote {Corruptions.All.Count} corrupted copies of {bench.Clean.Count:N0} images to {dir}");
    }
}
