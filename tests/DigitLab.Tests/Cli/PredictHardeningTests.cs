// PredictHardeningTests: `digitlab predict` refuses hostile images (huge declared sizes, decoy headers) from their header, naming the limit.
using DigitLab.IO;
using DigitLab.Models;
using DigitLab.Tests.IO;
using DigitLab.Training;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class PredictHardeningTests
{
    private static string SaveUntrainedMlp(string path)
    {
        Checkpoint.Save(path, ModelZoo.Create("mlp", 1), new CheckpointInfo { Architecture = "mlp", Seed = 1 });
        return path;
    }

    [Fact]
    public async Task Predict_RefusesAnImageOverThePixelLimit_FromItsHeader()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        string huge = dir.File("huge.png");
        File.WriteAllBytes(huge, HostileImages.DeclaredPng(16384, 16384, 1)); // 2^28 pixels declared, a few hundred bytes of file
        var r = await CliRunner.RunAsync("predict", checkpoint, huge);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("IMAGE is too large", r.Error);
        Assert.Contains("16384×16384", r.Error);
        Assert.Contains(ImageDecoder.MaxPixels.ToString("N0"), r.Error);
    }

    [Fact]
    public async Task Predict_RefusesADecoyHeader()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        string decoy = dir.File("decoy.png");
        File.WriteAllBytes(decoy, HostileImages.DeclaredPng(4096, 4096, 4096, ("IHDR", HostileImages.Ihdr(28, 28))));
        var r = await CliRunner.RunAsync("predict", checkpoint, decoy);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("IMAGE is not a readable image", r.Error);
        Assert.DoesNotContain("Prediction", r.Out);
    }
}
