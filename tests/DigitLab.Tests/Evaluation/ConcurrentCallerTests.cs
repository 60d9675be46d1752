// WorkspaceTests: the model holds weights only: evaluation passes leave it untouched, concurrent callers with their own
// workspaces get the one-at-a-time answers while a trainer runs, and trainers with different thread counts in one
// process each reach the weights they reach alone.
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Runtime;
using DigitLab.Tensors;
using DigitLab.Tests.Data;
using DigitLab.Training;

namespace DigitLab.Tests.Evaluation;

public class WorkspaceTests
{
    private static float[][] Images(int count, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, 784).Select(_ => rng.Uniform(-0.5f, 2.5f)).ToArray()).ToArray();
    }

    /// <summary>A `fast` model (batch norm with moved running statistics) after a few training steps on synthetic data.</summary>
    private static Module TrainedFast()
    {
        var trainer = Trainer.Create(new TrainerOptions { Model = "fast", Epochs = 1, BatchSize = 16, ValidationCount = 0, Seed = 2, Threads = 1 });
        trainer.Train(SyntheticData.Dataset(64), null);
        return trainer.Model;
    }

    [Fact]
    public void AnEvaluationPassChangesNothingInTheModel()
    {
        var model = TrainedFast();
        var before = model.StateTensors().Select(t => t.Tensor.Span.ToArray()).ToList();
        var rngs = model.NamedRngs().Select(r => r.Rng.GetState()).ToList();
        using var compute = new ComputeContext(2);
        var input = new Tensor(5, 1, 28, 28);
        Images(5, 3).SelectMany(x => x).ToArray().CopyTo(input.Span);
        var first = model.Forward(input, new Workspace(compute, training: false)).Span.ToArray();
        var second = model.Forward(input, new Workspace(compute, training: false)).Span.ToArray();
        Assert.Equal(first, second);
        Assert.Equal(before, model.StateTensors().Select(t => t.Tensor.Span.ToArray()).ToList());
        Assert.Equal(rngs, model.NamedRngs().Select(r => r.Rng.GetState()).ToList());
    }

    [Fact]
    public void ThirtyTwoConcurrentPredictionsOnOneModelWhileATrainerRunsAnswerAsOneAtATime()
    {
        var model = TrainedFast();
        var images = Images(8, 4);
        using var compute = new ComputeContext(2);
        var alone = images.Select(x => Predictor.Probabilities(model, x, new Workspace(compute, training: false))).ToArray();

        // Another model trains meanwhile, on its own context and thread count (as a web training job does).
        using var stop = new CancellationTokenSource();
        var training = Task.Run(() =>
        {
            var trainer = Trainer.Create(new TrainerOptions { Model = "cnn", Epochs = 50, BatchSize = 8, ValidationCount = 0, Threads = 1 });
            trainer.Train(SyntheticData.Dataset(64), null, null, stop.Token);
            return trainer.Optimizer.StepCount;
        });
        var answers = new float[32][];
        using (var start = new Barrier(32))
        {
            var callers = Enumerable.Range(0, 32).Select(k => new Thread(() =>
            {
                var workspace = new Workspace(compute, training: false); // each caller its own activations, one shared model
                start.SignalAndWait();
                for (int round = 0; round < 5; round++) answers[k] = Predictor.Probabilities(model, images[k % 8], workspace);
            })).ToList();
            callers.ForEach(t => t.Start());
            callers.ForEach(t => t.Join());
        }
        stop.Cancel();
        Assert.True(training.Result > 0, "the trainer ran while the predictions did");
        for (int k = 0; k < 32; k++) Assert.Equal(alone[k % 8], answers[k]);
    }

    [Fact]
    public void TwoTrainersWithDifferentThreadCountsInOneProcessEachGetTheirOwnWeights()
    {
        var data = SyntheticData.Dataset(96);
        TrainerOptions Recipe(int threads) => new()
        {
            Model = "cnn-dropout", Epochs = 1, BatchSize = 16, ValidationCount = 0, Seed = 5, Threads = threads,
            Augmentation = AugmentationKind.Affine,
        };
        List<float[]> Weights(Trainer t) => t.Model.StateTensors().Select(s => s.Tensor.Span.ToArray()).ToList();
        Trainer Train(int threads)
        {
            var trainer = Trainer.Create(Recipe(threads));
            trainer.Train(data, null);
            return trainer;
        }
        var oneAlone = Weights(Train(1));
        var threeAlone = Weights(Train(3));
        // The thread count shows in the weights (per-thread gradient sums are added in thread order), so a trainer
        // that ran with the other's thread count would be caught.
        Assert.NotEqual(oneAlone, threeAlone);
        var together = new[] { 1, 3 }.Select(threads => Task.Run(() => Train(threads))).ToArray();
        Task.WaitAll(together);
        Assert.Equal(1, together[0].Result.Compute.Threads);
        Assert.Equal(3, together[1].Result.Compute.Threads);
        Assert.Equal(oneAlone, Weights(together[0].Result));
        Assert.Equal(threeAlone, Weights(together[1].Result));
    }

    [Fact]
    public void BackwardWithoutAForwardInThatWorkspaceIsRefusedByName()
    {
        var layer = new Linear(4, 2);
        using var compute = new ComputeContext(1);
        layer.Forward(new Tensor(3, 4), new Workspace(compute, training: true));
        var e = Assert.Throws<InvalidOperationException>(() => layer.Backward(new Tensor(3, 2), new Workspace(compute, training: true)));
        Assert.Contains("before Forward", e.Message);
    }
}
