// RunLog: what one training run records. The CLI prints it, checkpoints keep it, reports and the web app draw it.
using System.Text.Json;
using System.Text.Json.Serialization;
using DigitLab.Evaluation;
using DigitLab.IO;

namespace DigitLab.Training;

/// <summary>One epoch's figures. Accuracies are fractions in [0, 1].</summary>
public sealed record EpochRecord(
    int Epoch,
    double TrainLoss,
    double TrainAccuracy,
    double? ValidationLoss,
    double? ValidationAccuracy,
    double LearningRate,
    double Seconds);

/// <summary>Everything a training run leaves behind besides the weights.</summary>
public sealed class RunLog : IJsonOnDeserialized
{
    public string Model { get; set; } = "";
    public long Parameters { get; set; }
    public string Dataset { get; set; } = "mnist";
    /// <summary>Fine-tuning: the user's own images the run trained on (name and count, replay excluded); null for a run from scratch.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? OwnDataset { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? OwnCount { get; set; }
    /// <summary>Fine-tuning: the dataset mixed in to keep what the model knew (MNIST) and how many of its images each epoch held.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ReplayDataset { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ReplayCount { get; set; }
    /// <summary>The recipe the run trained with; null only in a log of a run from outside DigitLab.</summary>
    public TrainerOptions? Recipe { get; set; }

    /// <summary>The test-time augmentation the test figure was measured with (null: the image alone).</summary>
    public string? TestTta { get; set; }

    /// <summary>The device the run trained on when it was not the CPU engine (the GPU backend's device and accelerator); null: the CPU engine.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Device { get; set; }

    /// <summary>The untyped recipe of logs written before recipes were typed; read into <see cref="Recipe"/> on load, never written.</summary>
    [JsonPropertyName("Config"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, string>? LegacyConfig { get; set; }
    public List<EpochRecord> Epochs { get; set; } = [];
    /// <summary>Mean training loss over each block of <see cref="BatchLossInterval"/> batches.</summary>
    public List<double> BatchLosses { get; set; } = [];
    public int BatchLossInterval { get; set; } = 50;
    public double TrainSeconds { get; set; }
    public EvaluationResult? Test { get; set; }
    public string Version { get; set; } = typeof(RunLog).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
    /// <summary>False when the run was stopped (Ctrl+C) before its last epoch; its checkpoint can resume it.</summary>
    public bool Complete { get; set; } = true;
    /// <summary>When the run started (UTC).</summary>
    public DateTime StartedUtc { get; set; } = DateTime.UtcNow;

    /// <summary>An old log's string map becomes its typed recipe (its "test_tta" entry the <see cref="TestTta"/>).</summary>
    void IJsonOnDeserialized.OnDeserialized()
    {
        if (LegacyConfig is null) return;
        Recipe ??= TrainerOptions.FromLegacyConfig(LegacyConfig);
        if (TestTta is null && LegacyConfig.TryGetValue("test_tta", out var tta)) TestTta = tta;
        LegacyConfig = null;
    }

    public string ToJson() => JsonSerializer.Serialize(this, DigitLabJson.Options);

    public static RunLog FromJson(string json) =>
        JsonSerializer.Deserialize<RunLog>(json, DigitLabJson.Options) ?? throw new InvalidDataException("The run log JSON is empty (null).");

    /// <summary>Writes the log as JSON atomically (temporary file, then rename).</summary>
    public void Save(string path) => AtomicFile.WriteAllText(Path.GetFullPath(path), ToJson());

    public static RunLog Load(string path)
    {
        try { return FromJson(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"'{path}' is not a DigitLab run log (JSON error: {e.Message}).", e); }
    }
}
