// LoadChecksTests: checkpoints are validated when loaded (resume state, run-log recipe, finite weights and normalisation), training stops at the first non-finite loss, and no prediction carries NaN.
using DigitLab.Models;
using DigitLab.Nn;
using DigitLab.Tests.Data;
using DigitLab.Training;
using DigitLab.Evaluation;

using DigitLab.Tensors;

namespace DigitLab.Tests.Training;

public class LoadChecksTests
{
    private static CheckpointInfo Info(RunLog? log = null, ResumeState? resume = null) =>
        new() { Architecture = "mlp", Seed = 1, Log = log, Resume = resume };

    /// <summary>A run log in the format written before recipes were typed (a string map), edited: the strings a file can hold.</summary>
    private static RunLog LogWith(Action<Dictionary<string, string>> edit)
    {
        var config = new Dictionary<string, string> { ["model"] = "mlp", ["epochs"] = "2", ["lr"] = "0.001", ["seed"] = "1" };
        edit(config);
        return new RunLog { Model = "mlp", LegacyConfig = config };
    }

    private static InvalidDataException LoadFails(string path) => Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));

    [Fact]
    public void ResumeStateWithoutGenerators_IsRefusedAtLoad_NamingFileAndField()
    {
        using var dir = new SyntheticData.TempDir();
        string path = dir.File("paused.safetensors");
        Checkpoint.Save(path, ModelZoo.Create("mlp", 1), Info(LogWith(_ => { }), new ResumeState())); // "resume":"{}" in effect
        var ex = LoadFails(path);
        Assert.Contains(path, ex.Message);
        Assert.Contains("Rngs.shuffle", ex.Message);
    }

    [Fact]
    public void ResumeStatePastTheRecipe_IsRefusedAtLoad()
    {
        using var dir = new SyntheticData.TempDir();
        string path = dir.File("paused.safetensors");
        var rng = new[] { "0000000000000001", "0000000000000002", "0000000000000003", "0000000000000004" };
        var resume = new ResumeState { CompletedEpochs = 7, Rngs = { ["shuffle"] = rng, ["augment"] = rng } };
        Checkpoint.Save(path, ModelZoo.Create("mlp", 1), Info(LogWith(_ => { }), resume));
        var ex = LoadFails(path);
        Assert.Contains("CompletedEpochs is 7", ex.Message);
    }

    [Theory]
    [InlineData("epochs", "99999999999", "config.epochs")]
    [InlineData("lr", "fast", "config.lr")]
    [InlineData("lr", "NaN", "config.lr")]
    [InlineData("seed", "-1", "config.seed")]
    public void RunLogRecipeThatDoesNotParse_IsRefusedAtLoad_NamingTheField(string key, string value, string field)
    {
        using var dir = new SyntheticData.TempDir();
        string path = dir.File("m.safetensors");
        Checkpoint.Save(path, ModelZoo.Create("mlp", 1), Info(LogWith(c => c[key] = value)));
        var ex = LoadFails(path);
        Assert.Contains(path, ex.Message);
        Assert.Contains(field, ex.Message);
        Assert.Contains(value, ex.Message);
    }

    [Fact]
    public void NonFiniteWeights_AreRefusedAtLoad_NamingTheTensor()
    {
        using var dir = new SyntheticData.TempDir();
        string path = dir.File("nan.safetensors");
        var model = ModelZoo.Create("mlp", 1);
        var (name, tensor) = model.StateTensors().Last();
        tensor.Span[3] = float.PositiveInfinity;
        Checkpoint.Save(path, model, Info());
        var ex = LoadFails(path);
        Assert.Contains($"'{name}'", ex.Message);
        Assert.Contains("index 3", ex.Message);
    }

    [Theory]
    [InlineData(float.NaN, 0.3081f, "mean")]
    [InlineData(0.1307f, float.PositiveInfinity, "std")]
    public void NonFiniteNormalisation_IsRefusedAtLoad(float mean, float std, string field)
    {
        using var dir = new SyntheticData.TempDir();
        string path = dir.File("norm.safetensors");
        var info = Info();
        (info.NormalizationMean, info.NormalizationStd) = (mean, std);
        Checkpoint.Save(path, ModelZoo.Create("mlp", 1), info);
        Assert.Contains($"normalization {field}", LoadFails(path).Message);
    }

    [Fact]
    public void Training_StopsAtTheFirstNonFiniteLoss_NamingTheStepAndALowerRate()
    {
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, BatchSize = 16, LearningRate = 1e30, ValidationCount = 0 });
        var ex = Assert.Throws<DivergedException>(() => trainer.Train(SyntheticData.Dataset(160), null));
        Assert.Matches(@"epoch 1, batch \d+ \(optimizer step \d+\)", ex.Message);
        Assert.Contains("lower learning rate", ex.Message);
        Assert.Contains("--lr 1E+29", ex.Message);
        // Stopped at the first bad loss: every weight is still a finite number.
        Assert.All(trainer.Model.StateTensors(), t => Assert.Equal(-1, FiniteCheck.FirstNonFinite(t.Tensor.ReadOnlySpan)));
    }

    /// <summary>An mlp whose weights are finite but so large that its logits overflow: loading accepts it, predicting must not answer NaN.</summary>
    internal static Module Overflowing()
    {
        var model = ModelZoo.Create("mlp", 1);
        // Alternating ±3e38: sums overflow to +inf and -inf, which meet as NaN.
        foreach (var (_, t) in model.StateTensors()) for (int i = 0; i < t.Length; i++) t.Span[i] = i % 2 == 0 ? 3e38f : -3e38f;
        return model;
    }

    [Fact]
    public void Prediction_NeverCarriesNaN()
    {
        var image = new float[784];
        image.AsSpan().Fill(1f);
        var ex = Assert.Throws<InvalidDataException>(() => Predictor.Probabilities(Overflowing(), image, ModuleCalls.NewEvaluationWorkspace()));
        Assert.Contains("no answer", ex.Message);
    }
}
