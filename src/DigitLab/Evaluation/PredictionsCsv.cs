// PredictionsCsv: one row per evaluated image (index or path, true label, predicted label, the ten probabilities), so that
// another tool (scikit-learn, a spreadsheet) can recompute every metric `evaluate` prints.
using System.Globalization;
using System.Text;
using DigitLab.Data;
using DigitLab.IO;

namespace DigitLab.Evaluation;

/// <summary>Writes per-image predictions as CSV (RFC 4180, invariant culture, written atomically).</summary>
/// <remarks>
/// Header: <c>index,label,predicted,p0,...,p9</c> (or <c>path,...</c> when paths are given). Probabilities are written with
/// float "R" formatting, so parsing one gives back exactly the float DigitLab compared; <c>predicted</c> is the first
/// largest probability, as the confusion matrix counts it.
/// </remarks>
public static class PredictionsCsv
{
    /// <param name="probabilities">(data.Count × 10) in dataset order, as <see cref="Evaluator.Evaluate(IReadOnlyList{Nn.Module}, MnistDataset, Normalization, Runtime.ComputeContext, int, TestTimeAugmentation?, bool, float[]?)"/> fills it.</param>
    /// <param name="paths">One source path per image (an image folder's files); null numbers the rows 0.. in dataset order.</param>
    public static void Write(string path, MnistDataset data, ReadOnlySpan<float> probabilities, IReadOnlyList<string>? paths = null)
    {
        const int Classes = MnistDataset.Classes;
        if (probabilities.Length != data.Count * Classes)
            throw new ArgumentException($"Expected {data.Count} × {Classes} probabilities for {data.Name}, found {probabilities.Length}.", nameof(probabilities));
        if (paths is not null && paths.Count != data.Count)
            throw new ArgumentException($"Expected one path per image of {data.Name} ({data.Count}), found {paths.Count}.", nameof(paths));
        var ci = CultureInfo.InvariantCulture;
        var text = new StringBuilder(data.Count * 160);
        text.Append(paths is null ? "index" : "path").Append(",label,predicted");
        for (int c = 0; c < Classes; c++) text.Append(",p").Append(c.ToString(ci));
        text.Append('\n');
        for (int i = 0; i < data.Count; i++)
        {
            var row = probabilities.Slice(i * Classes, Classes);
            text.Append(paths is null ? i.ToString(ci) : Quote(paths[i])).Append(',')
                .Append(data.Labels[i].ToString(ci)).Append(',').Append(Metrics.ArgMax(row).ToString(ci));
            foreach (float p in row) text.Append(',').Append(p.ToString("R", ci));
            text.Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }

    /// <summary>A CSV field: quoted (quotes doubled) when it holds a comma, quote or line break.</summary>
    public static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
}
