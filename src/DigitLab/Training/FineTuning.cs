// FineTuning: starts a trainer from a checkpoint's weights and fine-tunes it on the user's own digits mixed with MNIST
// replay, measuring accuracy on a held-out part of the own digits and on MNIST test before and after. The CLI
// (`train --init`) and the web app's Teach flow both call it.
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Models;

namespace DigitLab.Training;

/// <summary>What to fine-tune, on what, and how.</summary>
public sealed record FineTuneRequest
{
    /// <summary>The checkpoint to start from; its architecture, dropout setting and normalisation are kept.</summary>
    public required string InitCheckpoint { get; init; }
    /// <summary>The user's own digits (28×28, preprocessed like MNIST): a stratified <see cref="HeldOutFraction"/> is held out, the rest trained on.</summary>
    public required MnistDataset Own { get; init; }
    /// <summary>MNIST's training images, sampled for replay (unused when <see cref="ReplayFraction"/> is 0).</summary>
    public required MnistDataset ReplaySource { get; init; }
    /// <summary>MNIST's test images: the "did it forget?" figure before and after; null skips it.</summary>
    public MnistDataset? MnistTest { get; init; }
    /// <summary>The own digits' held-out part when the user keeps one (an image folder's test/ part); null holds out <see cref="HeldOutFraction"/> of <see cref="Own"/>.</summary>
    public MnistDataset? OwnHeldOut { get; init; }
    public int Epochs { get; init; } = DefaultEpochs;
    public const int DefaultEpochs = 3;
    /// <summary>Adam's constant rate; a tenth of training's 1e-3 so that the few own images adjust the weights rather than overwrite them.</summary>
    public double LearningRate { get; init; } = DefaultLearningRate;
    public const double DefaultLearningRate = 3e-4;
    public double ReplayFraction { get; init; } = TrainerOptions.DefaultReplayFraction;
    /// <summary>Share of the own digits held out (stratified by digit) for the before/after figure; 0 holds none out.</summary>
    public double HeldOutFraction { get; init; } = DefaultHeldOutFraction;
    public const double DefaultHeldOutFraction = 0.2;
    public ulong Seed { get; init; } = 1;
    /// <summary>Kernel threads; 0 means all cores.</summary>
    public int Threads { get; init; }
    /// <summary>Batch size; null takes the model's default recipe's.</summary>
    public int? BatchSize { get; init; }
    /// <summary>Where the fine-tuned checkpoint is written (atomically, only once the run completed); null writes nothing.</summary>
    public string? OutputPath { get; init; }

    /// <summary>
    /// A whole recipe (the command line's options) instead of the fields above: when set, it gives the epochs, rate,
    /// schedule, batch, seed, threads and replay fraction, and <see cref="Epochs"/>, <see cref="LearningRate"/>,
    /// <see cref="ReplayFraction"/>, <see cref="Seed"/>, <see cref="Threads"/> and <see cref="BatchSize"/> are not used.
    /// Its <see cref="TrainerOptions.InitCheckpoint"/> becomes this request's and its validation count 0 (the held-out own digits validate).
    /// </summary>
    public TrainerOptions? Recipe { get; init; }

    /// <summary>The recipe this request runs for a checkpoint of <paramref name="architecture"/>: <see cref="Recipe"/>, or the model's default recipe with a constant rate and the request's choices.</summary>
    public TrainerOptions RecipeFor(string architecture)
    {
        if (Recipe is { } given) return given with { InitCheckpoint = InitCheckpoint, ValidationCount = 0 };
        var d = TrainerOptions.ForModel(architecture);
        return d with
        {
            Epochs = Epochs, LearningRate = LearningRate, Schedule = ScheduleKind.None, Optimizer = OptimizerKind.Adam,
            BatchSize = BatchSize ?? d.BatchSize, ValidationCount = 0, Seed = Seed, Threads = Threads,
            InitCheckpoint = InitCheckpoint, ReplayFraction = ReplayFraction,
        };
    }
}

/// <summary>
/// What fine-tuning did: accuracies before and after on the held-out own digits (null when none were held out) and on
/// MNIST test (null when no test set was given), the counts trained on, the run log and the fine-tuned model.
/// </summary>
public sealed record FineTuneOutcome(
    EvaluationResult? OwnBefore, EvaluationResult? OwnAfter,
    EvaluationResult? MnistBefore, EvaluationResult? MnistAfter,
    int OwnTrainCount, int OwnHeldOutCount, int ReplayCount,
    RunLog Log, Trainer Trainer);

/// <summary>Fine-tuning a trained model on the user's own digits.</summary>
public static class FineTuning
{
    /// <summary>
    /// A trainer whose model starts from <paramref name="options"/>' <see cref="TrainerOptions.InitCheckpoint"/>: its
    /// weights, batch-norm buffers and dropout generators; the optimizer starts fresh. The checkpoint's architecture must be
    /// <see cref="TrainerOptions.Model"/>. The checkpoint's normalisation and dropout setting win over the recipe's (the
    /// weights were learned with them; another normalisation would feed them inputs they never saw), and the trainer's
    /// <see cref="Trainer.Options"/> records what was used.
    /// </summary>
    /// <exception cref="ArgumentException">Another architecture, or a normalisation no recipe can name.</exception>
    public static Trainer StartFrom(TrainerOptions options)
    {
        options.Validate();
        string path = options.InitCheckpoint ?? throw new ArgumentException("No init checkpoint was given: set InitCheckpoint to the .safetensors file to start from.", nameof(options));
        var (model, info) = Checkpoint.Load(path);
        CheckArchitecture(path, info.Architecture, options.Model);
        var stored = new Normalization(info.NormalizationMean, info.NormalizationStd);
        NormalizationKind kind = stored == Normalization.Mnist ? NormalizationKind.Mnist
            : stored == Normalization.Half ? NormalizationKind.Half
            : throw new ArgumentException($"The init checkpoint '{path}' was trained with normalisation ({stored}), which is neither mnist ({Normalization.Mnist}) nor half ({Normalization.Half}); DigitLab cannot fine-tune it.");
        return new Trainer(model, options with { Model = info.Architecture, Normalization = kind, Dropout = info.Options.Dropout });
    }

    /// <summary>Throws when the checkpoint at <paramref name="path"/> holds another architecture than the recipe's <paramref name="model"/>, naming both.</summary>
    public static void CheckArchitecture(string path, string checkpointArchitecture, string model)
    {
        if (!string.Equals(checkpointArchitecture, model, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"The init checkpoint '{path}' holds a '{checkpointArchitecture}' model, but the recipe trains '{model}': fine-tuning keeps the architecture. Use --model {checkpointArchitecture} (or leave --model out), or start from a '{model}' checkpoint.");
    }

    /// <summary>
    /// Fine-tunes <see cref="FineTuneRequest.InitCheckpoint"/> on the request's own digits mixed with MNIST replay
    /// (<see cref="Replay.Mix"/>), measures before and after, and writes the checkpoint to <see cref="FineTuneRequest.OutputPath"/>.
    /// </summary>
    /// <remarks>
    /// Cancellation (checked after every batch) throws <see cref="OperationCanceledException"/> and writes nothing: the
    /// init checkpoint is only read, and the output is written once, atomically, after the last epoch.
    /// Progress reports are the trainer's, over the mixed set.
    /// </remarks>
    public static FineTuneOutcome Run(FineTuneRequest request, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (request.OwnHeldOut is null && !(request.HeldOutFraction >= 0 && request.HeldOutFraction < 1))
            throw new ArgumentException($"The held-out fraction must be at least 0 and below 1 (0.2 = a fifth of your digits kept for the before/after figure), found {request.HeldOutFraction}.", nameof(request));
        if (request.Own.Count == 0) throw new ArgumentException($"The own dataset {request.Own.Name} has no images: add some digits before fine-tuning.", nameof(request));
        cancellationToken.ThrowIfCancellationRequested();

        string architecture = Checkpoint.Load(request.InitCheckpoint).Info.Architecture; // also reports a bad file before any work
        var trainer = StartFrom(request.RecipeFor(architecture));
        var o = trainer.Options;
        var (ownTrain, heldOut) = request.OwnHeldOut is { } kept ? (request.Own, kept) : HoldOut(request.Own, request.HeldOutFraction, o.Seed);
        var mix = Replay.Mix(ownTrain, request.ReplaySource, o.ReplayFraction, o.Seed);

        EvaluationResult? Measure(MnistDataset? data) => data is { Count: > 0 }
            ? Evaluator.Evaluate(trainer.Model, data, trainer.Normalization, trainer.Compute, collectMisclassified: false) : null;
        var ownBefore = Measure(heldOut);
        var mnistBefore = Measure(request.MnistTest);
        cancellationToken.ThrowIfCancellationRequested();

        var log = trainer.Log;
        log.OwnDataset = request.Own.Name;
        log.OwnCount = ownTrain.Count;
        log.ReplayDataset = request.ReplaySource.Name;
        log.ReplayCount = mix.Count - ownTrain.Count;
        trainer.Train(mix, heldOut.Count > 0 ? heldOut : null, progress, cancellationToken);
        if (!log.Complete) throw new OperationCanceledException("Fine-tuning was cancelled; nothing was written and the init checkpoint is unchanged.", cancellationToken);

        var ownAfter = Measure(heldOut);
        EvaluationResult? mnistAfter = null;
        if (request.MnistTest is { Count: > 0 } test) mnistAfter = trainer.Test(test, collectMisclassified: false);
        cancellationToken.ThrowIfCancellationRequested();
        if (request.OutputPath is not null) trainer.SaveCheckpoint(request.OutputPath);
        return new FineTuneOutcome(ownBefore, ownAfter, mnistBefore, mnistAfter, ownTrain.Count, heldOut.Count, log.ReplayCount ?? 0, log, trainer);
    }

    /// <summary>A stratified <paramref name="fraction"/> of <paramref name="own"/> held out (rounded; at least one image left to train on).</summary>
    public static (MnistDataset Train, MnistDataset HeldOut) HoldOut(MnistDataset own, double fraction, ulong seed)
    {
        int count = (int)Math.Round(own.Count * fraction, MidpointRounding.AwayFromZero);
        if (count == own.Count) count--;
        return Split.Stratified(own, count, seed);
    }
}
