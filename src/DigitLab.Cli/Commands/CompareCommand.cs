// CompareCommand: `digitlab compare` trains several zoo models with one recipe and prints one table side by side.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Interop;
using DigitLab.Models;
using DigitLab.Training;
using Spectre.Console;
using DigitLab.Evaluation;

namespace DigitLab.Cli.Commands;

internal static class CompareCommand
{
    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = $"Comma-separated architectures ({string.Join(", ", ModelZoo.Names)})", DefaultValueFactory = _ => "mlp,cnn,lenet5,net3,resnet18" };
        var recipe = new RecipeOptions();
        var data = new DataOptions(folders: true);
        var output = new Option<string?>("--out") { Description = "Folder for each run's checkpoint and run log (default: runs/compare-<UTC time>)" };
        var json = CliCommon.JsonOption();
        var tensorboard = TrainCommand.TensorBoardOption("one run folder per model (DIR/MODEL)");
        var command = new Command("compare", "Train several models with the same recipe and compare parameters, accuracies, macro F1, test loss and training time");
        command.Options.Add(models);
        recipe.AddTo(command);
        data.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(tensorboard);
        command.Options.Add(json);
        command.SetAction(r => ModelCli.Run(() =>
        {
            bool asJson = r.GetValue(json);
            var names = r.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToList();
            if (names.Count == 0) throw new ArgumentException("--models needs at least one model name.");
            var recipes = names.Select(n => recipe.Read(r, n, modelDefaults: false, modelOption: "--models")).ToList(); // one recipe for all; validates every name before any training
            string outDir = r.GetValue(output) ?? Path.Combine("runs", "compare-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            Directory.CreateDirectory(outDir);

            var source = data.Source(r);
            var (trainAll, testSet) = data.Load(r, source, quiet: asJson);
            var first = recipes[0];
            RecipeOptions.CheckValidation(first, trainAll);
            var (train, validation) = first.ValidationCount > 0 ? Split.Stratified(trainAll, first.ValidationCount, first.SplitSeed) : (trainAll, null);
            var test = DataOptions.HeldOut(testSet, validation, source);

            var logs = new List<RunLog>();
            foreach (var options in recipes)
            {
                var trainer = Trainer.Create(options);
                trainer.Log.Dataset = source.ToString();
                if (!asJson) AnsiConsole.MarkupLine($"[bold]{options.Model}[/] ({trainer.Model.ParameterCount():N0} parameters)");
                using var board = TensorBoardRun.Open(r.GetValue(tensorboard) is { } tb ? Path.Combine(tb, options.Model) : null, trainer);
                var log = TrainCommand.RunWithProgress(trainer, train, validation, quiet: asJson, board);
                string path = Path.Combine(outDir, options.Model + ".safetensors");
                if (!log.Complete)
                {
                    trainer.SaveCheckpoint(path);
                    log.Save(ModelCli.RunLogPath(path));
                    board?.Finish(null);
                    Console.Error.WriteLine($"Stopped during {options.Model}; its checkpoint is {path} (resume with digitlab train --resume {path}). Comparison so far:");
                    break;
                }
                trainer.Test(test);
                board?.Finish(test);
                trainer.SaveCheckpoint(path);
                log.Save(ModelCli.RunLogPath(path));
                logs.Add(log);
            }

            if (asJson)
            {
                Console.WriteLine(JsonSerializer.Serialize(logs.Select(Row), CliCommon.Json));
                return logs.Count == recipes.Count ? 0 : 130;
            }
            var table = new Table().Border(TableBorder.Rounded).Title($"{first.Epochs} epochs, {first.Optimizer} lr {first.LearningRate}, batch {first.BatchSize}, seed {first.Seed}");
            foreach (var h in new[] { "Model", "Params", "Train acc", "Val acc", "Test acc", "Macro F1", "Test loss", "Train time" })
                table.AddColumn(new TableColumn(h).RightAligned());
            foreach (var log in logs)
            {
                var last = log.Epochs[^1];
                table.AddRow(log.Model, log.Parameters.ToString("N0", CultureInfo.InvariantCulture), ModelCli.Percent(last.TrainAccuracy),
                    last.ValidationAccuracy is double va ? ModelCli.Percent(va) : "-", ModelCli.Percent(log.Test!.Accuracy),
                    ModelCli.F(log.Test.Macro.F1), ModelCli.F(log.Test.Loss), $"{log.TrainSeconds:F1} s");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"Checkpoints and run logs in {Markup.Escape(outDir)}");
            return logs.Count == recipes.Count ? 0 : 130;
        }));
        return command;
    }

    private static object Row(RunLog log)
    {
        var last = log.Epochs[^1];
        return new
        {
            model = log.Model, parameters = log.Parameters, trainAccuracy = last.TrainAccuracy, validationAccuracy = last.ValidationAccuracy,
            testAccuracy = log.Test!.Accuracy, macroF1 = log.Test.Macro.F1, testLoss = log.Test.Loss, trainSeconds = log.TrainSeconds,
        };
    }
}
