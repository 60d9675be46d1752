// FolderAndBatchPredictTests: --dataset folder:PATH through evaluate and train, `digitlab data folder`, and batch predict (table, JSON, CSV, bad files, --show-input) in-process.
using System.Globalization;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Evaluation;
using DigitLab.IO;
using DigitLab.Tests.Data;
using DigitLab.Training;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class FolderAndBatchPredictTests
{
    /// <summary>MNIST's test images the folders are made of.</summary>
    private const int Images = 300;

    /// <summary>An mlp trained for one epoch on 5,000 MNIST training images (well under a second): it reads most digits, so agreement is not luck.</summary>
    private static readonly Lazy<(MnistDataset Test, byte[] Checkpoint)> Model = new(() =>
    {
        var train = DatasetStore.LoadTrain(null);
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 1, ValidationCount = 0, Seed = 2 });
        trainer.Train(train.Subset(Enumerable.Range(0, 5000).ToArray(), "head"), null);
        string path = Path.Combine(Path.GetTempPath(), $"digitlab-folder-mlp-{Guid.NewGuid():N}.safetensors");
        trainer.SaveCheckpoint(path);
        var bytes = File.ReadAllBytes(path);
        File.Delete(path);
        return (DatasetStore.LoadTest(null), bytes);
    });

    private static string SaveModel(SyntheticData.TempDir dir)
    {
        string path = dir.File("mlp.safetensors");
        File.WriteAllBytes(path, Model.Value.Checkpoint);
        return path;
    }

    [Fact]
    public void DatasetSourceParsesAndSpellsTheThreeKinds()
    {
        Assert.Equal("mnist", DatasetSource.Parse(" MNIST ").ToString());
        Assert.Equal("fashion", DatasetSource.Parse("fashion-mnist").ToString());
        var folder = DatasetSource.Parse("folder:some/dir");
        Assert.Equal(DatasetSourceKind.Folder, folder.Kind);
        Assert.Equal("folder:" + Path.GetFullPath("some/dir"), folder.ToString());
        Assert.Equal(folder, DatasetSource.Parse(folder.ToString()));
        Assert.Contains("folder:PATH", Assert.Throws<ArgumentException>(() => DatasetSource.Parse("cifar")).Message);
        Assert.Contains("needs a path", Assert.Throws<ArgumentException>(() => DatasetSource.Parse("folder:")).Message);
    }

    [Fact]
    public async Task EvaluateOnACleanPngFolderEqualsEvaluateOnTheSameMnistImages()
    {
        using var dir = new SyntheticData.TempDir();
        using var dataDir = new SyntheticData.TempDir();
        string checkpoint = SaveModel(dir);
        string folder = Path.Combine(dir.Path, "clean");
        var (test, _) = Model.Value;
        FolderGenerator.Write(test, folder, Images, FolderStyle.Clean);

        var first = await CliRunner.RunAsync("evaluate", checkpoint, "--dataset", "folder:" + folder, "--data-dir", dataDir.Path);
        Assert.Equal(0, first.ExitCode);
        Assert.Contains($"{Images} training images ({Images} decoded, 0 from the cache)", first.Error);
        var r = await CliRunner.RunAsync("evaluate", checkpoint, "--dataset", "folder:" + folder, "--data-dir", dataDir.Path, "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Out);
        var result = json.RootElement.GetProperty("result");
        var (model, info) = Checkpoint.Load(checkpoint);
        var expected = Evaluator.Evaluate(model, test.Subset(Enumerable.Range(0, Images).ToArray(), "head"),
            new Normalization(info.NormalizationMean, info.NormalizationStd), ModuleCalls.Compute);
        Assert.Equal(Images, result.GetProperty("count").GetInt32());
        Assert.Equal(expected.Accuracy, result.GetProperty("accuracy").GetDouble());
        Assert.True(expected.Accuracy > 0.8, $"the model reads {expected.Accuracy:P1} of the images");
        var confusion = result.GetProperty("confusion").EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetInt32()).ToArray()).ToArray();
        Assert.Equal(expected.Confusion, confusion);

        // Later runs take every image from the cache in the data folder.
        var again = await CliRunner.RunAsync("evaluate", checkpoint, "--dataset", "folder:" + folder, "--data-dir", dataDir.Path);
        Assert.Contains($"(0 decoded, {Images} from the cache)", again.Error);
    }

    [Fact]
    public async Task EvaluatePredictionsOfAFolderNameEachImagesFile()
    {
        using var dir = new SyntheticData.TempDir();
        using var dataDir = new SyntheticData.TempDir();
        string checkpoint = SaveModel(dir);
        string folder = Path.Combine(dir.Path, "clean");
        FolderGenerator.Write(Model.Value.Test, folder, 40, FolderStyle.Clean);
        string csv = dir.File("predictions.csv");
        var r = await CliRunner.RunAsync("evaluate", checkpoint, "--dataset", "folder:" + folder, "--data-dir", dataDir.Path, "--predictions", csv, "--json");
        Assert.Equal(0, r.ExitCode);
        var lines = File.ReadAllLines(csv);
        Assert.StartsWith("path,label,predicted,p0,", lines[0]);
        Assert.Equal(41, lines.Length);
        var files = new HashSet<string>();
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            string path = cells[0].Trim('"');
            Assert.True(File.Exists(path), path);
            Assert.True(files.Add(path), $"{path} appears twice");
            // The image's class folder is its label: the row's path belongs to the row's image.
            Assert.Equal(Path.GetFileName(Path.GetDirectoryName(path)), cells[1]);
        }
    }

    /// <summary>
    /// `train --init` on a folder with train/ and test/: the folder's test/ is the held-out set the before/after figures are
    /// measured on, MNIST is replayed, and the run log names the folder.
    /// </summary>
    [Fact]
    public async Task FineTuneOnAFolderHoldsOutItsTestPartAndRecordsTheFolder()
    {
        using var dir = new SyntheticData.TempDir();
        using var dataDir = new SyntheticData.TempDir();
        string checkpoint = SaveModel(dir);
        string folder = Path.Combine(dir.Path, "mine");
        var test = Model.Value.Test;
        FolderGenerator.Write(test, folder, 60, FolderStyle.Photo, seed: 1, split: "train");
        FolderGenerator.Write(test.Subset(Enumerable.Range(1000, 30).ToArray(), "later"), folder, 30, FolderStyle.Photo, seed: 2, split: "test");
        string output = dir.File("tuned.safetensors");
        var r = await CliRunner.RunAsync("train", "--init", checkpoint, "--dataset", "folder:" + folder, "--data-dir", dataDir.Path,
            "--epochs", "1", "--out", output, "--json");
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(r.Out);
        var root = json.RootElement;
        Assert.Equal(60, root.GetProperty("own").GetProperty("train").GetInt32());
        Assert.Equal(30, root.GetProperty("own").GetProperty("heldOut").GetInt32());
        Assert.Equal(30, root.GetProperty("ownHeldOut").GetProperty("count").GetInt32());
        Assert.Equal(60, root.GetProperty("replay").GetProperty("count").GetInt32());   // fraction 0.5: as many MNIST images as own ones
        Assert.Equal(10_000, root.GetProperty("mnistTest").GetProperty("count").GetInt32());
        var log = Checkpoint.Load(output).Info.Log!;
        Assert.Equal("folder:" + Path.GetFullPath(folder), log.Dataset);
        Assert.Equal(checkpoint, log.Recipe!.InitCheckpoint);
    }

    [Fact]
    public async Task TrainOnAFolderRecordsItInTheRunLogAndListsSkippedFiles()
    {
        using var dir = new SyntheticData.TempDir();
        using var dataDir = new SyntheticData.TempDir();
        string folder = Path.Combine(dir.Path, "photos");
        var (test, _) = Model.Value;
        FolderGenerator.Write(test, folder, 100, FolderStyle.Photo);
        File.WriteAllText(Path.Combine(folder, "2", "readme.png"), "not an image");
        string output = dir.File("f.safetensors");
        var r = await CliRunner.RunAsync("train", "--model", "mlp", "--epochs", "1", "--validation", "20", "--dataset", "folder:" + folder,
            "--data-dir", dataDir.Path, "--out", output, "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("skipped 1 file(s)", r.Error);
        Assert.Contains("readme.png: not a readable", r.Error);
        Assert.Contains("the test figures are on the 20 validation images", r.Error);
        var log = Checkpoint.Load(output).Info.Log!;
        Assert.Equal("folder:" + Path.GetFullPath(folder), log.Dataset);
        Assert.Equal(20, log.Test!.Count);

        var noHeldOut = await CliRunner.RunAsync("train", "--model", "mlp", "--epochs", "1", "--validation", "0", "--dataset", "folder:" + folder,
            "--data-dir", dataDir.Path, "--out", dir.File("g.safetensors"));
        Assert.Equal(1, noHeldOut.ExitCode);
        Assert.Contains("no test/ folder and --validation is 0", noHeldOut.Error);
    }

    [Fact]
    public async Task DataFolderWritesTheImagesAsAnImageFolder()
    {
        using var dir = new SyntheticData.TempDir();
        string folder = Path.Combine(dir.Path, "out");
        var r = await CliRunner.RunAsync("data", "folder", folder, "--count", "25", "--style", "photo", "--split", "test");
        Assert.Equal(0, r.ExitCode);
        var files = Directory.GetFiles(Path.Combine(folder, "test"), "*", SearchOption.AllDirectories);
        Assert.Equal(25, files.Length);
        Assert.Contains(files, f => f.EndsWith(".jpg"));
        Assert.Contains(files, f => f.EndsWith(".png"));
        var data = ImageFolder.Load(folder);
        Assert.Equal(0, data.Train.Count);
        Assert.Equal(25, data.Test!.Count);
        Assert.Equal(Model.Value.Test.Labels.Take(25).OrderBy(l => l), data.Test.Labels);
    }

    [Fact]
    public async Task BatchPredictGivesEveryImageARowAndNamesTheUnreadableOnes()
    {
        using var dir = new SyntheticData.TempDir();
        string checkpoint = SaveModel(dir);
        string folder = Path.Combine(dir.Path, "photos");
        var (test, _) = Model.Value;
        var written = FolderGenerator.Write(test, folder, 40, FolderStyle.Photo);
        string bad = Path.Combine(folder, "5", "broken.jpg");
        File.WriteAllBytes(bad, [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        string missing = dir.File("absent.png");

        // JSON: one row per image, the folder's images in path order, then the missing file; the bad ones with their reasons.
        var r = await CliRunner.RunAsync("predict", checkpoint, folder, missing, "--json");
        Assert.Equal(PredictCommandExit.SomeFailed, r.ExitCode);
        using var json = JsonDocument.Parse(r.Out);
        var rows = json.RootElement.GetProperty("images").EnumerateArray().ToList();
        var expectedPaths = written.Append(bad).OrderBy(p => p, StringComparer.Ordinal).Append(missing).ToList();
        Assert.Equal(expectedPaths, rows.Select(row => row.GetProperty("path").GetString()));
        var (model, info) = Checkpoint.Load(checkpoint);
        var normalization = new Normalization(info.NormalizationMean, info.NormalizationStd);
        foreach (var row in rows)
        {
            string path = row.GetProperty("path").GetString()!;
            if (path == bad || path == missing)
            {
                Assert.Equal(JsonValueKind.Null, row.GetProperty("digit").ValueKind);
                Assert.Contains(path == bad ? "not a readable" : "does not exist", row.GetProperty("error").GetString());
                continue;
            }
            // The batched, prepared forward pass gives the single-image answer.
            float[] single = Predictor.ProbabilitiesForImageFile(model, path, normalization, ModuleCalls.Compute);
            var batch = row.GetProperty("probabilities").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            Assert.Equal(Metrics.ArgMax(single), row.GetProperty("digit").GetInt32());
            for (int d = 0; d < 10; d++) Assert.Equal(single[d], batch[d], 1e-4f); // folded/fused inference sums in another order
        }
        int right = rows.Count(row => row.GetProperty("digit").ValueKind == JsonValueKind.Number &&
                                      row.GetProperty("digit").GetInt32() == int.Parse(Path.GetFileName(Path.GetDirectoryName(row.GetProperty("path").GetString()!))!));
        Assert.True(right >= 30, $"{right} of 40 photos read right");
        Assert.Contains("40 of 42 images predicted", r.Error);

        // CSV: a header and 14 fields per row, the probabilities summing to 1; the bad file's row carries its reason.
        var csv = await CliRunner.RunAsync("predict", checkpoint, folder, "--csv");
        var lines = csv.Out.TrimEnd('\n').Split('\n');
        Assert.Equal("path,digit,confidence,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9,error", lines[0]);
        Assert.Equal(42, lines.Length);
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(',');
            if (fields[0] == bad) { Assert.Equal("", fields[1]); Assert.Contains("not a readable", line); continue; }
            Assert.Equal(14, fields.Length);
            var p = fields[3..13].Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(1, p.Sum(), 5e-6 * 10);
            Assert.Equal(p.Max(), double.Parse(fields[2], CultureInfo.InvariantCulture));
            Assert.Equal(Array.IndexOf(p, p.Max()), int.Parse(fields[1]));
        }

        // Table: a header and a row per image.
        var table = await CliRunner.RunAsync("predict", checkpoint, folder);
        Assert.Equal(PredictCommandExit.SomeFailed, table.ExitCode);
        Assert.Equal(42, table.Out.TrimEnd('\n').Split('\n').Length);
        Assert.Contains($"{bad}      -           -  error: ", table.Out);
    }

    [Fact]
    public async Task ShowInputWritesThe28x28TheModelReceived()
    {
        using var dir = new SyntheticData.TempDir();
        string checkpoint = SaveModel(dir);
        string photo = dir.File("photo.jpg");
        var (test, _) = Model.Value;
        File.WriteAllBytes(photo, PhotoLike.Encode(PhotoLike.Render(test.Image(7), new Tensors.Rng(3), colour: true), PhotoFormat.Jpeg));
        string shown = dir.File("shown.png");
        var r = await CliRunner.RunAsync("predict", checkpoint, photo, "--show-input", shown);
        Assert.Equal(0, r.ExitCode);
        var image = PngReader.Read(shown);
        Assert.Equal((28, 28), (image.Width, image.Height));
        Assert.Equal(Preprocess.ToMnist(photo), image.ToGrey());

        string folder = dir.File("inputs");
        var many = await CliRunner.RunAsync("predict", checkpoint, photo, photo, "--show-input", folder);
        Assert.Equal(0, many.ExitCode);
        Assert.Equal(new[] { "00000-photo.png", "00001-photo.png" }, Directory.GetFiles(folder).Select(Path.GetFileName).Order());
    }
}

/// <summary>The exit code batch predict uses when some images could not be read.</summary>
internal static class PredictCommandExit
{
    public const int SomeFailed = DigitLab.Cli.Commands.PredictCommand.SomeFailed;
}
