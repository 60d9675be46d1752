// Training contracts: what a training job asks for and what it reports while it runs.
using DigitLab.Training;

namespace DigitLab.Web.Services;

/// <summary>A training job as the Train page asks for it. <see cref="Name"/> is the file name the model is saved under.</summary>
public sealed record TrainingRequest(string Architecture, int Epochs, int BatchSize, double LearningRate, bool Augment, string Name);

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
}
