// TrainerOptions: the recipe survives the trip through a checkpoint's string config, and bad values are refused.
using DigitLab.Training;

namespace DigitLab.Tests.Training;

public class TrainerOptionsTests
{
    [Fact]
    public void ConfigRoundTripKeepsEveryOption()
    {
        var options = new TrainerOptions
        {
            Model = "net3", Optimizer = "sgd", LearningRate = 0.05, BatchSize = 100, Epochs = 7, Schedule = "step", StepGamma = 0.5,
            StepEpochs = 2, WeightDecay = 5e-4, Momentum = 0.8, Dropout = false, Augmentation = "affine", LabelSmoothing = 0.1,
            ValidationCount = 1234, Seed = 987654321987654321UL, ValidationSeed = 12345678901234567UL, Threads = 1, Normalization = "half", ClipNorm = 2.5, BatchLossInterval = 9,
        };
        Assert.Equal(options, TrainerOptions.FromConfig(options.ToConfig()));
    }

    [Fact]
    public void TheSplitSeedIsTheSeedUnlessAValidationSeedIsGiven()
    {
        var own = new TrainerOptions { Seed = 5 };
        Assert.Equal(5UL, own.SplitSeed);
        Assert.False(own.ToConfig().ContainsKey("validation_split_seed")); // run logs of ordinary runs keep their keys
        Assert.Null(TrainerOptions.FromConfig(own.ToConfig()).ValidationSeed);
        var member = own with { Seed = 7, ValidationSeed = 5 };
        Assert.Equal(5UL, member.SplitSeed);
        Assert.Equal("5", member.ToConfig()["validation_split_seed"]);
    }

    [Theory]
    [InlineData("model")]
    [InlineData("optimizer")]
    [InlineData("schedule")]
    [InlineData("lr")]
    [InlineData("batch")]
    [InlineData("smoothing")]
    public void ValidateRefusesBadValuesWithAMessage(string which)
    {
        var bad = which switch
        {
            "model" => new TrainerOptions { Model = "alexnet" },
            "optimizer" => new TrainerOptions { Optimizer = "rmsprop" },
            "schedule" => new TrainerOptions { Schedule = "linear" },
            "lr" => new TrainerOptions { LearningRate = 0 },
            "batch" => new TrainerOptions { BatchSize = 0 },
            _ => new TrainerOptions { LabelSmoothing = 1 },
        };
        var e = Assert.Throws<ArgumentException>(bad.Validate);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void FastBringsItsOwnRecipe()
    {
        var fast = TrainerOptions.ForModel("fast");
        Assert.Equal(("onecycle", 2, 128), (fast.Schedule, fast.Epochs, fast.BatchSize));
        Assert.Equal(new TrainerOptions { Model = "cnn" }, TrainerOptions.ForModel("cnn"));
    }
}
