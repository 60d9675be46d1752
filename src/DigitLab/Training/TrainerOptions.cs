// TrainerOptions: one training recipe. Every field has the default `digitlab train --help` shows.
using System.Globalization;

namespace DigitLab.Training;

/// <summary>A training recipe; the defaults are the studies' standard one (Adam 1e-3, batch 64, 10 epochs, no augmentation).</summary>
public sealed record TrainerOptions
{
    public string Model { get; init; } = "mlp";
    /// <summary>"adam" or "sgd" (SGD uses <see cref="Momentum"/>).</summary>
    public string Optimizer { get; init; } = "adam";
    /// <summary>Learning rate; the peak rate for "onecycle".</summary>
    public double LearningRate { get; init; } = 1e-3;
    public int BatchSize { get; init; } = 64;
    public int Epochs { get; init; } = 10;
    /// <summary>"none", "step" (×<see cref="StepGamma"/> every <see cref="StepEpochs"/> epochs), "cosine" or "onecycle"; all per batch.</summary>
    public string Schedule { get; init; } = "none";
    public double StepGamma { get; init; } = 0.7;
    public int StepEpochs { get; init; } = 1;
    public double WeightDecay { get; init; }
    /// <summary>SGD momentum (ignored by Adam).</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Dropout on or off where the model has it.</summary>
    public bool Dropout { get; init; } = true;
    /// <summary>"none", or an augmentation name the data library knows ("affine", "elastic", "affine+elastic").</summary>
    public string Augmentation { get; init; } = "none";
    public double LabelSmoothing { get; init; }
    /// <summary>Training images held out (stratified) for validation; 0 trains on all 60,000.</summary>
    public int ValidationCount { get; init; } = 5000;
    public ulong Seed { get; init; } = 1;
    /// <summary>
    /// Seed of the validation split when it is not <see cref="Seed"/>: ensemble members (seeds s, s+1, ...) all hold out the
    /// images of seed s's split, so that the ensemble has a validation set none of them trained on.
    /// </summary>
    public ulong? ValidationSeed { get; init; }
    /// <summary>The seed the validation split is drawn with.</summary>
    public ulong SplitSeed => ValidationSeed ?? Seed;
    /// <summary>Kernel threads; 0 means all cores.</summary>
    public int Threads { get; init; }
    /// <summary>Pixel normalisation: "mnist" (0.1307/0.3081) or "half" (0.5/0.5).</summary>
    public string Normalization { get; init; } = "mnist";
    /// <summary>Clip the global gradient norm to this value; 0 for no clipping.</summary>
    public double ClipNorm { get; init; }
    /// <summary>Record the mean batch loss every this many batches in <see cref="RunLog.BatchLosses"/>.</summary>
    public int BatchLossInterval { get; init; } = 50;

    /// <summary>
    /// The default recipe for <paramref name="model"/>: the studies' standard one, except `fast`, whose point is
    /// speed: 2 epochs of one-cycle Adam peaking at 0.01 with batch 128 (batch norm makes the high rate safe), and `best`,
    /// whose point is accuracy: 15 epochs of one-cycle Adam (peak 0.005, batch 128) with affine augmentation and label smoothing 0.1.
    /// </summary>
    public static TrainerOptions ForModel(string model) => model.Trim().ToLowerInvariant() switch
    {
        "fast" => new TrainerOptions { Model = "fast", Epochs = 2, Schedule = "onecycle", LearningRate = 0.01, BatchSize = 128 },
        // `best` is about accuracy: affine augmentation keeps a 15-epoch run from overfitting, label smoothing
        // calibrates the ensemble's averaged probabilities, one-cycle Adam anneals to a flat minimum.
        "best" => new TrainerOptions
        {
            Model = "best", Epochs = 15, Schedule = "onecycle", LearningRate = 0.005, BatchSize = 128,
            Augmentation = "affine", LabelSmoothing = 0.1,
        },
        var m => new TrainerOptions { Model = m },
    };

    /// <summary>The options as strings for <see cref="RunLog.Config"/>.</summary>
    public Dictionary<string, string> ToConfig()
    {
        var ci = CultureInfo.InvariantCulture;
        var config = new Dictionary<string, string>
        {
            ["model"] = Model, ["optimizer"] = Optimizer, ["lr"] = LearningRate.ToString("R", ci),
            ["batch_size"] = BatchSize.ToString(ci), ["epochs"] = Epochs.ToString(ci), ["schedule"] = Schedule,
            ["step_gamma"] = StepGamma.ToString("R", ci), ["step_epochs"] = StepEpochs.ToString(ci),
            ["weight_decay"] = WeightDecay.ToString("R", ci), ["momentum"] = Momentum.ToString("R", ci),
            ["dropout"] = Dropout ? "on" : "off", ["augmentation"] = Augmentation,
            ["label_smoothing"] = LabelSmoothing.ToString("R", ci), ["validation"] = ValidationCount.ToString(ci),
            ["seed"] = Seed.ToString(ci), ["threads"] = Threads.ToString(ci), ["normalization"] = Normalization,
            ["clip_norm"] = ClipNorm.ToString("R", ci), ["batch_loss_interval"] = BatchLossInterval.ToString(ci),
        };
        if (ValidationSeed is ulong split) config["validation_split_seed"] = split.ToString(ci);
        return config;
    }

    /// <summary>Rebuilds options from <see cref="ToConfig"/>'s strings (missing keys keep their defaults).</summary>
    public static TrainerOptions FromConfig(IReadOnlyDictionary<string, string> c)
    {
        var ci = CultureInfo.InvariantCulture;
        var d = new TrainerOptions();
        string S(string k, string def) => c.TryGetValue(k, out var v) ? v : def;
        double D(string k, double def) => c.TryGetValue(k, out var v) ? double.Parse(v, ci) : def;
        int I(string k, int def) => c.TryGetValue(k, out var v) ? int.Parse(v, ci) : def;
        return new TrainerOptions
        {
            Model = S("model", d.Model), Optimizer = S("optimizer", d.Optimizer), LearningRate = D("lr", d.LearningRate),
            BatchSize = I("batch_size", d.BatchSize), Epochs = I("epochs", d.Epochs), Schedule = S("schedule", d.Schedule),
            StepGamma = D("step_gamma", d.StepGamma), StepEpochs = I("step_epochs", d.StepEpochs),
            WeightDecay = D("weight_decay", d.WeightDecay), Momentum = D("momentum", d.Momentum),
            Dropout = S("dropout", "on") == "on", Augmentation = S("augmentation", d.Augmentation),
            LabelSmoothing = D("label_smoothing", d.LabelSmoothing), ValidationCount = I("validation", d.ValidationCount),
            Seed = c.TryGetValue("seed", out var seed) ? ulong.Parse(seed, ci) : d.Seed, Threads = I("threads", d.Threads),
            ValidationSeed = c.TryGetValue("validation_split_seed", out var split) ? ulong.Parse(split, ci) : null,
            Normalization = S("normalization", d.Normalization), ClipNorm = D("clip_norm", d.ClipNorm),
            BatchLossInterval = I("batch_loss_interval", d.BatchLossInterval),
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> with a message for people when an option is out of range.</summary>
    public void Validate()
    {
        if (!Models.ModelZoo.Exists(Model)) throw new ArgumentException($"Unknown model '{Model}'. Known models: {string.Join(", ", Models.ModelZoo.Names)}.");
        if (Optimizer is not ("adam" or "sgd")) throw new ArgumentException($"Unknown optimizer '{Optimizer}': use adam or sgd.");
        if (Schedule is not ("none" or "step" or "cosine" or "onecycle")) throw new ArgumentException($"Unknown schedule '{Schedule}': use none, step, cosine or onecycle.");
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) throw new ArgumentException($"The learning rate must be a positive number, found {LearningRate}.");
        if (BatchSize < 1) throw new ArgumentException($"The batch size must be at least 1, found {BatchSize}.");
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1, found {Epochs}.");
        if (StepEpochs < 1) throw new ArgumentException($"--step-epochs must be at least 1, found {StepEpochs}.");
        if (WeightDecay < 0) throw new ArgumentException($"Weight decay must be >= 0, found {WeightDecay}.");
        if (LabelSmoothing is < 0 or >= 1) throw new ArgumentException($"Label smoothing must be in [0, 1), found {LabelSmoothing}.");
        if (ValidationCount < 0) throw new ArgumentException($"The validation count must be >= 0, found {ValidationCount}.");
        if (Threads < 0) throw new ArgumentException($"Threads must be >= 0 (0 = all cores), found {Threads}.");
        if (ClipNorm < 0) throw new ArgumentException($"--clip-norm must be >= 0 (0 = off), found {ClipNorm}.");
        if (BatchLossInterval < 1) throw new ArgumentException($"The batch-loss interval must be at least 1, found {BatchLossInterval}.");
    }
}

/// <summary>Progress within a run: 1-based epoch and batch, the epoch's running mean loss, and the estimated time left in the epoch.</summary>
public sealed record TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy, TimeSpan Elapsed, TimeSpan EpochRemaining);
