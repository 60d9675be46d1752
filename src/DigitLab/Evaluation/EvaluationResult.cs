// EvaluationResult: what evaluating a model on a labelled set gives (accuracy, loss, confusion, per-class metrics, mistakes).
namespace DigitLab.Evaluation;

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
