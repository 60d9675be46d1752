// FineTuneCli: `digitlab train --init CKPT [--replay-fraction F] [--held-out F]`: fine-tunes a checkpoint on the --dataset's
// images mixed with MNIST replay and prints accuracy before and after on the held-out own digits and on MNIST test.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Runtime;
using DigitLab.Training;
using Spectre.Console;

namespace DigitLab.Cli.Commands;

/// <summary>The fine-tuning options of `train` and the run they start.</summary>
internal sealed class FineTuneOptions
{
    public Option<string?> Init { get; } = new("--init")
    {
        Description = "Fine-tune: start from this checkpoint's weights (same architecture; its normalisation is kept) and train on --dataset's images " +
                      $"mixed with MNIST (--replay-fraction); unless given, --lr {FineTuneRequest.DefaultLearningRate.ToString(CultureInfo.InvariantCulture)}, " +
                      $"--epochs {FineTuneRequest.DefaultEpochs}, --schedule none; prints accuracy before and after on held-out own images and on MNIST test",
    };
    public Option<double> ReplayFraction { get; } = new("--replay-fraction")
    {
        Description = "With --init: the share of each epoch's images drawn from MNIST's training set so the model keeps MNIST (0 = none, below 1)",
        DefaultValueFactory = _ => TrainerOptions.DefaultReplayFraction,
    };
    public Option<double> HeldOut { get; } = new("--held-out")
    {
        Description = "With --init: the share of the own images held out (stratified) for the before/after figure, when the dataset has no test part of its own",
        DefaultValueFactory = _ => FineTuneRequest.DefaultHeldOutFraction,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Init);
        command.Options.Add(ReplayFraction);
        command.Options.Add(HeldOut);
    }

    private static bool Given(ParseResult r, Option option) => r.GetResult(option) is { Implicit: false };

    /// <summary>Refuses the fine-tuning options where they make no sense (without --init, with --resume or --ensemble).</summary>
    public void Check(ParseResult r, bool resume, int members)
    {
        bool init = r.GetValue(Init) is not null;
        if (!init)
        {
            foreach (var o in new Option[] { ReplayFraction, HeldOut })
                if (Given(r, o)) throw new ArgumentException($"{o.Name} applies only to fine-tuning: add --init CHECKPOINT, or leave {o.Name} out.");
            return;
        }
        if (resume) throw new ArgumentException("--init cannot be combined with --resume: --resume continues a paused run (a paused fine-tune included) from its own checkpoint.");
        if (members > 1) throw new ArgumentException($"--init cannot be combined with --ensemble {members}: fine-tune each member's checkpoint on its own.");
        double f = r.GetValue(ReplayFraction);
        if (!(f >= 0 && f < 1)) throw new ArgumentException($"--replay-fraction must be at least 0 and below 1 (0.5 = half of each epoch's images from MNIST), found {f.ToString(CultureInfo.InvariantCulture)}.");
        double h = r.GetValue(HeldOut);
        if (!(h >= 0 && h < 1)) throw new ArgumentException($"--held-out must be at least 0 and below 1 (0.2 = a fifth of the own images), found {h.ToString(CultureInfo.InvariantCulture)}.");
    }

    /// <summary>
    /// The recipe of a fine-tune: the command line's, for the checkpoint's architecture unless --model is given, with the
    /// fine-tuning defaults for the rate, epochs and schedule where those options are not given.
    /// </summary>
    public TrainerOptions Recipe(ParseResult r, RecipeOptions recipe, Option<string> model, string initPath)
    {
        var loaded = ModelCli.LoadCheckpoint(initPath, "--init");
        string architecture = Given(r, model) ? r.GetValue(model)! : loaded.Info.Architecture;
        var o = recipe.Read(r, architecture);
        FineTuning.CheckArchitecture(initPath, loaded.Info.Architecture, o.Model); // before any data is loaded
        return o with
        {
            LearningRate = Given(r, recipe.LearningRate) ? o.LearningRate : FineTuneRequest.DefaultLearningRate,
            Epochs = Given(r, recipe.Epochs) ? o.Epochs : FineTuneRequest.DefaultEpochs,
            Schedule = Given(r, recipe.Schedule) ? o.Schedule : ScheduleKind.None,
            ValidationCount = 0,
            InitCheckpoint = initPath,
            ReplayFraction = r.GetValue(ReplayFraction),
        };
    }

    /// <summary>
    /// `train --init`: reads the recipe, checks the output path, loads the own images (--dataset's training part; its test
    /// part, when it has one, is the held-out part) and MNIST for replay and the MNIST figure, and fine-tunes.
    /// </summary>
    public int Train(ParseResult r, RecipeOptions recipe, Option<string> model, DataOptions data, Option<string?> output, bool asJson)
    {
        var options = Recipe(r, recipe, model, r.GetValue(Init)!);
        var source = data.Source(r);
        string path = r.GetValue(output) ?? ModelCli.DefaultCheckpointPath(options.Model);
        DigitLab.IO.OutputPath.Check(r.GetValue(output) is null ? "the checkpoint path" : "--out", path, ModelCli.RunLogPath(path));
        // The own digits are --dataset's training part; its test part (a folder's test/, when it has one) is the held-out set,
        // else --held-out of the training part. Replay and the MNIST figure always come from MNIST.
        var (own, ownTest) = data.Load(r, source, quiet: asJson);
        var (mnistTrain, mnistTest) = !source.IsFolder && source.IdxKind == DatasetKind.Mnist ? (own, ownTest!) : data.Load(r, DatasetKind.Mnist, quiet: asJson);
        return Run(r, options, own, ownTest, mnistTrain, mnistTest, path, source.ToString(), asJson);
    }

    /// <summary>
    /// Runs the fine-tune on <paramref name="own"/> (with its own held-out part <paramref name="ownTest"/> when the source
    /// keeps one, else --held-out of it), replaying <paramref name="mnistTrain"/>, and saves the checkpoint and run log.
    /// Returns the exit code: 0, or 130 when stopped (nothing saved).
    /// </summary>
    public int Run(ParseResult r, TrainerOptions options, MnistDataset own, MnistDataset? ownTest, MnistDataset mnistTrain, MnistDataset mnistTest,
                   string path, string datasetName, bool asJson)
    {
        var request = new FineTuneRequest
        {
            InitCheckpoint = options.InitCheckpoint!, Own = own, OwnHeldOut = ownTest, ReplaySource = mnistTrain, MnistTest = mnistTest,
            HeldOutFraction = r.GetValue(HeldOut), Recipe = options,
        };
        if (!asJson)
            AnsiConsole.MarkupLine($"Fine-tuning [bold]{options.Model}[/] from {Markup.Escape(options.InitCheckpoint!)} on {Markup.Escape(own.Name)} " +
                $"with {ModelCli.Percent(options.ReplayFraction, 0)} MNIST replay: {options.Optimizer} lr {options.LearningRate}, batch {options.BatchSize}, " +
                $"{options.Epochs} epochs, schedule {options.Schedule}, seed {options.Seed}. Ctrl+C stops without saving.");

        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cts.IsCancellationRequested) return;
            e.Cancel = true;
            cts.Cancel();
            Console.Error.WriteLine("Stopping after the current batch; the fine-tuned model will not be saved...");
        };
        Console.CancelKeyPress += onCancel;
        using var terminate = StopSignals.OnTerminate(cts);
        // Epoch ends are shown as they come (the trainer's figures); the full epoch lines, with the held-out own accuracy, follow the run.
        var progress = new SyncProgress<TrainingProgress>(p =>
        {
            if (!asJson && p.Batch == p.Batches)
                Console.Error.WriteLine($"epoch {p.Epoch}/{p.Epochs} trained: loss {p.Loss:F4} acc {ModelCli.Percent(p.Accuracy)} ({p.Elapsed.TotalSeconds:F1} s)");
        });
        FineTuneOutcome outcome;
        try { outcome = FineTuning.Run(request, progress, cts.Token); }
        catch (OperationCanceledException)
        {
            if (asJson) Console.WriteLine(JsonSerializer.Serialize(new { stopped = true, saved = false }, CliCommon.Json));
            else AnsiConsole.MarkupLine("[yellow]Stopped[/]; nothing was saved and the --init checkpoint is unchanged.");
            return 130;
        }
        finally { Console.CancelKeyPress -= onCancel; }
        if (!asJson)
            foreach (var e in outcome.Log.Epochs) Console.WriteLine(TrainCommand.EpochLine(e, options.Epochs));

        outcome.Log.Dataset = datasetName;
        outcome.Trainer.SaveCheckpoint(path);
        outcome.Log.Save(ModelCli.RunLogPath(path));
        if (asJson)
        {
            static object? Figure(EvaluationResult? before, EvaluationResult? after) => before is null || after is null ? null : new
            {
                count = before.Count, before = before.Accuracy, after = after.Accuracy, lossBefore = before.Loss, lossAfter = after.Loss,
            };
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                init = options.InitCheckpoint, checkpoint = path, model = options.Model,
                own = new { dataset = own.Name, train = outcome.OwnTrainCount, heldOut = outcome.OwnHeldOutCount },
                replay = new { dataset = mnistTrain.Name, count = outcome.ReplayCount, fraction = options.ReplayFraction },
                ownHeldOut = Figure(outcome.OwnBefore, outcome.OwnAfter),
                mnistTest = Figure(outcome.MnistBefore, outcome.MnistAfter),
                runLog = outcome.Log,
            }, CliCommon.Json));
            return 0;
        }
        PrintTable(outcome);
        AnsiConsole.MarkupLine($"Trained on {outcome.OwnTrainCount:N0} own images + {outcome.ReplayCount:N0} MNIST images per epoch in {outcome.Log.TrainSeconds:F1} s.");
        AnsiConsole.MarkupLine($"Checkpoint: {Markup.Escape(path)}   run log: {Markup.Escape(ModelCli.RunLogPath(path))}");
        return 0;
    }

    /// <summary>Before/after accuracy on the held-out own images and on MNIST test.</summary>
    internal static void PrintTable(FineTuneOutcome o)
    {
        var t = new Table().Border(TableBorder.Rounded).Title("Accuracy before and after fine-tuning");
        foreach (var h in new[] { "Test set", "Images", "Before", "After", "Change" }) t.AddColumn(new TableColumn(h).RightAligned());
        void Row(string name, EvaluationResult? before, EvaluationResult? after)
        {
            if (before is null || after is null) { t.AddRow(Markup.Escape(name), "0", "-", "-", "-"); return; }
            double change = (after.Accuracy - before.Accuracy) * 100;
            t.AddRow(Markup.Escape(name), before.Count.ToString("N0", CultureInfo.InvariantCulture), ModelCli.Percent(before.Accuracy), ModelCli.Percent(after.Accuracy),
                (change >= 0 ? "+" : "") + change.ToString("F2", CultureInfo.InvariantCulture) + " pt");
        }
        Row("own, held out", o.OwnBefore, o.OwnAfter);
        Row("MNIST test", o.MnistBefore, o.MnistAfter);
        AnsiConsole.Write(t);
    }
}
