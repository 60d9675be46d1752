// EvaluateCommand: `digitlab evaluate CHECKPOINT...` (several: their averaged probabilities; on the test or the validation split, optionally with test-time augmentation) prints accuracy, loss, the classification report, a metrics table and the confusion matrix.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Training;
using Spectre.Console;
using DigitLab.Evaluation;

using DigitLab.Runtime;

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
        var balanced = new Option<int>("--balanced") { Description = "Evaluate on the first N images of each digit (0 = the whole set)", DefaultValueFactory = _ => 0 };
        var split = new Option<string>("--split")
        {
            Description = "test, or validation: the checkpoints' own validation split (rebuilt from the seed and size they trained with; all must share it), where choices are made before the test set is looked at",
            DefaultValueFactory = _ => "test",
        };
        split.AcceptOnlyFromAmong("test", "validation");
        var tta = TtaOption();
        var predictions = new Option<string?>("--predictions")
        {
            Description = "Also write one CSV row per evaluated image to this file: index (in the evaluated set; for an image folder, the file path), label, predicted, p0..p9 " +
                          "(for several checkpoints or --tta: the averaged probabilities the ensemble's figures come from); runs on the CPU",
        };
        var data = new DataOptions(folders: true);
        var json = CliCommon.JsonOption();
        var command = new Command("evaluate", "Evaluate a checkpoint (or an ensemble of several) on the test set or the validation split, optionally with test-time augmentation: accuracy, loss, per-class precision/recall/F1, confusion matrix");
        command.Arguments.Add(checkpoint);
        command.Options.Add(balanced);
        command.Options.Add(split);
        command.Options.Add(tta);
        command.Options.Add(predictions);
        data.AddTo(command);
        command.Options.Add(json);
        var device = DeviceTraining.Option();
        command.Options.Add(device);
        command.SetAction(r => ModelCli.Run(() =>
        {
            var selected = DigitLab.Gpu.GpuDevice.Parse(r.GetValue(device)!);
            int perClass = r.GetValue(balanced);
            if (perClass < 0) throw new ArgumentException($"--balanced must be at least 0 (images per digit; 0 = the whole test set), found {perClass}.");
            var paths = r.GetValue(checkpoint)!;
            string? csv = r.GetValue(predictions);
            if (csv is not null) DigitLab.IO.OutputPath.Check("--predictions", csv);
            var loaded = paths.Select(path => ModelCli.LoadCheckpoint(path, "CHECKPOINT")).ToList();
            var info = loaded[0].Info;
            // Members must see the same pixels: one normalisation for all.
            foreach (var (other, path) in loaded.Zip(paths).Skip(1))
                if (other.Info.NormalizationMean != info.NormalizationMean || other.Info.NormalizationStd != info.NormalizationStd)
                    throw new ArgumentException($"CHECKPOINT '{path}' normalises with mean {other.Info.NormalizationMean}, std {other.Info.NormalizationStd}, " +
                        $"but '{paths[0]}' with {info.NormalizationMean}, {info.NormalizationStd}: an ensemble's members must be trained with the same --normalization.");
            // The first checkpoint's dataset unless --dataset says otherwise.
            var source = r.GetResult(data.Dataset) is { Implicit: false } || info.Log is null ? data.Source(r) : DatasetSource.Parse(info.Log.Dataset);
            var views = TestTimeAugmentation.Parse(r.GetValue(tta)!);
            var (trainAll, testSet) = data.Load(r, source, quiet: r.GetValue(json));
            // A folder without test/ is evaluated whole: evaluate is how a separate folder of one's own digits is scored.
            var test = testSet ?? new MnistDataset(trainAll.Images, trainAll.Labels, trainAll.Name.Replace("/train", "/all"));
            if (r.GetValue(split) == "validation") test = ValidationSplit(loaded, paths, trainAll);
            if (perClass > 0) test = Evaluator.Balanced(test, perClass);
            var normalization = new Normalization(info.NormalizationMean, info.NormalizationStd);
            using var compute = new ComputeContext();
            var probabilities = csv is null ? null : new float[test.Count * MnistDataset.Classes];
            var result = loaded.Count == 1 && views.Shifts.Count == 1 && probabilities is null
                ? DeviceTraining.Evaluate(selected, loaded[0].Model, test, normalization, compute)
                : Evaluator.Evaluate(loaded.Select(l => l.Model).ToList(), test, normalization, compute, tta: views, probabilities: probabilities);
            // Rows of an image folder's images name their files (in dataset order), unless the set was re-drawn (validation, --balanced).
            var folder = data.LoadedFolder;
            var imagePaths = folder is null || r.GetValue(split) == "validation" || perClass > 0 ? null : testSet is null ? folder.TrainPaths : folder.TestPaths;
            if (csv is not null) PredictionsCsv.Write(csv, test, probabilities, imagePaths);
            string name = loaded.Count == 1 ? info.Architecture : $"ensemble of {loaded.Count} ({string.Join(", ", loaded.Select(l => l.Info.Architecture))})";
            if (views.Shifts.Count > 1) name += $", test-time augmentation {views}";
            if (r.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { model = name, checkpoints = paths, dataset = test.Name, tta = views.Name, predictions = csv, result }, CliCommon.Json));
                return 0;
            }
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/] on {Markup.Escape(test.Name)} ({test.Count:N0} images)");
            AnsiConsole.MarkupLine($"[bold]Accuracy {ModelCli.Percent(result.Accuracy)}[/]  ({result.Misclassified.Count:N0} wrong)   loss {result.Loss:F4}");
            Console.WriteLine();
            Console.Write(Metrics.ClassificationReport(result, digits: 4));
            Console.WriteLine();
            AnsiConsole.Write(ModelCli.MetricsTable(result));
            AnsiConsole.Write(ModelCli.ConfusionTable(result));
            if (csv is not null) AnsiConsole.MarkupLine($"Predictions ({test.Count:N0} rows): {Markup.Escape(csv)}");
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

    /// <summary>The --tta option of evaluate and train.</summary>
    internal static Option<string> TtaOption()
    {
        var tta = new Option<string>("--tta")
        {
            Description = "Test-time augmentation: none, shift4 (the image and its 4 one-pixel shifts) or shift8 (and the 4 diagonal ones); probabilities are averaged over the views (and the members)",
            DefaultValueFactory = _ => "none",
        };
        tta.AcceptOnlyFromAmong([.. TestTimeAugmentation.Names]);
        return tta;
    }

    /// <summary>
    /// The validation images the checkpoints were trained without: the stratified split of <paramref name="trainAll"/> drawn
    /// with the seed and size in their run logs. Members of `train --ensemble` share the first member's split
    /// (validation_split_seed); checkpoints trained with different splits have no common held-out set and are refused.
    /// </summary>
    internal static MnistDataset ValidationSplit(IReadOnlyList<LoadedCheckpoint> loaded, IReadOnlyList<string> paths, MnistDataset trainAll)
    {
        (int Count, ulong Seed) SplitOf(LoadedCheckpoint c, string path)
        {
            // The recipe as training and --resume read it, defaults included: one reading of the run log.
            var recipe = c.Info.Log?.Recipe ?? throw new ArgumentException($"CHECKPOINT '{path}' has no run log with a recipe, so its validation split is unknown; use --split test.");
            if (recipe.ValidationCount == 0) throw new ArgumentException($"CHECKPOINT '{path}' was trained with --validation 0 (on every training image), so it has no validation split; use --split test.");
            return (recipe.ValidationCount, recipe.SplitSeed);
        }
        var first = SplitOf(loaded[0], paths[0]);
        for (int i = 1; i < loaded.Count; i++)
        {
            var other = SplitOf(loaded[i], paths[i]);
            if (other != first)
                throw new ArgumentException($"CHECKPOINT '{paths[i]}' held out {other.Count} images drawn with seed {other.Seed}, but '{paths[0]}' {first.Count} with seed {first.Seed}: " +
                                            "each member trained on the others' validation images, so they have no common validation split. Train them with `digitlab train --ensemble N`, which shares one split, or each with the same --validation-seed.");
        }
        if (first.Count > trainAll.Count)
            throw new ArgumentException($"The checkpoints held out {first.Count} validation images, more than the {trainAll.Count} training images of {trainAll.Name}: check --dataset.");
        return Split.Stratified(trainAll, first.Count, first.Seed).Validation;
    }
}
