// EvaluateCommand: `digitlab evaluate CHECKPOINT...` (several: their averaged probabilities) prints accuracy, loss, the classification report, a metrics table and the confusion matrix.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Training;
using Spectre.Console;

namespace DigitLab.Cli.Commands;

internal static class EvaluateCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string[]>("CHECKPOINT")
        {
            Description = "A .safetensors checkpoint written by digitlab train; several evaluate as an ensemble (their softmax outputs averaged)",
            Arity = ArgumentArity.OneOrMore,
        };
        var balanced = new Option<int>("--balanced") { Description = "Evaluate on the first N test images of each digit (0 = the whole test set)", DefaultValueFactory = _ => 0 };
        var data = new DataOptions();
        var json = ModelCli.JsonOption();
        var command = new Command("evaluate", "Evaluate a checkpoint (or an ensemble of several) on the test set: accuracy, loss, per-class precision/recall/F1, confusion matrix");
        command.Arguments.Add(checkpoint);
        command.Options.Add(balanced);
        data.AddTo(command);
        command.Options.Add(json);
        command.SetAction(r => ModelCli.Run(() =>
        {
            int perClass = r.GetValue(balanced);
            if (perClass < 0) throw new ArgumentException($"--balanced must be at least 0 (images per digit; 0 = the whole test set), found {perClass}.");
            var paths = r.GetValue(checkpoint)!;
            var loaded = paths.Select(path => ModelCli.LoadCheckpoint(path, "CHECKPOINT")).ToList();
            var info = loaded[0].Info;
            // Members must see the same pixels: one normalisation for all.
            foreach (var (other, path) in loaded.Zip(paths).Skip(1))
                if (other.Info.NormalizationMean != info.NormalizationMean || other.Info.NormalizationStd != info.NormalizationStd)
                    throw new ArgumentException($"CHECKPOINT '{path}' normalises with mean {other.Info.NormalizationMean}, std {other.Info.NormalizationStd}, " +
                        $"but '{paths[0]}' with {info.NormalizationMean}, {info.NormalizationStd}: an ensemble's members must be trained with the same --normalization.");
            // The first checkpoint's dataset unless --dataset says otherwise.
            var kind = r.GetResult(data.Dataset) is { Implicit: false } || info.Log is null ? data.Kind(r) : DatasetSpec.ParseKind(info.Log.Dataset);
            var test = data.Load(r, kind, quiet: r.GetValue(json)).Test;
            if (perClass > 0) test = Evaluator.Balanced(test, perClass);
            var normalization = new Normalization(info.NormalizationMean, info.NormalizationStd);
            var result = loaded.Count == 1
                ? Evaluator.Evaluate(loaded[0].Model, test, normalization)
                : Ensemble.Evaluate(loaded.Select(l => l.Model).ToList(), test, normalization);
            string name = loaded.Count == 1 ? info.Architecture : $"ensemble of {loaded.Count} ({string.Join(", ", loaded.Select(l => l.Info.Architecture))})";
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { model = name, checkpoints = paths, dataset = test.Name, result }, ModelCli.Json));
                return 0;
            }
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/] on {Markup.Escape(test.Name)} ({test.Count:N0} images)");
            AnsiConsole.MarkupLine($"[bold]Accuracy {ModelCli.Percent(result.Accuracy)}[/]  ({result.Misclassified.Count:N0} wrong)   loss {result.Loss:F4}");
            Console.WriteLine();
            Console.Write(Metrics.ClassificationReport(result, digits: 4));
            Console.WriteLine();
            AnsiConsole.Write(ModelCli.MetricsTable(result));
            AnsiConsole.Write(ModelCli.ConfusionTable(result));
            var worst = result.Misclassified.OrderByDescending(m => m.Confidence).Take(10).ToList();
            if (worst.Count > 0)
            {
                var t = new Table().Border(TableBorder.Simple).Title("Most confident mistakes (index in the evaluated set)");
                foreach (var h in new[] { "Index", "True", "Predicted", "Confidence" }) t.AddColumn(new TableColumn(h).RightAligned());
                foreach (var m in worst) t.AddRow($"{m.Index}", $"{m.True}", $"{m.Predicted}", ModelCli.Percent(m.Confidence, 1));
                AnsiConsole.Write(t);
            }
            return 0;
        }));
        return command;
    }
}
