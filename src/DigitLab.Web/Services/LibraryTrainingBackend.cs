// LibraryTrainingBackend: runs a web training job with the library's Trainer and saves the checkpoint in the models directory.
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Training;

using DigitLab.Runtime;

namespace DigitLab.Web.Services;

public sealed class LibraryTrainingBackend(IDatasetProvider data, CheckpointModelStore store) : ITrainingBackend
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

        Directory.CreateDirectory(store.Directory);
        trainer.SaveCheckpoint(store.PathOf(request.Name));
        return log;
    }
}
