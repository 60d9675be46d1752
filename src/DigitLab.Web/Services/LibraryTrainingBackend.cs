// LibraryTrainingBackend: runs a web training job with the library's Trainer and saves the checkpoint in the models directory;
// fine-tuning starts from a saved model and trains on MNIST + my digits (the library's fine-tuning API), measuring before and after.
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Gpu;
using DigitLab.Models;
using DigitLab.Training;

using DigitLab.Runtime;

namespace DigitLab.Web.Services;

/// <param name="openDevice">Opens the device a job trains on (DigitLab:Device), null for the CPU engine; called once per job,
/// and the device is closed when the job ends, so an idle server holds no GPU.</param>
public sealed class LibraryTrainingBackend(IDatasetProvider data, CheckpointModelStore store, MyDigitsStore? myDigits = null,
    Func<GpuDevice?>? openDevice = null) : ITrainingBackend
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
        Augmentation = request.Augmentation,
        ValidationCount = ValidationCount,
        Seed = 1,
    };

    public RunLog Train(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken)
    {
        var (trainAll, _) = data.Ensure();
        var trainer = Trainer.Create(Recipe(request));
        var (train, validation) = Split.Stratified(trainAll, ValidationCount, trainer.Options.SplitSeed);
        var log = TrainReporting(trainer, train, validation, progress, cancellationToken, openDevice);
        Directory.CreateDirectory(store.Directory);
        trainer.SaveCheckpoint(store.PathOf(request.Name));
        return log;
    }

    /// <remarks>
    /// The library's fine-tuning pieces, as <c>digitlab train --init</c> uses them: <see cref="FineTuneRequest.Recipe"/> (constant-rate
    /// Adam, no validation split), <see cref="FineTuning.StartFrom"/> (the base model's weights, normalisation and dropout) and
    /// <see cref="Replay.Mix"/>; measured with the library's <see cref="Evaluator"/>. Unlike <see cref="FineTuning.Run"/>, which writes
    /// nothing when cancelled, the web job keeps the Train page's rule: on Cancel the model trained so far is saved (and measured),
    /// and each finished epoch reaches the page as it ends.
    /// </remarks>
    public FineTuneJobResult FineTune(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken)
    {
        var spec = request.FineTune ?? throw new ArgumentException("This request is not a fine-tuning job (it names no base model).");
        var own = (myDigits ?? throw new InvalidOperationException("This server keeps no drawings (no My digits store).")).ToDataset();
        var (ownTrain, ownHeldOut) = FineTuneData.HoldOut(own);
        var (mnistTrain, mnistTest) = data.Ensure();
        string basePath = store.PathOf(spec.BaseModel);
        var fine = new FineTuneRequest
        {
            InitCheckpoint = basePath, Own = own, ReplaySource = mnistTrain, MnistTest = mnistTest, Epochs = request.Epochs,
            LearningRate = request.LearningRate, BatchSize = request.BatchSize, ReplayFraction = spec.ReplayFraction, Seed = 1,
        };
        var recipe = fine.RecipeFor(Checkpoint.Load(basePath).Info.Architecture) with
        {
            Augmentation = request.Augmentation,
        };
        var trainer = FineTuning.StartFrom(recipe);
        var mix = Replay.Mix(ownTrain, mnistTrain, spec.ReplayFraction, fine.Seed);
        trainer.Log.OwnDataset = own.Name;
        trainer.Log.OwnCount = ownTrain.Count;
        trainer.Log.ReplayDataset = mnistTrain.Name;
        trainer.Log.ReplayCount = mix.Count - ownTrain.Count;

        double Accuracy(MnistDataset set) => Evaluator.Evaluate(trainer.Model, set, trainer.Normalization, trainer.Compute, collectMisclassified: false).Accuracy;
        double ownBefore = Accuracy(ownHeldOut), mnistBefore = Accuracy(mnistTest);

        // The held-out drawings are the validation set: each epoch's record shows how the model reads them.
        var log = TrainReporting(trainer, mix, ownHeldOut, progress, cancellationToken, openDevice);
        Directory.CreateDirectory(store.Directory);
        trainer.SaveCheckpoint(store.PathOf(request.Name));
        var figures = new FineTuneFigures(spec.BaseModel, ownTrain.Count, ownHeldOut.Count, mix.Count - ownTrain.Count, mnistTest.Count,
            ownBefore, Accuracy(ownHeldOut), mnistBefore, Accuracy(mnistTest));
        return new FineTuneJobResult(log, figures);
    }

    /// <summary>
    /// Trains on the CPU engine, or on the device <paramref name="openDevice"/> opens (the GPU backend, which copies the weights
    /// back into the trainer's model, so saving is the same), relaying the progress and each finished epoch's record to the job.
    /// </summary>
    internal static RunLog TrainReporting(Trainer trainer, MnistDataset train, MnistDataset? validation, IProgress<TrainingUpdate> progress,
        CancellationToken cancellationToken, Func<GpuDevice?>? openDevice = null)
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
        RunLog log;
        using (var device = openDevice?.Invoke())
        {
            if (device is null) log = trainer.Train(train, validation, relay, cancellationToken);
            else
            {
                using var gpu = new GpuTrainer(trainer, device);
                log = gpu.Train(train, validation, relay, cancellationToken);
            }
        }
        while (reported < log.Epochs.Count && last is not null)
            progress.Report(last with { EpochDone = log.Epochs[reported++] });
        return log;
    }
}
