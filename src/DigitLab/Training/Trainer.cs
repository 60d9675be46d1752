// Trainer: the training loop. Batches -> forward -> loss -> backward -> optimizer step, per-epoch figures into a RunLog,
// progress reports, and a clean stop on cancellation that can be resumed to the identical result.
using System.Diagnostics;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Evaluation;
using DigitLab.Runtime;

namespace DigitLab.Training;

/// <summary>Trains one model with one <see cref="TrainerOptions"/> recipe.</summary>
/// <remarks>
/// Reproducible: initialisation, shuffling, augmentation and dropout all draw from generators derived from
/// <see cref="TrainerOptions.Seed"/>, and kernels split work deterministically for a given thread count, so the same
/// options and thread count give bit-identical weights. Cancellation is checked after every batch: the current batch
/// finishes, the run returns with <see cref="RunLog.Complete"/> false and <see cref="State"/> holding everything a
/// checkpoint needs; <see cref="Resume"/> continues from there to exactly the weights an uninterrupted run reaches.
/// </remarks>
public sealed class Trainer
{
    public Module Model { get; }
    public TrainerOptions Options { get; }
    public Optimizer Optimizer { get; }
    public Normalization Normalization { get; }
    public RunLog Log { get; }
    /// <summary>The threads and routes this trainer's kernels run with: its own, set from the recipe's thread count.</summary>
    public ComputeContext Compute { get; }
    /// <summary>Where the run stands after <see cref="Train"/> returned incomplete; null before and after a complete run.</summary>
    public ResumeState? State { get; private set; }

    /// <param name="compute">Where the kernels run; default: a context of <see cref="TrainerOptions.Threads"/> threads of the trainer's own.</param>
    public Trainer(Module model, TrainerOptions options, ComputeContext? compute = null)
    {
        options.Validate();
        Model = model;
        Options = options;
        Compute = compute ?? new ComputeContext(options.Threads);
        Normalization = options.Normalization.Values();
        Optimizer = options.Optimizer == OptimizerKind.Sgd
            ? new Sgd(model.NamedParameters(), options.LearningRate, options.Momentum, weightDecay: options.WeightDecay)
            : new Adam(model.NamedParameters(), options.LearningRate, weightDecay: options.WeightDecay);
        Optimizer.Compute = Compute;
        Log = new RunLog
        {
            Model = options.Model,
            Parameters = model.ParameterCount(),
            Recipe = options,
            BatchLossInterval = options.BatchLossInterval,
        };
    }

    /// <summary>A fresh zoo model for <paramref name="options"/> and a trainer for it (or, with <see cref="TrainerOptions.InitCheckpoint"/>, the checkpoint's model: see <see cref="FineTuning.StartFrom"/>).</summary>
    public static Trainer Create(TrainerOptions options)
    {
        options.Validate();
        if (options.InitCheckpoint is not null) return FineTuning.StartFrom(options);
        var model = ModelZoo.Create(options.Model, options.Seed, new ModelOptions { Dropout = options.Dropout });
        return new Trainer(model, options);
    }

    /// <summary>A trainer that continues the run saved in <paramref name="checkpoint"/> (weights, optimizer state, position, generators).</summary>
    public static Trainer Resume(LoadedCheckpoint checkpoint)
    {
        var info = checkpoint.Info;
        if (info.Log is null || info.Resume is null)
            throw new InvalidDataException("This checkpoint holds a finished model, not a paused run: there is nothing to resume. Train a new model instead.");
        var options = info.Log.Recipe ?? throw new InvalidDataException("This checkpoint's run log has no recipe, so the run cannot be resumed. Train a new model instead.");
        var trainer = new Trainer(checkpoint.Model, options);
        Checkpoint.RestoreOptimizer(trainer.Optimizer, checkpoint.OptimizerState, info.Resume.OptimizerStep);
        trainer.Log.Epochs.AddRange(info.Log.Epochs);
        trainer.Log.BatchLosses.AddRange(info.Log.BatchLosses);
        trainer.Log.TrainSeconds = info.Log.TrainSeconds;
        trainer.Log.StartedUtc = info.Log.StartedUtc;
        trainer.Log.Dataset = info.Log.Dataset;
        trainer.State = info.Resume;
        return trainer;
    }

    /// <summary>The metadata to save with this run's checkpoint (resume state included when the run is incomplete).</summary>
    public CheckpointInfo CheckpointInfo() => new()
    {
        Architecture = Options.Model,
        Options = new ModelOptions { Dropout = Options.Dropout },
        NormalizationMean = Normalization.Mean,
        NormalizationStd = Normalization.Std,
        Seed = Options.Seed,
        Log = Log,
        Resume = State,
        Optimizer = RecipeChoices.Name(Options.Optimizer),
    };

    /// <summary>Saves the model, metadata and optimizer state atomically.</summary>
    public void SaveCheckpoint(string path) => Checkpoint.Save(path, Model, CheckpointInfo(), Optimizer.NamedState());

    /// <summary>
    /// Trains for the remaining epochs on <paramref name="train"/>, evaluating on <paramref name="validation"/> (if any)
    /// after each epoch. Returns the log; incomplete (with <see cref="State"/> set) when <paramref name="cancellationToken"/> fired.
    /// </summary>
    public RunLog Train(MnistDataset train, MnistDataset? validation, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var workspace = new Workspace(Compute, training: true);
        var augmentation = Options.AugmentationSettings(); // null for none
        var batcher = new Batcher(train, Options.BatchSize, Normalization, Rng.Derive(Options.Seed, "data").NextUInt64(),
            shuffle: true, augmenter: augmentation is null ? null : new Augmenter(augmentation), compute: Compute);
        int batches = batcher.BatchesPerEpoch;
        var schedule = BuildSchedule(Options, batches);
        var lossFunction = new SoftmaxCrossEntropy((float)Options.LabelSmoothing);
        var parameters = Model.Parameters().ToArray();
        var total = Stopwatch.StartNew();

        int startEpoch = 0, startBatch = 0;
        double lossSum = 0, epochSeconds = 0, blockSum = 0;
        long correct = 0, seen = 0;
        int blockCount = 0;
        if (State is { } s)
        {
            startEpoch = s.CompletedEpochs; startBatch = s.CompletedBatches;
            (lossSum, correct, seen, epochSeconds, blockSum, blockCount) = (s.EpochLossSum, s.EpochCorrect, s.EpochSeen, s.EpochSeconds, s.BlockLossSum, s.BlockCount);
            batcher.SetState(new BatcherState(s.BatcherEpoch, s.BatcherPosition,
                Checkpoint.ParseState(s.Rngs["shuffle"], "shuffle"), Checkpoint.ParseState(s.Rngs["augment"], "augment")));
            State = null;
        }

        Optimizer.ZeroGrad(); // once: each step then leaves the gradients zero (StepAndZeroGrad)
        workspace.InputWithoutGradient = batcher.Images; // nothing reads the images' gradient: the first layer skips it
        for (int epoch = startEpoch; epoch < Options.Epochs; epoch++)
        {
            int batch = 0;
            if (epoch == startEpoch && startBatch > 0) batch = startBatch;
            else
            {
                batcher.StartEpoch();
                (lossSum, correct, seen, epochSeconds) = (0, 0, 0, 0);
            }
            var watch = Stopwatch.StartNew();
            double priorSeconds = epochSeconds;
            while (batcher.Next())
            {
                schedule.Apply(Optimizer, Optimizer.StepCount);
                var logits = Model.Forward(batcher.Images, workspace);      // (n, 10)
                float loss = lossFunction.Forward(logits, batcher.LabelSpan);
                FiniteCheck.Loss(loss, epoch + 1, batch + 1, Optimizer.StepCount + 1, Optimizer.LearningRate); // stop before a NaN reaches the weights
                Model.Backward(lossFunction.Backward(), workspace);
                if (Options.ClipNorm > 0) GradientClipping.ClipByNorm(parameters, Options.ClipNorm);
                Optimizer.StepAndZeroGrad(); // the next batch starts from zero gradients

                int n = batcher.Count;
                lossSum += (double)loss * n;
                seen += n;
                correct += CountCorrect(lossFunction.Probabilities, batcher.LabelSpan);
                blockSum += loss; blockCount++;
                if (blockCount == Options.BatchLossInterval)
                {
                    Log.BatchLosses.Add(blockSum / blockCount);
                    (blockSum, blockCount) = (0, 0);
                }
                batch++;
                double elapsed = priorSeconds + watch.Elapsed.TotalSeconds;
                progress?.Report(new TrainingProgress(epoch + 1, Options.Epochs, batch, batches, lossSum / seen, (double)correct / seen,
                    total.Elapsed, TimeSpan.FromSeconds(elapsed / batch * (batches - batch))));

                if (cancellationToken.IsCancellationRequested && batch < batches)
                {
                    State = Snapshot(epoch, batch, batcher, lossSum, correct, seen, priorSeconds + watch.Elapsed.TotalSeconds, blockSum, blockCount);
                    Log.TrainSeconds += watch.Elapsed.TotalSeconds;
                    Log.Complete = false;
                    return Log;
                }
            }
            watch.Stop();
            epochSeconds = priorSeconds + watch.Elapsed.TotalSeconds;
            Log.TrainSeconds += watch.Elapsed.TotalSeconds;

            EvaluationResult? val = validation is { Count: > 0 } ? Evaluator.Evaluate(Model, validation, Normalization, Compute, collectMisclassified: false) : null;
            Log.Epochs.Add(new EpochRecord(epoch + 1, lossSum / seen, (double)correct / seen, val?.Loss, val?.Accuracy,
                Optimizer.LearningRate, epochSeconds));

            if (cancellationToken.IsCancellationRequested && epoch + 1 < Options.Epochs)
            {
                State = Snapshot(epoch + 1, 0, batcher, 0, 0, 0, 0, blockSum, blockCount);
                Log.Complete = false;
                return Log;
            }
        }
        Log.Complete = true;
        State = null;
        return Log;
    }

    /// <summary>
    /// Evaluates the trained model on <paramref name="test"/> (with test-time augmentation when <paramref name="views"/>
    /// has several) and records the result, and how it was measured, in <see cref="Log"/>.
    /// </summary>
    public EvaluationResult Test(MnistDataset test, TestTimeAugmentation? views = null, bool collectMisclassified = true)
    {
        views ??= TestTimeAugmentation.None;
        Log.Test = Evaluator.Evaluate([Model], test, Normalization, Compute, tta: views, collectMisclassified: collectMisclassified);
        Log.TestTta = views.Shifts.Count > 1 ? views.Name : null;
        return Log.Test;
    }

    private ResumeState Snapshot(int epoch, int batch, Batcher batcher, double lossSum, long correct, long seen, double seconds, double blockSum, int blockCount)
    {
        var b = batcher.GetState();
        return new ResumeState
        {
            CompletedEpochs = epoch, CompletedBatches = batch, OptimizerStep = Optimizer.StepCount,
            BatcherEpoch = b.Epoch, BatcherPosition = b.Position,
            Rngs = new()
            {
                ["shuffle"] = b.EpochShuffleState.Select(w => w.ToString("x16")).ToArray(),
                ["augment"] = b.AugmentState.Select(w => w.ToString("x16")).ToArray(),
            },
            EpochLossSum = lossSum, EpochCorrect = correct, EpochSeen = seen, EpochSeconds = seconds,
            BlockLossSum = blockSum, BlockCount = blockCount,
        };
    }

    /// <summary>The per-batch learning-rate schedule <paramref name="options"/> name, for epochs of <paramref name="batchesPerEpoch"/> batches (the CPU and GPU trainers both use it).</summary>
    public static LearningRateSchedule BuildSchedule(TrainerOptions options, int batchesPerEpoch)
    {
        long totalSteps = (long)batchesPerEpoch * options.Epochs;
        double lr = options.LearningRate;
        return options.Schedule switch
        {
            ScheduleKind.Step => new StepSchedule(lr, (long)batchesPerEpoch * options.StepEpochs, options.StepGamma),
            ScheduleKind.Cosine => new CosineSchedule(lr, totalSteps),
            ScheduleKind.OneCycle => new OneCycleSchedule(lr, totalSteps),
            ScheduleKind.None => new ConstantSchedule(lr),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Schedule, "Unknown schedule."),
        };
    }

    /// <summary>Rows of <paramref name="probabilities"/> (n, classes) whose largest entry is at the label.</summary>
    internal static int CountCorrect(Tensor probabilities, ReadOnlySpan<byte> labels)
    {
        int classes = probabilities.Shape[1], correct = 0;
        var p = probabilities.ReadOnlySpan;
        for (int i = 0; i < labels.Length; i++)
            if (Metrics.ArgMax(p.Slice(i * classes, classes)) == labels[i]) correct++;
        return correct;
    }

}
