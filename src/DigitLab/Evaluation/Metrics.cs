// Metrics: confusion matrix -> per-class precision/recall/F1/support and their averages, and the
// classification report in the layout scikit-learn prints.
using System.Globalization;
using System.Text;

namespace DigitLab.Evaluation;

/// <summary>Classification metrics computed from a confusion matrix, as scikit-learn defines them.</summary>
/// <remarks>
/// Conventions follow <c>sklearn.metrics.precision_recall_fscore_support(..., labels=range(classes), zero_division=0)</c>:
/// a class never predicted has precision 0, a class never present has recall 0, and F1 is 0 when
/// precision + recall is 0. Macro averages run over every class 0..classes-1; weighted averages weight
/// each class by its support; micro averages pool the counts (for single-label data they all equal accuracy).
/// </remarks>
public static class Metrics
{
    /// <summary>Index of the largest value (the first on ties, as torch.argmax).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int j = 1; j < values.Length; j++) if (values[j] > values[best]) best = j;
        return best;
    }

    /// <summary>Counts confusion[true][predicted] over paired labels and predictions.</summary>
    public static int[][] Confusion(ReadOnlySpan<byte> labels, ReadOnlySpan<byte> predictions, int classes = 10)
    {
        if (labels.Length != predictions.Length)
            throw new ArgumentException($"Confusion needs one prediction per label: {labels.Length} labels, {predictions.Length} predictions.");
        var confusion = NewConfusion(classes);
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classes || predictions[i] >= classes)
                throw new ArgumentException($"Class out of range at index {i}: label {labels[i]}, prediction {predictions[i]}, expected 0..{classes - 1}.");
            confusion[labels[i]][predictions[i]]++;
        }
        return confusion;
    }

    /// <summary>A zeroed classes×classes matrix.</summary>
    public static int[][] NewConfusion(int classes = 10)
    {
        var m = new int[classes][];
        for (int i = 0; i < classes; i++) m[i] = new int[classes];
        return m;
    }

    /// <summary>Per-class precision, recall, F1 and support from confusion[true][predicted].</summary>
    public static ClassMetrics[] PerClass(int[][] confusion)
    {
        int k = CheckSquare(confusion);
        var result = new ClassMetrics[k];
        for (int c = 0; c < k; c++)
        {
            long tp = confusion[c][c], support = 0, predicted = 0;
            for (int j = 0; j < k; j++) { support += confusion[c][j]; predicted += confusion[j][c]; }
            double precision = Ratio(tp, predicted), recall = Ratio(tp, support);
            // F1 = 2tp / (2tp + fp + fn) = 2tp / (predicted + support): the form sklearn uses, equal to 2PR/(P+R) where defined.
            double f1 = Ratio(2 * tp, predicted + support);
            result[c] = new ClassMetrics(c, precision, recall, f1, checked((int)support));
        }
        return result;
    }

    /// <summary>Unweighted mean over classes.</summary>
    public static AverageMetrics Macro(IReadOnlyList<ClassMetrics> perClass) => new(
        perClass.Average(m => m.Precision), perClass.Average(m => m.Recall), perClass.Average(m => m.F1));

    /// <summary>Mean over classes weighted by support (0 when there is no support at all).</summary>
    public static AverageMetrics Weighted(IReadOnlyList<ClassMetrics> perClass)
    {
        long total = perClass.Sum(m => (long)m.Support);
        if (total == 0) return new AverageMetrics(0, 0, 0);
        return new(
            perClass.Sum(m => m.Precision * m.Support) / total,
            perClass.Sum(m => m.Recall * m.Support) / total,
            perClass.Sum(m => m.F1 * m.Support) / total);
    }

    /// <summary>Pooled counts: total tp over total predictions / total support.</summary>
    public static AverageMetrics Micro(int[][] confusion)
    {
        int k = CheckSquare(confusion);
        long tp = 0, total = 0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) { total += confusion[i][j]; if (i == j) tp += confusion[i][j]; }
        double p = Ratio(tp, total);
        return new AverageMetrics(p, p, p);
    }

    /// <summary>Accuracy: the diagonal over the total (0 for an empty matrix).</summary>
    public static double Accuracy(int[][] confusion) => Micro(confusion).Precision;

    /// <summary>Fills an <see cref="EvaluationResult"/> from a confusion matrix and a mean loss.</summary>
    public static EvaluationResult Evaluate(int[][] confusion, double loss, List<Misclassified>? misclassified = null)
    {
        var perClass = PerClass(confusion);
        long count = confusion.Sum(row => row.Sum(v => (long)v));
        return new EvaluationResult
        {
            Accuracy = Accuracy(confusion),
            Loss = loss,
            Count = checked((int)count),
            Confusion = confusion,
            PerClass = perClass,
            Macro = Macro(perClass),
            Weighted = Weighted(perClass),
            Micro = Micro(confusion),
            Misclassified = misclassified ?? [],
        };
    }

    /// <summary>
    /// The text <c>sklearn.metrics.classification_report(y_true, y_pred, digits=digits)</c> prints: one row per
    /// class, then accuracy, macro avg and weighted avg.
    /// </summary>
    public static string ClassificationReport(EvaluationResult result, int digits = 2, IReadOnlyList<string>? classNames = null)
    {
        var names = classNames ?? result.PerClass.Select(m => m.Class.ToString(CultureInfo.InvariantCulture)).ToArray();
        const string longest = "weighted avg";
        int width = Math.Max(Math.Max(names.Max(n => n.Length), longest.Length), digits);
        var ci = CultureInfo.InvariantCulture;
        string Num(double v) => FormatHalfEven(v, digits).PadLeft(9);
        string Row(string name, double p, double r, double f, long support) =>
            $"{name.PadLeft(width)}  {Num(p)} {Num(r)} {Num(f)} {support.ToString(ci).PadLeft(9)}\n";

        var sb = new StringBuilder();
        sb.Append(new string(' ', width)).Append(' ');
        foreach (var h in new[] { "precision", "recall", "f1-score", "support" }) sb.Append(' ').Append(h.PadLeft(9));
        sb.Append("\n\n");
        for (int i = 0; i < result.PerClass.Length; i++)
        {
            var m = result.PerClass[i];
            sb.Append(Row(names[i], m.Precision, m.Recall, m.F1, m.Support));
        }
        sb.Append('\n');
        long total = result.PerClass.Sum(m => (long)m.Support);
        sb.Append($"{"accuracy".PadLeft(width)}  {"",9} {"",9} {Num(result.Micro.F1)} {total.ToString(ci).PadLeft(9)}\n");
        sb.Append(Row("macro avg", result.Macro.Precision, result.Macro.Recall, result.Macro.F1, total));
        sb.Append(Row("weighted avg", result.Weighted.Precision, result.Weighted.Recall, result.Weighted.F1, total));
        return sb.ToString();
    }

    /// <summary>
    /// Formats <paramref name="value"/> with <paramref name="digits"/> decimals rounding the exact binary value
    /// half to even, as Python's <c>format(v, ".2f")</c> does (0.625 -> "0.62"); .NET's "F2" rounds half away from zero.
    /// </summary>
    public static string FormatHalfEven(double value, int digits)
    {
        if (!double.IsFinite(value)) return value.ToString(CultureInfo.InvariantCulture);
        bool negative = value < 0;
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(value));
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent++; else mantissa |= 1L << 52;
        exponent -= 1075; // value = mantissa * 2^exponent exactly
        var scaled = new System.Numerics.BigInteger(mantissa) * System.Numerics.BigInteger.Pow(10, digits);
        System.Numerics.BigInteger rounded;
        if (exponent >= 0) rounded = scaled << exponent;
        else
        {
            var denominator = System.Numerics.BigInteger.One << -exponent;
            var quotient = System.Numerics.BigInteger.DivRem(scaled, denominator, out var remainder);
            int cmp = (remainder * 2).CompareTo(denominator);
            rounded = cmp > 0 || (cmp == 0 && !quotient.IsEven) ? quotient + 1 : quotient;
        }
        string text = rounded.ToString(CultureInfo.InvariantCulture).PadLeft(digits + 1, '0');
        if (digits > 0) text = text[..^digits] + "." + text[^digits..];
        return (negative && !rounded.IsZero ? "-" : "") + text;
    }

    private static double Ratio(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;

    private static int CheckSquare(int[][] confusion)
    {
        int k = confusion.Length;
        foreach (var row in confusion)
            if (row.Length != k) throw new ArgumentException($"Confusion matrix must be square: {k} rows but a row of {row.Length}.");
        return k;
    }
}
