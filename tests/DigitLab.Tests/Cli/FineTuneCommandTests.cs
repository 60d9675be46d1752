// FineTuneCommandTests: `digitlab train --init CKPT`: the before/after figures are the library's for the init and the saved
// checkpoints, the run log names both data sources, and bad fine-tuning options are refused before any work.
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.Models;
using DigitLab.Training;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class FineTuneCommandTests
{
    private static void AssertCleanError(CliResult r, string message)
    {
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: ", r.Error);
        Assert.Contains(message, r.Error);
        Assert.DoesNotContain("   at ", r.Error);
    }

    private static string NeverCreatedDir() => Path.Combine(Path.GetTempPath(), "digitlab-never-" + Guid.NewGuid().ToString("N"));

    private static string SaveUntrained(string path, string model, ulong seed = 1)
    {
        Checkpoint.Save(path, ModelZoo.Create(model, seed), new CheckpointInfo { Architecture = model, Seed = seed });
        return path;
    }

    [Theory]
    [InlineData(new[] { "--replay-fraction", "0.3" }, "--replay-fraction applies only to fine-tuning: add --init CHECKPOINT")]
    [InlineData(new[] { "--held-out", "0.3" }, "--held-out applies only to fine-tuning")]
    [InlineData(new[] { "--init", "INIT", "--replay-fraction", "1" }, "--replay-fraction must be at least 0 and below 1")]
    [InlineData(new[] { "--init", "INIT", "--held-out", "-0.1" }, "--held-out must be at least 0 and below 1")]
    [InlineData(new[] { "--init", "INIT", "--resume", "INIT" }, "--init cannot be combined with --resume")]
    [InlineData(new[] { "--init", "INIT", "--ensemble", "2" }, "--init cannot be combined with --ensemble 2")]
    [InlineData(new[] { "--init", "INIT", "--model", "fast" }, "holds a 'mlp' model, but the recipe trains 'fast'")]
    [InlineData(new[] { "--init", "/nonexistent/x.safetensors" }, "--init '/nonexistent/x.safetensors' does not exist")]
    public async Task BadFineTuningOptionsAreRefusedBeforeAnyWork(string[] options, string message)
    {
        using var dir = new Data.SyntheticData.TempDir();
        string init = SaveUntrained(dir.File("init.safetensors"), "mlp");
        string never = NeverCreatedDir();
        var args = new[] { "train", "--data-dir", never, "--out", dir.File("out.safetensors") }.Concat(options.Select(o => o == "INIT" ? init : o)).ToArray();
        var r = await CliRunner.RunAsync(args);
        AssertCleanError(r, message);
        Assert.False(Directory.Exists(never), "train touched the data directory before checking its options");
        Assert.False(File.Exists(dir.File("out.safetensors")));
    }

    [Fact]
    public async Task InitFineTunesAndReportsTheLibrarysBeforeAndAfterFigures()
    {
        var store = new DatasetStore();
        store.Ensure();
        using var dir = new Data.SyntheticData.TempDir();
        // A base model that has seen 3,000 MNIST images once: far from done, so fine-tuning on all of MNIST moves it.
        var baseTrainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, ValidationCount = 0, Seed = 4, Threads = 2 });
        var mnistTrain = store.ReadTrain();
        baseTrainer.Train(mnistTrain.Subset(Enumerable.Range(0, 3000).ToArray(), "head"), null);
        string init = dir.File("base.safetensors");
        baseTrainer.SaveCheckpoint(init);
        string output = dir.File("tuned.safetensors");

        var r = await CliRunner.RunAsync("train", "--init", init, "--epochs", "1", "--replay-fraction", "0.25", "--threads", "2", "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        var test = store.ReadTest();
        var (before, beforeInfo) = Checkpoint.Load(init);
        var (after, afterInfo) = Checkpoint.Load(output);
        var normalization = new Normalization(beforeInfo.NormalizationMean, beforeInfo.NormalizationStd);
        double expectedBefore = Evaluator.Evaluate(before, test, normalization, ModuleCalls.Compute, collectMisclassified: false).Accuracy;
        double expectedAfter = Evaluator.Evaluate(after, test, normalization, ModuleCalls.Compute, collectMisclassified: false).Accuracy;

        // --dataset mnist: the own images are MNIST's training set, its held-out part MNIST test; replay is MNIST too.
        var mnistFigure = root.GetProperty("mnistTest");
        Assert.Equal(10_000, mnistFigure.GetProperty("count").GetInt32());
        Assert.Equal(expectedBefore, mnistFigure.GetProperty("before").GetDouble());
        Assert.Equal(expectedAfter, mnistFigure.GetProperty("after").GetDouble());
        Assert.Equal(expectedAfter, root.GetProperty("ownHeldOut").GetProperty("after").GetDouble());
        Assert.True(expectedAfter > expectedBefore + 0.01, $"fine-tuning on MNIST should lift MNIST accuracy: {expectedBefore:P2} -> {expectedAfter:P2}");
        Assert.Equal(60_000, root.GetProperty("own").GetProperty("train").GetInt32());
        Assert.Equal(20_000, root.GetProperty("replay").GetProperty("count").GetInt32()); // 60,000 · 0.25 / 0.75

        var log = afterInfo.Log!;
        Assert.Equal(init, log.Recipe!.InitCheckpoint);
        Assert.Equal(0.25, log.Recipe.ReplayFraction);
        Assert.Equal(FineTuneRequest.DefaultLearningRate, log.Recipe.LearningRate);
        Assert.Equal(ScheduleKind.None, log.Recipe.Schedule);
        Assert.Equal((mnistTrain.Name, 60_000, mnistTrain.Name, 20_000), (log.OwnDataset, log.OwnCount, log.ReplayDataset, log.ReplayCount));
        Assert.Equal(log.OwnCount, RunLog.Load(Path.ChangeExtension(output, ".json")).OwnCount);
    }
}
