// ModelCommandTests: `digitlab train/evaluate/predict/compare/summary` in-process: outputs, and bad input named before any work.
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using DigitLab.Data;
using DigitLab.Models;
using DigitLab.Reports;
using DigitLab.Training;
using DigitLab.IO;
using DigitLab.Evaluation;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
public class ModelCommandTests
{
    /// <summary>predict prints each probability with this many decimals.</summary>
    private const int PrintedDecimals = 4;

    /// <summary>
    /// Ten values each rounded to <see cref="PrintedDecimals"/> decimals are off by at most half a unit in the last place each,
    /// so their printed sum is within 10 * 0.5e-4 of the true sum (1 up to float32 rounding, far below this).
    /// </summary>
    private static readonly double PrintedSumTolerance = 10 * 0.5 * Math.Pow(10, -PrintedDecimals);

    /// <summary>The evaluate report prints 4 decimals: a value agrees with the library's if within half a unit of the last place.</summary>
    private const double ReportTolerance = 0.5e-4;

    [Fact]
    public async Task SummaryMlpPrintsItsTotal()
    {
        var r = await CliRunner.RunAsync("summary", "mlp");
        Assert.Equal(0, r.ExitCode);
        // The table's own totals line, not the description above it (which also mentions the count).
        Assert.Contains("Total params: 101,770", r.Out);
        Assert.Contains("Trainable params: 101,770", r.Out);
        Assert.Matches(new Regex(@"fc1 \(Linear\)\s+\[-1, 128\]\s+100,480"), r.Out);
    }

    [Fact]
    public async Task SummaryCnnJsonHasItsParameterCount()
    {
        var r = await CliRunner.RunAsync("summary", "cnn", "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = JsonDocument.Parse(r.Out);
        Assert.Equal(421_642, json.RootElement.GetProperty("totalParameters").GetInt64());
        long layerSum = json.RootElement.GetProperty("layers").EnumerateArray().Sum(l => l.GetProperty("parameters").GetInt64());
        Assert.Equal(421_642, layerSum);
    }

    [Fact]
    public async Task SummaryOfAnUnknownModelListsTheKnownOnes()
    {
        var r = await CliRunner.RunAsync("summary", "vgg");
        AssertCleanError(r, "MODEL 'vgg'");
        Assert.Contains(string.Join(", ", ModelZoo.Names), r.Error);
    }

    /// <summary>Each bad recipe value: exit 1, a message naming the option, and no data directory touched (the check comes first).</summary>
    [Theory]
    [InlineData("--epochs", "0", "--epochs must be at least 1, found 0")]
    [InlineData("--batch-size", "0", "--batch-size must be at least 1, found 0")]
    [InlineData("--lr", "0", "--lr must be a positive number")]
    [InlineData("--lr", "-0.5", "found -0.5")]
    [InlineData("--validation", "-1", "--validation must be at least 0")]
    [InlineData("--label-smoothing", "1", "--label-smoothing must be in [0, 1), found 1")]
    [InlineData("--threads", "-2", "--threads must be 0 (all cores) or 1..")]
    [InlineData("--model", "vgg", "--model 'vgg' is not a known model; use one of mlp, cnn,")]
    [InlineData("--optimizer", "rmsprop", "--optimizer must be one of adam, sgd, found 'rmsprop'")]
    [InlineData("--schedule", "linear", "--schedule must be one of none, step, cosine, onecycle, found 'linear'")]
    [InlineData("--augment", "rotate", "--augment must be one of none, affine, elastic, affine+elastic, robust, found 'rotate'")]
    [InlineData("--normalization", "zscore", "--normalization must be one of mnist, half, found 'zscore'")]
    [InlineData("--ensemble", "0", "--ensemble must be at least 1")]
    [InlineData("--resume", "/nonexistent/run.safetensors", "--resume '/nonexistent/run.safetensors' does not exist")]
    public async Task TrainRejectsABadOptionBeforeAnyWork(string option, string value, string message)
    {
        string never = NeverCreatedDir();
        var r = await CliRunner.RunAsync("train", "--data-dir", never, option, value);
        AssertCleanError(r, message);
        Assert.False(Directory.Exists(never), "train touched the data directory before checking its options");
    }

    [Fact]
    public async Task TrainRejectsEnsembleWithResume()
    {
        string never = NeverCreatedDir();
        var r = await CliRunner.RunAsync("train", "--data-dir", never, "--ensemble", "3", "--resume", "x.safetensors");
        AssertCleanError(r, "--ensemble 3 cannot be combined with --resume");
        Assert.False(Directory.Exists(never));
    }

    [Fact]
    public async Task CompareNamesTheUnknownModelInItsList()
    {
        string never = NeverCreatedDir();
        var r = await CliRunner.RunAsync("compare", "--data-dir", never, "--models", "mlp,vgg", "--out", Path.Combine(never, "runs"));
        AssertCleanError(r, "--models 'vgg' is not a known model");
        Assert.False(Directory.Exists(never));
    }

    [Fact]
    public async Task EvaluateRejectsNegativeBalancedBeforeLoadingAnything()
    {
        string never = NeverCreatedDir();
        var r = await CliRunner.RunAsync("evaluate", Path.Combine(never, "m.safetensors"), "--data-dir", never, "--balanced", "-1");
        AssertCleanError(r, "--balanced must be at least 0");
    }

    [Fact]
    public async Task EvaluateAndPredictNameAMissingCheckpoint()
    {
        string missing = Path.Combine(NeverCreatedDir(), "m.safetensors");
        AssertCleanError(await CliRunner.RunAsync("evaluate", missing), $"CHECKPOINT '{missing}' does not exist");
        using var dir = new Data.SyntheticData.TempDir();
        string png = WriteDigitPng(dir.File("one.png"));
        AssertCleanError(await CliRunner.RunAsync("predict", missing, png), $"CHECKPOINT '{missing}' does not exist");
    }

    [Fact]
    public async Task TruncatedOrCorruptCheckpointIsAClearError()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string good = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        byte[] bytes = File.ReadAllBytes(good);
        string truncated = dir.File("truncated.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        string garbage = dir.File("garbage.safetensors");
        File.WriteAllText(garbage, "this is not a checkpoint at all");
        string png = WriteDigitPng(dir.File("one.png"));

        var evaluated = await CliRunner.RunAsync("evaluate", truncated, "--balanced", "1");
        AssertCleanError(evaluated, $"'{truncated}' is not a valid safetensors file");
        Assert.Contains("truncated", evaluated.Error);
        var predicted = await CliRunner.RunAsync("predict", truncated, png);
        AssertCleanError(predicted, $"'{truncated}' is not a valid safetensors file");
        AssertCleanError(await CliRunner.RunAsync("predict", garbage, png), $"'{garbage}' is not a valid safetensors file");
    }

    [Fact]
    public async Task PredictNamesAMissingOrNonImageInput()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        string missing = dir.File("absent.png");
        AssertCleanError(await CliRunner.RunAsync("predict", checkpoint, missing), $"IMAGE '{missing}' does not exist");
        string text = dir.File("notes.png");
        File.WriteAllText(text, "hello, not an image");
        AssertCleanError(await CliRunner.RunAsync("predict", checkpoint, text), "IMAGE is not a readable image");
    }

    [Fact]
    public async Task PredictPrintsTenProbabilitiesSummingToOneAndTheirArgmax()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = SaveUntrainedMlp(dir.File("mlp.safetensors"), seed: 7);
        string png = WriteDigitPng(dir.File("one.png"));
        var r = await CliRunner.RunAsync("predict", checkpoint, png);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Error);

        var printed = new double[10];
        var seen = new bool[10];
        foreach (Match m in Regex.Matches(r.Out, @"^  (\d)  (\d\.\d{4})  ", RegexOptions.Multiline))
        {
            int d = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.False(seen[d], $"digit {d} printed twice");
            seen[d] = true;
            printed[d] = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        }
        Assert.All(seen, Assert.True);
        Assert.InRange(printed.Sum(), 1 - PrintedSumTolerance, 1 + PrintedSumTolerance);

        // The printed figures are the library's own for this checkpoint and image, and the prediction is their argmax.
        var (model, info) = Checkpoint.Load(checkpoint);
        float[] expected = Predictor.ProbabilitiesForImageFile(model, png, new Normalization(info.NormalizationMean, info.NormalizationStd), ModuleCalls.Compute);
        for (int d = 0; d < 10; d++) Assert.Equal(expected[d].ToString("F4", CultureInfo.InvariantCulture), printed[d].ToString("F4", CultureInfo.InvariantCulture));
        int best = Metrics.ArgMax(expected);
        var prediction = Regex.Match(r.Out, @"^Prediction: (\d) \(", RegexOptions.Multiline);
        Assert.True(prediction.Success, r.Out);
        Assert.Equal(best, int.Parse(prediction.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.Equal(printed.Max(), printed[best]);
    }

    [Fact]
    public async Task EvaluateBalancedPrintsTheClassificationReport()
    {
        var store = new DatasetStore();
        store.Ensure(); // the real MNIST test set, fetched once if this is the first test to need it
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = SaveUntrainedMlp(dir.File("mlp.safetensors"), seed: 3);
        const int perClass = 10;
        var r = await CliRunner.RunAsync("evaluate", checkpoint, "--balanced", perClass.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(0, r.ExitCode);

        string number = @"(\d\.\d{4})";
        for (int digit = 0; digit < 10; digit++)
            Assert.Matches(new Regex($@"^ +{digit}  +{number} +{number} +{number} +{perClass}$", RegexOptions.Multiline), r.Out);
        var accuracy = Regex.Match(r.Out, $@"^ +accuracy +{number} +{10 * perClass}$", RegexOptions.Multiline);
        Assert.True(accuracy.Success, r.Out);
        var macro = Regex.Match(r.Out, $@"^ +macro avg  +{number} +{number} +{number} +{10 * perClass}$", RegexOptions.Multiline);
        Assert.True(macro.Success, r.Out);
        Assert.Matches(new Regex($@"^ *weighted avg  +{number} +{number} +{number} +{10 * perClass}$", RegexOptions.Multiline), r.Out);

        // The figures are the library's for the same balanced set.
        var (model, info) = Checkpoint.Load(checkpoint);
        var expected = Evaluator.Evaluate(model, Evaluator.Balanced(store.ReadTest(), perClass), new Normalization(info.NormalizationMean, info.NormalizationStd), ModuleCalls.Compute);
        Assert.Equal(expected.Accuracy, Parse(accuracy.Groups[1].Value), ReportTolerance);
        Assert.Equal(expected.Macro.F1, Parse(macro.Groups[3].Value), ReportTolerance);
    }

    [Fact]
    public async Task EvaluateSeveralCheckpointsAveragesTheirProbabilities()
    {
        var store = new DatasetStore();
        store.Ensure();
        using var dir = new Data.SyntheticData.TempDir();
        string a = SaveUntrainedMlp(dir.File("a.safetensors"), seed: 3), b = SaveUntrainedMlp(dir.File("b.safetensors"), seed: 4);
        const int perClass = 20;
        var r = await CliRunner.RunAsync("evaluate", a, b, "--balanced", perClass.ToString(CultureInfo.InvariantCulture), "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(r.Out);
        Assert.StartsWith("ensemble of 2", json.RootElement.GetProperty("model").GetString());
        double accuracy = json.RootElement.GetProperty("result").GetProperty("accuracy").GetDouble();

        // The figure is the library's ensemble of the same two models on the same set, not either model alone.
        var test = Evaluator.Balanced(store.ReadTest(), perClass);
        var (ma, ia) = Checkpoint.Load(a);
        var (mb, _) = Checkpoint.Load(b);
        var normalization = new Normalization(ia.NormalizationMean, ia.NormalizationStd);
        var expected = Evaluator.Evaluate([ma, mb], test, normalization, ModuleCalls.Compute);
        Assert.Equal(expected.Accuracy, accuracy, ReportTolerance);
        Assert.Equal(expected.Loss, json.RootElement.GetProperty("result").GetProperty("loss").GetDouble(), ReportTolerance);
        Assert.NotEqual(Evaluator.Evaluate(ma, test, normalization, ModuleCalls.Compute).Loss, expected.Loss);
    }

    [Fact]
    public async Task EnsembleMembersShareOneValidationSplit()
    {
        var store = new DatasetStore();
        store.Ensure();
        using var dir = new Data.SyntheticData.TempDir();
        string stem = dir.File("e.safetensors");
        var r = await CliRunner.RunAsync("train", "--model", "mlp", "--epochs", "1", "--ensemble", "2", "--seed", "7", "--out", stem, "--json");
        Assert.Equal(0, r.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(r.Out);
        double reported = json.RootElement.GetProperty("ensembleValidationAccuracy").GetDouble();

        // Both members record the first seed's split, and the reported figure is the ensemble on exactly that split.
        string a = dir.File("e-1.safetensors"), b = dir.File("e-2.safetensors");
        foreach (var member in new[] { a, b })
            Assert.Equal(7UL, RunLog.Load(Path.ChangeExtension(member, ".json")).Recipe!.ValidationSeed);
        var validation = Split.Stratified(store.ReadTrain(), 5000, 7).Validation;
        var (ma, ia) = Checkpoint.Load(a);
        var (mb, _) = Checkpoint.Load(b);
        var normalization = new Normalization(ia.NormalizationMean, ia.NormalizationStd);
        var expected = Evaluator.Evaluate([ma, mb], validation, normalization, ModuleCalls.Compute);
        Assert.Equal(expected.Accuracy, reported, ReportTolerance);

        // evaluate --split validation rebuilds that split from the checkpoints alone, here with test-time augmentation.
        var v = await CliRunner.RunAsync("evaluate", a, b, "--split", "validation", "--tta", "shift4", "--json");
        Assert.Equal(0, v.ExitCode);
        using var vj = System.Text.Json.JsonDocument.Parse(v.Out);
        var result = vj.RootElement.GetProperty("result");
        var withViews = Evaluator.Evaluate([ma, mb], validation, normalization, ModuleCalls.Compute, tta: TestTimeAugmentation.Shift4);
        Assert.Equal(5000, result.GetProperty("count").GetInt32());
        Assert.Equal("shift4", vj.RootElement.GetProperty("tta").GetString());
        Assert.Equal(withViews.Accuracy, result.GetProperty("accuracy").GetDouble(), ReportTolerance);
        Assert.Equal(withViews.Loss, result.GetProperty("loss").GetDouble(), ReportTolerance);
        Assert.True(Math.Abs(withViews.Loss - expected.Loss) > ReportTolerance, "the views were not used");

        // The second member is the model `--seed 8 --validation-seed 7` trains alone: an ensemble can be grown in parts.
        string alone = dir.File("alone.safetensors");
        Assert.Equal(0, (await CliRunner.RunAsync("train", "--model", "mlp", "--epochs", "1", "--seed", "8", "--validation-seed", "7", "--out", alone, "--json")).ExitCode);
        var (single, _) = Checkpoint.Load(alone);
        foreach (var (p, q) in mb.Parameters().Zip(single.Parameters()))
            Assert.Equal(p.Value.Span.ToArray(), q.Value.Span.ToArray());
    }

    /// <summary>A checkpoint whose run log says it held out 5,000 images drawn with <paramref name="splitSeed"/> (or none).</summary>
    private static string SaveMlpWithSplit(string path, ulong seed, string validation, string? splitSeed)
    {
        var log = new RunLog
        {
            Model = "mlp",
            Recipe = new TrainerOptions
            {
                Model = "mlp", Seed = seed, ValidationCount = int.Parse(validation, CultureInfo.InvariantCulture),
                ValidationSeed = splitSeed is null ? null : ulong.Parse(splitSeed, CultureInfo.InvariantCulture),
            },
        };
        Checkpoint.Save(path, ModelZoo.Create("mlp", seed), new CheckpointInfo { Architecture = "mlp", Seed = seed, Log = log });
        return path;
    }

    [Fact]
    public async Task EvaluateOnValidationRefusesCheckpointsWithoutACommonSplit()
    {
        new DatasetStore().Ensure();
        using var dir = new Data.SyntheticData.TempDir();
        // Two separately trained seeds: each trained on the other's validation images.
        string a = SaveMlpWithSplit(dir.File("a.safetensors"), 1, "5000", null), b = SaveMlpWithSplit(dir.File("b.safetensors"), 2, "5000", null);
        AssertCleanError(await CliRunner.RunAsync("evaluate", a, b, "--split", "validation"), "no common validation split");
        // Ensemble members: seed 2 trained without seed 1's split, so they share it.
        string c = SaveMlpWithSplit(dir.File("c.safetensors"), 2, "5000", "1");
        var shared = await CliRunner.RunAsync("evaluate", a, c, "--split", "validation", "--json");
        Assert.Equal(0, shared.ExitCode);
        using var json = System.Text.Json.JsonDocument.Parse(shared.Out);
        Assert.Equal(5000, json.RootElement.GetProperty("result").GetProperty("count").GetInt32());

        string all = SaveMlpWithSplit(dir.File("all.safetensors"), 1, "0", null);
        AssertCleanError(await CliRunner.RunAsync("evaluate", all, "--split", "validation"), "was trained with --validation 0");
        string bare = SaveUntrainedMlp(dir.File("bare.safetensors"));
        AssertCleanError(await CliRunner.RunAsync("evaluate", bare, "--split", "validation"), "has no run log");
        var unknown = await CliRunner.RunAsync("evaluate", bare, "--tta", "rotate");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("'rotate' not recognized", unknown.Error + unknown.Out);
    }

    [Fact]
    public async Task EvaluateRefusesAnEnsembleWithMixedNormalisations()
    {
        using var dir = new Data.SyntheticData.TempDir();
        string a = SaveUntrainedMlp(dir.File("a.safetensors"));
        string b = dir.File("b.safetensors");
        Checkpoint.Save(b, ModelZoo.Create("mlp", 2), new CheckpointInfo { Architecture = "mlp", Seed = 2, NormalizationMean = 0.5f, NormalizationStd = 0.5f });
        AssertCleanError(await CliRunner.RunAsync("evaluate", a, b), "must be trained with the same --normalization");
    }

    [Fact]
    public async Task EvaluateBalancedBeyondTheSmallestClassNamesTheLimit()
    {
        new DatasetStore().Ensure();
        using var dir = new Data.SyntheticData.TempDir();
        string checkpoint = SaveUntrainedMlp(dir.File("mlp.safetensors"));
        var r = await CliRunner.RunAsync("evaluate", checkpoint, "--balanced", "5000");
        AssertCleanError(r, "--balanced 5000 needs 5000 images of every digit");
    }

    private static double Parse(string s) => double.Parse(s, CultureInfo.InvariantCulture);

    private static void AssertCleanError(CliResult r, string message)
    {
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: " , r.Error);
        Assert.Contains(message, r.Error);
        Assert.DoesNotContain("   at ", r.Error); // no stack trace
        Assert.DoesNotContain("Exception", r.Error);
    }

    private static string NeverCreatedDir() => Path.Combine(Path.GetTempPath(), "digitlab-never-" + Guid.NewGuid().ToString("N"));

    /// <summary>An untrained mlp saved as a checkpoint: enough for the commands' plumbing, and quick.</summary>
    private static string SaveUntrainedMlp(string path, ulong seed = 1)
    {
        Checkpoint.Save(path, ModelZoo.Create("mlp", seed), new CheckpointInfo { Architecture = "mlp", Seed = seed });
        return path;
    }

    /// <summary>A 40x56 dark-on-light PNG of a slanted stroke, like a photographed "1".</summary>
    private static string WriteDigitPng(string path)
    {
        const int width = 40, height = 56;
        var pixels = new byte[width * height];
        Array.Fill(pixels, (byte)255);
        for (int y = 8; y < 48; y++)
            for (int x = 0; x < 4; x++) pixels[y * width + 16 + (48 - y) / 8 + x] = 0;
        PngWriter.WriteGrey(path, width, height, pixels);
        return path;
    }
}
