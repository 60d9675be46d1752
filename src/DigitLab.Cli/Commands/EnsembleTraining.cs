// EnsembleTraining: `digitlab train --ensemble N`, N seeds of one recipe, each evaluated, then their average.
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Interop;
using DigitLab.Nn;
using DigitLab.Reports;
using DigitLab.Training;
using Spectre.Console;
using DigitLab.Evaluation;
using DigitLab.Runtime;
using DigitLab.IO;

namespace DigitLab.Cli.Commands;

internal static class EnsembleTraining
{
    /// <summary>
    /// Trains <paramref name="count"/> models with seeds Seed, Seed+1, ... (each its own shuffle, initialisation and
    /// augmentation; one validation split for all, drawn with the first seed or --validation-seed), saves each checkpoint, prints each member's
    /// validation and test accuracy, then the validation and test accuracy of their mean probabilities. The common split
    /// gives the ensemble a validation set no member trained on, where ensemble choices can be made before the test set
    /// is looked at. Every member counts: none is chosen by its test score. With <paramref name="tta"/> the test figures
    /// (members' and ensemble's) and the ensemble's validation figure average over its views; the members' validation
    /// figures are the plain ones their training logged.
    /// </summary>
    /// <summary>The checkpoint and run-log paths the members of an ensemble are saved at: STEM-1.safetensors, STEM-1.json, ...</summary>
    public static string[] MemberPaths(string basePath, int count)
    {
        string stem = Path.Combine(Path.GetDirectoryName(basePath) ?? "", Path.GetFileNameWithoutExtension(basePath));
        return Enumerable.Range(1, count).SelectMany(k => new[] { $"{stem}-{k}.safetensors", $"{stem}-{k}.json" }).ToArray();
    }

    public static int Run(TrainerOptions recipe, int count, MnistDataset trainAll, MnistDataset? testSet, DatasetSource source, string? outPath, bool asJson,
                          TestTimeAugmentation? tta = null, string? tensorboard = null, string? cluster = null)
    {
        var basePath = outPath ?? ModelCli.DefaultCheckpointPath(recipe.Model);
        string stem = Path.Combine(Path.GetDirectoryName(basePath) ?? "", Path.GetFileNameWithoutExtension(basePath));
        var models = new List<Module>();
        var logs = new List<RunLog>();
        Normalization? normalization = null;
        double seconds = 0;
        var (train, validation) = recipe.ValidationCount > 0 ? Split.Stratified(trainAll, recipe.ValidationCount, recipe.SplitSeed) : (trainAll, null);
        var test = DataOptions.HeldOut(testSet, validation, source);
        // On a cluster the members train on the workers; their logs and checkpoints come back here (plain test figures).
        if (cluster is not null && tta is not null && tta.Shifts.Count > 1)
            throw new ArgumentException("--ensemble with --cluster evaluates members without --tta; drop --tta, or evaluate the checkpoints with `digitlab evaluate --tta` afterwards.");
        var remote = cluster is null ? null : ClusterCli.TrainMembers(
            Enumerable.Range(0, count).Select(k => recipe with { Seed = recipe.Seed + (ulong)k, ValidationSeed = recipe.SplitSeed }).ToList(),
            source.ToString(), cluster, CancellationToken.None);
        for (int k = 0; k < count && remote is not null; k++)
        {
            string path = $"{stem}-{k + 1}.safetensors";
            AtomicFile.WriteAllBytes(Path.GetFullPath(path), remote[k].Checkpoint);
            remote[k].Log.Save(ModelCli.RunLogPath(path));
            var loaded = Checkpoint.Load(path);
            normalization = new Normalization(loaded.Info.NormalizationMean, loaded.Info.NormalizationStd);
            seconds += remote[k].Log.TrainSeconds;
            models.Add(loaded.Model);
            logs.Add(remote[k].Log);
        }
        for (int k = 0; k < count && remote is null; k++)
        {
            // Members seeds s, s+1, ... of `--ensemble N --seed s` are the same models as those of
            // `--ensemble N-j --seed s+j --validation-seed s`: an ensemble can be trained in parts and grown.
            var options = recipe with { Seed = recipe.Seed + (ulong)k, ValidationSeed = recipe.SplitSeed };
            var trainer = Trainer.Create(options);
            trainer.Log.Dataset = source.ToString();
            if (!asJson)
                AnsiConsole.MarkupLine($"Member {k + 1}/{count}: [bold]{options.Model}[/] seed {options.Seed}, {options.Epochs} epochs, {trainer.Compute.Threads} threads.");
            using var board = TensorBoardRun.Open(tensorboard is null ? null : Path.Combine(tensorboard, $"member-{k + 1}"), trainer);
            var log = TrainCommand.RunWithProgress(trainer, train, validation, quiet: asJson, board);
            if (!log.Complete) { board?.Finish(null); return 130; }
            trainer.Test(test, tta, collectMisclassified: tta is { Shifts.Count: > 1 });
            board?.Finish(test);
            string path = $"{stem}-{k + 1}.safetensors";
            trainer.SaveCheckpoint(path);
            log.Save(ModelCli.RunLogPath(path));
            seconds += log.TrainSeconds;
            normalization = trainer.Normalization;
            models.Add(trainer.Model);
            logs.Add(log);
            if (!asJson)
                AnsiConsole.MarkupLine($"Member {k + 1}: {(log.Epochs[^1].ValidationAccuracy is double v ? $"validation {ModelCli.Percent(v)}" : "no validation set")}, " +
                                       $"test [bold]{ModelCli.Percent(log.Test!.Accuracy)}[/], {log.TrainSeconds:F1} s  ({Markup.Escape(path)})");
        }
        using var compute = new ComputeContext(recipe.Threads);
        var result = Evaluator.Evaluate(models, test, normalization!.Value, compute, tta: tta);
        var validationResult = validation is null ? null : Evaluator.Evaluate(models, validation, normalization!.Value, compute, tta: tta);
        if (asJson)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                members = logs.Select(l => new { seed = l.Recipe!.Seed, validationAccuracy = l.Epochs[^1].ValidationAccuracy, testAccuracy = l.Test!.Accuracy, trainSeconds = l.TrainSeconds }),
                ensemble = result,
                ensembleValidationAccuracy = validationResult?.Accuracy,
                tta = (tta ?? TestTimeAugmentation.None).Name,
                trainSeconds = seconds,
            }, CliCommon.Json));
            return 0;
        }
        if (tta is not null && tta.Shifts.Count > 1)
            AnsiConsole.MarkupLine($"Test-time augmentation: {tta} per member.");
        if (validationResult is not null)
            AnsiConsole.MarkupLine($"Ensemble of {count} on the common validation split: {ModelCli.Percent(validationResult.Accuracy)}");
        AnsiConsole.MarkupLine($"Ensemble of {count} ({seconds:F1} s of training in all): [bold]test accuracy {ModelCli.Percent(result.Accuracy)}[/] " +
                               $"({result.Count - result.Misclassified.Count:N0}/{result.Count:N0}), test loss {result.Loss:F4}, macro F1 {result.Macro.F1:F4}");
        Console.WriteLine();
        Console.Write(Metrics.ClassificationReport(result, digits: 4));
        return 0;
    }
}
