// TrainCommand: `digitlab train` trains one zoo model, shows progress per epoch, evaluates on the test set and saves a checkpoint.
using System.CommandLine;
using DigitLab.Data;
using DigitLab.Interop;
using DigitLab.Models;
using DigitLab.Training;
using Spectre.Console;
using DigitLab.Evaluation;
using DigitLab.Runtime;

namespace DigitLab.Cli.Commands;

internal static class TrainCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = $"Architecture: {string.Join(", ", ModelZoo.Names)}. `fast` (2 epochs, onecycle, lr 0.01, batch 128) and `best` (15 epochs, onecycle, lr 0.005, batch 128, affine augmentation, label smoothing 0.1) bring their own recipes for options not given",
            DefaultValueFactory = _ => "mlp",
        };
        var recipe = new RecipeOptions();
        var data = new DataOptions(folders: true);
        var fine = new FineTuneOptions();
        var output = new Option<string?>("--out") { Description = "Checkpoint path (default: runs/<model>-<UTC time>.safetensors, or the --resume file); the run log is written beside it as .json" };
        var resume = new Option<string?>("--resume") { Description = "Continue the paused run saved in this checkpoint (its recipe and data are used; recipe options are ignored)" };
        var json = CliCommon.JsonOption();
        var tta = EvaluateCommand.TtaOption();
        var ensemble = new Option<int>("--ensemble")
        {
            Description = "Train this many models (seeds --seed, --seed+1, ...) and also evaluate their averaged probabilities; checkpoints get -1, -2, ... suffixes",
            DefaultValueFactory = _ => 1,
        };

        var tensorboard = TensorBoardOption("this run's folder");
        var cluster = ClusterCli.ClusterOption();
        var command = new Command("train", "Train a model, print per-epoch figures, test accuracy and the classification report, and save a checkpoint (--tta: the test figure averages shifted views). Ctrl+C stops after the current batch and saves a resumable checkpoint.");
        command.Options.Add(model);
        recipe.AddTo(command);
        data.AddTo(command);
        command.Options.Add(output);
        command.Options.Add(resume);
        fine.AddTo(command);
        command.Options.Add(json);
        command.Options.Add(ensemble);
        command.Options.Add(tta);
        command.Options.Add(tensorboard);
        command.Options.Add(cluster);
        var device = DeviceTraining.Option();
        command.Options.Add(device);
        command.SetAction(r => ModelCli.Run(() =>
        {
            var selected = DigitLab.Gpu.GpuDevice.Parse(r.GetValue(device)!);
            bool asJson = r.GetValue(json);
            string? resumePath = r.GetValue(resume);
            int members = r.GetValue(ensemble);
            var views = TestTimeAugmentation.Parse(r.GetValue(tta)!);
            if (members < 1) throw new ArgumentException($"--ensemble must be at least 1 (1 = a single model), found {members}.");
            if (members > 1 && resumePath is not null)
                throw new ArgumentException($"--ensemble {members} cannot be combined with --resume: resume each member's checkpoint on its own.");
            fine.Check(r, resumePath is not null, members);
            if (r.GetValue(fine.Init) is not null) return fine.Train(r, recipe, model, data, output, asJson);
            if (members > 1)
            {
                var options = recipe.Read(r, r.GetValue(model)!);
                var ensembleSource = data.Source(r);
                if (r.GetValue(output) is { } stem) DigitLab.IO.OutputPath.Check("--out", string.IsNullOrWhiteSpace(stem) ? [stem] : EnsembleTraining.MemberPaths(stem, members));
                var (all, testSet) = data.Load(r, ensembleSource, quiet: asJson);
                RecipeOptions.CheckValidation(options, all);
                return EnsembleTraining.Run(options, members, all, testSet, ensembleSource, r.GetValue(output), asJson, views, r.GetValue(tensorboard), r.GetValue(cluster));
            }
            Trainer trainer;
            DatasetSource source;
            if (resumePath is not null)
            {
                trainer = Trainer.Resume(ModelCli.LoadCheckpoint(resumePath, "--resume"));
                source = DatasetSource.Parse(trainer.Log.Dataset);
                if (!asJson) AnsiConsole.MarkupLine($"Resuming [bold]{trainer.Options.Model}[/] from {Markup.Escape(resumePath)} at epoch {trainer.State!.CompletedEpochs + 1}, batch {trainer.State.CompletedBatches + 1}.");
            }
            else
            {
                trainer = Trainer.Create(recipe.Read(r, r.GetValue(model)!));
                source = data.Source(r);
                trainer.Log.Dataset = source.ToString();
            }
            string path = r.GetValue(output) ?? resumePath ?? ModelCli.DefaultCheckpointPath(trainer.Options.Model);
            DigitLab.IO.OutputPath.Check(r.GetValue(output) is null ? (resumePath is null ? "the checkpoint path" : "--resume") : "--out", path, ModelCli.RunLogPath(path));

            var (trainAll, heldOut) = data.Load(r, source, quiet: asJson);
            var o = trainer.Options;
            RecipeOptions.CheckValidation(o, trainAll);
            var (train, validation) = o.ValidationCount > 0 ? Split.Stratified(trainAll, o.ValidationCount, o.SplitSeed) : (trainAll, null);
            var test = DataOptions.HeldOut(heldOut, validation, source);
            if (!asJson)
                AnsiConsole.MarkupLine($"Training [bold]{o.Model}[/] ({trainer.Model.ParameterCount():N0} parameters) on {train.Count:N0} images, validating on {validation?.Count ?? 0:N0}: " +
                    $"{o.Optimizer} lr {o.LearningRate}, batch {o.BatchSize}, {o.Epochs} epochs, schedule {o.Schedule}, seed {o.Seed}, {trainer.Compute.Threads} threads. Ctrl+C stops and saves.");

            using var board = TensorBoardRun.Open(r.GetValue(tensorboard), trainer);
            var log = RunWithProgress(trainer, train, validation, quiet: asJson, board, selected);
            if (!log.Complete)
            {
                board?.Finish(null);
                trainer.SaveCheckpoint(path);
                log.Save(ModelCli.RunLogPath(path));
                var s = trainer.State!;
                if (asJson) Console.WriteLine(log.ToJson());
                else AnsiConsole.MarkupLine($"[yellow]Stopped[/] at epoch {s.CompletedEpochs + 1}, batch {s.CompletedBatches}. Checkpoint saved to {Markup.Escape(path)}.\n" +
                                            $"Resume with: digitlab train --resume {Markup.Escape(path)}");
                return 130;
            }

            trainer.Test(test, views);
            board?.Finish(test);
            trainer.SaveCheckpoint(path);
            log.Save(ModelCli.RunLogPath(path));
            if (asJson) { Console.WriteLine(log.ToJson()); return 0; }
            PrintResult(log, path);
            return 0;
        }));
        return command;
    }

    /// <summary>Trains with Ctrl+C wired to a clean stop, and a Spectre progress bar per epoch when the console is interactive.</summary>
    internal static RunLog RunWithProgress(Trainer trainer, MnistDataset train, MnistDataset? validation, bool quiet, IProgress<TrainingProgress>? observer = null,
        DigitLab.Gpu.ComputeDevice device = DigitLab.Gpu.ComputeDevice.Cpu)
    {
        // The observer (TensorBoard) sees every progress report, whichever display is in use.
        IProgress<TrainingProgress>? Tee(IProgress<TrainingProgress>? shown) =>
            observer is null ? shown : new SyncProgress<TrainingProgress>(p => { shown?.Report(p); observer.Report(p); });
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return; // a second Ctrl+C ends the process at once
            e.Cancel = true;
            cts.Cancel();
            Console.Error.WriteLine("Stopping after the current batch and saving a checkpoint (Ctrl+C again to quit without saving)...");
        };
        Console.CancelKeyPress += onCancel;
        using var terminate = StopSignals.OnTerminate(cts);
        try
        {
            if (quiet) return DeviceTraining.Train(device, trainer, train, validation, Tee(null), cts.Token);
            if (!AnsiConsole.Profile.Capabilities.Interactive)
            {
                int printed = trainer.Log.Epochs.Count;
                var plain = new SyncProgress<TrainingProgress>(p =>
                {
                    while (trainer.Log.Epochs.Count > printed) Console.WriteLine(EpochLine(trainer.Log.Epochs[printed++], trainer.Options.Epochs));
                });
                var result = DeviceTraining.Train(device, trainer, train, validation, Tee(plain), cts.Token);
                while (result.Epochs.Count > printed) Console.WriteLine(EpochLine(result.Epochs[printed++], trainer.Options.Epochs));
                return result;
            }

            RunLog log = trainer.Log;
            AnsiConsole.Progress()
                .AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 10 }, new PercentageColumn())
                .Start(ctx =>
                {
                    ProgressTask? task = null;
                    int taskEpoch = 0;
                    void Finish()
                    {
                        if (task is null) return;
                        var record = trainer.Log.Epochs.LastOrDefault(e => e.Epoch == taskEpoch);
                        if (record is not null) { task.Description = Markup.Escape(ShortEpochLine(record, trainer.Options.Epochs)); task.Value = task.MaxValue; }
                        task.StopTask();
                    }
                    var progress = new SyncProgress<TrainingProgress>(p =>
                    {
                        if (p.Epoch != taskEpoch)
                        {
                            Finish();
                            task = ctx.AddTask($"Epoch {p.Epoch}/{p.Epochs}", maxValue: p.Batches);
                            taskEpoch = p.Epoch;
                        }
                        if (p.Batch % 5 == 0 || p.Batch == p.Batches)
                        {
                            task!.Value = p.Batch;
                            task.Description = Markup.Escape($"Epoch {p.Epoch}/{p.Epochs} {p.Batch}/{p.Batches} loss {p.Loss:F4} acc {ModelCli.Percent(p.Accuracy)} ETA {p.EpochRemaining:m\\:ss}");
                        }
                    });
                    log = DeviceTraining.Train(device, trainer, train, validation, Tee(progress), cts.Token);
                    Finish();
                });
            return log;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>--tensorboard DIR: where TensorBoard event files go (<paramref name="layout"/> says what lies inside).</summary>
    internal static Option<string?> TensorBoardOption(string layout) => new("--tensorboard")
    {
        Description = $"Write TensorBoard event files (losses, accuracies, learning rate, histograms, misclassified digits, hyperparameters) into this folder, {layout}; view with `tensorboard --logdir DIR`",
    };

    internal static string EpochLine(EpochRecord e, int epochs)
    {
        string val = e.ValidationLoss is double vl ? $"  val loss {vl:F4} acc {ModelCli.Percent(e.ValidationAccuracy ?? 0)}" : "";
        return $"Epoch {e.Epoch}/{epochs}  train loss {e.TrainLoss:F4} acc {ModelCli.Percent(e.TrainAccuracy)}{val}  lr {e.LearningRate:G3}  {e.Seconds:F1} s";
    }

    /// <summary>The epoch's figures in a line short enough to sit beside a progress bar in 80 columns.</summary>
    internal static string ShortEpochLine(EpochRecord e, int epochs)
    {
        string val = e.ValidationLoss is double vl ? $" | val {vl:F4} {ModelCli.Percent(e.ValidationAccuracy ?? 0)}" : "";
        return $"Epoch {e.Epoch}/{epochs} train {e.TrainLoss:F4} {ModelCli.Percent(e.TrainAccuracy)}{val} | {e.Seconds:F1} s";
    }

    private static void PrintResult(RunLog log, string path)
    {
        var test = log.Test!;
        AnsiConsole.MarkupLine($"Training time {log.TrainSeconds:F1} s.");
        AnsiConsole.MarkupLine($"[bold]Test accuracy {ModelCli.Percent(test.Accuracy)}[/] ({test.Count - test.Misclassified.Count:N0}/{test.Count:N0}), test loss {test.Loss:F4}, macro F1 {test.Macro.F1:F4}");
        Console.WriteLine();
        Console.Write(Metrics.ClassificationReport(test, digits: 4));
        Console.WriteLine();
        AnsiConsole.MarkupLine($"Checkpoint: {Markup.Escape(path)}   run log: {Markup.Escape(ModelCli.RunLogPath(path))}");
    }
}
