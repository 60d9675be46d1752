// Training contracts: what a training job asks for and what it reports while it runs.
using System.Text.Json.Serialization;
using DigitLab.Training;

namespace DigitLab.Web.Services;

/// <summary>A training job as the Train page asks for it. <see cref="Name"/> is the file name the model is saved under.</summary>
/// <param name="Augmentation">The recipe's augmentation, sent as the command line spells it ("none", "affine", "robust", …).</param>
/// <param name="FineTune">Set for a fine-tuning job: start from a saved model and train on MNIST + my digits.</param>
public sealed record TrainingRequest(string Architecture, int Epochs, int BatchSize, double LearningRate,
    [property: JsonConverter(typeof(JsonStringEnumConverter<AugmentationKind>))] AugmentationKind Augmentation, string Name, FineTuneSpec? FineTune = null)
{
    /// <summary>Whether any augmentation runs (the field pages and scripts written before <see cref="Augmentation"/> read).</summary>
    public bool Augment => Augmentation != AugmentationKind.None;
}

/// <summary>What a fine-tuning job starts from and mixes in.</summary>
/// <param name="BaseModel">The saved model whose weights the job starts from (its architecture is the job's).</param>
/// <param name="ReplayFraction">Share of MNIST training images in the training mix (0 = my digits only), so the model does not forget MNIST.</param>
public sealed record FineTuneSpec(string BaseModel, double ReplayFraction);

/// <summary>A fine-tuning job's before/after figures: accuracy on the held-out part of my digits and on the MNIST test set.</summary>
/// <param name="OwnTrain">My drawings trained on; <paramref name="OwnHeldOut"/> drawings held out (never trained on) to measure.</param>
/// <param name="Replay">MNIST training images mixed in.</param>
public sealed record FineTuneFigures(string BaseModel, int OwnTrain, int OwnHeldOut, int Replay, int MnistTest,
    double OwnBefore, double OwnAfter, double MnistBefore, double MnistAfter);

/// <summary>What a fine-tuning job returns: its run log and the before/after figures.</summary>
public sealed record FineTuneJobResult(RunLog Log, FineTuneFigures Figures);

/// <summary>One progress report from the trainer: position in the run and the loss of the last batches.</summary>
/// <remarks><see cref="EpochDone"/> is set once per finished epoch (with validation figures when there are any).</remarks>
public sealed record TrainingUpdate(int Epoch, int Epochs, int Batch, int Batches, double Loss, EpochRecord? EpochDone = null);

/// <summary>Runs one training job for the web app: trains, reports progress, and saves the model (also a partial one on cancel).</summary>
public interface ITrainingBackend
{
    /// <summary>The architectures that can be trained (the model zoo's names).</summary>
    IReadOnlyList<string> Architectures { get; }

    /// <summary>Trains and saves under <see cref="TrainingRequest.Name"/> in the models directory.</summary>
    /// <remarks>On cancellation the model trained so far is saved too, and the method returns normally with the epochs done so far.</remarks>
    RunLog Train(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken);

    /// <summary>Fine-tunes <see cref="FineTuneSpec.BaseModel"/> on MNIST + my digits (<see cref="TrainingRequest.FineTune"/> set), saves it under <see cref="TrainingRequest.Name"/>, and measures before and after.</summary>
    /// <remarks>On cancellation the model trained so far is saved and measured too.</remarks>
    FineTuneJobResult FineTune(TrainingRequest request, IProgress<TrainingUpdate> progress, CancellationToken cancellationToken) =>
        throw new NotSupportedException("This server's training backend cannot fine-tune.");
}
