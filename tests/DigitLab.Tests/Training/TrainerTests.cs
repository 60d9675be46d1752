// Trainer: real training on real MNIST, and a paused-and-resumed run that ends bit-identical to an uninterrupted one.
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Training;
using DigitLab.Evaluation;

using DigitLab.Runtime;

namespace DigitLab.Tests.Training;

[Collection("mnist")]
public sealed class TrainerTests(MnistFixture mnist) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("digitlab-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The first <paramref name="count"/> images of a set: a quick, fixed subset.</summary>
    private static MnistDataset Head(MnistDataset data, int count) =>
        data.Subset(Enumerable.Range(0, count).ToArray(), $"{data.Name}[:{count}]");

    [Fact]
    public void MlpReachesNinetyFivePercentInOneEpoch()
    {
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, ValidationCount = 0, Seed = 1 });
        var log = trainer.Train(mnist.Train, validation: null);
        var test = Evaluator.Evaluate(trainer.Model, mnist.Test, trainer.Normalization, ModuleCalls.Compute);
        Assert.True(log.Complete);
        Assert.Single(log.Epochs);
        Assert.True(test.Accuracy >= 0.95, $"mlp after one epoch: test accuracy {test.Accuracy:P2}, expected at least 95%");
        Assert.Equal(10_000, test.Count);
        Assert.Equal(10_000 - (int)Math.Round(test.Accuracy * 10_000), test.Misclassified.Count);
    }

    [Fact]
    public void SmallCnnLearnsFromASubset()
    {
        var train = Head(mnist.Train, 2000);
        var validation = Head(mnist.Test, 1000);
        var trainer = Trainer.Create(new TrainerOptions { Model = "fast", Epochs = 2, BatchSize = 32, LearningRate = 3e-3, ValidationCount = 0, Seed = 2 });
        var before = Evaluator.Evaluate(trainer.Model, validation, trainer.Normalization, ModuleCalls.Compute);
        var log = trainer.Train(train, validation);
        Assert.Equal(2, log.Epochs.Count);
        Assert.True(log.Epochs[1].TrainLoss < log.Epochs[0].TrainLoss, $"train loss should fall: {log.Epochs[0].TrainLoss} -> {log.Epochs[1].TrainLoss}");
        double accuracy = log.Epochs[^1].ValidationAccuracy!.Value;
        // Chance is 10%; an untrained model sits near it. 2,000 images for two epochs reach well over 80%.
        Assert.True(before.Accuracy < 0.3, $"untrained accuracy {before.Accuracy:P1}");
        Assert.True(accuracy > 0.8, $"fast on 2,000 images, 2 epochs: held-out accuracy {accuracy:P1}, expected > 80%");
        Assert.True(log.BatchLosses.Count == 2 * 63 / log.BatchLossInterval);
    }

    [Fact]
    public void RobustAugmentationWithNothingPerturbedTrainsExactlyAsAffineAndTheShareIsKeptInTheCheckpoint()
    {
        // Each image draws from its own generator, and the perturber's draws come after the affine ones: with a share of
        // 0 the images, and so the weights, are the affine recipe's bit for bit; with 0.5 they are not.
        var train = Head(mnist.Train, 300);
        float[][] Weights(TrainerOptions o)
        {
            var t = Trainer.Create(o);
            t.Train(train, validation: null);
            return t.Model.NamedParameters().Select(p => p.Parameter.Value.Span.ToArray()).ToArray();
        }
        var affine = new TrainerOptions { Model = "fast", Epochs = 1, BatchSize = 32, ValidationCount = 0, Seed = 5, Augmentation = AugmentationKind.Affine };
        var none = affine with { Augmentation = AugmentationKind.Robust, PerturbationProbability = 0 };
        var half = affine with { Augmentation = AugmentationKind.Robust, PerturbationProbability = 0.5 };
        var a = Weights(affine);
        Assert.Equal(a, Weights(none));
        Assert.NotEqual(a, Weights(half));

        var trainer = Trainer.Create(half with { Epochs = 1 });
        trainer.Train(Head(mnist.Train, 64), validation: null);
        string path = Path.Combine(_dir, "robust.safetensors");
        trainer.SaveCheckpoint(path);
        var recipe = Checkpoint.Load(path).Info.Log!.Recipe!;
        Assert.Equal(AugmentationKind.Robust, recipe.Augmentation);
        Assert.Equal(0.5, recipe.PerturbationProbability);
        Assert.Throws<ArgumentException>(() => (affine with { PerturbationProbability = 0.5 }).Validate());
    }

    [Theory]
    [InlineData(1, 5, 1, 5)]   // stop in the middle of the second epoch
    [InlineData(0, 32, 1, 0)]  // stop at the last batch of the first epoch: the checkpoint sits on the epoch boundary
    public void ResumedRunEqualsUninterruptedRun(int stopEpoch, int stopBatch, int pausedEpochs, int pausedBatches)
    {
        // Dropout, augmentation and shuffling all draw random numbers: the resumed run must draw the same ones.
        var options = new TrainerOptions
        {
            Model = "cnn-dropout", Epochs = 2, BatchSize = 16, ValidationCount = 0, Seed = 11,
            Augmentation = AugmentationKind.Affine, Schedule = ScheduleKind.OneCycle, LearningRate = 2e-3, BatchLossInterval = 7,
        };
        var train = Head(mnist.Train, 500);   // 32 batches per epoch (the last one has 4 images)
        var validation = Head(mnist.Test, 100);

        var straight = Trainer.Create(options);
        var straightLog = straight.Train(train, validation);

        using var cts = new CancellationTokenSource();
        var first = Trainer.Create(options);
        var stop = new SyncProgress<TrainingProgress>(p => { if (p.Epoch == stopEpoch + 1 && p.Batch == stopBatch) cts.Cancel(); });
        var partial = first.Train(train, validation, stop, cts.Token);
        Assert.False(partial.Complete);
        Assert.Equal((pausedEpochs, pausedBatches), (first.State!.CompletedEpochs, first.State.CompletedBatches));
        Assert.Equal(pausedEpochs, partial.Epochs.Count);
        string path = Path.Combine(_dir, "paused.safetensors");
        first.SaveCheckpoint(path);

        var resumed = Trainer.Resume(Checkpoint.Load(path));
        var resumedLog = resumed.Train(train, validation);
        Assert.True(resumedLog.Complete);

        var expected = straight.Model.NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(straight.Model.NamedBuffers()).ToList();
        var actual = resumed.Model.NamedParameters().Select(p => (p.Name, p.Parameter.Value)).Concat(resumed.Model.NamedBuffers()).ToList();
        for (int i = 0; i < expected.Count; i++)
            Assert.True(expected[i].Item2.Span.SequenceEqual(actual[i].Item2.Span), $"{expected[i].Name} differs after resume");
        Assert.Equal(straight.Optimizer.StepCount, resumed.Optimizer.StepCount);
        Assert.Equal(straightLog.BatchLosses, resumedLog.BatchLosses);
        Assert.Equal(straightLog.Epochs.Count, resumedLog.Epochs.Count);
        for (int e = 0; e < straightLog.Epochs.Count; e++)
        {
            var (a, b) = (straightLog.Epochs[e], resumedLog.Epochs[e]);
            Assert.Equal((a.TrainLoss, a.TrainAccuracy, a.ValidationLoss, a.ValidationAccuracy, a.LearningRate),
                         (b.TrainLoss, b.TrainAccuracy, b.ValidationLoss, b.ValidationAccuracy, b.LearningRate));
        }
    }

    [Fact]
    public void EvaluatorAndPredictorAgree()
    {
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, ValidationCount = 0, Seed = 4 });
        trainer.Train(Head(mnist.Train, 3000), null);
        var test = Head(mnist.Test, 400);
        var model = trainer.Model;
        var result = Evaluator.Evaluate(model, test, trainer.Normalization, ModuleCalls.Compute, batchSize: 128);
        Assert.True(model.IsTraining()); // the evaluator restores the mode it found
        Assert.Equal(400, result.Confusion.Sum(row => row.Sum()));
        Assert.Equal(400 - result.Misclassified.Count, Enumerable.Range(0, 10).Sum(i => result.Confusion[i][i]));
        Assert.NotEmpty(result.Misclassified);
        foreach (var m in result.Misclassified)
        {
            var p = Predictor.Probabilities(model, test.Image(m.Index), trainer.Normalization, ModuleCalls.NewEvaluationWorkspace());
            Assert.Equal(1.0, p.Sum(), ProbabilitySumTolerance);
            Assert.Equal(m.Predicted, Metrics.ArgMax(p));
            Assert.Equal(test.Labels[m.Index], m.True);
            // One image alone versus inside a batch of 128: the same sums, possibly in another order.
            Assert.Equal(m.Confidence, p[m.Predicted], BatchOrderTolerance);
        }
    }

    // Ten float32 probabilities summed in float: a few ulps of 1.
    private const double ProbabilitySumTolerance = 1e-5;
    // Probabilities are in [0, 1]; a different summation order moves logits by ~1e-6 relative.
    private const double BatchOrderTolerance = 1e-4;

    [Fact]
    public void ResumingAFinishedModelIsRefused()
    {
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, ValidationCount = 0 });
        trainer.Train(Head(mnist.Train, 64), null);
        string path = Path.Combine(_dir, "done.safetensors");
        trainer.SaveCheckpoint(path);
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Resume(Checkpoint.Load(path)));
        Assert.Contains("nothing to resume", e.Message);
    }
}
