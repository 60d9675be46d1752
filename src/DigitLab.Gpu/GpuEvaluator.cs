// GpuEvaluator: evaluation and prediction with the forward pass on the device and the metrics of the CPU Evaluator.
using DigitLab.Data;
using DigitLab.Nn;
using DigitLab.Training;
using DigitLab.Evaluation;

namespace DigitLab.Gpu;

/// <summary>
/// <see cref="Evaluator.Evaluate"/> with the model's forward pass (evaluation mode) on the device: the logits (n, 10) of each
/// batch come back and the loss, confusion matrix and mistakes are computed on the host exactly as the CPU evaluator does.
/// </summary>
public static class GpuEvaluator
{
    public static EvaluationResult Evaluate(GpuModel model, MnistDataset data, Normalization normalization, int batchSize = 500, bool collectMisclassified = true)
    {
        var batcher = new Batcher(data, batchSize, normalization, shuffle: false);
        var loss = new SoftmaxCrossEntropy();
        var confusion = Metrics.NewConfusion(MnistDataset.Classes);
        var wrong = new List<Misclassified>();
        double lossSum = 0;
        using var images = new DeviceTensor(model.Device.Accelerator, 0);
        var logits = new Tensors.Tensor(0);
        batcher.StartEpoch();
        while (batcher.Next())
        {
            images.Resize(batcher.Images.Shape);
            images.Upload(batcher.Images.ReadOnlySpan);
            var output = model.Forward(images, training: false);        // (n, 10)
            logits.Resize(output.Shape);
            output.Download(logits.Span);
            lossSum += (double)loss.Forward(logits, batcher.LabelSpan) * batcher.Count;
            var p = loss.Probabilities.ReadOnlySpan;
            var labels = batcher.LabelSpan;
            var indices = batcher.Indices;
            for (int i = 0; i < batcher.Count; i++)
            {
                var row = p.Slice(i * MnistDataset.Classes, MnistDataset.Classes);
                int predicted = Metrics.ArgMax(row);
                confusion[labels[i]][predicted]++;
                if (collectMisclassified && predicted != labels[i])
                    wrong.Add(new Misclassified(indices[i], labels[i], predicted, row[predicted]));
            }
        }
        return Metrics.Evaluate(confusion, lossSum / data.Count, wrong);
    }

    /// <summary>Softmax probabilities (n, classes) of normalised images (n, 1, 28, 28), forward pass on the device.</summary>
    public static float[] Probabilities(GpuModel model, Tensors.Tensor normalizedImages)
    {
        using var images = new DeviceTensor(model.Device.Accelerator, normalizedImages.Shape);
        images.Upload(normalizedImages.ReadOnlySpan);
        var output = model.Forward(images, training: false);
        var logits = output.ToArray();
        int classes = output.Shape[1];
        var result = new float[logits.Length];
        for (int r = 0; r < output.Shape[0]; r++)
            Predictor.Softmax(logits.AsSpan(r * classes, classes)).CopyTo(result.AsSpan(r * classes));
        return result;
    }
}
