// Contracts: the small interfaces the endpoints depend on, so the HTTP layer is testable on its own
// and the library (checkpoints, datasets, trainer) plugs in behind them.
using DigitLab.Training;
using DigitLab.Evaluation;

using DigitLab.Data;
using DigitLab.Models;

namespace DigitLab.Web.Services;

/// <summary>A loaded classifier: 784 pixel values in [0, 1] (28×28, white ink on black) → ten probabilities.</summary>
public interface IDigitClassifier
{
    string Name { get; }

    /// <summary>Class probabilities (length 10, summing to 1) for one image (length 784, values in [0, 1]).</summary>
    /// <remarks>Safe to call from many requests at once.</remarks>
    float[] Probabilities(ReadOnlySpan<float> image);
}

/// <summary>What the models list shows for one saved model.</summary>
public sealed record ModelInfo(
    string Name,
    string Architecture,
    long Parameters,
    int Epochs,
    double? TestAccuracy,
    DateTimeOffset Saved,
    bool Partial);

/// <summary>A checkpoint in the models directory that could not be read: its name and why (shown once, not retried until the file changes).</summary>
public sealed record DamagedModel(string Name, string Problem);

/// <summary>Everything the Models page shows for one model.</summary>
public sealed record ModelDetails(ModelInfo Info, IReadOnlyList<SummaryRow> Summary, RunLog Log);

/// <summary>The saved models under the models directory, and which one is active.</summary>
public interface IModelStore
{
    /// <summary>The directory the models live in (for messages).</summary>
    string Directory { get; }

    /// <summary>Every saved model, newest first.</summary>
    IReadOnlyList<ModelInfo> List();

    /// <summary>The checkpoints <see cref="List"/> skipped because they could not be read, by name.</summary>
    IReadOnlyList<DamagedModel> Damaged() => [];

    /// <summary>The active model's name: the one chosen with <see cref="SetActive"/>, else the newest; null when none is saved.</summary>
    string? ActiveName { get; }

    /// <summary>Makes <paramref name="name"/> the active model; false when no such model exists.</summary>
    bool SetActive(string name);

    /// <summary>The loaded classifier, or null when no model of that name exists. Loaded once and cached.</summary>
    IDigitClassifier? Open(string name);

    /// <summary>Summary, run log and metrics of one model, or null when unknown.</summary>
    ModelDetails? Details(string name);

    /// <summary>Evaluates the model on the test set, stores the result with the model and returns it; null when unknown.</summary>
    EvaluationResult? Test(string name, IDatasetProvider data, CancellationToken cancellationToken);

    /// <summary>Evaluates the model on any labelled set (the user's own digits) without storing anything; null when unknown.</summary>
    /// <remarks>This default asks <see cref="IDigitClassifier.Probabilities"/> image by image and fills the figures with the
    /// library's <see cref="Metrics"/>; the checkpoint store runs the library's batched <see cref="Evaluator"/> instead.</remarks>
    EvaluationResult? Evaluate(string name, MnistDataset data)
    {
        if (Open(name) is not { } classifier) return null;
        var confusion = Metrics.NewConfusion(MnistDataset.Classes);
        double loss = 0;
        var image = new float[MnistDataset.Pixels];
        for (int i = 0; i < data.Count; i++)
        {
            var pixels = data.Image(i);
            for (int p = 0; p < image.Length; p++) image[p] = pixels[p] / 255f;
            var probabilities = classifier.Probabilities(image);
            confusion[data.Labels[i]][Metrics.ArgMax(probabilities)]++;
            loss -= Math.Log(Math.Max(probabilities[data.Labels[i]], 1e-30));
        }
        return Metrics.Evaluate(confusion, data.Count == 0 ? 0 : loss / data.Count);
    }
}

/// <summary>The MNIST training and test sets, loaded lazily from the data directory.</summary>
public interface IDatasetProvider
{
    string DataDirectory { get; }

    /// <summary>"train" or "test"; null when the files are not there (the message says how to fetch them).</summary>
    MnistDataset? Get(string split, out string? problem);

    /// <summary>Both sets, fetched first when missing (a training job on a fresh machine).</summary>
    (MnistDataset Train, MnistDataset Test) Ensure();
}
