// Ensemble: several trained models voting by their mean softmax probabilities (issue 5's `--ensemble`).
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Training;

/// <summary>Evaluates the average of several models' class probabilities, as one classifier.</summary>
/// <remarks>
/// Members are weighted equally and all of them count: choosing members by their test accuracy would select on
/// the test set. With test-time augmentation every member sees every view of each image and all those
/// probabilities are averaged alike (a single model with views is an ensemble of one). Each member runs in
/// evaluation mode; its training/evaluation mode is restored afterwards.
/// </remarks>
public static class Ensemble
{
    /// <summary>
    /// Accuracy, loss (cross-entropy of the mean probabilities), confusion matrix, per-class metrics and mistakes of the
    /// mean of <paramref name="members"/>' softmax outputs over <paramref name="data"/> (dataset order), each member
    /// seeing every view of <paramref name="tta"/> (default: the image alone).
    /// </summary>
    public static EvaluationResult Evaluate(IReadOnlyList<Module> members, MnistDataset data, Normalization normalization, int batchSize = 500,
                                            TestTimeAugmentation? tta = null)
    {
        tta ??= TestTimeAugmentation.None;
        if (members.Count == 0) throw new ArgumentException("An ensemble needs at least one model; train some first (digitlab train --ensemble N).", nameof(members));
        var modes = members.Select(m => m.IsTraining).ToArray();
        foreach (var m in members) m.Eval();
        try
        {
            const int Classes = MnistDataset.Classes;
            var batcher = new Batcher(data, batchSize, normalization, shuffle: false);
            var softmax = new SoftmaxCrossEntropy();
            var mean = new float[batchSize * Classes];
            var view = tta.Shifts.Count > 1 ? new Tensor(batchSize, 1, MnistDataset.Rows, MnistDataset.Cols) : null;
            float background = normalization.Apply((byte)0);
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
                    var input = batcher.Images;
                    if (dx != 0 || dy != 0)
                    {
                        view!.Resize(n, 1, MnistDataset.Rows, MnistDataset.Cols);
                        TestTimeAugmentation.Shift(batcher.Images.Span, view.Span, n, dx, dy, background);
                        input = view;
                    }
                    foreach (var member in members)
                    {
                        softmax.Forward(member.Forward(input), batcher.LabelSpan);
                        System.Numerics.Tensors.TensorPrimitives.Add(sum, softmax.Probabilities.ReadOnlySpan, sum);
                    }
                }
                System.Numerics.Tensors.TensorPrimitives.Multiply(sum, weight, sum);
                var labels = batcher.LabelSpan;
                var indices = batcher.Indices;
                for (int i = 0; i < n; i++)
                {
                    var row = sum.Slice(i * Classes, Classes);
                    int predicted = Trainer.ArgMax(row);
                    lossSum -= Math.Log(Math.Max(row[labels[i]], 1e-30));
                    confusion[labels[i]][predicted]++;
                    if (predicted != labels[i]) wrong.Add(new Misclassified(indices[i], labels[i], predicted, row[predicted]));
                }
            }
            return Metrics.Evaluate(confusion, lossSum / data.Count, wrong);
        }
        finally
        {
            for (int i = 0; i < members.Count; i++) members[i].SetTraining(modes[i]);
        }
    }
}
