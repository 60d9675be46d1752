// TrainerOptions: the typed recipe survives JSON, old string-map run logs and checkpoints still load (and resume
// bit for bit), and bad values are refused with a message.
using System.Text.Json;
using DigitLab.Data;
using DigitLab.IO;
using DigitLab.Tests.Data;
using DigitLab.Training;

namespace DigitLab.Tests.Training;

public class TrainerOptionsTests
{
    private static TrainerOptions Everything() => new()
    {
        Model = "net3", Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, BatchSize = 100, Epochs = 7, Schedule = ScheduleKind.Step, StepGamma = 0.5,
        StepEpochs = 2, WeightDecay = 5e-4, Momentum = 0.8, Dropout = false, Augmentation = AugmentationKind.AffineElastic, LabelSmoothing = 0.1,
        ValidationCount = 1234, Seed = 987654321987654321UL, ValidationSeed = 12345678901234567UL, Threads = 1,
        Normalization = NormalizationKind.Half, ClipNorm = 2.5, BatchLossInterval = 9,
    };

    [Fact]
    public void JsonRoundTripKeepsEveryOptionAndSpellsChoicesAsTheCommandLineDoes()
    {
        var options = Everything();
        string json = JsonSerializer.Serialize(options, DigitLabJson.Options);
        Assert.Equal(options, JsonSerializer.Deserialize<TrainerOptions>(json, DigitLabJson.Options));
        Assert.Contains("\"optimizer\": \"sgd\"", json);
        Assert.Contains("\"augmentation\": \"affine+elastic\"", json);
        Assert.Contains("\"schedule\": \"step\"", json);
        Assert.Contains("\"normalization\": \"half\"", json);
    }

    [Fact]
    public void RunLogsKeepTheRecipeThroughJson()
    {
        var log = new RunLog { Model = "net3", Recipe = Everything(), TestTta = "shift4" };
        var again = RunLog.FromJson(log.ToJson());
        Assert.Equal(log.Recipe, again.Recipe);
        Assert.Equal("shift4", again.TestTta);
        Assert.DoesNotContain("onfig\"", log.ToJson());
    }

    [Fact]
    public void ALegacyRunLogWrittenByTheOldCodeLoadsIntoTheTypedRecipe()
    {
        // golden/legacy_fast_paused.json was written by commit cf5c52f (string map "Config"), before recipes were typed.
        var log = RunLog.Load(Path.Combine(AppContext.BaseDirectory, "golden", "legacy_fast_paused.json"));
        var expected = new TrainerOptions
        {
            Model = "fast", Epochs = 2, BatchSize = 16, ValidationCount = 0, Seed = 3, Threads = 1,
            Augmentation = AugmentationKind.Affine, Schedule = ScheduleKind.OneCycle, LearningRate = 2e-3, BatchLossInterval = 3,
        };
        Assert.Equal(expected, log.Recipe);
        Assert.Null(log.LegacyConfig);
    }

    [Fact]
    public void ALegacyPausedCheckpointResumesToTheWeightsOfAnUninterruptedRun()
    {
        // golden/legacy_fast_paused.safetensors: a `fast` run on 96 synthetic images paused after 4 batches by commit cf5c52f.
        var paused = Checkpoint.Load(Path.Combine(AppContext.BaseDirectory, "golden", "legacy_fast_paused.safetensors"));
        var train = SyntheticData.Dataset(96);
        var resumed = Trainer.Resume(paused);
        Assert.True(resumed.Train(train, null).Complete);
        var straight = Trainer.Create(resumed.Options);
        straight.Train(train, null);
        foreach (var ((name, a), (_, b)) in straight.Model.StateTensors().Zip(resumed.Model.StateTensors()))
            Assert.True(a.Span.SequenceEqual(b.Span), $"{name} differs after resuming the legacy checkpoint");
    }

    [Theory]
    [InlineData("lr", "nope")]
    [InlineData("epochs", "99999999999")]
    [InlineData("optimizer", "rmsprop")]
    public void ABadLegacyValueIsRefusedNamingTheField(string key, string value)
    {
        var e = Assert.Throws<InvalidDataException>(() => TrainerOptions.FromLegacyConfig(new Dictionary<string, string> { [key] = value }));
        Assert.Contains($"config.{key}", e.Message);
    }

    [Fact]
    public void TheSplitSeedIsTheSeedUnlessAValidationSeedIsGiven()
    {
        var own = new TrainerOptions { Seed = 5 };
        Assert.Equal(5UL, own.SplitSeed);
        Assert.Null(own.ValidationSeed);
        var member = own with { Seed = 7, ValidationSeed = 5 };
        Assert.Equal(5UL, member.SplitSeed);
        Assert.Equal(5UL, TrainerOptions.FromLegacyConfig(new Dictionary<string, string> { ["seed"] = "7", ["validation_split_seed"] = "5" }).SplitSeed);
    }

    [Theory]
    [InlineData("model")]
    [InlineData("optimizer")]
    [InlineData("schedule")]
    [InlineData("lr")]
    [InlineData("batch")]
    [InlineData("smoothing")]
    [InlineData("threads")]
    public void ValidateRefusesBadValuesWithAMessage(string which)
    {
        var bad = which switch
        {
            "model" => new TrainerOptions { Model = "alexnet" },
            "optimizer" => new TrainerOptions { Optimizer = (OptimizerKind)7 },
            "schedule" => new TrainerOptions { Schedule = (ScheduleKind)9 },
            "lr" => new TrainerOptions { LearningRate = 0 },
            "batch" => new TrainerOptions { BatchSize = 0 },
            "threads" => new TrainerOptions { Threads = 100000 },
            _ => new TrainerOptions { LabelSmoothing = 1 },
        };
        var e = Assert.Throws<ArgumentException>(bad.Validate);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Theory]
    [InlineData("OneCycle", ScheduleKind.OneCycle)]
    [InlineData(" affine+elastic ", AugmentationKind.AffineElastic)]
    public void ChoicesParseByTheirNames(string text, object expected)
    {
        object parsed = expected is ScheduleKind ? RecipeChoices.Parse<ScheduleKind>(text, "--schedule") : RecipeChoices.Parse<AugmentationKind>(text, "--augment");
        Assert.Equal(expected, parsed);
        var e = Assert.Throws<ArgumentException>(() => RecipeChoices.Parse<ScheduleKind>("linear", "--schedule"));
        Assert.Equal("--schedule must be one of none, step, cosine, onecycle, found 'linear'.", e.Message);
    }

    [Fact]
    public void FastAndBestBringTheirOwnRecipes()
    {
        var fast = TrainerOptions.ForModel("fast");
        Assert.Equal((ScheduleKind.OneCycle, 2, 128, 0.01), (fast.Schedule, fast.Epochs, fast.BatchSize, fast.LearningRate));
        var best = TrainerOptions.ForModel("best");
        Assert.Equal((AugmentationKind.Affine, 0.1, 15), (best.Augmentation, best.LabelSmoothing, best.Epochs));
        Assert.Equal(new TrainerOptions { Model = "cnn" }, TrainerOptions.ForModel("cnn"));
    }
}
