// ModelFeatures: what the report needs from trained models: their summary rows and penultimate-layer features for t-SNE.
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Training;

using DigitLab.Runtime;

namespace DigitLab.Reports;

public static class ModelFeatures
{
    /// <summary>The checkpoint saved beside a run log (compare and train write NAME.safetensors next to NAME.json), if any.</summary>
    public static string? CheckpointFor(string runLogPath)
    {
        string path = Path.ChangeExtension(runLogPath, ".safetensors");
        return File.Exists(path) ? path : null;
    }

    /// <summary>Summary rows of <paramref name="model"/> for one 1×28×28 image, from the model library's <see cref="ModelSummary"/>.</summary>
    public static IReadOnlyList<SummaryRow> Summary(Module model) =>
        ModelSummary.Build(model, [1, 1, 28, 28]).Rows;

    /// <summary>
    /// The layers that lead to the input of the last Linear layer, with nested Sequentials flattened; null when
    /// the model is not a Sequential chain ending in a Linear (then there is no single penultimate layer to map).
    /// </summary>
    public static List<Module>? PenultimateChain(Module model)
    {
        var flat = new List<Module>();
        void Flatten(Module m)
        {
            if (m is Sequential s) foreach (var layer in s.Layers) Flatten(layer);
            else flat.Add(m);
        }
        Flatten(model);
        int last = flat.FindLastIndex(m => m is Linear);
        return last <= 0 ? null : flat.GetRange(0, last);
    }

    /// <summary>
    /// Runs <paramref name="normalisedPixels"/> (count × 784, already normalised) through the model, in eval mode and in
    /// batches, up to the input of its last Linear layer. Returns the features (count × d) and d.
    /// </summary>
    /// <exception cref="ArgumentException">The model has no Linear layer after some other layer.</exception>
    public static (float[] Features, int Dimensions) Penultimate(Module model, float[] normalisedPixels, int count, ComputeContext compute, int batchSize = 250)
    {
        var chain = PenultimateChain(model)
            ?? throw new ArgumentException($"Cannot take penultimate features of {model.GetType().Name}: expected a Sequential whose last Linear layer follows other layers.");
        var workspace = new Workspace(compute, training: false);
        float[]? features = null;
        int dims = 0;
        var input = new Tensor(Math.Min(batchSize, count), 1, 28, 28);
        for (int start = 0; start < count; start += batchSize)
        {
            int n = Math.Min(batchSize, count - start);
            input.Resize(n, 1, 28, 28);
            normalisedPixels.AsSpan(start * 784, n * 784).CopyTo(input.Span);
            Tensor x = input;
            foreach (var layer in chain) x = layer.Forward(x, workspace);
            dims = x.Length / n;
            features ??= new float[(long)count * dims];
            x.ReadOnlySpan.CopyTo(features.AsSpan(start * dims, n * dims));
        }
        return (features!, dims);
    }

    /// <summary>Loads the trained model of a run from its checkpoint; null when the run has none.</summary>
    public static Module? LoadModel(string? checkpointPath) =>
        checkpointPath is null ? null : Checkpoint.Load(checkpointPath).Model;
}
