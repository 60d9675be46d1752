// Evaluator: a model's accuracy, loss, confusion matrix, per-class metrics and mistakes on a labelled set.
using DigitLab.Data;
using DigitLab.Nn;

namespace DigitLab.Training;

public static class Evaluator
{
    /// <summary>
    /// Runs <paramref name="model"/> in evaluation mode over <paramref name="data"/> in batches of <paramref name="batchSize"/>
    /// (dataset order) and returns accuracy, mean cross-entropy loss, confusion[true][predicted], per-class and averaged
    /// metrics, and (optionally) every misclassified image with the probability the model gave its wrong answer.
    /// The model's training/evaluation mode is restored afterwards.
    /// </summary>
    public static EvaluationResult Evaluate(Module model, MnistDataset data, Normalization normalization, int batchSize = 500, bool collectMisclassified = true)
    {
        bool wasTraining = model.IsTraining;
        model.Eval();
        try
        {
            var batcher = new Batcher(data, batchSize, normalization, shuffle: false);
            var loss = new SoftmaxCrossEntropy();
            var confusion = Metrics.NewConfusion(MnistDataset.Classes);
            var wrong = new List<Misclassified>();
            double lossSum = 0;
            batcher.StartEpoch();
            while (batcher.Next())
            {
                var logits = model.Forward(batcher.Images);                 // (n, 10)
                lossSum += (double)loss.Forward(logits, batcher.LabelSpan) * batcher.Count;
                var p = loss.Probabilities.ReadOnlySpan;                     // (n, 10)
                var labels = batcher.LabelSpan;
                var indices = batcher.Indices;
                for (int i = 0; i < batcher.Count; i++)
                {
                    var row = p.Slice(i * MnistDataset.Classes, MnistDataset.Classes);
                    int predicted = Trainer.ArgMax(row);
                    confusion[labels[i]][predicted]++;
                    if (collectMisclassified && predicted != labels[i])
                        wrong.Add(new Misclassified(indices[i], labels[i], predicted, row[predicted]));
                }
            }
            return Metrics.Evaluate(confusion, lossSum / data.Count, wrong);
        }
        finally
        {
            model.SetTraining(wasTraining);
        }
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
