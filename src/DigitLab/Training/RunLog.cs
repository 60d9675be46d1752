// RunLog: what one training run records. The CLI prints it, checkpoints keep it, reports and the web app draw it.
using System.Text.Json;
using System.Text.Json.Serialization;

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

/// <summary>A misclassified test image: its index in the test set, true and predicted digit, and the model's probability for the prediction.</summary>
public sealed record Misclassified(int Index, int True, int Predicted, double Confidence);

/// <summary>Per-class precision, recall, F1 and support.</summary>
public sealed record ClassMetrics(int Class, double Precision, double Recall, double F1, int Support);

/// <summary>Averages over classes: macro (unweighted), weighted (by support), micro (pooled counts).</summary>
public sealed record AverageMetrics(double Precision, double Recall, double F1);

/// <summary>The result of evaluating a model on a labelled set.</summary>
public sealed class EvaluationResult
{
    public double Accuracy { get; init; }
    public double Loss { get; init; }
    public int Count { get; init; }
    /// <summary>Confusion[true][predicted] counts, 10×10 (jagged so it serialises as JSON).</summary>
    public int[][] Confusion { get; init; } = [];
    public ClassMetrics[] PerClass { get; init; } = [];
    public AverageMetrics Macro { get; init; } = new(0, 0, 0);
    public AverageMetrics Weighted { get; init; } = new(0, 0, 0);
    public AverageMetrics Micro { get; init; } = new(0, 0, 0);
    public List<Misclassified> Misclassified { get; init; } = [];
}

/// <summary>Everything a training run leaves behind besides the weights.</summary>
public sealed class RunLog
{
    public string Model { get; set; } = "";
    public long Parameters { get; set; }
    public string Dataset { get; set; } = "mnist";
    /// <summary>The training options as given (optimizer, lr, batch size, epochs, seed, ...).</summary>
    public Dictionary<string, string> Config { get; set; } = new();
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

    /// <summary>JSON settings for run logs: property names as declared (PascalCase), indented, NaN allowed (a diverged loss).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static RunLog FromJson(string json) =>
        JsonSerializer.Deserialize<RunLog>(json, JsonOptions) ?? throw new InvalidDataException("The run log JSON is empty (null).");

    /// <summary>Writes the log as JSON atomically (temporary file, then rename).</summary>
    public void Save(string path) => DigitLab.Reports.AtomicFile.WriteAllText(Path.GetFullPath(path), ToJson());

    public static RunLog Load(string path)
    {
        try { return FromJson(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"'{path}' is not a DigitLab run log (JSON error: {e.Message}).", e); }
    }
}
