// BatchPredictor: many image files through one loaded model: parallel decode and preprocessing, then batched forward passes of the prepared model.
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Nn.Inference;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

/// <summary>One file's answer: the digit, its probability and all ten, and the 28×28 input the model received; or why the file could not be read.</summary>
public sealed record ImagePrediction(string Path, int? Digit, float Confidence, float[]? Probabilities, byte[]? Input, string? Error)
{
    public bool Ok => Error is null;
}

/// <summary>
/// Classifies many image files with one model: files are decoded and preprocessed in parallel (<see cref="ImageFolder.Prepare"/>,
/// the same preprocessing as predict and image folders), then run through the model prepared for inference
/// (<see cref="PreparedModel"/>: batch norm folded, activations fused) in batches of <see cref="BatchSize"/>.
/// </summary>
/// <remarks>A file that cannot be read (missing, damaged, not an image, too large, no digit) gets a row with its reason; the others are still predicted.</remarks>
public static class BatchPredictor
{
    /// <summary>Images per forward pass.</summary>
    public const int BatchSize = 256;

    /// <summary>The image files of <paramref name="directory"/> and below (by extension: png, jpg, jpeg, webp, gif, bmp, pgm), in ordinal path order; names starting with '.' are left out.</summary>
    public static IReadOnlyList<string> ImagesIn(string directory)
    {
        string[] extensions = [".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".pgm"];
        return Directory.EnumerateFiles(Path.GetFullPath(directory), "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden })
            .Where(f => extensions.Contains(System.IO.Path.GetExtension(f).ToLowerInvariant()))
            .Where(f => !System.IO.Path.GetRelativePath(directory, f).Split(System.IO.Path.DirectorySeparatorChar).Any(p => p.StartsWith('.')))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Predicts every file of <paramref name="paths"/>, in order.</summary>
    public static IReadOnlyList<ImagePrediction> Predict(Module model, Normalization normalization, IReadOnlyList<string> paths, ComputeContext compute)
    {
        var inputs = new (byte[]? Pixels, string? Error)[paths.Count];
        Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
            inputs[i] = File.Exists(paths[i]) ? ImageFolder.Prepare(paths[i])
                : (null, Directory.Exists(paths[i]) ? "is a folder (give folders alone to search them)" : "does not exist"));

        Module prepared;
        try { prepared = PreparedModel.Prepare(model); }
        catch (NotSupportedException) { prepared = model; } // a layer the preparer does not know: the plain model, slower
        var workspace = new Workspace(compute, training: false);
        var results = new ImagePrediction[paths.Count];
        var good = Enumerable.Range(0, paths.Count).Where(i => inputs[i].Pixels is not null).ToArray();
        for (int start = 0; start < good.Length; start += BatchSize)
        {
            int n = Math.Min(BatchSize, good.Length - start);
            var x = new Tensor(n, 1, MnistDataset.Rows, MnistDataset.Cols);
            for (int k = 0; k < n; k++) normalization.Apply(inputs[good[start + k]].Pixels!, x.Span.Slice(k * MnistDataset.Pixels, MnistDataset.Pixels));
            var logits = prepared.Forward(x, workspace).ReadOnlySpan; // (n, 10)
            int classes = logits.Length / n;
            for (int k = 0; k < n; k++)
            {
                var p = Predictor.Softmax(logits.Slice(k * classes, classes));
                FiniteCheck.Probabilities(p);
                int best = Metrics.ArgMax(p);
                int i = good[start + k];
                results[i] = new ImagePrediction(paths[i], best, p[best], p, inputs[i].Pixels, null);
            }
        }
        for (int i = 0; i < paths.Count; i++)
            results[i] ??= new ImagePrediction(paths[i], null, 0, null, null, inputs[i].Error ?? "not readable");
        return results;
    }
}
