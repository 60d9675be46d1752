// DivergenceCliTests: `digitlab train` stops at a diverged loss without saving it, and `digitlab predict` never prints a NaN answer.
using DigitLab.Reports;
using DigitLab.Tests.Training;
using DigitLab.Training;
using DigitLab.IO;

using DigitLab.Runtime;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class DivergenceCliTests
{
    [Fact]
    public async Task Train_WithAHugeRate_StopsNamingTheStep_AndKeepsTheEarlierCheckpoint()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string output = dir.File("m.safetensors");
        File.WriteAllText(output, "the last good checkpoint");
        var r = await CliRunner.RunAsync("train", "--model", "mlp", "--epochs", "1", "--lr", "1e30", "--out", output);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: Training diverged", r.Error);
        Assert.Matches(@"epoch 1, batch \d+ \(optimizer step \d+\)", r.Error);
        Assert.Contains("lower learning rate", r.Error);
        Assert.Equal("the last good checkpoint", File.ReadAllText(output));
        Assert.False(File.Exists(dir.File("m.json")));
    }

    [Fact]
    public async Task Predict_WithOverflowingWeights_GivesNoNaNAnswer()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = dir.File("huge.safetensors");
        Checkpoint.Save(checkpoint, LoadChecksTests.Overflowing(), new CheckpointInfo { Architecture = "mlp", Seed = 1 });
        string png = dir.File("bar.png");
        var pixels = new byte[28 * 28];
        for (int y = 4; y < 24; y++) pixels[y * 28 + 14] = 255;
        PngWriter.WriteGrey(png, 28, 28, pixels);
        var r = await CliRunner.RunAsync("predict", checkpoint, png);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no answer", r.Error);
        Assert.DoesNotContain("NaN", r.Out);
    }

    [Fact]
    public async Task Predict_WithNaNNormalisation_IsRefusedAtLoad()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = dir.File("nan.safetensors");
        Checkpoint.Save(checkpoint, DigitLab.Models.ModelZoo.Create("mlp", 1), new CheckpointInfo { Architecture = "mlp", Seed = 1, NormalizationMean = float.NaN });
        string png = dir.File("bar.png");
        PngWriter.WriteGrey(png, 28, 28, new byte[784].Select((_, i) => (byte)(i % 28 == 14 ? 255 : 0)).ToArray());
        var r = await CliRunner.RunAsync("predict", checkpoint, png);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("normalization mean is NaN", r.Error);
        Assert.DoesNotContain("NaN%", r.Out);
    }
}

/// <summary>More threads than a compute context may have is refused by the option's name before any work (never capped silently).</summary>
public class ThreadsCliTests
{
    [Fact]
    public async Task Train_WithMoreThreadsThanTheCap_IsRefusedNamingTheOptionAndTheCap_BeforeAnyTraining()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string output = dir.File("m.safetensors");
        var r = await CliProcess.RunAsync(TimeSpan.FromMinutes(3), "train", "--model", "mlp", "--epochs", "1", "--threads", "1000", "--out", output, "--json");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"--threads must be 0 (all cores) or 1..{ComputeContext.MaxThreads}", r.Error);
        Assert.Contains("found 1000", r.Error);
        Assert.False(File.Exists(output));
    }
}

[Collection(ConsoleCollection.Name)]
public class EnsembleOutCliTests
{
    [Fact]
    public async Task Ensemble_MemberPathThatCannotBeWritten_IsRefusedBeforeData()
    {
        using var dir = new Data.SyntheticData.TempDir();
        Directory.CreateDirectory(dir.File("ens-2.safetensors")); // member 2's checkpoint path is taken by a folder
        string never = Path.Combine(Path.GetTempPath(), "digitlab-never-" + Guid.NewGuid().ToString("N"));
        var r = await CliRunner.RunAsync("train", "--model", "mlp", "--epochs", "1", "--ensemble", "2", "--data-dir", never, "--out", dir.File("ens.safetensors"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--out", r.Error);
        Assert.Contains("ens-2.safetensors' is a directory", r.Error);
        Assert.False(Directory.Exists(never));
    }
}
