// Evaluator: the one evaluation loop: a model, an ensemble or test-time augmented views as a probability source, over a labelled set.
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Runtime;
using DigitLab.Tensors;

namespace DigitLab.Evaluation;

/// <summary>
/// Accuracy, loss, confusion matrix, per-class metrics and mistakes of a classifier on a labelled set. The classifier
/// is the mean of the softmax probabilities of one or more models over one or more views of each image: a single
/// model is an ensemble of one with one view.
/// </summary>
/// <remarks>
/// Models run in evaluation mode in a workspace of this call's own, so evaluating never changes a model and may run
/// while the same model serves other callers. Ensemble members are weighted equally and all of them count: choosing
/// members by their test accuracy would select on the test set. With test-time augmentation every member sees every
/// view and all those probabilities are averaged alike.
/// </remarks>
public static class Evaluator
{
    /// <summary>
    /// Runs <paramref name="model"/> over <paramref name="data"/> in batches of <paramref name="batchSize"/> (dataset
    /// order): accuracy, mean cross-entropy loss, confusion[true][predicted], per-class and averaged metrics, and
    /// (optionally) every misclassified image with the probability the model gave its wrong answer.
    /// </summary>
    public static EvaluationResult Evaluate(Module model, MnistDataset data, Normalization normalization, ComputeContext compute,
                                            int batchSize = 500, bool collectMisclassified = true) =>
        Evaluate([model], data, normalization, compute, batchSize, TestTimeAugmentation.None, collectMisclassified);

    /// <summary>
    /// As above for the mean of <paramref name="members"/>' softmax outputs, each member seeing every view of
    /// <paramref name="tta"/> (default: the image alone). The loss is the model's own cross-entropy for a single model
    /// and view (as training reports it), else the cross-entropy of the mean probabilities.
    /// </summary>
    /// <param name="probabilities">When given, (data.Count × 10) in dataset order: receives each image's probabilities (the
    /// members' and views' mean), the very numbers the prediction and the confusion matrix come from.</param>
    public static EvaluationResult Evaluate(IReadOnlyList<Module> members, MnistDataset data, Normalization normalization, ComputeContext compute,
                                            int batchSize = 500, TestTimeAugmentation? tta = null, bool collectMisclassified = true, float[]? probabilities = null)
    {
        if (probabilities is not null && probabilities.Length != data.Count * MnistDataset.Classes)
            throw new ArgumentException($"The probabilities buffer holds {probabilities.Length} values; {data.Name} needs {data.Count} × {MnistDataset.Classes}.", nameof(probabilities));
        tta ??= TestTimeAugmentation.None;
        if (members.Count == 0) throw new ArgumentException("An ensemble needs at least one model; train some first (digitlab train --ensemble N).", nameof(members));
        const int Classes = MnistDataset.Classes;
        var workspace = new Workspace(compute, training: false);
        var batcher = new Batcher(data, batchSize, normalization, shuffle: false);
        var softmax = new SoftmaxCrossEntropy();
        var mean = new float[batchSize * Classes];
        var view = tta.Shifts.Count > 1 ? new Tensor(batchSize, 1, MnistDataset.Rows, MnistDataset.Cols) : null;
        float background = normalization.Apply((byte)0);
        bool single = members.Count == 1 && tta.Shifts.Count == 1;
        float weight = 1f / (members.Count * tta.Shifts.Count);
        var confusion = Metrics.NewConfusion(Classes);
        var wrong = new List<Misclassified>();
        double lossSum = 0;
        batcher.StartEpoch();
        while (batcher.Next())
        {
            int n = batcher.Count;
            var sum = mean.AsSpan(0, n * Classes);
            sum.Clear();
            foreach (var (dx, dy) in tta.Shifts)
            {
                var input = batcher.Images;                                       // (n, 1, 28, 28)
                if (dx != 0 || dy != 0)
                {
                    view!.Resize(n, 1, MnistDataset.Rows, MnistDataset.Cols);
                    TestTimeAugmentation.Shift(batcher.Images.Span, view.Span, n, dx, dy, background);
                    input = view;
                }
                foreach (var member in members)
                {
                    float batchLoss = softmax.Forward(member.Forward(input, workspace), batcher.LabelSpan); // from (n, 10) logits
                    if (single) lossSum += (double)batchLoss * n;
                    System.Numerics.Tensors.TensorPrimitives.Add(sum, softmax.Probabilities.ReadOnlySpan, sum);
                }
            }
            if (!single) System.Numerics.Tensors.TensorPrimitives.Multiply(sum, weight, sum);
            var labels = batcher.LabelSpan;
            var indices = batcher.Indices;
            for (int i = 0; i < n; i++)
            {
                var row = sum.Slice(i * Classes, Classes);
                if (probabilities is not null) row.CopyTo(probabilities.AsSpan(indices[i] * Classes, Classes));
                int predicted = Metrics.ArgMax(row);
                if (!single) lossSum -= Math.Log(Math.Max(row[labels[i]], 1e-30));
                confusion[labels[i]][predicted]++;
                if (collectMisclassified && predicted != labels[i]) wrong.Add(new Misclassified(indices[i], labels[i], predicted, row[predicted]));
            }
        }
        return Metrics.Evaluate(confusion, lossSum / data.Count, wrong);
    }

    /// <summary>The first <paramref name="perClass"/> images of each digit (dataset order), as one study's balanced 850-per-class test.</summary>
    public static MnistDataset Balanced(MnistDataset data, int perClass)
    {
        var indices = new List<int>();
        for (int digit = 0; digit < MnistDataset.Classes; digit++)
        {
            var of = data.IndicesOf(digit);
            if (of.Length < perClass)
                throw new ArgumentException($"--balanced {perClass} needs {perClass} images of every digit, but {data.Name} has only {of.Length} of digit {digit}. Use at most {MinPerClass(data)}.");
            indices.AddRange(of.Take(perClass));
        }
        indices.Sort();
        return data.Subset(indices.ToArray(), $"{data.Name} (balanced {perClass}/class)");
    }

    private static int MinPerClass(MnistDataset data) => data.ClassCounts().Min();
}
