// BeyondCommandTests: `digitlab explain`, `read` and `robustness` in-process: their outputs and files, and bad input as a message.
using System.Text.Json;
using DigitLab.Models;
using DigitLab.Reports;
using DigitLab.Training;
using DigitLab.IO;
using DigitLab.Evaluation;
using DatasetStore = DigitLab.Data.DatasetStore;
using Split = DigitLab.Data.Split;
using Normalization = DigitLab.Data.Normalization;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class BeyondCommandTests
{
    private static string SaveUntrainedMlp(string path)
    {
        Checkpoint.Save(path, ModelZoo.Create("mlp", 1), new CheckpointInfo { Architecture = "mlp", Seed = 1 });
        return path;
    }

    /// <summary>Dark bars on white, <paramref name="count"/> of them 12 pixels apart: a number of ones.</summary>
    private static string WriteBars(string path, int count)
    {
        int width = 16 + 12 * count, height = 40;
        var pixels = new byte[width * height];
        Array.Fill(pixels, (byte)255);
        for (int k = 0; k < count; k++)
            for (int y = 8; y < 32; y++)
                for (int x = 0; x < 3; x++) pixels[y * width + 10 + 12 * k + x] = 0;
        PngWriter.WriteGrey(path, width, height, pixels);
        return path;
    }

    private static void AssertCleanError(CliResult r, string message)
    {
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: ", r.Error);
        Assert.Contains(message, r.Error);
        Assert.DoesNotContain("   at ", r.Error);
    }

    [Fact]
    public async Task ExplainWritesTheOverlayAndTheRawMap()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string ckpt = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        string png = WriteBars(dir.File("one.png"), 1);
        string overlay = dir.File("map.png");
        var r = await CliRunner.RunAsync("explain", ckpt, png, "--method", "integrated-gradients", "--out", overlay, "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Out);
        var map = json.RootElement.GetProperty("map");
        Assert.Equal(28, map.GetArrayLength());
        Assert.All(map.EnumerateArray(), row => Assert.Equal(28, row.GetArrayLength()));
        Assert.Equal(json.RootElement.GetProperty("predicted").GetInt32(), json.RootElement.GetProperty("class").GetInt32());
        var image = PngReader.Read(overlay);
        Assert.Equal((280, 280, 3), (image.Width, image.Height, image.Channels));
    }

    [Fact]
    public async Task GradCamOnAModelWithoutConvolutionsIsAMessage()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string ckpt = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        string png = WriteBars(dir.File("one.png"), 1);
        AssertCleanError(await CliRunner.RunAsync("explain", ckpt, png, "--method", "gradcam", "--out", dir.File("m.png")), "no Conv2d layer");
    }

    [Fact]
    public async Task ReadFindsEachDigitLeftToRightAndDrawsTheBoxes()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string ckpt = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        string png = WriteBars(dir.File("number.png"), 3);
        string boxes = dir.File("boxes.png");
        var r = await CliRunner.RunAsync("read", ckpt, png, "--out", boxes, "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Out);
        var digits = json.RootElement.GetProperty("digits").EnumerateArray().ToList();
        Assert.Equal(3, digits.Count);
        Assert.Equal([10, 22, 34], digits.Select(d => d.GetProperty("box").GetProperty("x").GetInt32()));
        Assert.Equal(3, json.RootElement.GetProperty("number").GetString()!.Length);
        Assert.True(File.Exists(boxes));
    }

    [Fact]
    public async Task ReadWithoutAnImageOrBenchmarkIsAMessage()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string ckpt = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        AssertCleanError(await CliRunner.RunAsync("read", ckpt), "read needs an IMAGE");
    }

    [Fact]
    public async Task RobustnessNamesAMissingCheckpoint()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string missing = dir.File("none.safetensors");
        AssertCleanError(await CliRunner.RunAsync("robustness", missing), $"CHECKPOINT '{missing}' does not exist");
    }

    [Fact]
    public async Task RobustnessOnTheValidationSplitScoresTheHeldOutImagesTheCheckpointNamesInItsRunLog()
    {
        var store = new DatasetStore();
        store.Ensure();
        using var dir = new Data.SyntheticData.TempDir();
        string ckpt = dir.File("mlp.safetensors");
        var log = new RunLog { Model = "mlp", Recipe = new TrainerOptions { Model = "mlp", Seed = 3, ValidationCount = 5000, ValidationSeed = 9 } };
        var model = ModelZoo.Create("mlp", 3);
        Checkpoint.Save(ckpt, model, new CheckpointInfo { Architecture = "mlp", Seed = 3, Log = log });

        var r = await CliRunner.RunAsync("robustness", ckpt, "--split", "validation", "--limit", "200", "--sweeps", "false", "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Out);
        Assert.Equal(200, json.RootElement.GetProperty("images").GetInt32());
        // The clean error is the model's on the first 200 images of the split drawn with the run log's seed 9, not the test set's.
        var validation = Split.Stratified(store.ReadTrain(), 5000, 9).Validation;
        var head = validation.Subset(Enumerable.Range(0, 200).ToArray(), "head");
        var expected = Evaluator.Evaluate(model, head, Normalization.Mnist, ModuleCalls.Compute);
        double clean = json.RootElement.GetProperty("models")[0].GetProperty("cleanError").GetDouble();
        Assert.Equal(1 - expected.Accuracy, clean, 1e-9);

        var bare = SaveUntrainedMlp(dir.File("bare.safetensors"));
        AssertCleanError(await CliRunner.RunAsync("robustness", bare, "--split", "validation", "--limit", "10", "--sweeps", "false"), "has no run log");
    }
}
