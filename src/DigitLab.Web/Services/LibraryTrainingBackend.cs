// LibraryTrainingBackend: runs a web training job with the library's Trainer and saves the checkpoint in the models directory;
// fine-tuning starts from a saved model and trains on MNIST + my digits, measuring before and after.
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Models;
using DigitLab.Training;

using DigitLab.Runtime;

namespace DigitLab.Web.Services;

public sealed class LibraryTrainingBackend(IDatasetProvider data, CheckpointModelStore store, MyDigitsStore? myDigits = null) : ITrainingBackend
{
    /// <summary>Images held out of training to draw the validation curve (stratified, as the CLI does).</summary>
    public const int ValidationCount = 5000;

    public IReadOnlyList<string> Architectures => ModelZoo.Names;

    /// <summary>
    /// The recipe for a request: the model's own (<see cref="TrainerOptions.ForModel"/>: one-cycle for `fast`, whose batch
    /// norm is built for a high peak rate, and `best`'s schedule and smoothing), with the fields the Train page sets.
    /// </summary>
    public static TrainerOptions Recipe(TrainingRequest request) => TrainerOptions.ForModel(request.Architecture) with
    {
        LearningRate = request.LearningRate,
        BatchSize = request.BatchSize,
        Epochs = request.Epochs,
        Augmentation = request.Augment ? AugmentationKind.Affine : AugmentationKind.None,
        ValidationCount = ValidationCount,
        Seed = 1,
    };

    public RunLog Train(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken)
    {
        var (trainAll, _) = data.Ensure();
        var trainer = Trainer.Create(Recipe(request));
        var (train, validation) = Split.Stratified(trainAll, ValidationCount, trainer.Options.SplitSeed);
        var log = TrainReporting(trainer, train, validation, progress, cancellationToken);
        Directory.CreateDirectory(store.Directory);
        trainer.SaveCheckpoint(store.PathOf(request.Name));
        return log;
    }

    public FineTuneOutcome FineTune(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken)
    {
        var spec = request.FineTune ?? throw new ArgumentException("This request is not a fine-tuning job (it names no base model).");
        var own = (myDigits ?? throw new InvalidOperationException("This server keeps no drawings (no My digits store).")).ToDataset();
        var (ownTrain, ownHeldOut) = FineTuneData.HoldOut(own);
        var (mnistTrain, mnistTest) = data.Ensure();
        var replay = FineTuneData.Replay(mnistTrain, ownTrain.Count, spec.ReplayFraction, seed: 1);
        var mix = FineTuneData.Concat(ownTrain, replay, $"my-digits[train] ({ownTrain.Count}) + {mnistTrain.Name} replay ({replay.Count})");

        var loaded = Checkpoint.Load(store.PathOf(spec.BaseModel));
        var trainer = new Trainer(loaded.Model, FineTuneRecipe(request, loaded.Info));
        trainer.Log.Dataset = mix.Name;
        var normalization = new Normalization(loaded.Info.NormalizationMean, loaded.Info.NormalizationStd);
        double Accuracy(MnistDataset set) => Evaluator.Evaluate(trainer.Model, set, normalization, trainer.Compute, collectMisclassified: false).Accuracy;
        double ownBefore = Accuracy(ownHeldOut), mnistBefore = Accuracy(mnistTest);

        // The held-out drawings are the validation set: each epoch's record shows how the model reads them.
        var log = TrainReporting(trainer, mix, ownHeldOut, progress, cancellationToken);
        Directory.CreateDirectory(store.Directory);
        trainer.SaveCheckpoint(store.PathOf(request.Name));
        var figures = new FineTuneFigures(spec.BaseModel, ownTrain.Count, ownHeldOut.Count, replay.Count, mnistTest.Count,
            ownBefore, Accuracy(ownHeldOut), mnistBefore, Accuracy(mnistTest));
        return new FineTuneOutcome(log, figures);
    }

    /// <summary>
    /// The base model's own recipe (normalisation and dropout must match its weights) with the page's epochs, batch and
    /// rate, a constant rate (a one-cycle warm-up would first push the trained weights away), and no validation split
    /// (the held-out drawings are the validation set).
    /// </summary>
    public static TrainerOptions FineTuneRecipe(TrainingRequest request, CheckpointInfo info) =>
        (info.Log?.Recipe ?? TrainerOptions.ForModel(info.Architecture)) with
        {
            Model = info.Architecture,
            Dropout = info.Options.Dropout,
            LearningRate = request.LearningRate,
            BatchSize = request.BatchSize,
            Epochs = request.Epochs,
            Schedule = ScheduleKind.None,
            Augmentation = request.Augment ? AugmentationKind.Affine : AugmentationKind.None,
            ValidationCount = 0,
            Seed = 1,
        };

    /// <summary>Trains, relaying the trainer's progress and each finished epoch's record to the job.</summary>
    private static RunLog TrainReporting(Trainer trainer, MnistDataset train, MnistDataset? validation, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken)
    {
        int reported = 0;
        TrainingUpdate? last = null;
        var relay = new SyncProgress<TrainingProgress>(p =>
        {
            // An epoch's record is added after its last batch; pass it on with the next report (or at the end).
            while (reported < trainer.Log.Epochs.Count && last is not null)
                progress.Report(last with { EpochDone = trainer.Log.Epochs[reported++] });
            last = new TrainingUpdate(p.Epoch, p.Epochs, p.Batch, p.Batches, p.Loss);
            progress.Report(last);
        });
        var log = trainer.Train(train, validation, relay, cancellationToken);
        while (reported < log.Epochs.Count && last is not null)
            progress.Report(last with { EpochDone = log.Epochs[reported++] });
        return log;
    }
}
