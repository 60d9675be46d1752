// TrainerOptions: one training recipe, a typed record serialised by System.Text.Json. Every field has the default
// `digitlab train --help` shows; ForModel is the only source of a model's own defaults.
using System.Globalization;

namespace DigitLab.Training;

/// <summary>A training recipe; the defaults are the studies' standard one (Adam 1e-3, batch 64, 10 epochs, no augmentation).</summary>
/// <remarks>
/// Parsed once at the edge (the command line's options, the web app's request) and checked by <see cref="Validate"/>;
/// the library never parses a recipe string again. Run logs store it as JSON with the choices by name ("onecycle").
/// </remarks>
public sealed record TrainerOptions
{
    public string Model { get; init; } = "mlp";
    /// <summary>Adam, or SGD (which uses <see cref="Momentum"/>).</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    /// <summary>Learning rate; the peak rate for "onecycle".</summary>
    public double LearningRate { get; init; } = 1e-3;
    public int BatchSize { get; init; } = 64;
    public int Epochs { get; init; } = 10;
    /// <summary>None, step (×<see cref="StepGamma"/> every <see cref="StepEpochs"/> epochs), cosine or one-cycle; all per batch.</summary>
    public ScheduleKind Schedule { get; init; } = ScheduleKind.None;
    public double StepGamma { get; init; } = 0.7;
    public int StepEpochs { get; init; } = 1;
    public double WeightDecay { get; init; }
    /// <summary>SGD momentum (ignored by Adam).</summary>
    public double Momentum { get; init; } = 0.9;
    /// <summary>Dropout on or off where the model has it.</summary>
    public bool Dropout { get; init; } = true;
    /// <summary>Training-time augmentation of the images.</summary>
    public AugmentationKind Augmentation { get; init; } = AugmentationKind.None;
    /// <summary>
    /// With <see cref="AugmentationKind.Robust"/>: the share of images perturbed (null = the default, 0.5). The knob that
    /// trades clean accuracy against robustness; chosen on the validation split's corruptions (`robustness --split validation`).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? PerturbationProbability { get; init; }
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
    /// <summary>Pixel normalisation: MNIST's (0.1307/0.3081) or 0.5/0.5.</summary>
    public NormalizationKind Normalization { get; init; } = NormalizationKind.Mnist;
    /// <summary>Clip the global gradient norm to this value; 0 for no clipping.</summary>
    public double ClipNorm { get; init; }
    /// <summary>Record the mean batch loss every this many batches in <see cref="RunLog.BatchLosses"/>.</summary>
    public int BatchLossInterval { get; init; } = 50;
    /// <summary>
    /// Fine-tuning: the checkpoint whose weights and batch-norm buffers the model starts from (same architecture as
    /// <see cref="Model"/>); null trains from a fresh initialisation. The optimizer starts fresh either way.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? InitCheckpoint { get; init; }
    /// <summary>
    /// Fine-tuning: the share of each epoch's images drawn from MNIST (replay) so the model does not forget it; 0 = none,
    /// below 1. Used only with <see cref="InitCheckpoint"/> (by <see cref="FineTuning"/> and <c>train --init</c>).
    /// </summary>
    public double ReplayFraction { get; init; } = DefaultReplayFraction;
    /// <summary>Half of a fine-tuning epoch's images are MNIST's: enough to keep MNIST accuracy, while the own digits, usually a few hundred, still weigh as much as all of MNIST's.</summary>
    public const double DefaultReplayFraction = 0.5;

    /// <summary>
    /// The default recipe for <paramref name="model"/>: the studies' standard one, except `fast`, whose point is
    /// speed: 2 epochs of one-cycle Adam peaking at 0.01 with batch 128 (batch norm makes the high rate safe), and `best`,
    /// whose point is accuracy: 15 epochs of one-cycle Adam (peak 0.005, batch 128) with affine augmentation and label smoothing 0.1.
    /// </summary>
    public static TrainerOptions ForModel(string model) => model.Trim().ToLowerInvariant() switch
    {
        "fast" => new TrainerOptions { Model = "fast", Epochs = 2, Schedule = ScheduleKind.OneCycle, LearningRate = 0.01, BatchSize = 128 },
        // `best` is about accuracy: affine augmentation keeps a 15-epoch run from overfitting, label smoothing
        // calibrates the ensemble's averaged probabilities, one-cycle Adam anneals to a flat minimum.
        "best" => new TrainerOptions
        {
            Model = "best", Epochs = 15, Schedule = ScheduleKind.OneCycle, LearningRate = 0.005, BatchSize = 128,
            Augmentation = AugmentationKind.Affine, LabelSmoothing = 0.1,
        },
        var m => new TrainerOptions { Model = m },
    };

    /// <summary>
    /// A recipe from the string map run logs kept before recipes were typed (<c>"Config": {"optimizer": "adam", "lr": ...}</c>),
    /// so that old checkpoints and run logs still load. Missing keys keep their defaults; a bad value is an
    /// <see cref="InvalidDataException"/> naming the key.
    /// </summary>
    public static TrainerOptions FromLegacyConfig(IReadOnlyDictionary<string, string> c)
    {
        var ci = CultureInfo.InvariantCulture;
        var d = new TrainerOptions();
        T Read<T>(string key, T fallback, Func<string, T> parse)
        {
            if (!c.TryGetValue(key, out var v)) return fallback;
            try
            {
                var value = parse(v);
                if (value is double d && !double.IsFinite(d)) throw new FormatException("expected a finite number");
                return value;
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
            {
                throw new InvalidDataException($"run log field config.{key} is \"{v}\", which is not a valid value ({e.Message}).", e);
            }
        }
        string S(string k, string def) => c.TryGetValue(k, out var v) ? v : def;
        double D(string k, double def) => Read(k, def, v => double.Parse(v, ci));
        int I(string k, int def) => Read(k, def, v => int.Parse(v, ci));
        T E<T>(string k, T def) where T : struct, Enum => Read(k, def, v => RecipeChoices.Parse<T>(v, k));
        return new TrainerOptions
        {
            Model = S("model", d.Model), Optimizer = E("optimizer", d.Optimizer), LearningRate = D("lr", d.LearningRate),
            BatchSize = I("batch_size", d.BatchSize), Epochs = I("epochs", d.Epochs), Schedule = E("schedule", d.Schedule),
            StepGamma = D("step_gamma", d.StepGamma), StepEpochs = I("step_epochs", d.StepEpochs),
            WeightDecay = D("weight_decay", d.WeightDecay), Momentum = D("momentum", d.Momentum),
            Dropout = S("dropout", "on") == "on", Augmentation = E("augmentation", d.Augmentation),
            LabelSmoothing = D("label_smoothing", d.LabelSmoothing), ValidationCount = I("validation", d.ValidationCount),
            Seed = Read("seed", d.Seed, v => ulong.Parse(v, ci)), Threads = I("threads", d.Threads),
            ValidationSeed = Read<ulong?>("validation_split_seed", null, v => ulong.Parse(v, ci)),
            Normalization = E("normalization", d.Normalization), ClipNorm = D("clip_norm", d.ClipNorm),
            BatchLossInterval = I("batch_loss_interval", d.BatchLossInterval),
        };
    }

    /// <summary>The augmenter's settings for this recipe (null for none): the <see cref="Augmentation"/> kind's, with <see cref="PerturbationProbability"/> applied.</summary>
    public Data.AugmentationOptions? AugmentationSettings()
    {
        var settings = Augmentation.Options();
        if (settings?.Perturbation is { } perturbation && PerturbationProbability is { } p)
            settings = settings with { Perturbation = perturbation with { Probability = (float)p } };
        return settings;
    }

    /// <summary>Throws <see cref="ArgumentException"/> with a message for people when an option is out of range.</summary>
    public void Validate()
    {
        if (!Models.ModelZoo.Exists(Model)) throw new ArgumentException($"Unknown model '{Model}'. Known models: {string.Join(", ", Models.ModelZoo.Names)}.");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"Unknown optimizer {(int)Optimizer}: use {string.Join(" or ", RecipeChoices.Names<OptimizerKind>())}.");
        if (!Enum.IsDefined(Schedule)) throw new ArgumentException($"Unknown schedule {(int)Schedule}: use {string.Join(", ", RecipeChoices.Names<ScheduleKind>())}.");
        if (!Enum.IsDefined(Augmentation)) throw new ArgumentException($"Unknown augmentation {(int)Augmentation}: use {string.Join(", ", RecipeChoices.Names<AugmentationKind>())}.");
        if (!Enum.IsDefined(Normalization)) throw new ArgumentException($"Unknown normalisation {(int)Normalization}: use {string.Join(" or ", RecipeChoices.Names<NormalizationKind>())}.");
        if (!(LearningRate > 0 && double.IsFinite(LearningRate))) throw new ArgumentException($"The learning rate must be a positive number, found {LearningRate}.");
        if (BatchSize < 1) throw new ArgumentException($"The batch size must be at least 1, found {BatchSize}.");
        if (Epochs < 1) throw new ArgumentException($"Epochs must be at least 1, found {Epochs}.");
        if (StepEpochs < 1) throw new ArgumentException($"--step-epochs must be at least 1, found {StepEpochs}.");
        if (WeightDecay < 0) throw new ArgumentException($"Weight decay must be >= 0, found {WeightDecay}.");
        if (PerturbationProbability is { } pp && (Augmentation != AugmentationKind.Robust || pp is < 0 or > 1 || double.IsNaN(pp)))
            throw new ArgumentException($"The perturbation probability ({pp}) must be in [0, 1] and goes with the robust augmentation (found augmentation {RecipeChoices.Name(Augmentation)}).");
        if (LabelSmoothing is < 0 or >= 1) throw new ArgumentException($"Label smoothing must be in [0, 1), found {LabelSmoothing}.");
        if (ValidationCount < 0) throw new ArgumentException($"The validation count must be >= 0, found {ValidationCount}.");
        if (Threads < 0 || Threads > Runtime.ComputeContext.MaxThreads)
            throw new ArgumentException($"Threads must be 0 (all cores) or 1..{Runtime.ComputeContext.MaxThreads}, found {Threads}.");
        if (ClipNorm < 0) throw new ArgumentException($"--clip-norm must be >= 0 (0 = off), found {ClipNorm}.");
        if (!(ReplayFraction >= 0 && ReplayFraction < 1))
            throw new ArgumentException($"The replay fraction must be at least 0 and below 1 (0.5 = half of each epoch's images from MNIST), found {ReplayFraction}.");
        if (InitCheckpoint is { Length: 0 }) throw new ArgumentException("The init checkpoint path is empty: name a .safetensors file to start from, or leave it out to train from scratch.");
        if (BatchLossInterval < 1) throw new ArgumentException($"The batch-loss interval must be at least 1, found {BatchLossInterval}.");
    }
}

/// <summary>Progress within a run: 1-based epoch and batch, the epoch's running mean loss, and the estimated time left in the epoch.</summary>
public sealed record TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy, TimeSpan Elapsed, TimeSpan EpochRemaining);
