// Ensemble: the mean of the members' probabilities, checked against probabilities computed one image at a time.
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tensors;
using DigitLab.Training;
using DigitLab.Evaluation;

namespace DigitLab.Tests.Evaluation;

public class EnsembleTests
{
    // Cross-entropy of a mean of float probabilities, summed over 37 images: float rounding only.
    private const double LossTolerance = 1e-5;

    private static MnistDataset RandomImages(int count)
    {
        var rng = new Rng(11);
        var images = new byte[count * MnistDataset.Pixels];
        var labels = new byte[count];
        for (int i = 0; i < images.Length; i++) images[i] = (byte)(rng.Uniform(0, 1) * 255);
        for (int i = 0; i < count; i++) labels[i] = (byte)(i % 10);
        return new MnistDataset(images, labels, "random");
    }

    [Fact]
    public void PredictsTheArgmaxOfTheMeanProbabilities()
    {
        var data = RandomImages(37);
        Module[] members = [ModelZoo.Create("mlp", 1), ModelZoo.Create("mlp", 2), ModelZoo.Create("lenet5", 3)];
        // Batches of 8 leave a partial last batch.
        var result = Evaluator.Evaluate(members, data, Normalization.Mnist, ModuleCalls.Compute, batchSize: 8);

        var confusion = Metrics.NewConfusion();
        double loss = 0;
        for (int i = 0; i < data.Count; i++)
        {
            var image = data.Images.AsSpan(i * MnistDataset.Pixels, MnistDataset.Pixels);
            var mean = new double[10];
            foreach (var m in members)
            {
                var p = Predictor.Probabilities(m, image, Normalization.Mnist, ModuleCalls.NewEvaluationWorkspace());
                for (int c = 0; c < 10; c++) mean[c] += p[c] / members.Length;
            }
            int predicted = Array.IndexOf(mean, mean.Max());
            confusion[data.Labels[i]][predicted]++;
            loss -= Math.Log(mean[data.Labels[i]]);
        }
        Assert.Equal(confusion, result.Confusion);
        Assert.Equal(loss / data.Count, result.Loss, LossTolerance);
        Assert.Equal(data.Count - confusion.Select((row, t) => row[t]).Sum(), result.Misclassified.Count);
        Assert.All(members, m => Assert.True(m.IsTraining())); // modes restored
    }

    [Fact]
    public void OneMemberAgreesWithTheEvaluator()
    {
        var data = RandomImages(25);
        var model = ModelZoo.Create("fast", 4);
        var alone = Evaluator.Evaluate(model, data, Normalization.Mnist, ModuleCalls.Compute);
        var ensemble = Evaluator.Evaluate([model], data, Normalization.Mnist, ModuleCalls.Compute);
        Assert.Equal(alone.Confusion, ensemble.Confusion);
        Assert.Equal(alone.Loss, ensemble.Loss, LossTolerance);
    }

    [Fact]
    public void NeedsAtLeastOneMember()
    {
        var e = Assert.Throws<ArgumentException>(() => Evaluator.Evaluate([], RandomImages(1), Normalization.Mnist, ModuleCalls.Compute));
        Assert.Contains("at least one", e.Message);
    }
}
